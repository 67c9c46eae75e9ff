// Segmentation and overlap losses (SPEC §2 E), the segment shape: the kernels of the two passes
// (the loss's finish, a few scalars per segment, is in calls/segmentation.cpp). Compiled once per
// ISA.
//
// Stats pass, per tile of pixels and per class c, with p the probabilities (the scores, or their
// sigmoid / softmax over the classes, formed in the tile's scratch), t the target (dense, or
// label == c) and w the pixel weight (0 at an ignored pixel):
//   I += w p t,   P += w p   (squared: w p^2),   G += w t   (squared: w t^2)
// and for bce_dice  B += w bce(p, t),  N += w,  with bce = -(t log p + (1 - t) log(1 - p)), each
// log clamped at -100 (torch's BCELoss), or from the logits  max(x, 0) - t x + log(1 + e^-|x|),
// in eight double lanes (pixel j of a tile in lane j % 8, the lanes added in order at the end of
// the work item): the same order of additions on every ISA and for any thread count (the ISAs
// with FMA fuse a product into its sum: exact for unweighted float32 inputs, whose products fit
// a double).
// Grad pass: with (a, b, k) = the segment's coefficients, the derivative w.r.t. p is
//   g_p = w (a t + b)   (squared: w (a t + 2 b p))   + k w (p - t) / max(p (1 - p), 1e-12)  (bce)
// and w.r.t. the logits  g_p p (1 - p)  (sigmoid; the bce term is then k w (p - t)), or
// p_c (g_p,c - sum_k p_k g_p,k)  (softmax).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dispatch/kernel_abi.hpp"
#include "kernels/order_loop.hpp"
#include "kernels/segment_loop.hpp"
#include "kernels/simd_math.hpp"
#include "kernels/stream_store.hpp"

namespace lossfn {
namespace LOSSFN_ISA {
namespace {

using detail::kSegmentCoefs;
using detail::kSegmentLanes;
using detail::kSegmentStats;
using detail::LovaszJob;
using detail::order_blocks;
using detail::SegmentJob;

constexpr int kSigmoid = 1, kSoftmax = 2;  // lossfn::Activation
constexpr std::size_t kMaxSegmentTile = 256;  // segment_tile's largest
static_assert(detail::segment_tile(1) <= kMaxSegmentTile && detail::segment_tile(8) <= kMaxSegmentTile, "tile bound");

// Each statistic is kept in kSegmentLanes (eight) double lanes, pixel k in lane k % 8: lane-wise
// IEEE arithmetic, the same bits on every ISA. The lanes are held as kParts vectors of GCC's
// vector extensions of the ISA's register width (kRegisterDoubles). Only ever inlined, so the
// vector type's calling convention (-Wpsabi) never matters.
#pragma GCC diagnostic ignored "-Wpsabi"
constexpr std::size_t kLanes = kRegisterDoubles;
constexpr std::size_t kParts = kSegmentLanes / kLanes;
static_assert(kSegmentLanes % kLanes == 0, "whole vectors per statistic");
using Lanes = double __attribute__((vector_size(kLanes * sizeof(double))));
using FloatLanes = float __attribute__((vector_size(kLanes * sizeof(float))));

LOSSFN_INLINE Lanes load_lanes(const float* p) {
  FloatLanes v;
  __builtin_memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, Lanes);
}
LOSSFN_INLINE Lanes load_lanes(const double* p) {
  Lanes v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

// A tile: `width` pixels, and where their scores are. Class c of pixel k is at
// score_base + c * class_stride + k * pixel_stride in the scores (and a dense target, and the
// gradient): NCHW tiles have pixel_stride 1, NHWC ones class_stride 1 and pixel_stride C. The
// rows the passes read are contiguous over the tile's pixels: the arrays themselves when
// pixel_stride is 1, else the tile transposed into scratch.
template <class T>
struct Tile {
  std::size_t score_base, pixel_base, width, class_stride, pixel_stride;
  const T* x;            // scores, class c's row at x + c * x_stride
  std::size_t x_stride;
  const T* target;       // dense targets likewise
  std::size_t target_stride;
  T* prob;               // classes x width (activations)
  T* upstream;           // classes x width (softmax gradient)
  T* x_rows;             // classes x width: a pixel-major tile's scores, class-major
  T* target_rows;        // classes x width: its targets
  T* grad_rows;          // classes x width: its gradient, before it is transposed out
  T* weight;             // width: the pixel weights, 0 where ignored
  T* label;              // width: the label as T (-1 where ignored or outside [0, classes))
  T* target_row;         // width: one class's targets from the labels
  T* row;                // width: the softmax's running max, the gradient's dot product
  T* row2;               // width: the softmax's sums
};

template <class T>
Tile<T> tile_at(const SegmentJob<T>& j, T* scratch, std::size_t n, std::size_t o, std::size_t i, std::size_t width) {
  const std::size_t tile = detail::segment_tile(j.classes), C = j.classes, block = C * tile;
  Tile<T> t;
  t.width = width;
  t.score_base = ((n * j.outer + o) * C) * j.inner + i;
  t.pixel_base = (n * j.outer + o) * j.inner + i;
  t.class_stride = j.inner;
  t.pixel_stride = j.inner == 1 ? C : 1;
  t.prob = scratch;
  t.upstream = scratch + block;
  t.x_rows = scratch + 2 * block;
  t.target_rows = scratch + 3 * block;
  t.grad_rows = scratch + 4 * block;
  t.weight = scratch + detail::kSegmentBlocks * block;
  t.label = t.weight + tile;
  t.target_row = t.label + tile;
  t.row = t.target_row + tile;
  t.row2 = t.row + tile;
  return t;
}

// rows[c * W + k] = src[c + k * C]: a pixel-major tile, class-major.
template <class T>
void transpose_in(const T* __restrict src, std::size_t C, std::size_t W, T* __restrict rows) {
  for (std::size_t k = 0; k < W; ++k)
    for (std::size_t c = 0; c < C; ++c) rows[c * W + k] = src[k * C + c];
}

template <class T>
void transpose_out(const T* __restrict rows, std::size_t C, std::size_t W, T* __restrict dst) {
  for (std::size_t k = 0; k < W; ++k)
    for (std::size_t c = 0; c < C; ++c) dst[k * C + c] = rows[c * W + k];
}

// The tile's score (and dense target) rows, its pixel weights and labels. Returns whether a
// label outside [0, classes) that is not ignore_index was read (its pixel counts with a zero
// target for every class). Weights are formed only when `Weighted` (weights or ignore_index).
template <class T, bool Weighted>
bool load_tile(const SegmentJob<T>& j, Tile<T>& t) {
  const std::size_t W = t.width, C = j.classes;
  if (t.pixel_stride == 1 || C == 1) {
    t.x = j.pred + t.score_base, t.x_stride = t.class_stride;
    t.target = j.target ? j.target + t.score_base : nullptr, t.target_stride = t.class_stride;
  } else {
    transpose_in(j.pred + t.score_base, C, W, t.x_rows);
    t.x = t.x_rows, t.x_stride = W;
    if (j.target) transpose_in(j.target + t.score_base, C, W, t.target_rows);
    t.target = j.target ? t.target_rows : nullptr, t.target_stride = W;
  }
  if (Weighted)
    for (std::size_t k = 0; k < W; ++k) t.weight[k] = j.weight ? j.weight[t.pixel_base + k] : T(1);
  bool bad = false;
  if (j.labels) {
    const std::int64_t classes = std::int64_t(C);
    for (std::size_t k = 0; k < W; ++k) {
      const std::int64_t y = j.labels[t.pixel_base + k];
      const bool ignored = j.has_ignore_index && y == j.ignore_index;
      const bool inside = y >= 0 && y < classes;
      bad |= !ignored && !inside;
      t.label[k] = inside && !ignored ? T(y) : T(-1);
      if (Weighted && ignored) t.weight[k] = T(0);
    }
  } else if (Weighted && j.has_ignore_index) {  // a one-class mask whose value marks ignored pixels
    const T ignore = T(j.ignore_index);
    for (std::size_t k = 0; k < W; ++k)
      if (t.target[k] == ignore) t.weight[k] = T(0);
  }
  return bad;
}

// The tile's probabilities of class c: the scores themselves, or the activation's row.
template <class T>
LOSSFN_INLINE const T* probabilities(const SegmentJob<T>& j, const Tile<T>& t, std::size_t c) {
  return j.activation ? t.prob + c * t.width : t.x + c * t.x_stride;
}

template <class T>
__attribute__((noinline)) void activate(const SegmentJob<T>& j, const Tile<T>& t) {
  const std::size_t W = t.width, C = j.classes, xs = t.x_stride;
  const T* __restrict x = t.x;
  T* __restrict p = t.prob;
  if (j.activation == kSigmoid) {
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t k = 0; k < W; ++k) p[c * W + k] = math::sigmoid(x[c * xs + k]);
    return;
  }
  T* __restrict m = t.row;
  T* __restrict s = t.row2;
  for (std::size_t k = 0; k < W; ++k) m[k] = x[k], s[k] = T(0);
  for (std::size_t c = 1; c < C; ++c)
    for (std::size_t k = 0; k < W; ++k) m[k] = math::max(x[c * xs + k], m[k]);
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t k = 0; k < W; ++k) {
      const T e = math::exp(x[c * xs + k] - m[k]);
      p[c * W + k] = e;
      s[k] += e;
    }
  for (std::size_t k = 0; k < W; ++k) s[k] = T(1) / s[k];
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t k = 0; k < W; ++k) p[c * W + k] *= s[k];
}

// Class c's targets over the tile: the dense row, or label == c.
template <class T>
LOSSFN_INLINE const T* targets(const SegmentJob<T>& j, const Tile<T>& t, std::size_t c) {
  if (t.target) return t.target + c * t.target_stride;
  const T* __restrict label = t.label;
  T* __restrict row = t.target_row;
  const T cls = T(c);
  for (std::size_t k = 0; k < t.width; ++k) row[k] = label[k] == cls ? T(1) : T(0);
  return row;
}

// The statistics of one class: kSegmentStats of eight lanes, kParts vectors each.
struct ClassStats {
  Lanes lanes[kSegmentStats][kParts];
};

// `tail` (eight lanes, zero but where the tile's last pixels fell) added to a statistic: x + 0 is
// x (a sum that starts at +0 is never -0), so each lane gets what adding its pixels directly
// would give.
LOSSFN_INLINE void add_tail(Lanes* stat, const double* tail) {
  for (std::size_t h = 0; h < kParts; ++h) {
    Lanes v;
    __builtin_memcpy(&v, tail + h * kLanes, sizeof v);
    stat[h] += v;
  }
}

// I, P, G of one class += the tile's: pixel k in lane k % 8.
template <class T, bool Squared, bool Weighted>
LOSSFN_INLINE void accumulate(const T* __restrict p, const T* __restrict t, const T* __restrict w, std::size_t W,
                              ClassStats* __restrict acc) {
  Lanes I[kParts], P[kParts], G[kParts];
  for (std::size_t h = 0; h < kParts; ++h) I[h] = acc->lanes[0][h], P[h] = acc->lanes[1][h], G[h] = acc->lanes[2][h];
  std::size_t k0 = 0;
  for (; k0 + kSegmentLanes <= W; k0 += kSegmentLanes)
    for (std::size_t h = 0; h < kParts; ++h) {
      const std::size_t k = k0 + h * kLanes;
      const Lanes pk = load_lanes(p + k), tk = load_lanes(t + k);
      if (Weighted) {
        const Lanes wk = load_lanes(w + k);
        const Lanes wp = wk * pk, wt = wk * tk;
        I[h] += wp * tk;
        P[h] += Squared ? wp * pk : wp;
        G[h] += Squared ? wt * tk : wt;
      } else {
        I[h] += pk * tk;
        P[h] += Squared ? pk * pk : pk;
        G[h] += Squared ? tk * tk : tk;
      }
    }
  if (k0 < W) {
    double tI[kSegmentLanes] = {}, tP[kSegmentLanes] = {}, tG[kSegmentLanes] = {};
    for (std::size_t lane = 0; k0 + lane < W; ++lane) {
      const double pk = double(p[k0 + lane]), tk = double(t[k0 + lane]), wk = Weighted ? double(w[k0 + lane]) : 1.0;
      const double wp = wk * pk, wt = wk * tk;
      tI[lane] = wp * tk;
      tP[lane] = Squared ? wp * pk : wp;
      tG[lane] = Squared ? wt * tk : wt;
    }
    add_tail(I, tI), add_tail(P, tP), add_tail(G, tG);
  }
  for (std::size_t h = 0; h < kParts; ++h) acc->lanes[0][h] = I[h], acc->lanes[1][h] = P[h], acc->lanes[2][h] = G[h];
}

// acc[3], acc[4] (B, N of one class) += the tile's w bce and w. `x`: the logits, or nullptr when
// p are the probabilities given; `row`: the tile's scratch row for the bce terms.
template <class T, bool Weighted>
LOSSFN_INLINE void accumulate_bce(const T* __restrict p, const T* __restrict x, const T* __restrict t,
                                  const T* __restrict w, std::size_t W, T* __restrict row, ClassStats* __restrict acc) {
  if (x) {
    for (std::size_t k = 0; k < W; ++k)
      row[k] = (math::max(x[k], T(0)) - t[k] * x[k]) + math::log1p_unit(math::exp_nonpositive(-math::abs(x[k])));
  } else {
    for (std::size_t k = 0; k < W; ++k)
      row[k] = -(t[k] * math::max(math::log(p[k]), T(-100)) + (T(1) - t[k]) * math::max(math::log1p(-p[k]), T(-100)));
  }
  Lanes B[kParts], N[kParts];
  for (std::size_t h = 0; h < kParts; ++h) B[h] = acc->lanes[3][h], N[h] = acc->lanes[4][h];
  std::size_t k0 = 0;
  for (; k0 + kSegmentLanes <= W; k0 += kSegmentLanes)
    for (std::size_t h = 0; h < kParts; ++h) {
      const std::size_t k = k0 + h * kLanes;
      const Lanes bk = load_lanes(row + k);
      if (Weighted) {
        const Lanes wk = load_lanes(w + k);
        B[h] += wk * bk;
        N[h] += wk;
      } else {
        B[h] += bk;
        N[h] += 1.0;
      }
    }
  if (k0 < W) {
    double tB[kSegmentLanes] = {}, tN[kSegmentLanes] = {};
    for (std::size_t lane = 0; k0 + lane < W; ++lane) {
      const double wk = Weighted ? double(w[k0 + lane]) : 1.0;
      tB[lane] = wk * double(row[k0 + lane]);
      tN[lane] = wk;
    }
    add_tail(B, tB), add_tail(N, tN);
  }
  for (std::size_t h = 0; h < kParts; ++h) acc->lanes[3][h] = B[h], acc->lanes[4][h] = N[h];
}

// A tile's score, dense-target and gradient lines, asked for before the tile before it is worked
// on. A tile reads C rows of a few hundred bytes each (NCHW), more streams than the hardware
// prefetchers follow; arrays that fit in the caches skip it (kPrefetchBytes).
constexpr std::size_t kPrefetchBytes = std::size_t(16) << 20, kLine = 64;

template <class T>
void prefetch_tile(const SegmentJob<T>& j, std::size_t n, std::size_t o, std::size_t i, std::size_t W, bool grad) {
  const std::size_t C = j.classes, base = ((n * j.outer + o) * C) * j.inner + i, step = kLine / sizeof(T);
  auto span = [&](std::size_t at, std::size_t count) {
    for (std::size_t k = 0; k < count; k += step) {
      __builtin_prefetch(j.pred + at + k, 0, 3);
      if (j.target) __builtin_prefetch(j.target + at + k, 0, 3);
      if (grad) __builtin_prefetch(j.grad + at + k, 1, 3);
    }
  };
  if (j.inner == 1) {
    span(base, W * C);
  } else {
    for (std::size_t c = 0; c < C; ++c) span(base + c * j.inner, W);
  }
}

template <class T>
bool large(const SegmentJob<T>& j) {
  return j.batch * j.outer * j.classes * j.inner * sizeof(T) >= kPrefetchBytes;
}

// Whether a pass goes class by class over each work item (two or three streams at a time, each
// long) rather than tile by tile over all classes (two rows per class at once): when no
// activation couples the classes of a pixel, the targets are dense and the classes are rows
// (NCHW; one class). Labels are read once per tile instead: class-major, each class would
// decode them again (dice, 8 x 21 x 512 x 512 float32, 2 threads: masks 36 -> 23 ms
// class-major; labels 20 ms tile-major, 58 ms class-major).
template <class T>
bool class_major(const SegmentJob<T>& j) {
  return !j.activation && j.target && (j.inner > 1 || j.classes == 1);
}

template <class T, bool Squared, bool Weighted, bool Bce>
void stats_pass(const SegmentJob<T>& j) {
  const std::size_t C = j.classes, pixels = j.outer * j.inner, item_pixels = detail::segment_item_pixels(C);
  const std::size_t per = items_per_sample(pixels, item_pixels), tile = detail::segment_tile(C);
  const std::size_t scratch_size = detail::segment_scratch(C);
  unsigned bad = 0;
  const bool prefetch = large(j);
  for_each_item(j.batch, pixels, item_pixels, j.threads, [&](std::size_t item, const PixelRange& r, int worker) {
    ClassStats* acc = reinterpret_cast<ClassStats*>(j.lanes) + std::size_t(worker) * C;
    for (std::size_t c = 0; c < C; ++c) acc[c] = ClassStats{};
    bool item_bad = false;
    T* scratch = j.scratch + std::size_t(worker) * scratch_size;
    if (class_major(j)) {
      for (std::size_t c = 0; c < C; ++c)
        for_each_tile(j.inner, r, tile, [&](std::size_t o, std::size_t i, std::size_t width) {
          Tile<T> t = tile_at(j, scratch, r.sample, o, i, width);
          item_bad |= load_tile<T, Weighted>(j, t);
          const T* tc = targets(j, t, c);
          accumulate<T, Squared, Weighted>(probabilities(j, t, c), tc, t.weight, width, acc + c);
          if (Bce)
            accumulate_bce<T, Weighted>(probabilities(j, t, c), nullptr, tc, t.weight, width, t.row,
                                        acc + c);
        }, [](std::size_t, std::size_t, std::size_t) {});
    } else {
      for_each_tile(j.inner, r, tile, [&](std::size_t o, std::size_t i, std::size_t width) {
        Tile<T> t = tile_at(j, scratch, r.sample, o, i, width);
        item_bad |= load_tile<T, Weighted>(j, t);
        if (j.activation) activate(j, t);
        for (std::size_t c = 0; c < C; ++c) {
          const T* tc = targets(j, t, c);
          accumulate<T, Squared, Weighted>(probabilities(j, t, c), tc, t.weight, width, acc + c);
          if (Bce)
            accumulate_bce<T, Weighted>(probabilities(j, t, c), j.activation ? t.x + c * t.x_stride : nullptr, tc,
                                        t.weight, width, t.row, acc + c);
        }
      }, [&](std::size_t o, std::size_t i, std::size_t width) {
        if (prefetch) prefetch_tile(j, r.sample, o, i, width, false);
      });
    }
    // The item's sums: each statistic's lanes added in lane order.
    double* sums = j.partials + item * C * kSegmentStats;
    const double* lanes = reinterpret_cast<const double*>(acc);
    for (std::size_t k = 0; k < C * kSegmentStats; ++k) {
      double total = 0.0;
      for (std::size_t lane = 0; lane < kSegmentLanes; ++lane) total += lanes[k * kSegmentLanes + lane];
      sums[k] = total;
    }
    if (item_bad) __atomic_store_n(&bad, 1u, __ATOMIC_RELAXED);
  });
  // Each sample's sums: its items' in item order.
  for (std::size_t n = 0; n < j.batch; ++n) {
    double* out = j.stats + n * C * kSegmentStats;
    for (std::size_t k = 0; k < C * kSegmentStats; ++k) out[k] = 0.0;
    for (std::size_t item = n * per; item < (n + 1) * per; ++item)
      for (std::size_t k = 0; k < C * kSegmentStats; ++k) out[k] += j.partials[item * C * kSegmentStats + k];
  }
  if (bad) *j.bad_labels = 1;
}

// g = w (a t + b)   (squared: w (a t + 2 b p)), the derivative w.r.t. p of a I + b P.
template <class T, bool Squared, bool Weighted>
LOSSFN_INLINE void upstream_row(const T* __restrict p, const T* __restrict t, const T* __restrict w, std::size_t W,
                                T a, T b, T* __restrict g) {
  for (std::size_t k = 0; k < W; ++k) {
    const T v = a * t[k] + (Squared ? T(2) * b * p[k] : b);
    g[k] = Weighted ? w[k] * v : v;
  }
}

// One class's gradient row without a softmax: w.r.t. p, or through the sigmoid, with the bce term.
template <class T, bool Squared, bool Weighted, bool Bce>
LOSSFN_INLINE void plain_grad_row(const T* __restrict p, const T* __restrict t, const T* __restrict w, std::size_t W,
                                  const double* coef, bool sigmoid, T* __restrict g) {
  upstream_row<T, Squared, Weighted>(p, t, w, W, T(coef[0]), T(coef[1]), g);
  const T kb = T(coef[2]);
  if (sigmoid) {
    for (std::size_t k = 0; k < W; ++k) {
      g[k] *= p[k] * (T(1) - p[k]);
      if (Bce) g[k] += kb * (Weighted ? w[k] : T(1)) * (p[k] - t[k]);
    }
  } else if (Bce) {
    for (std::size_t k = 0; k < W; ++k)
      g[k] += kb * (Weighted ? w[k] : T(1)) * (p[k] - t[k]) / math::max(p[k] * (T(1) - p[k]), T(1e-12));
  }
}

template <class T, bool Squared, bool Weighted, bool Bce>
void grad_pass(const SegmentJob<T>& j) {
  const std::size_t C = j.classes, pixels = j.outer * j.inner, item_pixels = detail::segment_item_pixels(C);
  const std::size_t tile = detail::segment_tile(C), scratch_size = detail::segment_scratch(C);
  const bool prefetch = large(j);
  const bool stream = j.batch * j.outer * j.classes * j.inner * sizeof(T) >= kStreamOutputBytes;
  for_each_item(j.batch, pixels, item_pixels, j.threads, [&](std::size_t, const PixelRange& r, int worker) {
    T* scratch = j.scratch + std::size_t(worker) * scratch_size;
    const double* coef = j.coef + r.sample * C * kSegmentCoefs;
    if (class_major(j)) {
      // A class's rows of the item are one run of memory (NCHW): a gradient larger than the
      // caches goes out through streaming stores, a tile at a time (no read of the lines it
      // overwrites: 20 instead of 24 bytes per element for the two passes).
      StreamedOutput<T, kMaxSegmentTile> out;
      for (std::size_t c = 0; c < C; ++c) {
        bool open = false;
        for_each_tile(j.inner, r, tile, [&](std::size_t o, std::size_t i, std::size_t W) {
          Tile<T> t = tile_at(j, scratch, r.sample, o, i, W);
          load_tile<T, Weighted>(j, t);
          T* const row = j.grad + t.score_base + c * t.class_stride;
          T* g = row;
          if (stream) {
            if (!open || out.dst + out.carry != row) {
              if (open) out.finish();
              out.begin(row);
              open = true;
            }
            g = out.slot();
          }
          plain_grad_row<T, Squared, Weighted, Bce>(probabilities(j, t, c), targets(j, t, c), t.weight, W,
                                                    coef + kSegmentCoefs * c, false, g);
          if (stream) out.put(W);
        }, [](std::size_t, std::size_t, std::size_t) {});
        if (open) out.finish();
      }
      if (stream) stream_fence();
      return;
    }
    for_each_tile(j.inner, r, tile, [&](std::size_t o, std::size_t i, std::size_t W) {
      Tile<T> t = tile_at(j, scratch, r.sample, o, i, W);
      load_tile<T, Weighted>(j, t);
      if (j.activation) activate(j, t);
      // Class c's gradient row: in place, or in scratch for a pixel-major tile.
      const bool direct = t.pixel_stride == 1 || C == 1;
      auto grad_row = [&](std::size_t c) { return direct ? j.grad + t.score_base + c * t.class_stride : t.grad_rows + c * W; };
      if (j.activation != kSoftmax) {
        for (std::size_t c = 0; c < C; ++c) {
          plain_grad_row<T, Squared, Weighted, Bce>(probabilities(j, t, c), targets(j, t, c), t.weight, W,
                                                    coef + kSegmentCoefs * c, j.activation == kSigmoid, grad_row(c));
        }
      } else {
        T* __restrict dot = t.row;
        for (std::size_t k = 0; k < W; ++k) dot[k] = T(0);
        for (std::size_t c = 0; c < C; ++c) {
          const T* __restrict p = t.prob + c * W;
          T* __restrict u = t.upstream + c * W;
          upstream_row<T, Squared, Weighted>(p, targets(j, t, c), t.weight, W, T(coef[kSegmentCoefs * c]),
                                             T(coef[kSegmentCoefs * c + 1]), u);
          for (std::size_t k = 0; k < W; ++k) dot[k] += p[k] * u[k];
        }
        for (std::size_t c = 0; c < C; ++c) {
          const T* __restrict p = t.prob + c * W;
          const T* __restrict u = t.upstream + c * W;
          T* __restrict g = grad_row(c);
          for (std::size_t k = 0; k < W; ++k) g[k] = p[k] * (u[k] - dot[k]);
        }
      }
      if (!direct) transpose_out(t.grad_rows, C, W, j.grad + t.score_base);
    }, [&](std::size_t o, std::size_t i, std::size_t W) {
      if (prefetch) prefetch_tile(j, r.sample, o, i, W, true);
    });
  });
}

// The compiled variants: squared sums, pixel weights (or ignore_index), the bce term.
template <class T, template <class, bool, bool, bool> class Pass>
void run_pass(const SegmentJob<T>& j) {
  const bool weighted = j.weight || j.has_ignore_index;
  const int variant = (j.squared ? 4 : 0) | (weighted ? 2 : 0) | (j.bce ? 1 : 0);
  switch (variant) {
    case 0: return Pass<T, false, false, false>::run(j);
    case 1: return Pass<T, false, false, true>::run(j);
    case 2: return Pass<T, false, true, false>::run(j);
    case 3: return Pass<T, false, true, true>::run(j);
    case 4: return Pass<T, true, false, false>::run(j);
    case 5: return Pass<T, true, false, true>::run(j);
    case 6: return Pass<T, true, true, false>::run(j);
    default: return Pass<T, true, true, true>::run(j);
  }
}

template <class T, bool Squared, bool Weighted, bool Bce>
struct StatsPass {
  static void run(const SegmentJob<T>& j) { stats_pass<T, Squared, Weighted, Bce>(j); }
};
template <class T, bool Squared, bool Weighted, bool Bce>
struct GradPass {
  static void run(const SegmentJob<T>& j) { grad_pass<T, Squared, Weighted, Bce>(j); }
};

template <class T>
void segment_stats(const SegmentJob<T>& j) { run_pass<T, StatsPass>(j); }

template <class T>
void segment_grad(const SegmentJob<T>& j) { run_pass<T, GradPass>(j); }

// ---- The Lovász hinge: the order shape ----
// Berman, Rannen Triki and Blaschko 2018 ("The Lovász-Softmax loss", CVPR; their lovasz_hinge):
// per segment the errors e = 1 - m, m = s x (s = +1 for a mask 1, -1 for a 0), in decreasing
// order (m increasing, ties in pixel order), and
//   loss = sum_i max(e_i, 0) g_i,   g_i = J_i - J_(i-1),
//   J_i = 1 - (G - pos_i) / (G + neg_i) = (i + 1) / (G + neg_i)
// (G the segment's positives; pos_i, neg_i the positives and negatives among the first i + 1):
// the Lovász extension of the Jaccard loss. d loss / d x = -s g_i where e_i > 0 (0 at e_i = 0,
// as ReLU's derivative in autograd). g_i >= 0, and a term whose g_i is 0 adds 0 even for an
// infinite error.

// Which mask values are ignored: a label equal to ignore_index, or a dense mask equal to it as a
// number.
struct IgnoreRule {
  bool has;
  std::int64_t label;
  double value;
  bool operator()(std::int64_t y) const { return has && y == label; }
  bool operator()(float v) const { return has && double(v) == value; }
  bool operator()(double v) const { return has && v == value; }
};

template <class M>
bool masks_valid(const M* m, std::size_t n, const IgnoreRule& ignored, int threads) {
  const std::size_t blocks = (n + detail::kBlock - 1) / detail::kBlock;
  unsigned bad = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(| : bad) if (threads > 1 && blocks > 1)
  for (std::ptrdiff_t k = 0; k < std::ptrdiff_t(blocks); ++k) {
    const std::size_t lo = std::size_t(k) * detail::kBlock, hi = lo + detail::kBlock < n ? lo + detail::kBlock : n;
    // Bitwise ors, not ||: a mask of random 0s and 1s would mispredict a branch on every other pixel.
    unsigned b = 0;
    for (std::size_t i = lo; i < hi; ++i) b |= !(unsigned(m[i] == M(0)) | unsigned(m[i] == M(1)) | unsigned(ignored(m[i])));
    bad |= b;
  }
  return !bad;
}

// The sort items of pixels [lo, hi) of a segment: key = the margin's, payload = pixel << 1 | the
// mask bit; ignored pixels get no item (and a zero gradient). A mask is read once: a value that
// is not 1 counts as 0 (the masks were checked; one changed since then cannot reach memory).
template <class T, class M, class Item>
std::size_t build_items(const T* x, const M* m, std::size_t lo, std::size_t hi, const IgnoreRule& ignored, T* grad,
                        Item* out, std::size_t* totals, std::size_t& positives) {
  std::size_t kept = 0, pos = 0;
  for (std::size_t i = lo; i < hi; ++i) {
    const M v = m[i];
    if (ignored(v)) {
      if (grad) grad[i] = T(0);
      continue;
    }
    const bool positive = v == M(1);
    const auto key = FloatKey<T>::of(positive, x[i]);
    out[kept++] = Item::make(key, std::uint32_t(i) << 1 | std::uint32_t(positive));
    count_digits(key, totals);
    pos += positive;
  }
  positives += pos;
  return kept;
}

// Segment s over `threads` threads; returns its loss.
template <class T, class M>
double lovasz_segment(const LovaszJob<T>& j, const M* masks, const IgnoreRule& ignored, std::size_t s,
                      unsigned char* scratch, int threads) {
  using Key = typename FloatKey<T>::Key;
  using Item = SortItem<Key>;
  using detail::kOrderBlock;
  using detail::kRadixBuckets;
  constexpr std::size_t passes = radix_passes<Key>(), counts_size = passes * kRadixBuckets;
  const std::size_t P = j.pixels, base = s * P;
  const T* x = j.logits + base;
  const M* m = masks + base;
  T* grad = j.grad ? j.grad + base : nullptr;
  auto take = [&](std::size_t bytes) {
    unsigned char* p = scratch;
    scratch += (bytes + 63) / 64 * 64;
    return p;
  };
  Item* items = reinterpret_cast<Item*>(take(P * sizeof(Item)));
  Item* other = reinterpret_cast<Item*>(take(P * sizeof(Item)));
  std::size_t* totals = reinterpret_cast<std::size_t*>(take((std::size_t(threads) + 1) * counts_size * sizeof(std::size_t)));
  std::size_t* per_thread = totals + counts_size;
  std::size_t* chunk_kept = reinterpret_cast<std::size_t*>(take((std::size_t(threads) + 1) * 2 * sizeof(std::size_t)));
  std::size_t* block_neg = reinterpret_cast<std::size_t*>(take((order_blocks(P) + 1) * sizeof(std::size_t)));
  double* block_sum = reinterpret_cast<double*>(take((order_blocks(P) + 1) * sizeof(double)));

  // The items, in pixel order: on one thread, or in contiguous chunks (each built in `other` at
  // its own place, then moved up behind the chunks before it).
  std::size_t n = 0, G = 0;
  for (std::size_t k = 0; k < counts_size; ++k) totals[k] = 0;
  if (threads <= 1 || P < detail::kBlock) {
    n = build_items(x, m, 0, P, ignored, grad, items, totals, G);
  } else {
    int used = 1;
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
      const std::size_t t = std::size_t(omp_get_thread_num()), T_ = std::size_t(omp_get_num_threads());
#else
      const std::size_t t = 0, T_ = 1;
#endif
      if (t == 0) used = int(T_);
      const std::size_t lo = P * t / T_, hi = P * (t + 1) / T_;
      std::size_t* mine = per_thread + t * counts_size;
      for (std::size_t k = 0; k < counts_size; ++k) mine[k] = 0;
      std::size_t pos = 0;
      chunk_kept[2 * t] = build_items(x, m, lo, hi, ignored, grad, other + lo, mine, pos);
      chunk_kept[2 * t + 1] = pos;
#pragma omp barrier
      std::size_t start = 0;
      for (std::size_t c = 0; c < t; ++c) start += chunk_kept[2 * c];
      std::memcpy(static_cast<void*>(items + start), other + lo, chunk_kept[2 * t] * sizeof(Item));
    }
    for (int t = 0; t < used; ++t) {
      n += chunk_kept[2 * t], G += chunk_kept[2 * t + 1];
      for (std::size_t k = 0; k < counts_size; ++k) totals[k] += per_thread[std::size_t(t) * counts_size + k];
    }
  }
  const Item* sorted = radix_sort<Key>(items, other, n, totals, per_thread, threads);

  // The scans, a block of sorted items at a time: each block's J values, gradient and sum from
  // the negatives before it. On one thread the count runs on from block to block; over several,
  // a first scan counts each block's negatives (the blocks spread as a sample's frames are:
  // for_each_frame).
  const std::size_t blocks = order_blocks(n);
  const int scan_threads = n < detail::kParallelMin ? 1 : threads;
  const double positives = double(G), scale = grad ? j.grad_scale[s] : 0.0;
  const double minus_sign[2] = {scale, -scale};  // -s times the scale, by the mask bit (no branch)
  auto scan = [&](std::size_t k, std::size_t neg) {
    const std::size_t lo = k * kOrderBlock, hi = lo + kOrderBlock < n ? lo + kOrderBlock : n;
    double previous = lo == 0 ? 0.0 : double(lo) / (positives + double(neg)), sum = 0.0;
    for (std::size_t i = lo; i < hi; ++i) {
      const std::uint32_t payload = sorted[i].payload();
      const bool positive = payload & 1u;
      neg += !positive;
      const double J = double(i + 1) / (positives + double(neg)), g = J - previous;
      previous = J;
      const double e = 1.0 - double(FloatKey<T>::value(sorted[i].key()));
      if (e > 0.0) {
        if (g != 0.0) sum += e * g;
      } else if (e != e) {
        sum += e;
      }
      if (grad) grad[payload >> 1] = e > 0.0 ? T(g * minus_sign[positive]) : T(0);
    }
    block_sum[k] = sum;
    return neg;
  };
  if (scan_threads <= 1) {
    for (std::size_t k = 0, neg = 0; k < blocks; ++k) neg = scan(k, neg);
  } else {
    for_each_frame(blocks, scan_threads, [&](std::size_t k) {
      const std::size_t lo = k * kOrderBlock, hi = lo + kOrderBlock < n ? lo + kOrderBlock : n;
      std::size_t c = 0;
      for (std::size_t i = lo; i < hi; ++i) c += ~sorted[i].payload() & 1u;
      block_neg[k] = c;
    });
    for (std::size_t k = 0, before = 0; k < blocks; ++k) {
      const std::size_t c = block_neg[k];
      block_neg[k] = before, before += c;
    }
    for_each_frame(blocks, scan_threads, [&](std::size_t k) { scan(k, block_neg[k]); });
  }
  double loss = 0.0;
  for (std::size_t k = 0; k < blocks; ++k) loss += block_sum[k];
  return loss;
}

template <class T>
void lovasz_hinge(const LovaszJob<T>& j) {
  const IgnoreRule ignored{j.has_ignore_index, j.ignore_index, double(j.ignore_index)};
  auto run = [&](const auto* masks) {
    if (!masks_valid(masks, j.segments * j.pixels, ignored, j.threads)) {
      *j.bad_masks = 1;
      return;
    }
    for_each_sample(j.segments, j.threads, j.split, [&](std::size_t s, int worker, int threads) {
      j.segment_loss[s] = lovasz_segment(j, masks, ignored, s, j.scratch + std::size_t(worker) * j.scratch_bytes,
                                         threads);
    });
  };
  if (j.masks) run(j.masks);
  else run(j.labels);
}

}  // namespace

void fill_segmentation(detail::KernelTable& table) {
  table.segment_stats_f32 = &segment_stats<float>;
  table.segment_stats_f64 = &segment_stats<double>;
  table.segment_grad_f32 = &segment_grad<float>;
  table.segment_grad_f64 = &segment_grad<double>;
  table.lovasz_f32 = &lovasz_hinge<float>;
  table.lovasz_f64 = &lovasz_hinge<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
