// Multi-class row losses (SPEC §2 C) and the softmax utilities: value, fused value and
// gradient, gradient with an upstream gradient, for float and double. Compiled once per ISA.
//
// A row is the vector of C class scores at one (outer, inner) position of the logits,
// x[c * stride] with stride = inner (1 for axis = -1). The driver (rows_block) applies the
// sample weights, the upstream gradient and ignore_index; each loss supplies `row()`, which
// returns the row's loss and writes its gradient scaled by `rs`.
//
// The softmax family (softmax_cross_entropy, softmax_focal, logsumexp, softmax, log_softmax)
// streams: one pass forms the row's max m, s = sum_c e^(x_c - m) and the target sums with an
// online (chunked) max, a second pass writes the gradient p_c = e^(x_c - m) / s. No temporary
// of the logits' size. Statistics are formed per segment of kRowSegment classes and merged in
// order, so a long row split over threads gives the same bits as one that is not.
#ifdef _OPENMP
#include <omp.h>
#endif

#include "dispatch/kernel_abi.hpp"
#include "kernels/simd_math.hpp"
#include "kernels/stream_store.hpp"

namespace lossfn {
namespace LOSSFN_ISA {
namespace {

using detail::kBlock;
using detail::kParallelMin;
using detail::kRowSegment;
using detail::kStatsSize;
using detail::RowJob;
namespace out = detail;

// Classes per chunk of the online max: a chunk's max is found first, then its exponentials are
// summed from L1 with that max, rescaling the running sums only when the max grows.
constexpr std::size_t kChunk = detail::kSoftmaxChunk;

template <class T>
LOSSFN_INLINE T neg_inf() {
  return -math::inf<T>();
}

// The row a loss works on. `g`, `y` and `v` share the logits' layout.
template <class T>
struct Row {
  const T* x;          // scores
  const T* q;          // dense target, or nullptr
  T* g;                // gradient, or nullptr
  T* y;                // full-shaped output (softmax, log_softmax), or nullptr
  const T* v;          // full-shaped upstream gradient, or nullptr (all ones)
  std::size_t stride;
  std::int64_t label;
  double rs;           // gradient scale: upstream gradient * sample weight / denominator
  T* keep;             // the worker's exp_scratch (stride-1 rows of the exp-gradient losses), or nullptr
};

template <class T>
bool ignored(const RowJob<T>& j, std::size_t r) {
  return j.labels && j.has_ignore_index && j.labels[r] == j.ignore_index;
}

template <class T>
void zero_row(T* g, std::size_t n, std::size_t stride) {
  for (std::size_t c = 0; c < n; ++c) g[c * stride] = T(0);
}

// ---------------------------------------------------------------------------------------------
// The softmax family
// ---------------------------------------------------------------------------------------------
// Running statistics of a row (or of one segment of it), relative to the max m:
//   s = sum_c e^(x_c - m),  t = sum_c b_c (x_c - m),  b = sum_c b_c,  u = sum_c v_c e^(x_c - m)
//   (softmax's VJP) or sum_c v_c (log_softmax's VJP).
struct Stats {
  double m, s, t, b, u;
};

// What the per-class coefficients b_c of a cross-entropy row are (the weights of -log p_c
// beyond the label's): none; 1 (label smoothing); the class weights (label smoothing with
// class weights); alpha q_c + beta (a dense target with smoothing); the same times the class
// weights.
enum Coef : int { kNoCoef, kOne, kClassW, kDense, kDenseClassW };
// What the extra sum u is: nothing, sum_c v_c e^(x_c - m), or sum_c v_c.
enum Extra : int { kNoExtra, kExpV, kSumV };

template <int K, class T>
LOSSFN_INLINE T coef(const T* __restrict q, const T* __restrict cw, std::size_t c, std::size_t st, T alpha, T beta) {
  T b = T(1);
  if (K == kClassW || K == kDenseClassW) b = cw[c];
  if (K == kDense || K == kDenseClassW) b *= alpha * q[c * st] + beta;
  return b;
}

// Statistics of classes [c0, c1) of one row; `Unit` compiles the stride-1 loop. With `Keep`
// (stride 1), e_keep[c] = e^(x_c - m_j) for each class and m_keep[j] = m_j for each chunk j,
// m_j the running max after chunk j (0 where no exponential is taken: m_j = -inf, or a nan).
template <int K, int E, bool Unit, bool Keep = false, class T>
__attribute__((noinline)) Stats segment_stats(const T* __restrict x, const T* __restrict q, const T* __restrict cw,
                                              const T* __restrict v, std::size_t stride, std::size_t c0,
                                              std::size_t c1, T alpha, T beta, T* __restrict e_keep = nullptr,
                                              T* __restrict m_keep = nullptr) {
  const std::size_t st = Unit ? 1 : stride;
  T m = neg_inf<T>();
  double s = 0.0, t = 0.0, b = 0.0, u = 0.0;
  for (std::size_t lo = c0; lo < c1; lo += kChunk) {
    const std::size_t hi = lo + kChunk < c1 ? lo + kChunk : c1;
    T cm = neg_inf<T>();
#pragma omp simd reduction(max : cm)
    for (std::size_t c = lo; c < hi; ++c) cm = x[c * st] > cm ? x[c * st] : cm;
    if (Keep) m_keep[(lo - c0) / kChunk] = cm != cm ? m : (cm > m ? cm : m);
    if (cm != cm) {  // the chunk holds a nan and the max reported it
      s = math::nan<double>();
      if (Keep)
        for (std::size_t c = lo; c < hi; ++c) e_keep[c] = T(0);
      continue;
    }
    if (cm > m) {
      if (m != neg_inf<T>()) {  // rescale what the chunks before added (nothing on the first)
        const double shift = double(cm) - double(m);
        if (K != kNoCoef && b != 0.0) t -= b * shift;
        const double r = __builtin_exp(-shift);
        s *= r;
        if (E == kExpV) u *= r;
      } else if (K != kNoCoef && b != 0.0) {
        t = -__builtin_inf();  // target mass on -inf scores
      }
      m = cm;
    }
    T as = T(0), at = T(0), ab = T(0), au = T(0);
    if (m == neg_inf<T>()) {
      // Every score so far is -inf (or nan, which the max may skip): nothing to exponentiate;
      // the coefficients still count (a target on a -inf class makes the loss +inf when the
      // max moves on).
      for (std::size_t c = lo; c < hi; ++c)
        if (x[c * st] != x[c * st]) s = math::nan<double>();
      if (Keep)
        for (std::size_t c = lo; c < hi; ++c) e_keep[c] = T(0);
      if (K != kNoCoef) {
        for (std::size_t c = lo; c < hi; ++c) ab += coef<K>(q, cw, c, st, alpha, beta);
        b += double(ab);
      }
      if (E == kSumV) {  // v is never null here (stats() handles v = 1 apart)
        for (std::size_t c = lo; c < hi; ++c) au += v[c * st];
        u += double(au);
      }
      continue;
    }
#pragma omp simd reduction(+ : as, at, ab, au)
    for (std::size_t c = lo; c < hi; ++c) {
      const T d = x[c * st] - m;
      const T e = math::exp_nonpositive(d);
      if (Keep) e_keep[c] = e;
      as += e;
      if (K != kNoCoef) {
        const T bc = coef<K>(q, cw, c, st, alpha, beta);
        at += bc != T(0) ? bc * d : T(0);  // a class without target mass adds 0, even at -inf
        ab += bc;
      }
      if (E == kExpV) au += v[c * st] * e;
      if (E == kSumV) au += v[c * st];
    }
    s += double(as);
    t += double(at);
    b += double(ab);
    u += double(au);
  }
  return {double(m), s, t, b, u};
}

// Statistics of a and b (a's classes first) relative to the larger max.
template <int E>
Stats merge(const Stats& a, const Stats& b) {
  const double m = b.m > a.m ? b.m : a.m;
  if (m == -__builtin_inf()) return {m, 0.0, a.t + b.t, a.b + b.b, a.u + b.u};
  const double ra = __builtin_exp(a.m - m), rb = __builtin_exp(b.m - m);
  const double ta = a.b != 0.0 ? a.t - a.b * (m - a.m) : a.t;
  const double tb = b.b != 0.0 ? b.t - b.b * (m - b.m) : b.t;
  const double ua = E == kExpV ? a.u * ra : a.u, ub = E == kExpV ? b.u * rb : b.u;
  return {m, a.s * ra + b.s * rb, ta + tb, a.b + b.b, ua + ub};
}

enum class Softmax { ce_labels, ce_dense, focal, logsumexp, softmax, log_softmax };

// What the second pass needs: the gradient is k e^(x_c - m) - kb b_c, minus ky at the label;
// softmax and log_softmax use inv_s, lse and d.
struct Finish {
  double loss, k, kb, ky, inv_s, lse, d, ls;  // ls = log s, lse = m + ls
};

template <class T, Softmax S, int K>
struct SoftmaxRows {
  static constexpr int E = S == Softmax::softmax ? kExpV : S == Softmax::log_softmax ? kSumV : kNoExtra;
  static constexpr bool full_output = S == Softmax::softmax || S == Softmax::log_softmax;
  static constexpr bool splittable = true;

  std::size_t classes;
  const double* cw;   // class weights (alpha for focal), or nullptr
  const T* cw_t;
  double smoothing = 0.0, gamma = 0.0;
  T alpha = T(0), beta = T(1);   // dense coefficient: b_c = cw_c (alpha q_c + beta)
  double bscale = 1.0;           // factor of the coefficient sums in the loss
  double class_weight_sum;       // sum_c b_c of a label row with smoothing: C or the class weights' sum
  bool stream_grad;              // the gradient outgrows the caches: streaming stores (grad_pass)

  explicit SoftmaxRows(const RowJob<T>& j)
      : classes(j.classes), cw(j.class_weight), cw_t(j.class_weight_t), class_weight_sum(double(j.classes)),
        stream_grad(j.grad != nullptr && j.outer * j.classes * j.inner * sizeof(T) >= kStreamOutputBytes) {
    if (cw) {
      class_weight_sum = 0.0;
      for (std::size_t c = 0; c < classes; ++c) class_weight_sum += cw[c];
    }
    if (S == Softmax::ce_labels || S == Softmax::ce_dense) smoothing = j.params[0];
    if (S == Softmax::focal) gamma = j.params[0];
    if (S == Softmax::ce_labels) bscale = smoothing / double(classes);
    if (S == Softmax::ce_dense) {
      alpha = T(1.0 - smoothing);
      beta = T(smoothing / double(classes));
    }
  }

  Stats stats(const Row<T>& r, std::size_t c0, std::size_t c1) const {
    if (E != kNoExtra && r.v == nullptr) {
      // No upstream gradient array: v = 1, so sum_c v_c e_c = s and sum_c v_c = the class count.
      Stats st = r.stride == 1 ? segment_stats<K, kNoExtra, true>(r.x, r.q, cw_t, r.v, 1, c0, c1, alpha, beta)
                               : segment_stats<K, kNoExtra, false>(r.x, r.q, cw_t, r.v, r.stride, c0, c1, alpha, beta);
      st.u = E == kExpV ? st.s : double(c1 - c0);
      return st;
    }
    if (r.stride == 1) return segment_stats<K, E, true>(r.x, r.q, cw_t, r.v, 1, c0, c1, alpha, beta);
    return segment_stats<K, E, false>(r.x, r.q, cw_t, r.v, r.stride, c0, c1, alpha, beta);
  }

  // A row's statistics, segment by segment; a row with a `keep` buffer keeps the exponentials
  // (segment_stats' Keep) for grad_pass.
  Stats row_stats(const Row<T>& r) const {
    auto segment = [&](std::size_t c0) {
      const std::size_t c1 = c0 + kRowSegment < classes ? c0 + kRowSegment : classes;
      if (E == kNoExtra && r.keep && r.stride == 1)
        return segment_stats<K, kNoExtra, true, true>(r.x, r.q, cw_t, r.v, 1, c0, c1, alpha, beta, r.keep,
                                                      r.keep + classes + c0 / kChunk);
      return stats(r, c0, c1);
    };
    Stats st = segment(0);
    for (std::size_t c0 = kRowSegment; c0 < classes; c0 += kRowSegment) st = merge<E>(st, segment(c0));
    return st;
  }

  // `ls` is log(st.s), passed in so that the tiles below can take it from a vector loop.
  Finish finish(const Row<T>& r, const Stats& st, double ls) const {
    Finish f{0.0, 0.0, 0.0, 0.0, 1.0 / st.s, 0.0, 0.0, ls};
    f.lse = st.m + ls;
    if (S == Softmax::ce_labels) {
      const double wy = cw ? cw[r.label] : 1.0;
      const double zy = double(r.x[std::size_t(r.label) * r.stride]) - st.m;
      const double a = (1.0 - smoothing) * wy;
      f.loss = a * (ls - zy);
      double total = a;
      if (K != kNoCoef) {
        f.loss += bscale * (st.b * ls - st.t);
        total += bscale * st.b;
      }
      f.k = r.rs * total / st.s;
      f.kb = r.rs * bscale;
      f.ky = r.rs * a;
    } else if (S == Softmax::ce_dense) {
      f.loss = st.b * ls - st.t;
      f.k = r.rs * st.b / st.s;
      f.kb = r.rs;
    } else if (S == Softmax::focal) {
      // l = -a q^gamma L with L = log p_y and q = 1 - p_y = -expm1(L); dl/dx_c = A (p_c - [c = y])
      // with A = a q^gamma (1 - gamma p_y L / q), L / q -> -1 as q -> 0.
      const double a = cw ? cw[r.label] : 1.0;
      const double L = double(r.x[std::size_t(r.label) * r.stride]) - st.m - ls;
      const double p = __builtin_exp(L), q = -__builtin_expm1(L);
      const double qg = gamma == 0.0 ? 1.0 : __builtin_pow(q, gamma);
      const double ratio = q > 0.0 ? L / q : -1.0;
      // p L / q is 0 where p underflowed, even when the logit gap overflowed L to -inf.
      const double p_ratio = p == 0.0 ? 0.0 : p * ratio;
      f.loss = -a * qg * L;
      const double A = a * qg * (1.0 - gamma * p_ratio);
      f.k = r.rs * A / st.s;
      f.ky = r.rs * A;
    } else if (S == Softmax::logsumexp) {
      f.loss = f.lse;
      f.k = r.rs / st.s;
    } else if (S == Softmax::softmax) {
      f.d = st.u / st.s;  // sum_c v_c p_c
    } else {
      f.d = st.u / st.s;  // (sum_c v_c) / s
    }
    return f;
  }

  // Writes the gradient (and the full-shaped output) of classes [c0, c1).
  void write(const Row<T>& r, const Stats& st, const Finish& f, std::size_t c0, std::size_t c1) const {
    if (r.stride == 1) write_impl<true>(r, st, f, c0, c1);
    else write_impl<false>(r, st, f, c0, c1);
  }

  template <bool Unit>
  void write_impl(const Row<T>& r, const Stats& st, const Finish& f, std::size_t c0, std::size_t c1) const {
    const std::size_t st_ = Unit ? 1 : r.stride;
    if (r.y) write_output<Unit>(r.x, r.y, st_, c0, c1, T(st.m), T(f.inv_s), T(f.ls));
    if (r.g) {
      if (S == Softmax::softmax) {
        softmax_vjp<Unit>(r.x, r.v, r.g, st_, c0, c1, T(st.m), T(f.inv_s), T(f.d));
      } else if (S == Softmax::log_softmax) {
        log_softmax_vjp<Unit>(r.x, r.v, r.g, st_, c0, c1, T(st.m), T(f.d));
      } else {
        const bool kept = E == kNoExtra && Unit && r.keep;
        grad_pass<Unit>(r.x, r.q, r.g, st_, c0, c1, st.m, f.k, T(f.kb), kept ? r.keep : nullptr,
                        kept ? r.keep + classes : nullptr);
        if (f.ky != 0.0 && std::size_t(r.label) >= c0 && std::size_t(r.label) < c1) {
          T& gy = r.g[std::size_t(r.label) * r.stride];
          gy = T(double(gy) - f.ky);
        }
      }
    }
  }

  // g_c = k p_c - kb b_c over classes [c0, c1) (c0 at a segment's start), with k p_c taken as
  // (k e^(m_j - m)) e^(x_c - m_j): m_j the running max of c's chunk within its segment, and
  // e^(x_c - m_j) the very exponential the statistics pass computed — kept (e_keep, m_keep: the
  // whole row's, see segment_stats) or recomputed here — so a row's gradient has the same bits
  // whether its exponentials were kept, recomputed, or its segments spread over threads.
  template <bool Unit>
  __attribute__((noinline)) void grad_pass(const T* __restrict x, const T* __restrict q, T* __restrict g, std::size_t st,
                                           std::size_t c0, std::size_t c1, double m, double k, T kb,
                                           const T* __restrict e_keep, const T* __restrict m_keep) const {
    const T* __restrict w = cw_t;
    const T a = alpha, b = beta;
    // A gradient larger than the caches: each chunk is computed into the writer's L1 slot and
    // leaves with streaming stores, so its lines are not read from memory before being written.
    const bool stream = Unit && stream_grad;
    StreamedOutput<T, kChunk> out;
    if (stream) out.begin(g + c0);
    for (std::size_t seg = c0; seg < c1; seg += kRowSegment) {
      const std::size_t seg_end = seg + kRowSegment < c1 ? seg + kRowSegment : c1;
      T m_run = neg_inf<T>();
      for (std::size_t lo = seg; lo < seg_end; lo += kChunk) {
        const std::size_t hi = lo + kChunk < seg_end ? lo + kChunk : seg_end, n = hi - lo;
        bool none = false;  // no exponential taken in this chunk (m_j = -inf, or a nan): e = 0
        T mj;
        if (e_keep) {
          mj = m_keep[lo / kChunk];
        } else {
          T cm = neg_inf<T>();
#pragma omp simd reduction(max : cm)
          for (std::size_t c = lo; c < hi; ++c) cm = x[c * st] > cm ? x[c * st] : cm;
          none = cm != cm;
          mj = none ? m_run : (cm > m_run ? cm : m_run);
          m_run = mj;
        }
        none |= mj == neg_inf<T>();
        const T kr = T(k * __builtin_exp(double(mj) - m));
        T* __restrict dst = stream ? out.slot() : g + lo * st;
        const std::size_t ds = stream ? 1 : st;
        if (e_keep) {
          const T* __restrict e = e_keep + lo;
#pragma omp simd
          for (std::size_t i = 0; i < n; ++i) {
            T gc = kr * e[i];
            if (K != kNoCoef) gc -= kb * coef<K>(q, w, lo + i, st, a, b);
            dst[i * ds] = gc;
          }
        } else if (none) {
          for (std::size_t i = 0; i < n; ++i) {
            T gc = kr * T(0);
            if (K != kNoCoef) gc -= kb * coef<K>(q, w, lo + i, st, a, b);
            dst[i * ds] = gc;
          }
        } else {
          const T* __restrict xs = x + lo * st;
#pragma omp simd
          for (std::size_t i = 0; i < n; ++i) {
            T gc = kr * math::exp_nonpositive(xs[i * st] - mj);
            if (K != kNoCoef) gc -= kb * coef<K>(q, w, lo + i, st, a, b);
            dst[i * ds] = gc;
          }
        }
        if (stream) out.put(n);
      }
    }
    if (stream) {
      out.finish();
      stream_fence();
    }
  }

  template <bool Unit>
  __attribute__((noinline)) void write_output(const T* __restrict x, T* __restrict y, std::size_t st, std::size_t c0,
                                              std::size_t c1, T m, T inv_s, T ls) const {
    if (S == Softmax::softmax) {
#pragma omp simd
      for (std::size_t c = c0; c < c1; ++c) y[c * st] = math::exp_nonpositive(x[c * st] - m) * inv_s;
    } else {
#pragma omp simd
      // (x_c - m) - log s, never x_c - (m + log s): m + log s rounds at m's magnitude, and
      // log_softmax would lose every digit below it (12 700 ulp at offset 1e4 in float32).
      for (std::size_t c = c0; c < c1; ++c) y[c * st] = (x[c * st] - m) - ls;
    }
  }

  // softmax: g_c = p_c (v_c - sum_k v_k p_k)
  template <bool Unit>
  __attribute__((noinline)) void softmax_vjp(const T* __restrict x, const T* __restrict v, T* __restrict g, std::size_t st,
                                             std::size_t c0, std::size_t c1, T m, T inv_s, T d) const {
    // Two loops rather than a select on v: a select on a loop-invariant condition becomes a
    // masked load of v, which emulators (qemu) may fault on when v is null.
    if (v) {
#pragma omp simd
      for (std::size_t c = c0; c < c1; ++c) g[c * st] = math::exp_nonpositive(x[c * st] - m) * inv_s * (v[c * st] - d);
    } else {
#pragma omp simd
      for (std::size_t c = c0; c < c1; ++c) g[c * st] = math::exp_nonpositive(x[c * st] - m) * inv_s * (T(1) - d);
    }
  }

  // log_softmax: g_c = v_c - p_c sum_k v_k
  template <bool Unit>
  __attribute__((noinline)) void log_softmax_vjp(const T* __restrict x, const T* __restrict v, T* __restrict g,
                                                 std::size_t st, std::size_t c0, std::size_t c1, T m, T d) const {
    if (v) {
#pragma omp simd
      for (std::size_t c = c0; c < c1; ++c) g[c * st] = v[c * st] - math::exp_nonpositive(x[c * st] - m) * d;
    } else {
#pragma omp simd
      for (std::size_t c = c0; c < c1; ++c) g[c * st] = T(1) - math::exp_nonpositive(x[c * st] - m) * d;
    }
  }

  // --- Tiles: short rows side by side ------------------------------------------------------
  // A row of a few classes costs more in per-row overhead (reductions across vector lanes,
  // a log per row) than in arithmetic, and the rows of NCHW data lie side by side in memory.
  // A tile therefore takes up to kTile rows at once and vectorizes across them: for each class
  // c, the rows' scores are one contiguous vector. NCHW rows are read in place (class stride
  // inner); consecutive rows of a few classes (inner = 1) are first transposed into a buffer.
  // Every kind takes tiles of NCHW rows; rows of a few classes (inner = 1) take them where the
  // row has no dense input or output to transpose besides the logits and the gradient.
  static constexpr bool buffered = S == Softmax::ce_labels || S == Softmax::focal || S == Softmax::logsumexp;
  static constexpr std::size_t kTile = 32, kTileClasses = 32;

  static bool use_tiles(const RowJob<T>& j) {
    return j.inner > 1 ? j.classes <= 4096 : buffered && j.classes <= kTileClasses;
  }

  // The w rows r, r + 1, ... of one tile: row q's class c is at offset q + c * cs of x, of the
  // dense target q_in, of the full-shaped output y and upstream gradient v, and of the gradient g
  // (any of them null when absent).
  struct Tile {
    const T* x;
    const T* q;
    const T* v;
    T* y;
    T* g;
    std::size_t cs;
  };

  // Sum over the tile's rows of s_r l_r; writes the per-row and full-shaped outputs.
  __attribute__((noinline)) double tile(const RowJob<T>& j, std::size_t r, std::size_t w, const Tile& tl) const {
    const std::size_t C = classes, cs = tl.cs;
    const T* __restrict x = tl.x;
    const T* __restrict qd = tl.q;
    const T* __restrict v = tl.v;
    const T* __restrict cwt = cw_t;
    const T a = alpha, b = beta;
    T m[kTile], s[kTile], t[kTile], bs[kTile], u[kTile], ls[kTile];
    for (std::size_t q = 0; q < w; ++q) m[q] = neg_inf<T>(), s[q] = t[q] = bs[q] = u[q] = T(0);
    for (std::size_t c = 0; c < C; ++c) {
      const T* __restrict xc = x + c * cs;
#pragma omp simd
      for (std::size_t q = 0; q < w; ++q) m[q] = xc[q] > m[q] ? xc[q] : m[q];
    }
    const bool with_v = E != kNoExtra && v != nullptr;
    for (std::size_t c = 0; c < C; ++c) {
      const T* __restrict xc = x + c * cs;
      if (with_v) {
        const T* __restrict vc = v + c * cs;
#pragma omp simd
        for (std::size_t q = 0; q < w; ++q) {
          const T e = math::exp_nonpositive(xc[q] - m[q]);
          s[q] += e;
          u[q] += E == kExpV ? vc[q] * e : vc[q];
        }
      } else {
#pragma omp simd
        for (std::size_t q = 0; q < w; ++q) {
          const T d = xc[q] - m[q];
          s[q] += math::exp_nonpositive(d);
          if (K != kNoCoef) {
            const T bc = coef<K>(qd + q, cwt, c, cs, a, b);
            t[q] += bc != T(0) ? bc * d : T(0);  // a class without target mass adds 0, even at -inf
            bs[q] += bc;
          }
        }
      }
    }
#pragma omp simd
    for (std::size_t q = 0; q < w; ++q) ls[q] = math::log(s[q]);

    // Per-row factors of the second pass (see Finish).
    T k[kTile], kb[kTile], ky[kTile], inv_s[kTile], d[kTile];
    double acc = 0.0;
    for (std::size_t q = 0; q < w; ++q) {
      const std::size_t row = r + q;
      Row<T> rw{};
      rw.x = x + q;
      rw.stride = cs;
      rw.label = j.labels ? j.labels[row] : 0;
      if (ignored(j, row)) {
        k[q] = kb[q] = ky[q] = T(0);
        if (j.loss) j.loss[row] = T(0);
        continue;
      }
      const double sw = j.weight ? double(j.weight[row]) : 1.0;
      const double go = !full_output && j.grad_output ? double(j.grad_output[row]) : 1.0;
      rw.rs = tl.g ? j.scale * sw * go : 0.0;
      const double extra = E == kNoExtra || with_v ? double(u[q]) : E == kExpV ? double(s[q]) : double(C);
      const Finish f = finish(rw, Stats{double(m[q]), double(s[q]), double(t[q]), K == kOne || K == kClassW ? class_weight_sum : double(bs[q]), extra}, double(ls[q]));
      acc += sw * f.loss;
      if (j.loss && !full_output) j.loss[row] = T(sw * f.loss);
      k[q] = T(f.k), kb[q] = T(f.kb), ky[q] = T(f.ky);
      inv_s[q] = T(f.inv_s), d[q] = T(f.d);
    }
    if (tl.y) {
      for (std::size_t c = 0; c < C; ++c) {
        const T* __restrict xc = x + c * cs;
        T* __restrict yc = tl.y + c * cs;
        if (S == Softmax::softmax) {
#pragma omp simd
          for (std::size_t q = 0; q < w; ++q) yc[q] = math::exp_nonpositive(xc[q] - m[q]) * inv_s[q];
        } else {
#pragma omp simd
          for (std::size_t q = 0; q < w; ++q) yc[q] = (xc[q] - m[q]) - ls[q];  // as write_output
        }
      }
    }
    T* __restrict g = tl.g;
    if (!g) return acc;
    for (std::size_t c = 0; c < C; ++c) {
      const T* __restrict xc = x + c * cs;
      T* __restrict gc = g + c * cs;
      if (S == Softmax::softmax || S == Softmax::log_softmax) {
        if (with_v) {
          const T* __restrict vc = v + c * cs;
#pragma omp simd
          for (std::size_t q = 0; q < w; ++q) {
            const T e = math::exp_nonpositive(xc[q] - m[q]);
            gc[q] = S == Softmax::softmax ? e * inv_s[q] * (vc[q] - d[q]) : vc[q] - e * d[q];
          }
        } else {
#pragma omp simd
          for (std::size_t q = 0; q < w; ++q) {
            const T e = math::exp_nonpositive(xc[q] - m[q]);
            gc[q] = S == Softmax::softmax ? e * inv_s[q] * (T(1) - d[q]) : T(1) - e * d[q];
          }
        }
      } else {
#pragma omp simd
        for (std::size_t q = 0; q < w; ++q) {
          T val = k[q] * math::exp_nonpositive(xc[q] - m[q]);
          if (K != kNoCoef) val -= kb[q] * coef<K>(qd + q, cwt, c, cs, a, b);
          gc[q] = val;
        }
      }
    }
    for (std::size_t q = 0; q < w; ++q) {
      if (ignored(j, r + q)) {
        zero_row(g + q, C, cs);
      } else if (S == Softmax::ce_labels || S == Softmax::focal) {
        T& gy = g[q + std::size_t(j.labels[r + q]) * cs];
        gy = T(double(gy) - double(ky[q]));
      }
    }
    return acc;
  }

  // Sum over rows [r0, r1) in tiles that stay within one outer index.
  double tiles(const RowJob<T>& j, std::size_t r0, std::size_t r1) const {
    const std::size_t C = classes;
    double acc = 0.0;
    T xbuf[kTile * kTileClasses], gbuf[kTile * kTileClasses];
    for (std::size_t r = r0; r < r1;) {
      std::size_t w = r1 - r < kTile ? r1 - r : kTile;
      if (j.inner > 1) {
        const std::size_t left = j.inner - r % j.inner;
        w = w < left ? w : left;
        const std::size_t o = r / j.inner, base = o * C * j.inner + (r - o * j.inner);
        Tile tl{j.logits + base, j.target ? j.target + base : nullptr,
                full_output && j.grad_output ? j.grad_output + base : nullptr,
                full_output && j.loss ? j.loss + base : nullptr, j.grad ? j.grad + base : nullptr, j.inner};
        acc += tile(j, r, w, tl);
      } else if constexpr (buffered) {
        const T* __restrict x = j.logits + r * C;
        for (std::size_t q = 0; q < w; ++q)
          for (std::size_t c = 0; c < C; ++c) xbuf[c * kTile + q] = x[q * C + c];
        acc += tile(j, r, w, Tile{xbuf, nullptr, nullptr, nullptr, j.grad ? gbuf : nullptr, kTile});
        if (j.grad) {
          T* __restrict g = j.grad + r * C;
          for (std::size_t q = 0; q < w; ++q)
            for (std::size_t c = 0; c < C; ++c) g[q * C + c] = gbuf[c * kTile + q];
        }
      }
      r += w;
    }
    return acc;
  }

  double row(const Row<T>& r) const {
    const Stats st = row_stats(r);
    const Finish f = finish(r, st, __builtin_log(st.s));
    if (r.g || r.y) write(r, st, f, 0, classes);
    return f.loss;
  }
};

// ---------------------------------------------------------------------------------------------
// The other row losses: one row at a time, vector loops over the classes (sums in double)
// ---------------------------------------------------------------------------------------------

// What a loss that works one row at a time declares. `Derived::row_impl<Unit>` is the row's
// code; Unit compiles the stride-1 loops (axis = -1) apart from the strided ones.
template <class T, class Derived>
struct RowByRow {
  static constexpr bool full_output = false;
  static constexpr bool splittable = false;
  static bool use_tiles(const RowJob<T>&) { return false; }
  double tiles(const RowJob<T>&, std::size_t, std::size_t) const { return 0.0; }
  double row(const Row<T>& r) const {
    const Derived& d = static_cast<const Derived&>(*this);
    return r.stride == 1 ? d.template row_impl<true>(r) : d.template row_impl<false>(r);
  }
};

// nll (torch nll_loss): l = -w_y x_y, the input being log-probabilities.
template <class T>
struct NllRows : RowByRow<T, NllRows<T>> {
  std::size_t classes;
  const double* cw;
  explicit NllRows(const RowJob<T>& j) : classes(j.classes), cw(j.class_weight) {}
  template <bool Unit>
  double row_impl(const Row<T>& r) const {
    const double wy = cw ? cw[r.label] : 1.0;
    if (r.g) {
      zero_row(r.g, classes, Unit ? 1 : r.stride);
      r.g[std::size_t(r.label) * r.stride] = T(-r.rs * wy);
    }
    return -wy * double(r.x[std::size_t(r.label) * r.stride]);
  }
};

template <bool Unit, class T>
double row_sum(const T* __restrict x, std::size_t n, std::size_t stride) {
  const std::size_t st = Unit ? 1 : stride;
  double S = 0.0;
#pragma omp simd reduction(+ : S)
  for (std::size_t c = 0; c < n; ++c) S += double(x[c * st]);
  return S;
}

// Keras (sparse_)categorical_crossentropy on probabilities: p is normalised by S = sum_c p_c,
// clipped to [eps, 1 - eps] (in the input's precision, as Keras), l = -sum_c y_c log clip(p_c / S).
// The clip passes the gradient where eps <= p_c / S <= 1 - eps (u_c = 1) and stops it elsewhere:
//   dl/dp_j = -u_j y_j / p_j + (sum_c u_c y_c) / S.
// Dense targets are smoothed, y = (1 - ls) y + ls / C; the sparse form is a one-hot y.
template <class T, bool Sparse>
struct ProbCrossEntropyRows : RowByRow<T, ProbCrossEntropyRows<T, Sparse>> {
  std::size_t classes;
  T lo, hi, alpha, beta;
  explicit ProbCrossEntropyRows(const RowJob<T>& j)
      : classes(j.classes), lo(T(j.params[0])), hi(T(1) - T(j.params[0])),
        alpha(T(1.0 - (Sparse ? 0.0 : j.params[1]))), beta(T((Sparse ? 0.0 : j.params[1]) / double(j.classes))) {}

  template <bool Unit>
  double row_impl(const Row<T>& r) const {
    const std::size_t st = Unit ? 1 : r.stride;
    const T* __restrict x = r.x;
    const T* __restrict q = r.q;
    const double S = row_sum<Unit>(x, classes, st);
    const T inv_s = T(1.0 / S);
    // An inf or nan probability makes the row nan (inf / inf, as NumPy): the clip would hide it.
    const double poison = S - S;
    double loss = poison, U = poison;
    if (Sparse) {
      const T ratio = x[std::size_t(r.label) * st] * inv_s;
      loss -= double(math::log(math::min(math::max(ratio, lo), hi)));
      U += (ratio >= lo) & (ratio <= hi) ? 1.0 : 0.0;
    } else {
      const T a = alpha, b = beta, l0 = lo, h0 = hi;
#pragma omp simd reduction(+ : loss, U)
      for (std::size_t c = 0; c < classes; ++c) {
        const T y = a * q[c * st] + b, ratio = x[c * st] * inv_s;
        const T term = y * math::log(math::min(math::max(ratio, l0), h0));
        loss -= double(y != T(0) ? term : T(0));
        U += double((ratio >= l0) & (ratio <= h0) ? y : T(0));
      }
    }
    if (r.g) {
      T* __restrict g = r.g;
      const T base = T(r.rs * U / S), rs = T(r.rs), a = alpha, b = beta, l0 = lo, h0 = hi;
      if (Sparse) {
#pragma omp simd
        for (std::size_t c = 0; c < classes; ++c) g[c * st] = base;
        const std::size_t y = std::size_t(r.label);
        if (U != 0.0) g[y * st] = T(double(base) - r.rs / double(x[y * st]));
      } else {
#pragma omp simd
        for (std::size_t c = 0; c < classes; ++c) {
          const T p = x[c * st], y = a * q[c * st] + b, ratio = p * inv_s;
          const bool own = (y != T(0)) & (ratio >= l0) & (ratio <= h0);
          g[c * st] = base - (own ? rs * y / p : T(0));
        }
      }
    }
    return loss;
  }
};

// Keras categorical_hinge: pos = sum_c y_c x_c, neg = max_c (1 - y_c) x_c,
// l = max(0, neg - pos + 1); the max's gradient goes to its first index.
template <class T>
struct CategoricalHingeRows : RowByRow<T, CategoricalHingeRows<T>> {
  std::size_t classes;
  explicit CategoricalHingeRows(const RowJob<T>& j) : classes(j.classes) {}
  template <bool Unit>
  double row_impl(const Row<T>& r) const {
    const std::size_t st = Unit ? 1 : r.stride;
    const T* __restrict x = r.x;
    const T* __restrict q = r.q;
    double pos = 0.0;
    T neg = neg_inf<T>();
#pragma omp simd reduction(+ : pos) reduction(max : neg)
    for (std::size_t c = 0; c < classes; ++c) {
      pos += double(q[c * st] * x[c * st]);
      const T n = (T(1) - q[c * st]) * x[c * st];
      neg = n > neg ? n : neg;
    }
    std::size_t arg = 0;
    while (arg + 1 < classes && !((T(1) - q[arg * st]) * x[arg * st] == neg)) ++arg;
    const double l = double(neg) - pos + 1.0;
    if (r.g) {
      T* __restrict g = r.g;
      const T k = l > 0.0 ? T(-r.rs) : T(0);
#pragma omp simd
      for (std::size_t c = 0; c < classes; ++c) g[c * st] = k * q[c * st];
      if (l > 0.0) g[arg * st] = T(double(g[arg * st]) + r.rs * (1.0 - double(q[arg * st])));
    }
    return l > 0.0 ? l : (l != l ? l : 0.0);
  }
};

// torch multi_margin_loss: l = (1/C) sum_{c != y} w_y max(0, margin - x_y + x_c)^p, p in {1, 2}
// (the class weight multiplies after the power, as torch's kernel does; a term counts where
// it is > 0).
template <class T, bool Squared>
struct MultiMarginRows : RowByRow<T, MultiMarginRows<T, Squared>> {
  std::size_t classes;
  const double* cw;
  T margin;
  explicit MultiMarginRows(const RowJob<T>& j) : classes(j.classes), cw(j.class_weight), margin(T(j.params[1])) {}
  template <bool Unit>
  double row_impl(const Row<T>& r) const {
    const std::size_t st = Unit ? 1 : r.stride, y = std::size_t(r.label);
    const T* __restrict x = r.x;
    const double wy = (cw ? cw[y] : 1.0) / double(classes);
    const T shift = margin - x[y * st];
    double sum = 0.0, gy = 0.0;
    if (r.g) {
      T* __restrict g = r.g;
      const T k = T(r.rs * wy);
#pragma omp simd reduction(+ : sum, gy)
      for (std::size_t c = 0; c < classes; ++c) {
        const T z = shift + x[c * st];
        const bool on = (z > T(0)) & (c != y);
        sum += double(on ? (Squared ? z * z : z) : (z != z ? z : T(0)));
        const T gc = on ? k * (Squared ? T(2) * z : T(1)) : T(0);
        g[c * st] = gc;
        gy -= double(gc);
      }
      g[y * st] = T(gy);
    } else {
#pragma omp simd reduction(+ : sum)
      for (std::size_t c = 0; c < classes; ++c) {
        const T z = shift + x[c * st];
        const bool on = (z > T(0)) & (c != y);
        sum += double(on ? (Squared ? z * z : z) : (z != z ? z : T(0)));
      }
    }
    return wy * sum;
  }
};

// torch multilabel_soft_margin_loss: l = (1/C) sum_c w_c (y_c softplus(-x_c) + (1 - y_c) softplus(x_c)),
// dl/dx_c = (w_c / C) (sigmoid(x_c) - y_c). With e = e^-|x|, r = 1/(1+e), the two softplus
// terms are log1p(e) plus (1-y) x or -y x, summed term by term as bce_with_logits does.
template <class T, bool Weighted>
struct MultilabelSoftMarginRows : RowByRow<T, MultilabelSoftMarginRows<T, Weighted>> {
  std::size_t classes;
  const T* cw;
  explicit MultilabelSoftMarginRows(const RowJob<T>& j) : classes(j.classes), cw(j.class_weight_t) {}
  template <bool Unit>
  double row_impl(const Row<T>& r) const {
    const std::size_t st = Unit ? 1 : r.stride;
    const T* __restrict x = r.x;
    const T* __restrict q = r.q;
    const T* __restrict w = cw;
    const double inv_c = 1.0 / double(classes);
    const T k = T(r.rs * inv_c);
    T* __restrict g = r.g;
    double sum = 0.0;
    if (g) {
#pragma omp simd reduction(+ : sum)
      for (std::size_t c = 0; c < classes; ++c) {
        const T xc = x[c * st], y = q[c * st], wc = Weighted ? w[c] : T(1);
        const T e = math::exp_nonpositive(-math::abs(xc)), rr = T(1) / (T(1) + e);
        const bool pos = xc >= T(0);
        sum += double(wc * (math::log1p_unit(e) + (pos ? (T(1) - y) * xc : -y * xc)));
        // s(x) - y without cancellation for confident logits, as bce_with_logits
        g[c * st] = k * wc * ((pos ? (T(1) - y) - y * e : (T(1) - y) * e - y) * rr);
      }
    } else {
#pragma omp simd reduction(+ : sum)
      for (std::size_t c = 0; c < classes; ++c) {
        const T xc = x[c * st], y = q[c * st], wc = Weighted ? w[c] : T(1);
        const T e = math::exp_nonpositive(-math::abs(xc));
        sum += double(wc * (math::log1p_unit(e) + (xc >= T(0) ? (T(1) - y) * xc : -y * xc)));
      }
    }
    return sum * inv_c;
  }
};

// ---------------------------------------------------------------------------------------------
// The driver: rows in fixed blocks, weights, ignore_index, upstream gradient, threads
// ---------------------------------------------------------------------------------------------

template <class Loss, class T>
Row<T> make_row(const RowJob<T>& j, std::size_t r) {
  const std::size_t o = r / j.inner, i = r - o * j.inner;
  const std::size_t base = o * j.classes * j.inner + i;
  Row<T> row;
  row.x = j.logits + base;
  row.q = j.target ? j.target + base : nullptr;
  row.g = j.grad ? j.grad + base : nullptr;
  row.y = Loss::full_output && j.loss ? j.loss + base : nullptr;
  row.v = Loss::full_output && j.grad_output ? j.grad_output + base : nullptr;
  row.stride = j.inner;
  row.label = j.labels ? j.labels[r] : 0;
  row.rs = 0.0;
  row.keep = nullptr;
  if (j.grad) {
    const double sw = j.weight ? double(j.weight[r]) : 1.0;
    const double go = !Loss::full_output && j.grad_output ? double(j.grad_output[r]) : 1.0;
    row.rs = j.scale * sw * go;
  }
  return row;
}


// Sum over rows [r0, r1) of s_r l_r, writing the requested per-row outputs.
template <class Loss, class T>
__attribute__((noinline)) double rows_block(const Loss& loss, const RowJob<T>& j, std::size_t r0, std::size_t r1,
                                            int worker) {
  if (Loss::use_tiles(j)) return loss.tiles(j, r0, r1);
  double acc = 0.0;
  T* keep = j.exp_scratch ? j.exp_scratch + std::size_t(worker) * j.exp_scratch_size : nullptr;
  for (std::size_t r = r0; r < r1; ++r) {
    Row<T> row = make_row<Loss>(j, r);
    row.keep = keep;
    if (ignored(j, r)) {
      if (j.loss) j.loss[r] = T(0);
      if (row.g) zero_row(row.g, j.classes, row.stride);
      continue;
    }
    const double l = loss.row(row);
    const double sw = j.weight ? double(j.weight[r]) : 1.0;
    acc += sw * l;
    if (j.loss && !Loss::full_output) j.loss[r] = T(sw * l);
  }
  return acc;
}

// Few long rows: pass one forms the statistics of every (row, segment) on all threads, each
// row's are merged in order, pass two writes every segment's gradient on all threads.
template <class Loss, class T>
double split_rows(const Loss& loss, const RowJob<T>& j) {
  const std::size_t rows = j.outer * j.inner, C = j.classes;
  const std::size_t nseg = (C + kRowSegment - 1) / kRowSegment;
  const std::ptrdiff_t items = std::ptrdiff_t(rows * nseg);
  double* scratch = j.scratch;
#pragma omp parallel for num_threads(j.threads) schedule(static)
  for (std::ptrdiff_t it = 0; it < items; ++it) {
    const std::size_t r = std::size_t(it) / nseg, k = std::size_t(it) - r * nseg;
    if (ignored(j, r)) continue;
    const Row<T> row = make_row<Loss>(j, r);
    const std::size_t c0 = k * kRowSegment, c1 = c0 + kRowSegment < C ? c0 + kRowSegment : C;
    const Stats st = loss.stats(row, c0, c1);
    double* slot = scratch + std::size_t(it) * kStatsSize;
    slot[0] = st.m, slot[1] = st.s, slot[2] = st.t, slot[3] = st.b, slot[4] = st.u;
  }
  double total = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    if (ignored(j, r)) {
      if (j.loss) j.loss[r] = T(0);
      continue;
    }
    const double* slot = scratch + r * nseg * kStatsSize;
    Stats st{slot[0], slot[1], slot[2], slot[3], slot[4]};
    for (std::size_t k = 1; k < nseg; ++k) {
      const double* s = slot + k * kStatsSize;
      st = merge<Loss::E>(st, Stats{s[0], s[1], s[2], s[3], s[4]});
    }
    const Finish f = loss.finish(make_row<Loss>(j, r), st, __builtin_log(st.s));
    // Park the merged statistics and the gradient factors in the row's first slot.
    double* park = scratch + r * nseg * kStatsSize;
    park[0] = st.m, park[1] = st.s, park[2] = f.k, park[3] = f.kb, park[4] = f.ky, park[5] = f.d;
    const double sw = j.weight ? double(j.weight[r]) : 1.0;
    total += sw * f.loss;
    if (j.loss && !Loss::full_output) j.loss[r] = T(sw * f.loss);
  }
  if (!j.grad && !(Loss::full_output && j.loss)) return total;
#pragma omp parallel for num_threads(j.threads) schedule(static)
  for (std::ptrdiff_t it = 0; it < items; ++it) {
    const std::size_t r = std::size_t(it) / nseg, k = std::size_t(it) - r * nseg;
    const Row<T> row = make_row<Loss>(j, r);
    const std::size_t c0 = k * kRowSegment, c1 = c0 + kRowSegment < C ? c0 + kRowSegment : C;
    if (ignored(j, r)) {
      if (row.g)
        for (std::size_t c = c0; c < c1; ++c) row.g[c * row.stride] = T(0);
      continue;
    }
    const double* park = scratch + r * nseg * kStatsSize;
    const Stats st{park[0], park[1], 0.0, 0.0, 0.0};
    const double ls = __builtin_log(park[1]);
    Finish f{0.0, park[2], park[3], park[4], 1.0 / park[1], park[0] + ls, park[5], ls};
    loss.write(row, st, f, c0, c1);
  }
  return total;
}

template <class Loss, class T>
double drive_rows(const RowJob<T>& j) {
  const Loss loss(j);
  if constexpr (Loss::splittable) {
    if (j.scratch) return split_rows(loss, j);
  }
  const std::size_t rows = j.outer * j.inner, per = j.rows_per_block;
  const std::size_t nb = (rows + per - 1) / per;
  if (j.threads <= 1 || rows * j.classes < kParallelMin || nb < 2) {
    double total = 0.0;
    for (std::size_t b = 0; b < nb; ++b) total += rows_block(loss, j, b * per, b + 1 == nb ? rows : (b + 1) * per, 0);
    return total;
  }
#pragma omp parallel for num_threads(j.threads) schedule(static)
  for (std::ptrdiff_t b = 0; b < std::ptrdiff_t(nb); ++b) {
    const std::size_t lo = std::size_t(b) * per;
#ifdef _OPENMP
    const int worker = omp_get_thread_num();
#else
    const int worker = 0;
#endif
    j.partials[b] = rows_block(loss, j, lo, lo + per < rows ? lo + per : rows, worker);
  }
  double total = 0.0;
  for (std::size_t b = 0; b < nb; ++b) total += j.partials[b];
  return total;
}

template <class T>
double softmax_cross_entropy(const RowJob<T>& j) {
  constexpr Softmax L = Softmax::ce_labels, D = Softmax::ce_dense;
  const bool cw = j.class_weight != nullptr;
  if (j.labels) {
    if (!(j.params[0] > 0.0)) return drive_rows<SoftmaxRows<T, L, kNoCoef>>(j);
    return cw ? drive_rows<SoftmaxRows<T, L, kClassW>>(j) : drive_rows<SoftmaxRows<T, L, kOne>>(j);
  }
  return cw ? drive_rows<SoftmaxRows<T, D, kDenseClassW>>(j) : drive_rows<SoftmaxRows<T, D, kDense>>(j);
}

template <class T>
double multi_margin(const RowJob<T>& j) {
  return j.params[0] == 2.0 ? drive_rows<MultiMarginRows<T, true>>(j) : drive_rows<MultiMarginRows<T, false>>(j);
}

template <class T>
double multilabel_soft_margin(const RowJob<T>& j) {
  return j.class_weight ? drive_rows<MultilabelSoftMarginRows<T, true>>(j)
                        : drive_rows<MultilabelSoftMarginRows<T, false>>(j);
}

template <class T>
void add_rows(detail::RowFn<T>* table) {
  table[int(RowLoss::softmax_cross_entropy)] = &softmax_cross_entropy<T>;
  table[int(RowLoss::categorical_crossentropy)] = &drive_rows<ProbCrossEntropyRows<T, false>, T>;
  table[int(RowLoss::sparse_categorical_crossentropy)] = &drive_rows<ProbCrossEntropyRows<T, true>, T>;
  table[int(RowLoss::nll)] = &drive_rows<NllRows<T>, T>;
  table[int(RowLoss::softmax_focal)] = &drive_rows<SoftmaxRows<T, Softmax::focal, kNoCoef>, T>;
  table[int(RowLoss::categorical_hinge)] = &drive_rows<CategoricalHingeRows<T>, T>;
  table[int(RowLoss::multi_margin)] = &multi_margin<T>;
  table[int(RowLoss::multilabel_soft_margin)] = &multilabel_soft_margin<T>;
  table[int(RowLoss::logsumexp)] = &drive_rows<SoftmaxRows<T, Softmax::logsumexp, kNoCoef>, T>;
  table[int(RowLoss::softmax)] = &drive_rows<SoftmaxRows<T, Softmax::softmax, kNoCoef>, T>;
  table[int(RowLoss::log_softmax)] = &drive_rows<SoftmaxRows<T, Softmax::log_softmax, kNoCoef>, T>;
}

}  // namespace

void fill_multiclass(detail::KernelTable& table) {
  add_rows<float>(table.rows_f32);
  add_rows<double>(table.rows_f64);
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
