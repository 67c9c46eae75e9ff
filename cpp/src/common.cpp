// Kernels shared by every family (compiled once per ISA): the deterministic blocked sum
// used for the sum of weights.
#include "loss_base.hpp"

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

}  // namespace

void fill_common(detail::KernelTable& table) {
  table.sum_f32 = &blocked_sum<float>;
  table.sum_f64 = &blocked_sum<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
