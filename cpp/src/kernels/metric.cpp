// Metric-learning losses (SPEC §2 F; formulas in lossfn/metric.hpp). Given pairs and triplets,
// and the center loss, are the rows shape: per row, its sums over the features in double (one sweep over the row's
// inputs), the row's loss and coefficients (a few scalars), then its gradients in a second sweep
// over the same row, still in cache. Compiled once per ISA; rows in fixed items
// (rows_per_item) over for_each_item, each item's losses added in row order.
//
// The gradients as combinations of the row's differences:
//   contrastive       u = a - b, d = |u|: dl/da = (y - (1 - y) max(0, m - d) / d) u = -dl/db
//   triplet           u = a - b + eps, v = a - c + eps (w = b - c + eps with swap), n(u) the gradient
//                     of ||u||_p: sign(u_i) |u_i|^(p-1) / ||u||^(p-1) (u / ||u|| for p = 2), and
//                     where the hinge is active dl/da = n(u) - n(v), dl/db = -n(u), dl/dc = n(v)
//                     (swapped: dl/da = n(u), dl/db = -n(u) - n(w), dl/dc = n(w))
//   cosine_embedding  A = |a|^2 + 1e-12, B = |b|^2 + 1e-12, r = 1 / sqrt(A B), cos = a.b r:
//                     dcos/da = r b - cos a / A, dcos/db = r a - cos b / B
//
// The margin losses and info_nce are the pairwise shape (further down): tiles of logits formed by
// la::gemm and consumed in cache, twice (statistics, then coefficients multiplied back by two
// more products), over unit rows whose adjoint the call driver applies last. With L the logits and
// P their softmax (per row; per column too for clip), the gradient w.r.t. the logits is
// r (P - [positive]) per direction, and w.r.t. the unit rows the products of that coefficient
// tile with the other side's rows.
#include <cmath>
#include <cstddef>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dispatch/kernel_abi.hpp"
#include "kernels/margin_map.hpp"
#include "kernels/segment_loop.hpp"
#include "kernels/simd_math.hpp"
#include "la/gemm.hpp"
#include "lossfn/metric.hpp"

namespace lossfn {
namespace LOSSFN_ISA {
namespace {

using detail::PairJob;

// ||u||_p's gradient factor for p != 2 (p = 2 is triplet_row's Euclidean instance):
// sign(x) |x|^(p-1) / norm^(p-1), inv_norm_pm1 the row's coefficient over norm^(p-1).
LOSSFN_INLINE double norm_grad(double x, double p, double inv_norm_pm1) {
  if (p == 1.0) return x > 0.0 ? inv_norm_pm1 : x < 0.0 ? -inv_norm_pm1 : 0.0;
  const double m = std::pow(x < 0.0 ? -x : x, p - 1.0) * inv_norm_pm1;
  return x < 0.0 ? -m : m;
}

// |x|^p for p != 2, and the norm (sum)^(1/p).
LOSSFN_INLINE double p_power(double x, double p) {
  const double m = x < 0.0 ? -x : x;
  return p == 1.0 ? m : std::pow(m, p);
}
LOSSFN_INLINE double p_root(double s, double p) { return p == 2.0 ? std::sqrt(s) : p == 1.0 ? s : std::pow(s, 1.0 / p); }
LOSSFN_INLINE double inv_power_pm1(double norm, double p) {
  if (!(norm > 0.0)) return 0.0;  // a zero difference: no direction
  return p == 2.0 ? 1.0 / norm : p == 1.0 ? 1.0 : 1.0 / std::pow(norm, p - 1.0);
}

template <class T>
double contrastive_row(const PairJob<T>& job, const T* a, const T* b, double y, double r, T* ga, T* gb) {
  const std::size_t D = job.features;
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (std::size_t i = 0; i < D; ++i) {
    const double u = double(a[i]) - double(b[i]);
    s += u * u;
  }
  const double d = std::sqrt(s), h = job.margin - d > 0.0 ? job.margin - d : 0.0;
  const double loss = 0.5 * (y * s + (1.0 - y) * h * h);
  if (ga && gb) {
    const double k = r * (y - (d > 0.0 ? (1.0 - y) * h / d : 0.0));
#pragma omp simd
    for (std::size_t i = 0; i < D; ++i) {
      const double g = k * (double(a[i]) - double(b[i]));
      ga[i] = T(g);
      gb[i] = T(-g);
    }
  }
  return loss;
}

// Euclidean (p = 2) as its own instance: its sums and gradient sweep vectorize.
template <class T, bool Euclidean>
double triplet_row(const PairJob<T>& job, const T* a, const T* b, const T* c, double r, T* ga, T* gb, T* gc) {
  const std::size_t D = job.features;
  const double p = Euclidean ? 2.0 : job.p, eps = job.eps;
  double su = 0.0, sv = 0.0, sw = 0.0;
  if (Euclidean) {
#pragma omp simd reduction(+ : su, sv, sw)
    for (std::size_t i = 0; i < D; ++i) {
      const double ai = double(a[i]), bi = double(b[i]), ci = double(c[i]);
      const double u = ai - bi + eps, v = ai - ci + eps, w = bi - ci + eps;
      su += u * u, sv += v * v, sw += w * w;
    }
  } else {
    for (std::size_t i = 0; i < D; ++i) {
      const double ai = double(a[i]), bi = double(b[i]), ci = double(c[i]);
      su += p_power(ai - bi + eps, p);
      sv += p_power(ai - ci + eps, p);
      if (job.swap) sw += p_power(bi - ci + eps, p);
    }
  }
  const double dp = p_root(su, p);
  double dn = p_root(sv, p);
  bool swapped = false;
  if (job.swap) {
    const double ds = p_root(sw, p);
    swapped = ds < dn;
    if (swapped) dn = ds;
  }
  const double hinge = dp - dn + job.margin;
  const double loss = hinge > 0.0 ? hinge : 0.0;
  if (ga && gb && gc) {
    const double k = hinge > 0.0 ? r : 0.0;
    const double fu = k * inv_power_pm1(dp, p), fn = k * inv_power_pm1(dn, p);
    // The negative's difference: a - c, or b - c when swapped; ga = nu - sa nn, gb = -nu - sb nn.
    const double sa = swapped ? 0.0 : 1.0, sb = swapped ? 1.0 : 0.0;
    if (Euclidean) {
#pragma omp simd
      for (std::size_t i = 0; i < D; ++i) {
        const double ai = double(a[i]), bi = double(b[i]), ci = double(c[i]);
        const double nu = fu * (ai - bi + eps), nn = fn * (sa * ai + sb * bi - ci + eps);
        ga[i] = T(nu - sa * nn);
        gb[i] = T(-nu - sb * nn);
        gc[i] = T(nn);
      }
    } else {
      for (std::size_t i = 0; i < D; ++i) {
        const double ai = double(a[i]), bi = double(b[i]), ci = double(c[i]);
        const double nu = k != 0.0 ? norm_grad(ai - bi + eps, p, fu) : 0.0;
        const double nn = k != 0.0 ? norm_grad(swapped ? bi - ci + eps : ai - ci + eps, p, fn) : 0.0;
        ga[i] = T(nu - sa * nn);
        gb[i] = T(-nu - sb * nn);
        gc[i] = T(nn);
      }
    }
  }
  return loss;
}

template <class T>
double cosine_row(const PairJob<T>& job, const T* a, const T* b, double y, double r, T* ga, T* gb) {
  const std::size_t D = job.features;
  double sab = 0.0, saa = 0.0, sbb = 0.0;
#pragma omp simd reduction(+ : sab, saa, sbb)
  for (std::size_t i = 0; i < D; ++i) {
    const double ai = double(a[i]), bi = double(b[i]);
    sab += ai * bi, saa += ai * ai, sbb += bi * bi;
  }
  const double A = saa + 1e-12, B = sbb + 1e-12, inv = 1.0 / std::sqrt(A * B), cos = sab * inv;
  const bool pos = y == 1.0, neg = y == -1.0;
  const double above = cos - job.margin;
  const double loss = (pos ? 1.0 - cos : 0.0) + (neg && above > 0.0 ? above : 0.0);
  if (ga && gb) {
    const double dl = r * ((pos ? -1.0 : 0.0) + (neg && above > 0.0 ? 1.0 : 0.0));
    const double ka = dl * cos / A, kb = dl * cos / B, kr = dl * inv;
#pragma omp simd
    for (std::size_t i = 0; i < D; ++i) {
      const double ai = double(a[i]), bi = double(b[i]);
      ga[i] = T(kr * bi - ka * ai);
      gb[i] = T(kr * ai - kb * bi);
    }
  }
  return loss;
}

// margin_ranking and hinge_embedding: one value per row, rows [first, last) in one branch-free
// loop (selects, not branches) that the compiler vectorizes; Gradient, LossOut and Upstream (an
// upstream array) are compiled in.
template <class T, bool MarginRanking, bool Gradient, bool LossOut, bool Upstream>
double elementwise_rows(const PairJob<T>& job, std::size_t first, std::size_t last) {
  const T* __restrict__ a = job.a;
  const T* __restrict__ b = job.b;
  const T* __restrict__ labels = job.labels;
  const T* __restrict__ go = job.grad_output_array;
  T* __restrict__ ga = job.grad_a;
  T* __restrict__ gb = job.grad_b;
  T* __restrict__ out = job.loss_out;
  const double m = job.margin, scale = job.scale;
  double total = 0.0;
#pragma omp simd reduction(+ : total)
  for (std::size_t s = first; s < last; ++s) {
    const double y = double(labels[s]), x = double(a[s]);
    const double r = Upstream ? scale * double(go[s]) : scale;
    double l, g;
    if (MarginRanking) {
      const double h = -y * (x - double(b[s])) + m;
      l = h > 0.0 ? h : 0.0;
      g = h > 0.0 ? r * y : 0.0;  // d l / d x2; d l / d x1 = -g
    } else {
      const double h = m - x, not_pos = y != 1.0 ? 1.0 : 0.0, not_neg = y != -1.0 ? 1.0 : 0.0;
      const double active = h > 0.0 ? not_pos : 0.0;
      l = active * h + not_neg * x;
      g = r * (not_neg - active);
    }
    total += l;
    if (LossOut) out[s] = T(l);
    if (Gradient) {
      if (MarginRanking) {
        ga[s] = T(-g);
        gb[s] = T(g);
      } else {
        ga[s] = T(g);
      }
    }
  }
  return total;
}

template <class T, bool MarginRanking>
double elementwise_item(const PairJob<T>& job, std::size_t first, std::size_t last) {
  const bool gradient = job.grad_a != nullptr, loss_out = job.loss_out != nullptr, up = job.grad_output_array != nullptr;
  if (gradient && up) return elementwise_rows<T, MarginRanking, true, false, true>(job, first, last);
  if (gradient && loss_out) return elementwise_rows<T, MarginRanking, true, true, false>(job, first, last);
  if (gradient) return elementwise_rows<T, MarginRanking, true, false, false>(job, first, last);
  if (loss_out) return elementwise_rows<T, MarginRanking, false, true, false>(job, first, last);
  return elementwise_rows<T, MarginRanking, false, false, false>(job, first, last);
}

template <class T>
void pair_kernel(const PairJob<T>& job) {
  const std::size_t D = job.features, rows = detail::rows_per_item(D);
  const auto loss = PairLoss(job.loss);
  for_each_item(1, job.samples, rows, job.threads, [&](std::size_t k, const PixelRange& range, int) {
    if (loss == PairLoss::margin_ranking || loss == PairLoss::hinge_embedding) {
      job.item_value[k] = loss == PairLoss::margin_ranking ? elementwise_item<T, true>(job, range.first, range.last)
                                                           : elementwise_item<T, false>(job, range.first, range.last);
      return;
    }
    const bool euclidean = job.p == 2.0;
    double total = 0.0;
    for (std::size_t s = range.first; s < range.last; ++s) {
      const std::size_t at = s * D;
      const double y = job.labels ? double(job.labels[s]) : 0.0;
      const double r = job.scale * (job.grad_output_array ? double(job.grad_output_array[s]) : 1.0);
      T* ga = job.grad_a ? job.grad_a + at : nullptr;
      T* gb = job.grad_b ? job.grad_b + at : nullptr;
      T* gc = job.grad_c ? job.grad_c + at : nullptr;
      double l = 0.0;
      switch (loss) {
        case PairLoss::contrastive: l = contrastive_row(job, job.a + at, job.b + at, y, r, ga, gb); break;
        case PairLoss::triplet:
          l = euclidean ? triplet_row<T, true>(job, job.a + at, job.b + at, job.c + at, r, ga, gb, gc)
                        : triplet_row<T, false>(job, job.a + at, job.b + at, job.c + at, r, ga, gb, gc);
          break;
        default: l = cosine_row(job, job.a + at, job.b + at, y, r, ga, gb); break;
      }
      if (job.loss_out) job.loss_out[s] = T(l);
      total += l;
    }
    job.item_value[k] = total;
  });
}

// ---------------------------------------------------------------------------------------------
// Center loss: l = 1/2 |x - c_y|^2 per sample (rows pass); the centers' gradient or Wen et al.'s
// update per class over its samples in sample order (classes pass).
// ---------------------------------------------------------------------------------------------
template <class T>
void center_rows(const detail::CenterJob<T>& job) {
  const std::size_t D = job.features, rows = detail::rows_per_item(D);
  for_each_item(1, job.samples, rows, job.threads, [&](std::size_t k, const PixelRange& range, int) {
    double total = 0.0;
    for (std::size_t s = range.first; s < range.last; ++s) {
      const T* x = job.x + s * D;
      const T* c = job.centers + std::size_t(job.labels[s]) * D;
      double sum = 0.0;
#pragma omp simd reduction(+ : sum)
      for (std::size_t i = 0; i < D; ++i) {
        const double u = double(x[i]) - double(c[i]);
        sum += u * u;
      }
      const double l = 0.5 * sum;
      if (job.loss_out) job.loss_out[s] = T(l);
      total += l;
      if (job.grad_x) {
        const double r = job.scale * (job.grad_output_array ? double(job.grad_output_array[s]) : 1.0);
        T* g = job.grad_x + s * D;
#pragma omp simd
        for (std::size_t i = 0; i < D; ++i) g[i] = T(r * (double(x[i]) - double(c[i])));
      }
    }
    job.item_value[k] = total;
  });
}

template <class T>
void center_classes(const detail::CenterJob<T>& job) {
  const std::size_t D = job.features, per = detail::rows_per_item(D);
  for_each_item(1, job.classes, per, job.threads, [&](std::size_t, const PixelRange& range, int worker) {
    double* acc = job.scratch + std::size_t(worker) * D;
    for (std::size_t j = range.first; j < range.last; ++j) {
      const std::size_t first = job.class_start[j], last = job.class_start[j + 1];
      const T* c = job.centers + j * D;
      if (job.update) {
        if (first == last) continue;  // absent from the batch: unchanged
        for (std::size_t i = 0; i < D; ++i) acc[i] = 0.0;
        for (std::size_t k = first; k < last; ++k) {
          const T* x = job.x + job.by_class[k] * D;
#pragma omp simd
          for (std::size_t i = 0; i < D; ++i) acc[i] += double(c[i]) - double(x[i]);
        }
        const double step = job.alpha / (1.0 + double(last - first));
        T* out = job.update + j * D;
        for (std::size_t i = 0; i < D; ++i) out[i] = T(double(c[i]) - step * acc[i]);
        continue;
      }
      for (std::size_t i = 0; i < D; ++i) acc[i] = 0.0;
      for (std::size_t k = first; k < last; ++k) {
        const std::size_t s = job.by_class[k];
        const T* x = job.x + s * D;
        const double r = job.scale * (job.grad_output_array ? double(job.grad_output_array[s]) : 1.0);
#pragma omp simd
        for (std::size_t i = 0; i < D; ++i) acc[i] -= r * (double(x[i]) - double(c[i]));
      }
      T* g = job.grad_centers + j * D;
      for (std::size_t i = 0; i < D; ++i) g[i] = T(acc[i]);
    }
  });
}

template <class T>
void center_kernel(const detail::CenterJob<T>& job) {
  if (job.rows) center_rows(job);
  else center_classes(job);
}

// ---------------------------------------------------------------------------------------------
// The pairwise shape: GEMM tiles (la::gemm, one tile on one thread) with an epilogue that keeps
// softmax statistics in double, and a second sweep that recomputes each tile, turns it into the
// logits' coefficients and multiplies them back (formulas in lossfn/metric.hpp).
// ---------------------------------------------------------------------------------------------

// Rows to unit length (F.normalize's eps) and the adjoint, per row: the norm and the dot in double.
constexpr double kUnitEps = 1e-12;

LOSSFN_INLINE std::size_t least(std::size_t a, std::size_t b) { return a < b ? a : b; }

template <class T>
void unit_rows_kernel(const detail::UnitRowsJob<T>& job) {
  const std::size_t D = job.features, rows = detail::rows_per_item(D);
  for_each_item(1, job.rows, rows, job.threads, [&](std::size_t, const PixelRange& range, int) {
    for (std::size_t i = range.first; i < range.last; ++i) {
      const T* x = job.x + i * D;
      if (!job.backward) {
        double sq = 0.0;
#pragma omp simd reduction(+ : sq)
        for (std::size_t k = 0; k < D; ++k) sq += double(x[k]) * double(x[k]);
        const double norm = std::sqrt(sq), inv = 1.0 / (norm > kUnitEps ? norm : kUnitEps);
        job.inv_norm[i] = inv;
        T* u = job.unit + i * D;
#pragma omp simd
        for (std::size_t k = 0; k < D; ++k) u[k] = T(double(x[k]) * inv);
        continue;
      }
      // g = the parts' sum (in part order), then inv (g - u (u . g)) with u = x inv in double.
      T* out = job.grad + i * D;
      const double inv = job.inv_norm[i];
      double dot = 0.0, sq = 0.0;
      for (std::size_t k = 0; k < D; ++k) {
        double g = 0.0;
        for (std::size_t p = 0; p < job.parts; ++p) g += double(job.grad_unit[p * job.part_stride + i * D + k]);
        const double u = double(x[k]) * inv;
        dot += u * g;
        sq += double(x[k]) * double(x[k]);
        out[k] = T(g);  // the summed gradient, rescaled below (out may be one of the parts: read first)
      }
      const bool projected = std::sqrt(sq) > kUnitEps;
      for (std::size_t k = 0; k < D; ++k) {
        const double g = double(out[k]);
        out[k] = T(inv * (projected ? g - double(x[k]) * inv * dot : g));
      }
    }
  });
}

// The running softmax statistics (max, sum of e^(logit - max)) of one row, and their merge with a
// tile's (its max and its sum relative to that max).
LOSSFN_INLINE void merge_stats(double* st, double m, double s) {
  if (m == -__builtin_inf()) return;
  if (m > st[0]) {
    st[1] = st[1] * __builtin_exp(st[0] - m) + s;
    st[0] = m;
  } else {
    st[1] += s * __builtin_exp(m - st[0]);
  }
}

// The max of n logits and the sum of their exponentials relative to it (in T, then double).
template <class T>
LOSSFN_INLINE void row_softmax_stats(const T* __restrict v, std::size_t n, double* st) {
  T m = -math::inf<T>();
#pragma omp simd reduction(max : m)
  for (std::size_t k = 0; k < n; ++k) m = v[k] > m ? v[k] : m;
  if (m == -math::inf<T>()) return;
  T s = T(0);
#pragma omp simd reduction(+ : s)
  for (std::size_t k = 0; k < n; ++k) s += math::exp_nonpositive(v[k] - m);
  merge_stats(st, double(m), double(s));
}

// Column statistics of a rows x n tile (row stride ld): per column its max over the tile's rows
// and the sum of exponentials relative to it, merged into st[2 k], st[2 k + 1]; cm, cs scratch of n.
template <class T>
void column_softmax_stats(const T* tile, std::size_t rows, std::size_t n, std::size_t ld, T* cm, T* cs, double* st) {
  for (std::size_t k = 0; k < n; ++k) cm[k] = -math::inf<T>(), cs[k] = T(0);
  for (std::size_t i = 0; i < rows; ++i) {
    const T* v = tile + i * ld;
#pragma omp simd
    for (std::size_t k = 0; k < n; ++k) cm[k] = v[k] > cm[k] ? v[k] : cm[k];
  }
  for (std::size_t i = 0; i < rows; ++i) {
    const T* v = tile + i * ld;
#pragma omp simd
    for (std::size_t k = 0; k < n; ++k) cs[k] += cm[k] == -math::inf<T>() ? T(0) : math::exp_nonpositive(v[k] - cm[k]);
  }
  for (std::size_t k = 0; k < n; ++k) merge_stats(st + 2 * k, double(cm[k]), double(cs[k]));
}

template <class T>
LOSSFN_INLINE T clamp_unit(T c) {
  return c > T(1) ? T(1) : (c < T(-1) ? T(-1) : c);
}

// One tile of a margin loss: the logits of rows [r0, r0 + nr) against classes [c0, c0 + nc) into
// tile (nr x nc, ld kPairTile), the raw cosines of the label's classes into cos_out (or nullptr).
template <class T>
void margin_logits(const detail::MarginJob<T>& job, const MarginMap& f, std::size_t r0, std::size_t nr,
                   std::size_t c0, std::size_t nc, const T* inv_w, T* tile, double* cos_out) {
  const std::size_t D = job.features, ld = detail::kPairTile;
  const la::MatrixView<T> x{job.x_unit + r0 * D, nr, D, std::ptrdiff_t(D), la::Layout::row_major};
  const la::MatrixView<T> w{job.weights + c0 * D, nc, D, std::ptrdiff_t(D), la::Layout::row_major};
  la::gemm(T(1), x, la::transposed(w), false, tile, std::ptrdiff_t(ld));
  const T s = T(job.s);
  for (std::size_t i = 0; i < nr; ++i) {
    T* v = tile + i * ld;
    const std::int64_t y = job.labels[r0 + i];
    const bool labelled = y >= std::int64_t(c0) && y < std::int64_t(c0 + nc);
    const std::size_t at = labelled ? std::size_t(y) - c0 : 0;
    const double c = labelled ? double(clamp_unit(v[at] * inv_w[at])) : 0.0;
#pragma omp simd
    for (std::size_t k = 0; k < nc; ++k) v[k] = s * clamp_unit(v[k] * inv_w[k]);
    if (labelled) {
      if (cos_out) cos_out[i] = c;
      v[at] = T(job.s * f.phi(c));
    }
  }
}

template <class T>
void margin_kernel(const detail::MarginJob<T>& job) {
  const std::size_t N = job.samples, D = job.features, C = job.classes, tile = detail::kPairTile;
  const std::size_t tiles = (C + tile - 1) / tile;
  const MarginMap f = MarginMap::of(MarginLoss(job.loss) == MarginLoss::arcface, job.easy_margin, job.m,
                                    sizeof(T) == 4 ? 1.1920928955078125e-07 : 2.220446049250313e-16);
  auto group = [&](std::size_t g, int worker) {
    T* logits = job.scratch + std::size_t(worker) * detail::margin_scratch();
    T* inv_w = logits + tile * tile;
    double* stats = job.stats + g * N * 2;
    if (!job.grad_pass)
      for (std::size_t i = 0; i < N; ++i) stats[2 * i] = -__builtin_inf(), stats[2 * i + 1] = 0.0;
    T* partial = job.grad_unit ? job.grad_unit + g * N * D : nullptr;
    const std::size_t first = g * job.group_tiles, last = least(tiles, first + job.group_tiles);
    for (std::size_t j = first; j < last; ++j) {
      const std::size_t c0 = j * tile, nc = least(tile, C - c0);
      for (std::size_t k = 0; k < nc; ++k) {
        const T* w = job.weights + (c0 + k) * D;
        double sq = 0.0;
#pragma omp simd reduction(+ : sq)
        for (std::size_t d = 0; d < D; ++d) sq += double(w[d]) * double(w[d]);
        const double norm = std::sqrt(sq);
        inv_w[k] = T(1.0 / (norm > kUnitEps ? norm : kUnitEps));
      }
      for (std::size_t r0 = 0; r0 < N; r0 += tile) {
        const std::size_t nr = least(tile, N - r0);
        if (!job.grad_pass) {
          margin_logits(job, f, r0, nr, c0, nc, inv_w, logits, job.target_cos + r0);
          for (std::size_t i = 0; i < nr; ++i) row_softmax_stats(logits + i * tile, nc, stats + 2 * (r0 + i));
          continue;
        }
        double label_cos[detail::kPairTile];
        margin_logits(job, f, r0, nr, c0, nc, inv_w, logits, label_cos);
        // The logits' coefficients: r_i (p - [c = y]) s dphi for the label, r_i p s elsewhere.
        for (std::size_t i = 0; i < nr; ++i) {
          T* v = logits + i * tile;
          const T lse = T(job.lse[r0 + i]), coef = T(job.row_coef[r0 + i] * job.s);
#pragma omp simd
          for (std::size_t k = 0; k < nc; ++k) v[k] = coef * math::exp_nonpositive(v[k] - lse);
          const std::int64_t y = job.labels[r0 + i];
          if (y >= std::int64_t(c0) && y < std::int64_t(c0 + nc)) {
            const std::size_t k = std::size_t(y) - c0;
            v[k] = T((double(v[k]) - double(coef)) * f.dphi(label_cos[i]));
          }
        }
        const la::MatrixView<T> coefs{logits, nr, nc, std::ptrdiff_t(tile), la::Layout::row_major};
        if (job.grad_weights) {
          const la::MatrixView<T> x{job.x_unit + r0 * D, nr, D, std::ptrdiff_t(D), la::Layout::row_major};
          la::gemm(T(1), la::transposed(coefs), x, r0 > 0, job.grad_weights + c0 * D, std::ptrdiff_t(D));
        }
        if (partial) {
          // d/dx_unit = sum_c coef_c w_c / |w_c|: the coefficients scaled, then the raw weights.
          for (std::size_t i = 0; i < nr; ++i) {
            T* v = logits + i * tile;
#pragma omp simd
            for (std::size_t k = 0; k < nc; ++k) v[k] *= inv_w[k];
          }
          const la::MatrixView<T> w{job.weights + c0 * D, nc, D, std::ptrdiff_t(D), la::Layout::row_major};
          la::gemm(T(1), coefs, w, j > first, partial + r0 * D, std::ptrdiff_t(D));
        }
      }
      if (job.grad_weights) {
        // From d/dw_unit to d/dw: inv (g - w_unit (w_unit . g)), w_unit = w inv.
        for (std::size_t k = 0; k < nc; ++k) {
          const T* w = job.weights + (c0 + k) * D;
          T* g = job.grad_weights + (c0 + k) * D;
          const double inv = double(inv_w[k]);
          double dot = 0.0, sq = 0.0;
#pragma omp simd reduction(+ : dot, sq)
          for (std::size_t d = 0; d < D; ++d) {
            dot += double(w[d]) * double(g[d]);
            sq += double(w[d]) * double(w[d]);
          }
          const bool projected = std::sqrt(sq) > kUnitEps;
          const double along = projected ? dot * inv * inv : 0.0;
#pragma omp simd
          for (std::size_t d = 0; d < D; ++d) g[d] = T(inv * (double(g[d]) - double(w[d]) * along));
        }
      }
    }
  };
  if (job.threads <= 1 || job.groups <= 1) {
    for (std::size_t g = 0; g < job.groups; ++g) group(g, 0);
    return;
  }
#pragma omp parallel for num_threads(job.threads) schedule(static, 1)
  for (std::ptrdiff_t g = 0; g < std::ptrdiff_t(job.groups); ++g) {
#ifdef _OPENMP
    group(std::size_t(g), omp_get_thread_num());
#else
    group(std::size_t(g), 0);
#endif
  }
}

// info_nce: one tile's logits, rows [r0, r0 + nr) of a against rows [c0, c0 + nc) of b (a for
// simclr, its diagonal -inf), times 1/temperature.
template <class T>
void info_nce_logits(const detail::InfoNceJob<T>& job, std::size_t r0, std::size_t nr, std::size_t c0,
                     std::size_t nc, T* tile) {
  const std::size_t D = job.features, ld = detail::kPairTile;
  const T* other = job.simclr ? job.a : job.b;
  const la::MatrixView<T> x{job.a + r0 * D, nr, D, std::ptrdiff_t(D), la::Layout::row_major};
  const la::MatrixView<T> y{other + c0 * D, nc, D, std::ptrdiff_t(D), la::Layout::row_major};
  la::gemm(T(job.inv_temperature), x, la::transposed(y), false, tile, std::ptrdiff_t(ld));
  if (job.simclr && r0 == c0)
    for (std::size_t i = 0; i < nr; ++i) tile[i * ld + i] = -math::inf<T>();
}

// The positive's column of row i: i itself (clip), i +- half (simclr).
LOSSFN_INLINE std::size_t positive_of(bool simclr, std::size_t i, std::size_t rows) {
  if (!simclr) return i;
  const std::size_t half = rows / 2;
  return i < half ? i + half : i - half;
}

template <class T>
void info_nce_tile(const detail::InfoNceJob<T>& job, std::size_t I, std::size_t J, bool first_touch, int worker) {
  const std::size_t R = job.rows, D = job.features, ld = detail::kPairTile;
  const std::size_t r0 = I * ld, nr = least(ld, R - r0), c0 = J * ld, nc = least(ld, R - c0);
  T* logits = job.scratch + std::size_t(worker) * detail::info_nce_scratch();
  T* coefs = logits + ld * ld;
  T* temp = coefs + ld * ld;
  info_nce_logits(job, r0, nr, c0, nc, logits);
  if (!job.grad_pass) {
    for (std::size_t i = 0; i < nr; ++i) {
      row_softmax_stats(logits + i * ld, nc, job.row_stats + 2 * (r0 + i));
      const std::size_t p = positive_of(job.simclr, r0 + i, R);
      if (p >= c0 && p < c0 + nc) job.positive[r0 + i] = double(logits[i * ld + (p - c0)]);
    }
    if (job.columns) column_softmax_stats(logits, nr, nc, ld, temp, temp + ld, job.col_stats + 2 * c0);
    return;
  }
  // Coefficients of the dot products (the logits' over the temperature).
  const T inv_t = T(job.inv_temperature);
  for (std::size_t i = 0; i < nr; ++i) {
    const T* v = logits + i * ld;
    T* c = coefs + i * ld;
    const T rl = T(job.row_lse[r0 + i]), rc = T(job.row_coef[r0 + i]);
    if (job.simclr) {
#pragma omp simd
      for (std::size_t k = 0; k < nc; ++k)
        c[k] = rc * math::exp_nonpositive(v[k] - rl) +
               T(job.row_coef[c0 + k]) * math::exp_nonpositive(v[k] - T(job.row_lse[c0 + k]));
    } else if (job.columns) {
#pragma omp simd
      for (std::size_t k = 0; k < nc; ++k)
        c[k] = rc * math::exp_nonpositive(v[k] - rl) +
               T(job.col_coef[c0 + k]) * math::exp_nonpositive(v[k] - T(job.col_lse[c0 + k]));
    } else {
#pragma omp simd
      for (std::size_t k = 0; k < nc; ++k) c[k] = rc * math::exp_nonpositive(v[k] - rl);
    }
    const std::size_t p = positive_of(job.simclr, r0 + i, R);
    if (p >= c0 && p < c0 + nc) {
      const double other = job.simclr ? job.row_coef[p] : (job.columns ? job.col_coef[p] : 0.0);
      c[p - c0] = T(double(c[p - c0]) - double(rc) - other);
    }
#pragma omp simd
    for (std::size_t k = 0; k < nc; ++k) c[k] *= inv_t;
  }
  const la::MatrixView<T> cm{coefs, nr, nc, std::ptrdiff_t(ld), la::Layout::row_major};
  const T* other = job.simclr ? job.a : job.b;
  const la::MatrixView<T> y{other + c0 * D, nc, D, std::ptrdiff_t(D), la::Layout::row_major};
  la::gemm(T(1), cm, y, !first_touch, job.grad_a + r0 * D, std::ptrdiff_t(D));
  if (!job.simclr) {
    const la::MatrixView<T> x{job.a + r0 * D, nr, D, std::ptrdiff_t(D), la::Layout::row_major};
    la::gemm(T(1), la::transposed(cm), x, !first_touch, job.grad_b + c0 * D, std::ptrdiff_t(D));
  }
}

template <class T>
void info_nce_kernel(const detail::InfoNceJob<T>& job) {
  const std::size_t blocks = (job.rows + detail::kPairTile - 1) / detail::kPairTile;
  const int threads = job.threads > 1 && blocks > 1 ? job.threads : 1;
  if (job.simclr) {
    // A worker owns row block I and meets the column blocks in order.
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (std::ptrdiff_t I = 0; I < std::ptrdiff_t(blocks); ++I) {
#ifdef _OPENMP
      const int worker = omp_get_thread_num();
#else
      const int worker = 0;
#endif
      for (std::size_t J = 0; J < blocks; ++J) info_nce_tile(job, std::size_t(I), J, J == 0, worker);
    }
    return;
  }
  // clip: the wavefront; the barrier after each step orders the steps.
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#ifdef _OPENMP
    const int worker = omp_get_thread_num();
#else
    const int worker = 0;
#endif
    for (std::size_t t = 0; t < blocks; ++t) {
#pragma omp for schedule(static)
      for (std::ptrdiff_t I = 0; I < std::ptrdiff_t(blocks); ++I)
        info_nce_tile(job, std::size_t(I), (std::size_t(I) + t) % blocks, t == 0, worker);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// batch_triplet: the batch's distances from GEMM tiles of centred (or unit) rows, mining per
// anchor over its negatives sorted by distance, and the gradient as one more product with the
// symmetrised per-pair coefficients (formulas in lossfn/metric.hpp).
// ---------------------------------------------------------------------------------------------

// keys[0, n) sorted ascending, items carried along (a heapsort: no std:: template is instantiated
// per ISA; ties fall in an order that depends on the data only).
LOSSFN_INLINE void sift_down(double* keys, double* items, std::size_t root, std::size_t n) {
  for (;;) {
    std::size_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && keys[child + 1] > keys[child]) ++child;
    if (!(keys[child] > keys[root])) return;
    const double k = keys[root], v = items[root];
    keys[root] = keys[child], items[root] = items[child];
    keys[child] = k, items[child] = v;
    root = child;
  }
}

inline void sort_with_items(double* keys, double* items, std::size_t n) {
  for (std::size_t i = n / 2; i-- > 0;) sift_down(keys, items, i, n);
  for (std::size_t end = n; end-- > 1;) {
    const double k = keys[0], v = items[0];
    keys[0] = keys[end], items[0] = items[end];
    keys[end] = k, items[end] = v;
    sift_down(keys, items, 0, end);
  }
}

// The first position of sorted keys[0, n) whose key is > v (upper) or >= v (lower).
LOSSFN_INLINE std::size_t upper_bound_of(const double* keys, std::size_t n, double v) {
  std::size_t lo = 0, hi = n;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (keys[mid] > v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
LOSSFN_INLINE std::size_t lower_bound_of(const double* keys, std::size_t n, double v) {
  std::size_t lo = 0, hi = n;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (keys[mid] >= v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// The distances: the Gram matrix's upper tiles into `matrix` (one la::gemm per tile), then each
// row's distances from it in double, mirrored so that dist is symmetric bit for bit.
template <class T>
void triplet_distances(const detail::TripletJob<T>& job) {
  const std::size_t N = job.samples, D = job.features, tile = detail::kPairTile;
  const std::size_t blocks = (N + tile - 1) / tile, tiles = blocks * (blocks + 1) / 2;
  const int threads = job.threads > 1 ? job.threads : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#pragma omp for schedule(static)
    for (std::ptrdiff_t t = 0; t < std::ptrdiff_t(tiles); ++t) {
      std::size_t I = 0, rest = std::size_t(t);
      while (rest >= blocks - I) rest -= blocks - I, ++I;  // the t-th tile of the upper triangle
      const std::size_t J = I + rest, r0 = I * tile, c0 = J * tile;
      const std::size_t nr = least(tile, N - r0), nc = least(tile, N - c0);
      const la::MatrixView<T> a{job.x + r0 * D, nr, D, std::ptrdiff_t(D), la::Layout::row_major};
      const la::MatrixView<T> b{job.x + c0 * D, nc, D, std::ptrdiff_t(D), la::Layout::row_major};
      la::gemm(T(1), a, la::transposed(b), false, job.matrix + r0 * N + c0, std::ptrdiff_t(N));
    }
#pragma omp for schedule(static)
    for (std::ptrdiff_t ii = 0; ii < std::ptrdiff_t(N); ++ii) {
      const std::size_t i = std::size_t(ii);
      const T* g = job.matrix;
      // g(i, j) from the upper triangle: the tile that holds (min, max) of the two blocks.
      auto gram = [&](std::size_t r, std::size_t c) {
        return (r / tile <= c / tile) ? double(g[r * N + c]) : double(g[c * N + r]);
      };
      const double gi = gram(i, i);
      double* row = job.dist + i * N;
      for (std::size_t j = 0; j < N; ++j) {
        if (j == i) {
          row[j] = 0.0;
          continue;
        }
        const std::size_t lo = i < j ? i : j, hi = i < j ? j : i;  // the same arithmetic for (i, j) and (j, i)
        const double gl = lo == i ? gi : gram(lo, lo), gh = hi == i ? gi : gram(hi, hi), gx = gram(lo, hi);
        if (job.distance == detail::kTripletCosine) {
          const double d = 1.0 - gx;
          row[j] = d > 0.0 ? (d < 2.0 ? d : 2.0) : 0.0;
        } else {
          const double d2 = gl + gh - 2.0 * gx;
          const double sq = d2 > 0.0 ? d2 : 0.0;
          row[j] = job.distance == detail::kTripletEuclidean ? std::sqrt(sq) : sq;
        }
      }
    }
  }
}

// Mining for one anchor by scanning its m negatives (keys: their distances, items: their samples,
// in sample order) once per positive; cover[k] counts the kept triplets with a positive loss that
// use negative k. The same selection as the sorted path below; each loss summed directly.
template <class T>
void triplet_anchor_scan(const detail::TripletJob<T>& job, std::size_t a, const double* keys, const double* items,
                         std::size_t m, double* cover) {
  const std::size_t N = job.samples;
  const double* row = job.dist + a * N;
  double* coef = job.coef + a * N;
  const std::int64_t ya = job.labels[a];
  const double margin = job.margin;
  for (std::size_t k = 0; k < m; ++k) cover[k] = 0.0;
  double total = 0.0, kept = 0.0, positive = 0.0;
  for (std::size_t p = 0; p < N; ++p) {
    if (p == a || job.labels[p] != ya) continue;
    const double dp = row[p], reach = dp + margin;
    if (job.mining == detail::kMineSemihardTfa) {
      // The nearest negative farther than the positive (the first in sample order among equals),
      // else the farthest; with no negative, distance 0.
      std::size_t near = m, far = m;
      for (std::size_t k = 0; k < m; ++k) {
        if (keys[k] > dp && (near == m || keys[k] < keys[near])) near = k;
        if (far == m || keys[k] > keys[far]) far = k;
      }
      const std::size_t n = near < m ? near : far;
      const double l = margin + dp - (n < m ? keys[n] : 0.0);
      kept += 1.0;
      if (l > 0.0) {
        total += l, positive += 1.0;
        coef[p] += 1.0;
        if (n < m) cover[n] += 1.0;
      }
      continue;
    }
    const double upper = job.mining == detail::kMineHard ? dp : reach;
    const bool semihard = job.mining == detail::kMineSemihard;
    double count = 0.0, active = 0.0, sum = 0.0;
#pragma omp simd reduction(+ : count, active, sum)
    for (std::size_t k = 0; k < m; ++k) {
      const double dn = keys[k];
      const bool keep = dn <= upper && (!semihard || dn > dp);
      const bool hinge = keep && dn < reach;
      count += keep ? 1.0 : 0.0;
      active += hinge ? 1.0 : 0.0;
      sum += hinge ? reach - dn : 0.0;
      cover[k] += hinge ? 1.0 : 0.0;
    }
    kept += count, positive += active, total += sum;
    coef[p] += active;
  }
  for (std::size_t k = 0; k < m; ++k) coef[std::size_t(items[k])] -= cover[k];
  job.stats[3 * a] = total, job.stats[3 * a + 1] = kept, job.stats[3 * a + 2] = positive;
}

// Mining for one anchor: its negatives' distances sorted (keys, with their sample in items), the
// prefix sums of the keys (prefix) and the coverage differences of the kept ranges (cover).
template <class T>
void triplet_anchor(const detail::TripletJob<T>& job, std::size_t a, double* keys, double* items, double* prefix,
                    double* cover) {
  const std::size_t N = job.samples;
  const double* row = job.dist + a * N;
  double* coef = job.coef + a * N;
  const std::int64_t ya = job.labels[a];
  std::size_t m = 0, positives = 0;
  for (std::size_t j = 0; j < N; ++j) {
    coef[j] = 0.0;
    if (job.labels[j] != ya) keys[m] = row[j], items[m] = double(j), ++m;
    else positives += j != a;
  }
  // Few positives (the usual batch: many classes): a vectorized scan of the negatives per
  // positive costs less than sorting them (about 30 m log2 m operations against positives m / 4).
  std::size_t log2m = 1;
  while ((std::size_t(1) << log2m) < m + 2) ++log2m;
  if (positives <= 32 * log2m) {
    triplet_anchor_scan(job, a, keys, items, m, cover);
    return;
  }
  sort_with_items(keys, items, m);
  prefix[0] = 0.0;
  for (std::size_t k = 0; k < m; ++k) prefix[k + 1] = prefix[k] + keys[k], cover[k] = 0.0;
  cover[m] = 0.0;
  const double margin = job.margin;
  double total = 0.0, kept = 0.0, positive = 0.0;
  for (std::size_t p = 0; p < N; ++p) {
    if (p == a || job.labels[p] != ya) continue;
    const double dp = row[p];
    if (job.mining == detail::kMineSemihardTfa) {
      // TF-Addons: the nearest negative farther than the positive, else the farthest; with no
      // negative at all, the anchor itself at distance 0 (its masked maximum over nothing).
      const std::size_t k = upper_bound_of(keys, m, dp);
      const std::size_t n = k < m ? k : m - 1;  // m = 0: no negative
      const double dn = m > 0 ? keys[n] : 0.0;
      const double l = margin + dp - dn;
      kept += 1.0;
      if (l > 0.0) {
        total += l, positive += 1.0;
        coef[p] += 1.0;
        if (m > 0) coef[std::size_t(items[n])] -= 1.0;
      }
      continue;
    }
    // pytorch-metric-learning's TripletMarginMiner keeps the negatives with d_an - d_ap <= margin
    // (all), <= 0 (hard), in (0, margin] (semihard): a range [lo, hi) of the sorted keys, of
    // which [lo, active) have a positive loss d_ap + margin - d_an.
    const std::size_t lo = job.mining == detail::kMineSemihard ? upper_bound_of(keys, m, dp) : 0;
    const std::size_t hi = upper_bound_of(keys, m, job.mining == detail::kMineHard ? dp : dp + margin);
    if (hi <= lo) continue;
    std::size_t active = lower_bound_of(keys, m, dp + margin);
    active = active < lo ? lo : (active > hi ? hi : active);
    kept += double(hi - lo);
    if (active == lo) continue;
    const double count = double(active - lo);
    total += count * (dp + margin) - (prefix[active] - prefix[lo]);
    positive += count;
    coef[p] += count;
    cover[lo] += 1.0;
    cover[active] -= 1.0;
  }
  if (job.mining != detail::kMineSemihardTfa) {
    double running = 0.0;
    for (std::size_t k = 0; k < m; ++k) {
      running += cover[k];
      coef[std::size_t(items[k])] -= running;
    }
  }
  job.stats[3 * a] = total, job.stats[3 * a + 1] = kept, job.stats[3 * a + 2] = positive;
}

// The gradient: per block of rows, S's rows (the symmetrised coefficients times the distance's
// slope) into `matrix`, then S x (la::gemm) and the diagonal term.
template <class T>
void triplet_grad(const detail::TripletJob<T>& job) {
  const std::size_t N = job.samples, D = job.features, tile = detail::kPairTile;
  const std::size_t blocks = (N + tile - 1) / tile;
  const bool cosine = job.distance == detail::kTripletCosine;
  const int threads = job.threads > 1 && blocks > 1 ? job.threads : 1;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (std::ptrdiff_t I = 0; I < std::ptrdiff_t(blocks); ++I) {
    const std::size_t r0 = std::size_t(I) * tile, nr = least(tile, N - r0);
    double rowsum[detail::kPairTile];
    for (std::size_t i = 0; i < nr; ++i) {
      const std::size_t k = r0 + i;
      const double wk = job.anchor_weight[k];
      const double* dk = job.dist + k * N;
      T* s = job.matrix + k * N;
      double sum = 0.0;
      for (std::size_t j = 0; j < N; ++j) {
        double c = wk * job.coef[k * N + j] + job.anchor_weight[j] * job.coef[j * N + k];
        if (job.distance == detail::kTripletEuclidean) c = dk[j] > 0.0 ? c / dk[j] : 0.0;
        else if (job.distance == detail::kTripletSquared) c *= 2.0;
        else c = -c;
        s[j] = T(c);
        sum += double(s[j]);
      }
      rowsum[i] = sum;
    }
    const la::MatrixView<T> sv{job.matrix + r0 * N, nr, N, std::ptrdiff_t(N), la::Layout::row_major};
    const la::MatrixView<T> xv{job.x, N, D, std::ptrdiff_t(D), la::Layout::row_major};
    T* g = job.grad + r0 * D;
    la::gemm(T(1), sv, xv, false, g, std::ptrdiff_t(D));
    if (cosine) continue;  // the gradient w.r.t. the unit rows: S x itself
    for (std::size_t i = 0; i < nr; ++i) {
      const T* x = job.x + (r0 + i) * D;
      T* gi = g + i * D;
      const double sum = rowsum[i];
#pragma omp simd
      for (std::size_t d = 0; d < D; ++d) gi[d] = T(sum * double(x[d]) - double(gi[d]));
    }
  }
}

template <class T>
void triplet_kernel(const detail::TripletJob<T>& job) {
  if (job.pass == detail::kTripletDistances) return triplet_distances(job);
  if (job.pass == detail::kTripletGrad) return triplet_grad(job);
  const std::size_t N = job.samples;
  for_each_item(1, N, 1, job.threads, [&](std::size_t, const PixelRange& range, int worker) {
    double* base = job.scratch + std::size_t(worker) * 4 * N;
    for (std::size_t a = range.first; a < range.last; ++a)
      triplet_anchor(job, a, base, base + N, base + 2 * N, base + 3 * N);
  });
}

}  // namespace

void fill_metric(detail::KernelTable& table) {
  table.pair_f32 = pair_kernel<float>;
  table.pair_f64 = pair_kernel<double>;
  table.center_f32 = center_kernel<float>;
  table.center_f64 = center_kernel<double>;
  table.unit_rows_f32 = unit_rows_kernel<float>;
  table.unit_rows_f64 = unit_rows_kernel<double>;
  table.margin_f32 = margin_kernel<float>;
  table.margin_f64 = margin_kernel<double>;
  table.info_nce_f32 = info_nce_kernel<float>;
  table.info_nce_f64 = info_nce_kernel<double>;
  table.triplet_f32 = triplet_kernel<float>;
  table.triplet_f64 = triplet_kernel<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
