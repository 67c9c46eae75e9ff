// Segmentation and overlap losses (SPEC §2 E), the segment shape: the kernels of the two passes
// (the loss's finish, a few scalars per segment, is in calls/segmentation.cpp). Compiled once per
// ISA.
//
// Stats pass, per tile of pixels and per class c, with p the probabilities (the scores, or their
// sigmoid / softmax over the classes, formed in the tile's scratch), t the target (dense, or
// label == c) and w the pixel weight (0 at an ignored pixel):
//   I += w p t,   P += w p   (squared: w p^2),   G += w t   (squared: w t^2)
// in eight double lanes (pixel j of the tile in lane j % 8, the lanes added in order at the end
// of the tile, the tiles in order into their item's sums): the same bits on every ISA.
// Grad pass: with (a, b) = the segment's coefficients, the derivative w.r.t. p is
//   g_p = w (a t + b)   (squared: w (a t + 2 b p))
// and w.r.t. the logits  g_p p (1 - p)  (sigmoid), or  p_c (g_p,c - sum_k p_k g_p,k)  (softmax).
#include <cstddef>
#include <cstdint>

#include "dispatch/kernel_abi.hpp"
#include "kernels/segment_loop.hpp"
#include "kernels/simd_math.hpp"

namespace lossfn {
namespace LOSSFN_ISA {
namespace {

using detail::kSegmentLanes;
using detail::kSegmentStats;
using detail::SegmentJob;

constexpr int kSigmoid = 1, kSoftmax = 2;  // lossfn::Activation

// Where a tile is, and its scratch rows.
template <class T>
struct Tile {
  std::size_t score_base;  // the tile's first score of class 0; class c at + c * inner
  std::size_t pixel_base;  // its first pixel in the pixel arrays
  std::size_t width;
  T* prob;     // classes x width (activations only)
  T* upstream; // classes x width (softmax gradient only)
  T* weight;   // width: the pixel weights, 0 where ignored
  T* label;    // width: the label as T (-1 where ignored or outside [0, classes))
  T* target;   // width: one class's target
  T* row;      // width: the softmax's running max and the gradient's dot product
  T* row2;     // width: the softmax's sums
};

template <class T>
Tile<T> tile_at(const SegmentJob<T>& j, T* scratch, std::size_t n, std::size_t o, std::size_t i, std::size_t width) {
  const std::size_t tile = detail::segment_tile(j.classes), C = j.classes;
  Tile<T> t;
  t.score_base = (n * j.outer + o) * C * j.inner + i;
  t.pixel_base = (n * j.outer + o) * j.inner + i;
  t.width = width;
  t.prob = scratch;
  t.upstream = scratch + C * tile;
  t.weight = scratch + 2 * C * tile;
  t.label = t.weight + tile;
  t.target = t.label + tile;
  t.row = t.target + tile;
  t.row2 = t.row + tile;
  return t;
}

// The tile's pixel weights and labels. Returns whether a label outside [0, classes) that is
// not ignore_index was read (its pixel counts with a zero target for every class).
template <class T>
bool load_pixels(const SegmentJob<T>& j, const Tile<T>& t) {
  const std::size_t W = t.width;
  bool bad = false;
  for (std::size_t k = 0; k < W; ++k) t.weight[k] = j.weight ? j.weight[t.pixel_base + k] : T(1);
  if (j.labels) {
    const std::int64_t C = std::int64_t(j.classes);
    for (std::size_t k = 0; k < W; ++k) {
      const std::int64_t y = j.labels[t.pixel_base + k];
      const bool ignored = j.has_ignore_index && y == j.ignore_index;
      const bool inside = y >= 0 && y < C;
      bad |= !ignored && !inside;
      t.label[k] = inside && !ignored ? T(y) : T(-1);
      if (ignored) t.weight[k] = T(0);
    }
  } else if (j.has_ignore_index) {  // a one-class mask whose value marks ignored pixels
    const T ignore = T(j.ignore_index);
    for (std::size_t k = 0; k < W; ++k)
      if (j.target[t.score_base + k] == ignore) t.weight[k] = T(0);
  }
  return bad;
}

// The tile's probabilities of class c: the scores themselves, or the activation's row of the
// scratch (formed by activate()).
template <class T>
LOSSFN_INLINE const T* probabilities(const SegmentJob<T>& j, const Tile<T>& t, std::size_t c) {
  return j.activation ? t.prob + c * t.width : j.pred + t.score_base + c * j.inner;
}

template <class T>
__attribute__((noinline)) void activate(const SegmentJob<T>& j, const Tile<T>& t) {
  const std::size_t W = t.width, C = j.classes, inner = j.inner;
  const T* __restrict x = j.pred + t.score_base;
  T* __restrict p = t.prob;
  if (j.activation == kSigmoid) {
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t k = 0; k < W; ++k) p[c * W + k] = math::sigmoid(x[c * inner + k]);
    return;
  }
  T* __restrict m = t.row;
  T* __restrict s = t.row2;
  for (std::size_t k = 0; k < W; ++k) m[k] = x[k], s[k] = T(0);
  for (std::size_t c = 1; c < C; ++c)
    for (std::size_t k = 0; k < W; ++k) m[k] = math::max(x[c * inner + k], m[k]);
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t k = 0; k < W; ++k) {
      const T e = math::exp(x[c * inner + k] - m[k]);
      p[c * W + k] = e;
      s[k] += e;
    }
  for (std::size_t k = 0; k < W; ++k) s[k] = T(1) / s[k];
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t k = 0; k < W; ++k) p[c * W + k] *= s[k];
}

// Class c's target over the tile: the dense row, or label == c in the tile's target row.
template <class T>
LOSSFN_INLINE const T* targets(const SegmentJob<T>& j, const Tile<T>& t, std::size_t c) {
  if (!j.labels) return j.target + t.score_base + c * j.inner;
  const T* __restrict label = t.label;
  T* __restrict row = t.target;
  const T cls = T(c);
  for (std::size_t k = 0; k < t.width; ++k) row[k] = label[k] == cls ? T(1) : T(0);
  return row;
}

// sums[k] += the tile's I, P, G of one class, in eight lanes.
template <class T, bool Squared>
LOSSFN_INLINE void accumulate(const T* __restrict p, const T* __restrict t, const T* __restrict w, std::size_t W,
                              double* sums) {
  double I[kSegmentLanes] = {}, P[kSegmentLanes] = {}, G[kSegmentLanes] = {};
  auto add = [&](std::size_t k, std::size_t lane) LOSSFN_INLINE_LAMBDA {
    const double pk = double(p[k]), tk = double(t[k]), wk = double(w[k]);
    const double wp = wk * pk, wt = wk * tk;
    I[lane] += wp * tk;
    P[lane] += Squared ? wp * pk : wp;
    G[lane] += Squared ? wt * tk : wt;
  };
  std::size_t k0 = 0;
  for (; k0 + kSegmentLanes <= W; k0 += kSegmentLanes)
    for (std::size_t lane = 0; lane < kSegmentLanes; ++lane) add(k0 + lane, lane);
  for (std::size_t lane = 0; k0 + lane < W; ++lane) add(k0 + lane, lane);
  double tile_sums[kSegmentStats] = {0.0, 0.0, 0.0};
  for (std::size_t lane = 0; lane < kSegmentLanes; ++lane) {
    tile_sums[0] += I[lane];
    tile_sums[1] += P[lane];
    tile_sums[2] += G[lane];
  }
  for (std::size_t k = 0; k < kSegmentStats; ++k) sums[k] += tile_sums[k];
}

template <class T, bool Squared>
void stats_pass(const SegmentJob<T>& j) {
  const std::size_t C = j.classes, pixels = j.outer * j.inner, item_pixels = detail::segment_item_pixels(C);
  const std::size_t per = items_per_sample(pixels, item_pixels), tile = detail::segment_tile(C);
  const std::size_t scratch_size = detail::segment_scratch(C);
  unsigned bad = 0;
  for_each_item(j.batch, pixels, item_pixels, j.threads, [&](std::size_t item, const PixelRange& r, int worker) {
    double* sums = j.partials + item * C * kSegmentStats;
    for (std::size_t k = 0; k < C * kSegmentStats; ++k) sums[k] = 0.0;
    bool item_bad = false;
    T* scratch = j.scratch + std::size_t(worker) * scratch_size;
    for_each_tile(j.inner, r, tile, [&](std::size_t o, std::size_t i, std::size_t width) {
      const Tile<T> t = tile_at(j, scratch, r.sample, o, i, width);
      item_bad |= load_pixels(j, t);
      if (j.activation) activate(j, t);
      for (std::size_t c = 0; c < C; ++c)
        accumulate<T, Squared>(probabilities(j, t, c), targets(j, t, c), t.weight, width, sums + c * kSegmentStats);
    });
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

template <class T, bool Squared>
LOSSFN_INLINE void upstream_row(const T* __restrict p, const T* __restrict t, const T* __restrict w, std::size_t W,
                                T a, T b, T* __restrict g) {
  for (std::size_t k = 0; k < W; ++k) g[k] = w[k] * (a * t[k] + (Squared ? T(2) * b * p[k] : b));
}

template <class T, bool Squared>
void grad_pass(const SegmentJob<T>& j) {
  const std::size_t C = j.classes, pixels = j.outer * j.inner, item_pixels = detail::segment_item_pixels(C);
  const std::size_t tile = detail::segment_tile(C), scratch_size = detail::segment_scratch(C);
  for_each_item(j.batch, pixels, item_pixels, j.threads, [&](std::size_t, const PixelRange& r, int worker) {
    T* scratch = j.scratch + std::size_t(worker) * scratch_size;
    const double* coef = j.coef + r.sample * C * 2;
    for_each_tile(j.inner, r, tile, [&](std::size_t o, std::size_t i, std::size_t W) {
      const Tile<T> t = tile_at(j, scratch, r.sample, o, i, W);
      load_pixels(j, t);
      if (j.activation) activate(j, t);
      if (j.activation != kSoftmax) {
        for (std::size_t c = 0; c < C; ++c) {
          T* __restrict g = j.grad + t.score_base + c * j.inner;
          const T* p = probabilities(j, t, c);
          upstream_row<T, Squared>(p, targets(j, t, c), t.weight, W, T(coef[2 * c]), T(coef[2 * c + 1]), g);
          if (j.activation == kSigmoid)
            for (std::size_t k = 0; k < W; ++k) g[k] *= p[k] * (T(1) - p[k]);
        }
        return;
      }
      T* __restrict dot = t.row;
      for (std::size_t k = 0; k < W; ++k) dot[k] = T(0);
      for (std::size_t c = 0; c < C; ++c) {
        const T* __restrict p = t.prob + c * W;
        T* __restrict u = t.upstream + c * W;
        upstream_row<T, Squared>(p, targets(j, t, c), t.weight, W, T(coef[2 * c]), T(coef[2 * c + 1]), u);
        for (std::size_t k = 0; k < W; ++k) dot[k] += p[k] * u[k];
      }
      for (std::size_t c = 0; c < C; ++c) {
        const T* __restrict p = t.prob + c * W;
        const T* __restrict u = t.upstream + c * W;
        T* __restrict g = j.grad + t.score_base + c * j.inner;
        for (std::size_t k = 0; k < W; ++k) g[k] = p[k] * (u[k] - dot[k]);
      }
    });
  });
}

template <class T>
void segment_stats(const SegmentJob<T>& j) {
  j.squared ? stats_pass<T, true>(j) : stats_pass<T, false>(j);
}

template <class T>
void segment_grad(const SegmentJob<T>& j) {
  j.squared ? grad_pass<T, true>(j) : grad_pass<T, false>(j);
}

}  // namespace

void fill_segmentation(detail::KernelTable& table) {
  table.segment_stats_f32 = &segment_stats<float>;
  table.segment_stats_f64 = &segment_stats<double>;
  table.segment_grad_f32 = &segment_grad<float>;
  table.segment_grad_f64 = &segment_grad<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
