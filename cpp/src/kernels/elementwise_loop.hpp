// The one loop every elementwise loss runs through, instantiated per loss, dtype and output
// mode. A loss supplies only its scalar formula (an `Op` with `eval`); this file applies
// weights, the upstream gradient and the reduction, splits the work into fixed blocks and
// spreads the blocks over OpenMP threads. Included by per-ISA kernel files only.
#ifndef LOSSFN_ISA
#error "elementwise_loop.hpp is included by per-ISA kernel files only"
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dispatch/kernel_abi.hpp"
#include "kernels/gather.hpp"
#include "kernels/simd_math.hpp"
#include "kernels/stream_store.hpp"

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

// Sum of w_i * l_i over [lo, hi), writing the requested per-element outputs: one vector loop.
// Not inlined: block_loop calls it from its plain and its streamed path, and one copy per
// mode keeps the kernel files' compile time (under the sanitizers, minutes) in check; a call
// per chunk of 512 bytes costs nothing measurable.
// Margin losses also OR the LabelSeen bits of target[lo, hi) into labels_seen; losses whose
// targets are probabilities set kSeenOther for a target outside [0, 1].
template <class Op, class T, unsigned F>
__attribute__((noinline)) double chunk_loop(const Op& op, const Job<T>& j, std::size_t lo, std::size_t hi,
                                unsigned& labels_seen) {
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
  // Which label values occur (margin losses): LabelSeen bits in an integer as wide as T, set by
  // selects, so that the comparison masks vectorize. For other losses it stays 0 and folds away.
  using Flag = typename math::Bits<T>::Int;
  Flag seen = 0;
#pragma omp simd reduction(+ : acc) reduction(| : seen)
  for (std::size_t i = lo; i < hi; ++i) {
    if constexpr (Op::sign_labels) {
      const T y = target[i];
      const bool minus = y == T(-1), zero = y == T(0);
      seen |= (minus ? Flag(out::kSeenMinusOne) : Flag(0)) | (zero ? Flag(out::kSeenZero) : Flag(0)) |
              (minus | zero | (y == T(1)) ? Flag(0) : Flag(out::kSeenOther));
    }
    if constexpr (Op::unit_targets) {
      const T y = target[i];
      seen |= (y < T(0)) | (y > T(1)) ? Flag(out::kSeenOther) : Flag(0);
    }
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
  labels_seen |= unsigned(seen);
  return acc;
}

// Software prefetch for arrays that live in memory rather than in cache. A loss that spends
// tens of instructions per element fills the out-of-order window long before the hardware
// prefetchers have the next lines in flight, and the time becomes memory plus arithmetic. So
// such a call runs each block in chunks of kChunkBytes per stream and, before each chunk, asks
// for the lines kAheadBytes further on in every input the mode reads: memory and
// arithmetic overlap (log_cosh value and gradient, float32, N = 2e7, 1 thread: 28 -> 20 ms).
// A prefetch inside the vector loop would stop its vectorization, and bursts a whole block
// ahead stall the pipeline. Calls below kStreamBytes per stream run whole blocks as one loop:
// their data comes from cache, where the chunks' partial sums would only cost time (at 4e6
// float32 elements, 2 threads, chunks were 14% slower; at 2e7, 25-30% faster).
constexpr std::size_t kChunkBytes = 512, kAheadBytes = 2048, kLineBytes = 64;
constexpr std::size_t kStreamBytes = std::size_t(32) << 20;

// The inputs only: the outputs of a streamed call are written with streaming stores, which
// need no line in cache. `gathered`: the bits (1 << slot) of inputs read from a scratch slot,
// already in cache.
template <class T, unsigned F>
LOSSFN_INLINE void prefetch_chunk(const Job<T>& j, std::size_t at, unsigned gathered) {
  auto in_memory = [gathered](int slot) { return !(gathered & (1u << slot)); };
  for (std::size_t k = 0; k < kChunkBytes / sizeof(T); k += kLineBytes / sizeof(T)) {
    const std::size_t i = at + k;
    if (in_memory(detail::kSlotPred)) __builtin_prefetch(j.pred + i, 0, 3);
    if (in_memory(detail::kSlotTarget)) __builtin_prefetch(j.target + i, 0, 3);
    if ((F & out::kAux) && in_memory(detail::kSlotAux)) __builtin_prefetch(j.aux + i, 0, 3);
    if ((F & out::kWeight) && in_memory(detail::kSlotWeight)) __builtin_prefetch(j.weight + i, 0, 3);
    if ((F & out::kGradOut) && in_memory(detail::kSlotGradOut)) __builtin_prefetch(j.grad_output + i, 0, 3);
  }
}

// How a call meets memory. Arrays of kStreamBytes and more are worked in chunks, the inputs
// prefetched ahead of each chunk and the outputs written with streaming stores (an ordinary
// store first reads the output's line: for mse's value and gradient that is 4 bytes moved per
// element out of 16). The Hessian alone prefetches nothing: for several losses it reads no
// input at all (mse: 2 / n), and prefetching the inputs would double the traffic.
struct Streaming {
  bool inputs, outputs;
};

template <class Op, class T, unsigned F>
Streaming streaming(std::size_t n) {
  constexpr bool reads_inputs =
      (F & (out::kSum | out::kLoss | out::kGrad)) != 0 || Op::sign_labels || Op::unit_targets;
  constexpr bool writes = (F & (out::kLoss | out::kGrad | out::kHess)) != 0;
  const bool large = n * sizeof(T) >= kStreamBytes;
  return Streaming{reads_inputs && large, writes && large};
}

// One chunk [lo, hi) whose outputs go to the streamed writers: the chunk's job starts at lo
// and writes into their L1 slots. The same arithmetic, and sum, as chunk_loop(op, j, lo, hi).
template <class Op, class T, unsigned F, class Writer>
LOSSFN_INLINE double streamed_chunk(const Op& op, const Job<T>& j, std::size_t lo, std::size_t hi,
                                    unsigned& labels_seen, Writer* w) {
  Job<T> c = j;
  c.pred = j.pred + lo;
  c.target = j.target + lo;
  if (F & out::kAux) c.aux = j.aux + lo;
  if (F & out::kWeight) c.weight = j.weight + lo;
  if (F & out::kGradOut) c.grad_output = j.grad_output + lo;
  c.loss = w[0].slot();
  c.grad = w[1].slot();
  c.grad_aux = w[2].slot();
  c.hess = w[3].slot();
  const double acc = chunk_loop<Op, T, F>(op, c, 0, hi - lo, labels_seen);
  if (F & out::kLoss) w[0].put(hi - lo);
  if (F & out::kGrad) {
    w[1].put(hi - lo);
    if (Op::aux_differentiable) w[2].put(hi - lo);
  }
  if (F & out::kHess) w[3].put(hi - lo);
  return acc;
}

// Sum of w_i * l_i over [lo, hi), chunk by chunk when streaming (see Streaming); prefetches
// stay below j.n and skip the `gathered` inputs.
// Never inlined: the serial and the threaded drivers run this very code, so a block's sum is
// the same bits whichever thread computes it, and whether its inputs were strided or not.
template <class Op, class T, unsigned F>
__attribute__((noinline)) double block_loop(const Op& op, const Job<T>& j, std::size_t lo,
                                            std::size_t hi, Streaming stream, unsigned gathered) {
  constexpr bool checks_targets = Op::sign_labels || Op::unit_targets;
  constexpr std::size_t chunk_elements = kChunkBytes / sizeof(T);
  const std::size_t chunk = stream.inputs || stream.outputs ? chunk_elements : hi - lo;
  constexpr std::size_t ahead = kAheadBytes / sizeof(T);
  double acc = 0.0;
  unsigned labels_seen = 0;
  if (!stream.outputs) {
    for (std::size_t i = lo; i < hi; i += chunk) {
      const std::size_t end = hi - i > chunk ? i + chunk : hi;
      if (stream.inputs && end + ahead <= j.n) prefetch_chunk<T, F>(j, i + ahead, gathered);
      acc += chunk_loop<Op, T, F>(op, j, i, end, labels_seen);
    }
  } else {
    using Writer = StreamedOutput<T, chunk_elements>;
    Writer w[4];
    T* outputs[4] = {j.loss, j.grad, j.grad_aux, j.hess};
    for (int k = 0; k < 4; ++k) w[k].begin(outputs[k] ? outputs[k] + lo : nullptr);
    for (std::size_t i = lo; i < hi; i += chunk) {
      const std::size_t end = hi - i > chunk ? i + chunk : hi;
      if (stream.inputs && end + ahead <= j.n) prefetch_chunk<T, F>(j, i + ahead, gathered);
      acc += streamed_chunk<Op, T, F>(op, j, i, end, labels_seen, w);
    }
    for (int k = 0; k < 4; ++k)
      if (outputs[k]) w[k].finish();
    stream_fence();
  }
  // One atomic OR per block, exact in any order (a shared line touched per chunk would
  // bounce between the cores).
  if (checks_targets && labels_seen) __atomic_fetch_or(j.labels_seen, labels_seen, __ATOMIC_RELAXED);
  return acc;
}

// Sum of block(lo, hi, worker) over the fixed blocks of [0, n), added in block order. Above
// kParallelMin the blocks are spread over `threads` OpenMP threads, their sums parked in
// `partials` (one slot per block) and added afterwards in the same order, so the result has
// the same bits for every thread count. `worker` (0 .. threads-1) picks a block's scratch: 0
// on the serial path, which may run inside a caller's own parallel region.
template <class BlockFn>
double sum_over_blocks(std::size_t n, int threads, double* partials, const BlockFn& block) {
  const std::size_t nb = (n + kBlock - 1) / kBlock;
  if (threads <= 1 || n < kParallelMin) {
    double total = 0.0;
    for (std::size_t b = 0; b < nb; ++b) total += block(b * kBlock, b + 1 == nb ? n : (b + 1) * kBlock, 0);
    return total;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::ptrdiff_t b = 0; b < std::ptrdiff_t(nb); ++b) {
    const std::size_t lo = std::size_t(b) * kBlock;
#ifdef _OPENMP
    const int worker = omp_get_thread_num();
#else
    const int worker = 0;
#endif
    partials[b] = block(lo, lo + kBlock < n ? lo + kBlock : n, worker);
  }
  double total = 0.0;
  for (std::size_t b = 0; b < nb; ++b) total += partials[b];
  return total;
}

// The job of block [lo, hi) as one that starts at its first element: outputs and contiguous
// inputs offset by lo, each strided input gathered into its slot of `scratch` (the worker's
// kInputSlots slots of j.scratch_slot elements). Returns the bits (1 << slot) of the gathered inputs.
template <class T>
LOSSFN_INLINE unsigned block_job(const Job<T>& j, std::size_t lo, std::size_t hi, T* scratch, Job<T>& b) {
  b = j;
  b.n = j.n - lo;
  const T** inputs[detail::kInputSlots] = {&b.pred, &b.target, &b.aux, &b.weight, &b.grad_output};
  unsigned gathered = 0;
  for (int s = 0; s < detail::kInputSlots; ++s) {
    if (*inputs[s] == nullptr) continue;
    if (const detail::StridedView<T>* v = j.views[s]) {
      T* slot = scratch + std::size_t(s) * j.scratch_slot;
      gather_block(*v, lo, hi - lo, slot);
      *inputs[s] = slot;
      gathered |= 1u << s;
    } else {
      *inputs[s] += lo;
    }
  }
  T** outputs[] = {&b.loss, &b.grad, &b.grad_aux, &b.hess};
  for (T** o : outputs)
    if (*o) *o += lo;
  return gathered;
}

template <class Op, class T, unsigned F>
double drive(const Job<T>& j) {
  const Op op(j.params);
  const Streaming stream = streaming<Op, T, F>(j.n);
  if (j.views == nullptr) {
    return sum_over_blocks(j.n, j.threads, j.partials, [&](std::size_t lo, std::size_t hi, int) {
      return block_loop<Op, T, F>(op, j, lo, hi, stream, 0u);
    });
  }
  return sum_over_blocks(j.n, j.threads, j.partials, [&](std::size_t lo, std::size_t hi, int worker) {
    Job<T> b;
    const unsigned gathered =
        block_job(j, lo, hi, j.scratch + std::size_t(worker) * detail::kInputSlots * j.scratch_slot, b);
    return block_loop<Op, T, F>(op, b, 0, hi - lo, stream, gathered);
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
