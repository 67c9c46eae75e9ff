// Kernels shared by every family (compiled once per ISA): the deterministic blocked sum
// used for the sum of weights (of a contiguous or a strided input) and the check of aux values.
#include "kernels/loss_base.hpp"

namespace lossfn {
namespace LOSSFN_ISA {
namespace {

template <class T>
__attribute__((noinline)) double block_sum(const T* __restrict x, std::size_t lo, std::size_t hi) {
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (std::size_t i = lo; i < hi; ++i) acc += double(x[i]);
  return acc;
}

// Sum of x[0..n) in float64, deterministic for any thread count.
template <class T>
double blocked_sum(const T* x, std::size_t n, int threads, double* partials) {
  return sum_over_blocks(n, threads, partials,
                         [x](std::size_t lo, std::size_t hi, int) { return block_sum(x, lo, hi); });
}

// The same sum of a strided input: each block gathered into the thread's scratch, then summed
// by the same block_sum, so the bits are those of the contiguous sum.
template <class T>
double blocked_sum_strided(const detail::StridedView<T>& x, std::size_t n, int threads, double* partials,
                           T* scratch) {
  return sum_over_blocks(n, threads, partials, [&](std::size_t lo, std::size_t hi, int worker) {
    T* slot = scratch + std::size_t(worker) * detail::kInputSlots * kBlock;  // the worker's first slot, as first_bad
    gather_block(x, lo, hi - lo, slot);
    return block_sum(slot, 0, hi - lo);
  });
}

// Whether any x[lo, hi) is bad; a flag as wide as T, set by a select: the comparison masks
// then vectorize.
template <class T, class Bad>
__attribute__((noinline)) bool block_any(const T* __restrict x, std::size_t lo, std::size_t hi, Bad bad) {
  using Flag = typename math::Bits<T>::Int;
  Flag any = 0;
#pragma omp simd reduction(| : any)
  for (std::size_t i = lo; i < hi; ++i) any |= bad(x[i]) ? Flag(1) : Flag(0);
  return any != 0;
}

// Index of the first bad x[0, n), or n: the blocks are scanned in parallel, the first block
// with a bad value then element by element. A strided x (`view`) is scanned block by block in
// the worker's slot of `scratch`.
template <class T, class Bad>
std::size_t first_bad(const T* x, const detail::StridedView<T>* view, std::size_t n, int threads, T* scratch,
                      Bad bad) {
  const std::size_t nb = (n + kBlock - 1) / kBlock;
  auto block_of = [&](std::size_t lo, std::size_t hi, int worker) -> const T* {
    if (view == nullptr) return x + lo;
    T* slot = scratch + std::size_t(worker) * detail::kInputSlots * kBlock;
    gather_block(*view, lo, hi - lo, slot);
    return slot;
  };
  std::size_t first_block = nb;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(min : first_block) \
    if (threads > 1 && n >= kParallelMin)
  for (std::ptrdiff_t b = 0; b < std::ptrdiff_t(nb); ++b) {
    const std::size_t lo = std::size_t(b) * kBlock, hi = lo + kBlock < n ? lo + kBlock : n;
#ifdef _OPENMP
    const int worker = omp_get_thread_num();
#else
    const int worker = 0;
#endif
    if (std::size_t(b) < first_block && block_any(block_of(lo, hi, worker), 0, hi - lo, bad))
      first_block = std::size_t(b);
  }
  if (first_block == nb) return n;
  // Within the block that had a bad value. The caller's other threads may have changed it
  // since (the GIL is released): never look past the block, and report none if it is gone.
  const std::size_t lo = first_block * kBlock, hi = lo + kBlock < n ? lo + kBlock : n;
  const T* values = block_of(lo, hi, 0);
  for (std::size_t i = 0; i < hi - lo; ++i)
    if (bad(values[i])) return lo + i;
  return n;
}

template <class T>
std::size_t check_aux(Loss loss, const T* aux, const detail::StridedView<T>* view, std::size_t n, int threads,
                      T* scratch) {
  if (loss == Loss::gaussian_nll)
    return first_bad(aux, view, n, threads, scratch, [](T v) { return v < T(0); });
  if (loss == Loss::quantile)
    return first_bad(aux, view, n, threads, scratch, [](T v) { return !((v > T(0)) & (v < T(1))); });
  return n;
}

}  // namespace

void fill_common(detail::KernelTable& table) {
  table.sum_f32 = &blocked_sum<float>;
  table.sum_f64 = &blocked_sum<double>;
  table.strided_sum_f32 = &blocked_sum_strided<float>;
  table.strided_sum_f64 = &blocked_sum_strided<double>;
  table.aux_check_f32 = &check_aux<float>;
  table.aux_check_f64 = &check_aux<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
