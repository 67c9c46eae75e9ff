// Kernels shared by every family (compiled once per ISA): the deterministic blocked sum
// used for the sum of weights and the check of aux values.
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
                         [x](std::size_t lo, std::size_t hi) { return block_sum(x, lo, hi); });
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
// with a bad value then element by element.
template <class T, class Bad>
std::size_t first_bad(const T* x, std::size_t n, int threads, Bad bad) {
  const std::size_t nb = (n + kBlock - 1) / kBlock;
  std::size_t first_block = nb;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(min : first_block) \
    if (threads > 1 && n >= kParallelMin)
  for (std::ptrdiff_t b = 0; b < std::ptrdiff_t(nb); ++b) {
    const std::size_t lo = std::size_t(b) * kBlock;
    if (std::size_t(b) < first_block && block_any(x, lo, lo + kBlock < n ? lo + kBlock : n, bad))
      first_block = std::size_t(b);
  }
  if (first_block == nb) return n;
  // Within the block that had a bad value. The caller's other threads may have changed it
  // since (the GIL is released): never look past the block, and report none if it is gone.
  const std::size_t end = first_block * kBlock + kBlock < n ? first_block * kBlock + kBlock : n;
  for (std::size_t i = first_block * kBlock; i < end; ++i)
    if (bad(x[i])) return i;
  return n;
}

template <class T>
std::size_t check_aux(Loss loss, const T* aux, std::size_t n, int threads) {
  if (loss == Loss::gaussian_nll) return first_bad(aux, n, threads, [](T v) { return v < T(0); });
  if (loss == Loss::quantile)
    return first_bad(aux, n, threads, [](T v) { return !((v > T(0)) & (v < T(1))); });
  return n;
}

}  // namespace

void fill_common(detail::KernelTable& table) {
  table.sum_f32 = &blocked_sum<float>;
  table.sum_f64 = &blocked_sum<double>;
  table.aux_check_f32 = &check_aux<float>;
  table.aux_check_f64 = &check_aux<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
