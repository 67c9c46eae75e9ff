// Sequence losses (SPEC §2 G): CTC, connectionist temporal classification (Graves, Fernández,
// Gomez and Schmidhuber, ICML 2006). Compiled once per ISA.
//
// Sample b has frames t < T_b of class scores y_t(c) = exp(v_t(c)), v = the log-probabilities
// (or, with from_logits, the logits minus their log-partition), and labels l_1..l_L. The
// extended sequence l' = (blank, l_1, blank, l_2, ..., l_L, blank) has S = 2L + 1 states; an
// alignment stays in a state or moves to the next, and skips a blank between two different
// labels. With alpha_t(s) the probability of the prefixes that are in state s at frame t
// (emission at t included) and beta'_t(s) that of the suffixes after t from state s:
//   loss = -log p,  p = alpha_{T-1}(S-1) + alpha_{T-1}(S-2),
//   gamma_t(c) = sum_{s: l'_s = c} alpha_t(s) beta'_t(s) / sum_s alpha_t(s) beta'_t(s),
//   d loss / d v_t(c) = -gamma_t(c)                    (log-probabilities in: the true derivative)
//   d loss / d x_t(c) = softmax(x_t)(c) - gamma_t(c)   (from_logits).
// Frames t >= T_b get a zero gradient, and so does a sample whose p is 0 (an impossible
// alignment: its loss is +inf).
//
// Per sample (one thread; a small batch spreads each sample's frames over the threads):
//   1. with from_logits, each frame's log-partition (max, then sum of exponentials, in double);
//   2. the emissions of the states in the frame's band, exp(v - m_t) with m_t their max;
//   3. alpha forward in probability space, each frame normalised by its sum c_t (Graves's
//      scaled recursion, in double): log p = sum_t (log c_t + m_t);
//   4. beta' backward, each frame normalised likewise, kept per frame (independent of alpha: a
//      sample whose frames are shared out over threads runs 3 and 4 at once);
//   5. each frame's gradient row: softmax (or zero) over the classes, then the classes of l'
//      (at most L + 1 of them) get their posteriors alpha beta' / z_t subtracted.
// Only the band of states that can lie on a complete alignment is computed (warp-ctc's
// pruning): s <= 2t + 1 from the start, s >= S - 2 (T_b - t) to reach the end. A sample whose
// band holds an emission below e^-200 of the band's largest, or whose alignments lost to
// underflow could matter (kMinOverlap below), is beyond what the scaled recursion represents:
// it is computed again in log space (exact, slower).
#include <cstddef>
#include <cstdint>

#include "dispatch/kernel_abi.hpp"
#include "kernels/sequence_loop.hpp"
#include "kernels/simd_math.hpp"

namespace lossfn {
namespace LOSSFN_ISA {
namespace {

using detail::CtcJob;

// What the scaled recursion may lose, and the checks that bound it. A state's probability is
// lost where a product alpha * e (or beta' * e) falls below kFlush. Emissions are at least
// e^kEmissionFloor of their band's largest (else the sample goes to log space), so a lost
// entry's predecessors held less than kFlush e^200 ~ 6e-221 of their normalised column, and the
// alignments through them less than 3 x 6e-221 / z of p, z = sum_s alpha_t(s) beta'_t(s) of
// their frame: with z >= kMinOverlap, below 1e-30 of the loss. A forward pass that lost
// nothing needs no check; one that did (and every gradient) checks z at every frame.
constexpr double kFlush = 4 * 2.2250738585072014e-308;
constexpr double kEmissionFloor = -200.0;
constexpr double kMinOverlap = 1e-189;

LOSSFN_INLINE double neg_inf() { return -math::inf<double>(); }

// log(e^a + e^b + e^c), -inf when all three are.
LOSSFN_INLINE double log_add3(double a, double b, double c) {
  const double m = math::max(math::max(a, b), c);
  if (m == neg_inf()) return m;
  return m + math::log(math::exp(a - m) + math::exp(b - m) + math::exp(c - m));
}

// One sample's inputs and scratch.
template <class T>
struct Sample {
  const T* x;               // scores of frame t: x[t * xt + c * xc]
  std::ptrdiff_t xt, xc;
  T* g;                     // gradient rows, or nullptr
  std::ptrdiff_t gt, gc;
  std::size_t classes, frames, states, width;
  bool from_logits;
  double k;                 // gradient scale
  const std::int64_t* ext;  // l', `states` class indices
  std::size_t distinct;     // classes of l', in order of first appearance
  const std::int64_t* distinct_class;
  const std::int64_t* state_class;  // per state: the index of its class among them
  const double* skip;       // skip[s] = 1 when the move s - 2 -> s is allowed
  double* alpha;            // frames rows of width: two pad cells, then the states
  double* post;             // frames rows: emissions (log space: then the posteriors), states from 0
  double* beta_rows;        // frames rows: beta'_t normalised, states from 0
  double* shift;            // per frame: m_t (NaN: an emission beyond the floor), then z_t
  double* lse;              // per frame: log-partition (0 for log-probabilities)
  double* beta;             // two columns of width, the last two cells of each 0
  bool log_space;           // the posteriors are in `post` (else alpha beta' / z)
};

// The band of states that can lie on a complete alignment at frame t: [lo, hi).
struct Band {
  std::size_t lo, hi;
};
template <class T>
LOSSFN_INLINE Band band(const Sample<T>& q, std::size_t t) {
  const std::size_t reach_end = 2 * (q.frames - t);
  const std::size_t lo = q.states > reach_end ? q.states - reach_end : 0;
  const std::size_t hi = 2 * t + 2 < q.states ? 2 * t + 2 : q.states;
  return {lo, hi};
}

// max + log sum exp over a row of scores, the sum in double. The sum goes into kLanes partial
// sums, class c into lane c % kLanes, added in a fixed order at the end: the same bits whether
// the row is read with stride 1 (vectorized) or through a stride, on every ISA.
template <class T>
double log_partition(const T* x, std::ptrdiff_t xc, std::size_t classes) {
  T m = -math::inf<T>();
  if (xc == 1) {
#pragma omp simd reduction(max : m)
    for (std::size_t c = 0; c < classes; ++c) m = x[c] > m ? x[c] : m;
  } else {
    for (std::size_t c = 0; c < classes; ++c) m = math::max(x[std::ptrdiff_t(c) * xc], m);
  }
  if (!(m > -math::inf<T>() && m < math::inf<T>())) return double(m) + 0.0 * double(m);  // -inf, inf or nan
  constexpr std::size_t kLanes = 8;
  double lane[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t c0 = 0;
  for (; c0 + kLanes <= classes; c0 += kLanes) {
    const T* xs = x + std::ptrdiff_t(c0) * xc;
    if (xc == 1) {
#pragma omp simd
      for (std::size_t l = 0; l < kLanes; ++l) lane[l] += double(math::exp(T(xs[l] - m)));
    } else {
#pragma omp simd
      for (std::size_t l = 0; l < kLanes; ++l) lane[l] += double(math::exp(T(xs[std::ptrdiff_t(l) * xc] - m)));
    }
  }
  for (std::size_t c = c0; c < classes; ++c) lane[c - c0] += double(math::exp(T(x[std::ptrdiff_t(c) * xc] - m)));
  const double s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  return double(m) + math::log(s);
}

// Step 2 for frame t: the band's emissions relative to their max, one exponential per class of
// l' (the blank stands at every other state). The class values go through the frame's beta'
// row, which the backward pass fills later.
template <class T>
void emissions(const Sample<T>& q, std::size_t t) {
  const T* x = q.x + std::ptrdiff_t(t) * q.xt;
  double* e = q.post + t * q.width;
  double* cv = q.beta_rows + t * q.width;
  const std::int64_t* cls = q.distinct_class;
  const std::int64_t* sc = q.state_class;
  const std::ptrdiff_t xc = q.xc;
  const double lse = q.lse[t];
  const Band bd = band(q, t);
#pragma omp simd
  for (std::size_t j = 0; j < q.distinct; ++j) cv[j] = double(x[cls[j] * xc]) - lse;
  double m = neg_inf();
#pragma omp simd reduction(max : m)
  for (std::size_t s = bd.lo; s < bd.hi; ++s) m = cv[sc[s]] > m ? cv[sc[s]] : m;
  int beyond = !(m > neg_inf() && m < math::inf<double>());
#pragma omp simd reduction(| : beyond)
  for (std::size_t s = bd.lo; s < bd.hi; ++s) {
    const double d = cv[sc[s]] - m;
    beyond |= int(d < kEmissionFloor) & int(d > neg_inf());
  }
  // (A class outside the band may overflow here: only the band's states are read.)
#pragma omp simd
  for (std::size_t j = 0; j < q.distinct; ++j) cv[j] = math::exp(cv[j] - m);
#pragma omp simd
  for (std::size_t s = bd.lo; s < bd.hi; ++s) e[s] = cv[sc[s]];
  q.shift[t] = beyond ? math::nan<double>() : m;
}

// Step 3: log p by the scaled forward recursion; false when it cannot represent the sample.
// `lost`: some alpha fell below kFlush (the backward pass must then bound what that lost).
template <class T>
bool forward(const Sample<T>& q, double& log_p, bool& lost) {
  const std::size_t S = q.states, W = q.width;
  double* a0 = q.alpha + 2;
  for (std::size_t i = 0; i < W; ++i) q.alpha[i] = 0.0;
  double sum_log = 0.0;
  for (std::size_t t = 0; t < q.frames; ++t) {
    if (!(q.shift[t] > neg_inf())) return false;  // -inf: nothing emitted; NaN: beyond the floor
    const Band bd = band(q, t);
    double* a = a0 + t * W;
    const double* e = q.post + t * W;
    double c = 0.0;
    if (t == 0) {
      for (std::size_t s = bd.lo; s < bd.hi; ++s) c += a[s] = e[s];
    } else {
      const double* p = a - W;
      a[-2] = a[-1] = 0.0;
      const double* skip = q.skip;
      int flushed = 0;
#pragma omp simd reduction(+ : c) reduction(| : flushed)
      for (std::size_t s = bd.lo; s < bd.hi; ++s) {
        const double into = p[s] + p[s - 1] + skip[s] * p[s - 2];
        const double v = into * e[s];
        flushed |= int(v < kFlush) & int(into > 0.0) & int(e[s] > 0.0);
        a[s] = v;
        c += v;
      }
      lost |= flushed != 0;
      // The next frame reads up to two states past the band.
      for (std::size_t s = bd.hi; s < bd.hi + 2 && s < S; ++s) a[s] = 0.0;
    }
    if (!(c >= kFlush && c < math::inf<double>())) return false;
    const double inv = 1.0 / c;
#pragma omp simd
    for (std::size_t s = bd.lo; s < bd.hi; ++s) a[s] *= inv;
    sum_log += math::log(c) + q.shift[t];
  }
  const double* last = a0 + (q.frames - 1) * W;
  const double end = last[S - 1] + (S >= 2 ? last[S - 2] : 0.0);
  if (!(end > 0.0)) return false;
  log_p = sum_log + math::log(end);
  return true;
}

// Step 4: beta'_t of every frame into q.beta_rows (each frame's beta normalised by its sum);
// false when a sum underflows. Independent of alpha: with two threads the passes run at once.
template <class T>
bool backward(const Sample<T>& q) {
  const std::size_t S = q.states, W = q.width;
  double* next = q.beta;      // beta_{t+1}, normalised
  double* cur = q.beta + W;   // beta_t
  for (std::size_t i = 0; i < 2 * W; ++i) q.beta[i] = 0.0;
  const double* skip = q.skip;
  for (std::size_t t = q.frames; t-- > 0;) {
    const Band bd = band(q, t);
    const double* e = q.post + t * W;
    double* bp = q.beta_rows + t * W;
    const bool last = t + 1 == q.frames;
    double d = 0.0;
#pragma omp simd reduction(+ : d)
    for (std::size_t s = bd.lo; s < bd.hi; ++s) {
      const double v = last ? (s + 2 >= S ? 1.0 : 0.0) : next[s] + next[s + 1] + skip[s + 2] * next[s + 2];
      const double b = e[s] * v;
      bp[s] = v;
      cur[s] = b;
      d += b;
    }
    // The frame before reads up to two states past this band; earlier columns never wrote below it.
    for (std::size_t s = bd.hi; s < bd.hi + 2 && s < S; ++s) cur[s] = 0.0;
    if (t > 0) {
      if (!(d >= kFlush && d < math::inf<double>())) return false;
      const double inv_d = 1.0 / d;
#pragma omp simd
      for (std::size_t s = bd.lo; s < bd.hi; ++s) cur[s] *= inv_d;
    }
    double* swap = next;
    next = cur;
    cur = swap;
  }
  return true;
}

// z_t = sum_s alpha_t(s) beta'_t(s): the normaliser of frame t's posteriors.
template <class T>
double overlap(const Sample<T>& q, std::size_t t) {
  const Band bd = band(q, t);
  const double* a = q.alpha + 2 + t * q.width;
  const double* bp = q.beta_rows + t * q.width;
  double z = 0.0;
#pragma omp simd reduction(+ : z)
  for (std::size_t s = bd.lo; s < bd.hi; ++s) z += a[s] * bp[s];
  return z;
}

// The exact fallback: alpha and beta' in log space over every state, the posteriors into
// q.post. Returns log p (-inf for an impossible alignment).
template <class T>
double log_space(const Sample<T>& q, bool want_posteriors) {
  const std::size_t S = q.states, W = q.width;
  const double* skip = q.skip;
  for (std::size_t t = 0; t < q.frames; ++t) {
    const T* x = q.x + std::ptrdiff_t(t) * q.xt;
    double* v = q.post + t * W;
    for (std::size_t s = 0; s < S; ++s) v[s] = double(x[q.ext[s] * q.xc]) - q.lse[t];
    double* a = q.alpha + 2 + t * W;
    a[-2] = a[-1] = neg_inf();
    if (t == 0) {
      for (std::size_t s = 0; s < S; ++s) a[s] = s < 2 ? v[s] : neg_inf();
    } else {
      const double* p = a - W;
      for (std::size_t s = 0; s < S; ++s)
        a[s] = log_add3(p[s], p[s - 1], skip[s] != 0.0 ? p[s - 2] : neg_inf()) + v[s];
    }
  }
  const double* last = q.alpha + 2 + (q.frames - 1) * W;
  const double log_p = log_add3(last[S - 1], S >= 2 ? last[S - 2] : neg_inf(), neg_inf());
  if (!want_posteriors || !(log_p > neg_inf())) return log_p;
  double* bp = q.beta;       // log beta'_t
  double* b = q.beta + W;    // log beta_t, two -inf cells past the states
  b[S] = b[S + 1] = neg_inf();
  for (std::size_t t = q.frames; t-- > 0;) {
    const double* a = q.alpha + 2 + t * W;
    double* v = q.post + t * W;
    if (t + 1 == q.frames) {
      for (std::size_t s = 0; s < S; ++s) bp[s] = s + 2 >= S ? 0.0 : neg_inf();
    } else {
      for (std::size_t s = 0; s < S; ++s) bp[s] = log_add3(b[s], b[s + 1], skip[s + 2] != 0.0 ? b[s + 2] : neg_inf());
    }
    double m = neg_inf();
    for (std::size_t s = 0; s < S; ++s) m = math::max(a[s] + bp[s], m);
    double z = 0.0;
    for (std::size_t s = 0; s < S; ++s) z += math::exp(a[s] + bp[s] - m);
    const double log_z = m + math::log(z);
    for (std::size_t s = 0; s < S; ++s) {
      b[s] = bp[s] + v[s];
      v[s] = math::exp(a[s] + bp[s] - log_z);
    }
  }
  return log_p;
}

template <class T>
void zero_rows(T* g, std::ptrdiff_t gt, std::ptrdiff_t gc, std::size_t classes, std::size_t t0, std::size_t t1) {
  for (std::size_t t = t0; t < t1; ++t) {
    T* row = g + std::ptrdiff_t(t) * gt;
    if (gc == 1) {
#pragma omp simd
      for (std::size_t c = 0; c < classes; ++c) row[c] = T(0);
    } else {
      for (std::size_t c = 0; c < classes; ++c) row[std::ptrdiff_t(c) * gc] = T(0);
    }
  }
}

// Step 5 for frame t: k (softmax - posterior), or -k posterior.
template <class T>
void gradient_row(const Sample<T>& q, std::size_t t) {
  const T* x = q.x + std::ptrdiff_t(t) * q.xt;
  T* g = q.g + std::ptrdiff_t(t) * q.gt;
  const std::size_t C = q.classes;
  if (!q.from_logits) {
    zero_rows(g, 0, q.gc, C, 0, 1);
  } else {
    const T lse = T(q.lse[t]), k = T(q.k);
    if (q.xc == 1 && q.gc == 1) {
#pragma omp simd
      for (std::size_t c = 0; c < C; ++c) g[c] = k * math::exp(T(x[c] - lse));
    } else {
      for (std::size_t c = 0; c < C; ++c)
        g[std::ptrdiff_t(c) * q.gc] = k * math::exp(T(x[std::ptrdiff_t(c) * q.xc] - lse));
    }
  }
  // The band's posteriors (scaled: alpha beta' / z_t, over the frame's emissions, done with),
  // summed per class of l' in state order into the frame's alpha row (done with too); then the
  // classes of l' get k (softmax - posterior) with the softmax term in double.
  const std::size_t W = q.width;
  const Band bd = band(q, t);
  double* gamma = q.post + t * W;
  if (!q.log_space) {
    const double z = overlap(q, t);
    q.shift[t] = z;  // checked by the caller once every row is written
    const double inv_z = 1.0 / z;
    const double* a = q.alpha + 2 + t * W;
    const double* bp = q.beta_rows + t * W;
#pragma omp simd
    for (std::size_t s = bd.lo; s < bd.hi; ++s) gamma[s] = a[s] * bp[s] * inv_z;
  }
  double* acc = q.alpha + t * W;
  const std::int64_t* cls = q.distinct_class;
  for (std::size_t j = 0; j < q.distinct; ++j) acc[j] = 0.0;
  for (std::size_t s = bd.lo; s < bd.hi; ++s) acc[q.state_class[s]] += gamma[s];
  const double k = q.k, lse = q.lse[t];
  if (q.from_logits) {
#pragma omp simd
    for (std::size_t j = 0; j < q.distinct; ++j)
      g[cls[j] * q.gc] = T(k * (math::exp(double(x[cls[j] * q.xc]) - lse) - acc[j]));
  } else {
    for (std::size_t j = 0; j < q.distinct; ++j) g[cls[j] * q.gc] = T(-k * acc[j]);
  }
}

template <class T>
void ctc_sample(const CtcJob<T>& j, std::size_t b, int worker, int frame_threads) {
  const std::int64_t* labels = j.labels + j.label_offset[b];
  const std::size_t L = j.label_offset[b + 1] - j.label_offset[b];
  const std::size_t frames = std::size_t(j.input_length[b]);
  T* g = j.grad ? j.grad + std::ptrdiff_t(b) * j.grad_stride[1] : nullptr;
  const std::ptrdiff_t gt = j.grad_stride[0], gc = j.grad_stride[2];

  std::size_t repeats = 0;
  for (std::size_t i = 1; i < L; ++i) repeats += labels[i] == labels[i - 1];
  if (frames < L + repeats || frames == 0) {
    // Too few frames for the labels and the blanks between repeats: no alignment (loss +inf);
    // no frame and no label: the empty alignment (loss 0).
    j.sample_loss[b] = frames == 0 && L == 0 ? 0.0 : math::inf<double>();
    if (g) zero_rows(g, gt, gc, j.classes, 0, j.max_time);
    return;
  }

  Sample<T> q;
  q.x = j.scores + std::ptrdiff_t(b) * j.score_stride[1];
  q.xt = j.score_stride[0];
  q.xc = j.score_stride[2];
  q.g = g;
  q.gt = gt;
  q.gc = gc;
  q.classes = j.classes;
  q.frames = frames;
  q.states = 2 * L + 1;
  q.width = detail::ctc_row_width(q.states);
  q.from_logits = j.from_logits;
  q.k = j.grad_scale ? j.grad_scale[b] : 0.0;
  const std::size_t S = q.states, W = q.width;

  // l', the move mask, and l''s distinct classes with each state's index among them.
  std::int64_t* ext = j.index_scratch + std::size_t(worker) * j.scratch_indices;
  std::int64_t* distinct_class = ext + W;
  std::int64_t* state_class = distinct_class + W;
  double* skip = j.scratch + std::size_t(worker) * j.scratch_doubles;
  q.beta = skip + W;
  q.shift = q.beta + 2 * W;
  q.lse = q.shift + frames;
  q.alpha = q.lse + frames;
  q.post = q.alpha + frames * W;
  q.beta_rows = q.post + frames * W;
  for (std::size_t s = 0; s < S; ++s) ext[s] = s % 2 == 0 ? j.blank : labels[s / 2];
  for (std::size_t s = 0; s < W; ++s)
    skip[s] = s < S && s >= 2 && s % 2 == 1 && ext[s] != ext[s - 2] ? 1.0 : 0.0;
  std::size_t distinct = 0;
  for (std::size_t s = 0; s < S; ++s) {
    std::size_t k = 0;
    while (k < distinct && distinct_class[k] != ext[s]) ++k;
    if (k == distinct) distinct_class[distinct++] = ext[s];
    state_class[s] = std::int64_t(k);
  }
  q.ext = ext;
  q.skip = skip;
  q.distinct = distinct;
  q.distinct_class = distinct_class;
  q.state_class = state_class;

  for_each_frame(frames, frame_threads, [&](std::size_t t) {
    q.lse[t] = q.from_logits ? log_partition(q.x + std::ptrdiff_t(t) * q.xt, q.xc, q.classes) : 0.0;
    emissions(q, t);
  });
  // Alpha and beta' (at once on two threads when the frames are shared out), then the posteriors'
  // normalisers z_t checked (every gradient; a value whose forward pass lost an alpha).
  double log_p = 0.0;
  bool lost = false, forward_ok = true, backward_ok = true;
  q.log_space = false;
  if (g && frame_threads > 1) {
    for_each_frame(2, 2, [&](std::size_t pass) {
      if (pass == 0) forward_ok = forward(q, log_p, lost);
      else backward_ok = backward(q);
    });
  } else {
    forward_ok = forward(q, log_p, lost);
    if (forward_ok && (g || lost)) backward_ok = backward(q);
  }
  bool scaled = forward_ok && backward_ok;
  if (scaled && (g || lost)) {
    if (g) for_each_frame(frames, frame_threads, [&](std::size_t t) { gradient_row(q, t); });
    else for_each_frame(frames, frame_threads, [&](std::size_t t) { q.shift[t] = overlap(q, t); });
    for (std::size_t t = 0; t < frames; ++t) scaled &= q.shift[t] >= kMinOverlap && q.shift[t] < math::inf<double>();
  }
  if (!scaled) {
    log_p = log_space(q, g != nullptr);
    q.log_space = true;
  }
  j.sample_loss[b] = -log_p;
  if (!g) return;
  if (!(log_p > neg_inf() && log_p < math::inf<double>())) {
    zero_rows(g, gt, gc, j.classes, 0, j.max_time);
    return;
  }
  if (!scaled) for_each_frame(frames, frame_threads, [&](std::size_t t) { gradient_row(q, t); });
  zero_rows(g, gt, gc, j.classes, frames, j.max_time);
}

template <class T>
void ctc(const CtcJob<T>& j) {
  for_each_sample(j.batch, j.threads, j.split_frames,
                  [&](std::size_t b, int worker, int frame_threads) { ctc_sample(j, b, worker, frame_threads); });
}

}  // namespace

void fill_sequence(detail::KernelTable& table) {
  table.ctc_f32 = &ctc<float>;
  table.ctc_f64 = &ctc<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
