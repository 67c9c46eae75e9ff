// Metric-learning losses on given pairs and triplets, and the center loss (SPEC §2 F; formulas in
// lossfn/metric.hpp),
// the rows shape: per row, its sums over the features in double (one sweep over the row's
// inputs), the row's loss and coefficients (a few scalars), then its gradients in a second sweep
// over the same row, still in cache. Compiled once per ISA; rows in fixed items
// (pair_rows_per_item) over for_each_item, each item's losses added in row order.
//
// The gradients as combinations of the row's differences:
//   contrastive       u = a - b, d = |u|: dl/da = (y - (1 - y) max(0, m - d) / d) u = -dl/db
//   triplet           u = a - b + eps, v = a - c + eps (w = b - c + eps with swap), n(u) the gradient
//                     of ||u||_p: sign(u_i) |u_i|^(p-1) / ||u||^(p-1) (u / ||u|| for p = 2), and
//                     where the hinge is active dl/da = n(u) - n(v), dl/db = -n(u), dl/dc = n(v)
//                     (swapped: dl/da = n(u), dl/db = -n(u) - n(w), dl/dc = n(w))
//   cosine_embedding  A = |a|^2 + 1e-12, B = |b|^2 + 1e-12, r = 1 / sqrt(A B), cos = a.b r:
//                     dcos/da = r b - cos a / A, dcos/db = r a - cos b / B
#include <cmath>
#include <cstddef>

#include "dispatch/kernel_abi.hpp"
#include "kernels/segment_loop.hpp"
#include "kernels/simd_math.hpp"
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
  const std::size_t D = job.features, rows = detail::pair_rows_per_item(D);
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
  const std::size_t D = job.features, rows = detail::pair_rows_per_item(D);
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
  const std::size_t D = job.features, per = detail::center_classes_per_item(D);
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

}  // namespace

void fill_metric(detail::KernelTable& table) {
  table.pair_f32 = pair_kernel<float>;
  table.pair_f64 = pair_kernel<double>;
  table.center_f32 = center_kernel<float>;
  table.center_f64 = center_kernel<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
