// The one loop every elementwise loss runs through, instantiated per loss, dtype and output
// mode. A loss supplies only its scalar formula (an `Op` with `eval`); this file applies
// weights, the upstream gradient and the reduction, splits the work into fixed blocks and
// spreads the blocks over OpenMP threads. Included by per-ISA kernel files only.
#ifndef LOSSFN_ISA
#error "elementwise_loop.hpp is included by per-ISA kernel files only"
#endif

#include "kernel_abi.hpp"
#include "simd_math.hpp"

namespace lossfn {
namespace LOSSFN_ISA {

using detail::Job;
using detail::kBlock;
using detail::kParallelMin;
namespace out = detail;

// What a loss's eval() writes for one element: the loss, its derivative w.r.t. pred, the
// derivative w.r.t. the aux input (if any) and the second derivative w.r.t. pred. Outputs a
// mode does not store are dead code after inlining and cost nothing.
template <class T>
struct Terms {
  T l = T(0), g = T(0), ga = T(0), h = T(0);
};

// Sum of w_i * l_i over [lo, hi), writing the requested per-element outputs.
// Never inlined: the serial and the threaded drivers run this very code, so a block's sum is
// the same bits whichever thread computes it.
template <class Op, class T, unsigned F>
__attribute__((noinline)) double block_loop(const Op& op, const Job<T>& j, std::size_t lo,
                                            std::size_t hi) {
  const T* __restrict pred = j.pred;
  const T* __restrict target = j.target;
  const T* __restrict aux = j.aux;
  const T* __restrict weight = j.weight;
  const T* __restrict go = j.grad_output;
  T* __restrict loss = j.loss;
  T* __restrict grad = j.grad;
  T* __restrict grad_aux = j.grad_aux;
  T* __restrict hess = j.hess;
  const T scale = T(j.scale);
  const T aux_default = op.aux_default;
  double acc = 0.0;
#pragma omp simd reduction(+ : acc)
  for (std::size_t i = lo; i < hi; ++i) {
    Terms<T> t;
    op.eval(pred[i], target[i], (F & out::kAux) ? aux[i] : aux_default, t);
    const T w = (F & out::kWeight) ? weight[i] : T(1);
    if (F & out::kSum) acc += double(w * t.l);
    if (F & out::kLoss) loss[i] = w * t.l;
    if (F & (out::kGrad | out::kHess)) {
      const T s = (F & out::kGradOut) ? scale * w * go[i] : scale * w;
      if (F & out::kGrad) {
        grad[i] = s * t.g;
        if (Op::aux_differentiable) grad_aux[i] = s * t.ga;
      }
      if (F & out::kHess) hess[i] = s * t.h;
    }
  }
  return acc;
}

// Sum of block(lo, hi) over the fixed blocks of [0, n), added in block order. Above
// kParallelMin the blocks are spread over `threads` OpenMP threads, their sums parked in
// `partials` (one slot per block) and added afterwards in the same order, so the result has
// the same bits for every thread count.
template <class BlockFn>
double sum_over_blocks(std::size_t n, int threads, double* partials, const BlockFn& block) {
  const std::size_t nb = (n + kBlock - 1) / kBlock;
  if (threads <= 1 || n < kParallelMin) {
    double total = 0.0;
    for (std::size_t b = 0; b < nb; ++b) total += block(b * kBlock, b + 1 == nb ? n : (b + 1) * kBlock);
    return total;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::ptrdiff_t b = 0; b < std::ptrdiff_t(nb); ++b) {
    const std::size_t lo = std::size_t(b) * kBlock;
    partials[b] = block(lo, lo + kBlock < n ? lo + kBlock : n);
  }
  double total = 0.0;
  for (std::size_t b = 0; b < nb; ++b) total += partials[b];
  return total;
}

template <class Op, class T, unsigned F>
double drive(const Job<T>& j) {
  const Op op(j.params);
  return sum_over_blocks(j.n, j.threads, j.partials, [&](std::size_t lo, std::size_t hi) {
    return block_loop<Op, T, F>(op, j, lo, hi);
  });
}

// Maps the runtime output flags onto a compiled mode. Only the combinations the dispatcher
// asks for are instantiated (see elementwise.cpp: mode_of()).
template <class Loss, class T, unsigned Mode>
double with_inputs(const Job<T>& j) {
  using Op = typename Loss::template Op<T>;
  const bool w = j.outputs & out::kWeight, a = j.outputs & out::kAux;
  constexpr unsigned W = out::kWeight, A = out::kAux;
  if constexpr (Loss::aux == AuxKind::none) {
    return w ? drive<Op, T, Mode | W>(j) : drive<Op, T, Mode>(j);
  } else if constexpr (Loss::aux == AuxKind::required) {
    return w ? drive<Op, T, Mode | W | A>(j) : drive<Op, T, Mode | A>(j);
  } else {
    if (a) return w ? drive<Op, T, Mode | W | A>(j) : drive<Op, T, Mode | A>(j);
    return w ? drive<Op, T, Mode | W>(j) : drive<Op, T, Mode>(j);
  }
}

template <class Loss, class T>
double run_elementwise(const Job<T>& j) {
  constexpr unsigned S = out::kSum, L = out::kLoss, G = out::kGrad, GO = out::kGradOut,
                     H = out::kHess;
  switch (j.outputs & (S | L | G | GO | H)) {
    case S: return with_inputs<Loss, T, S>(j);
    case L: return with_inputs<Loss, T, L>(j);
    case S | G: return with_inputs<Loss, T, S | G>(j);
    case L | G: return with_inputs<Loss, T, L | G>(j);
    case G: return with_inputs<Loss, T, G>(j);
    case G | GO: return with_inputs<Loss, T, G | GO>(j);
    case H: return with_inputs<Loss, T, H>(j);
    case G | H: return with_inputs<Loss, T, G | H>(j);
    default: return 0.0;  // unreachable: the dispatcher only builds the modes above
  }
}

template <class Loss>
void add_kernel(detail::KernelTable& table) {
  table.f32[int(Loss::id)] = &run_elementwise<Loss, float>;
  table.f64[int(Loss::id)] = &run_elementwise<Loss, double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
