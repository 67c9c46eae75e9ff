// Image losses (SPEC §2 H), the band shape: SSIM and total variation over bands of rows of each
// image plane, value and gradient in one pass. Compiled once per ISA; the arithmetic is in
// double (GCC's vector extensions, the ISA's register width) for float32 images too, but for
// total variation's float32 rows.
//
// SSIM, per band (formula in lossfn/image.hpp; the fused-SSIM structure of a horizontal pass, a
// vertical pass and their adjoints): each input row is filtered horizontally into its five
// moments (x, y, x^2, y^2, xy), kept in a ring of win rows; a map row's moments are the
// vertical filter of win ring rows, from which come S and, with a gradient, the coefficients
//   a_x = g dS/dmu_x,  a_y = g dS/dmu_y,  b = g dS/d(w * x^2) = g dS/d(w * y^2),  c = g dS/d(w * xy)
// (the total derivatives through the variances, g the image's term scale), kept in a second
// ring. An input row's gradient is then the adjoint filter (the full correlation with the same
// taps) of win coefficient rows:
//   grad_x = w' * a_x + 2 x (w' * b) + y (w' * c),   grad_y = w' * a_y + 2 y (w' * b) + x (w' * c).
// MS-SSIM runs the same kernel once per level of its pyramid: the contrast-structure map alone
// below the last level, its gradient (of the planes' sums) into a level's own planes of doubles,
// which the call combines after.
// Total variation, per row of a band: each pixel's differences with its right and lower neighbours,
// their absolute values (or the norm of the pair) and, for the gradient, the derivatives of its
// own, its left and its upper neighbour's terms, from the three rows around it.
// Perceptual losses, per layer (FeatureJob in dispatch/kernel_abi.hpp): the features' squared
// differences over items of rows (the segment shape), or per image the two Gram matrices and the
// gradient's product through the GEMM engine (la/gemm.hpp; the pairwise shape).
#include <cstddef>
#include <cstdint>

#include "dispatch/kernel_abi.hpp"
#include "kernels/band_loop.hpp"
#include "kernels/simd_math.hpp"
#include "kernels/stream_store.hpp"
#include "la/gemm.hpp"

namespace lossfn {
namespace LOSSFN_ISA {
namespace {

using detail::band_padded;
using detail::BandJob;
using detail::FeatureJob;
using detail::kBandLanes;

#pragma GCC diagnostic ignored "-Wpsabi"
// Vectors of the ISA's register width (kRegisterDoubles); rows are padded to kBandLanes, a
// multiple of every kLanes.
constexpr std::size_t kLanes = kRegisterDoubles;
static_assert(kBandLanes % kLanes == 0, "rows are padded to whole vectors");
using Lanes = double __attribute__((vector_size(kLanes * sizeof(double))));

LOSSFN_INLINE Lanes load(const double* p) {
  Lanes v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
LOSSFN_INLINE void store(double* p, Lanes v) { __builtin_memcpy(p, &v, sizeof v); }
LOSSFN_INLINE Lanes splat(double v) { return Lanes{} + v; }
LOSSFN_INLINE Lanes lane_sqrt(Lanes v) {
  for (std::size_t l = 0; l < kLanes; ++l) v[l] = __builtin_sqrt(v[l]);
  return v;
}
// The lanes added in order.
LOSSFN_INLINE double lane_sum(Lanes v) {
  double s = 0.0;
  for (std::size_t l = 0; l < kLanes; ++l) s += v[l];
  return s;
}

// ---------------------------------------------------------------------------------------------
// SSIM
// ---------------------------------------------------------------------------------------------
enum Moment { kMx, kMy, kExx, kEyy, kExy, kMoments };
enum Coefficient { kAx, kB, kC, kAy, kCoefficients };

// The SSIM loops step over blocks of kBandLanes columns, kBlock vectors: a vector's win-tap sum
// alone is a chain of win dependent multiply-adds (latency-bound); kBlock of them interleave.
constexpr std::size_t kBlock = kBandLanes / kLanes;
struct Block {
  Lanes v[kBlock];
};
#define LOSSFN_BLOCK_OPERATOR(op)                                                  \
  LOSSFN_INLINE Block operator op(const Block& a, const Block& b) {                \
    Block r;                                                                       \
    for (std::size_t q = 0; q < kBlock; ++q) r.v[q] = a.v[q] op b.v[q];            \
    return r;                                                                      \
  }
LOSSFN_BLOCK_OPERATOR(+)
LOSSFN_BLOCK_OPERATOR(-)
LOSSFN_BLOCK_OPERATOR(*)
LOSSFN_BLOCK_OPERATOR(/)
#undef LOSSFN_BLOCK_OPERATOR
LOSSFN_INLINE Block operator-(const Block& a) { return Block{} - a; }
LOSSFN_INLINE Block& operator+=(Block& a, const Block& b) { return a = a + b; }
LOSSFN_INLINE Block block_at(const double* p) {
  Block b;
  for (std::size_t q = 0; q < kBlock; ++q) b.v[q] = load(p + q * kLanes);
  return b;
}
LOSSFN_INLINE void put(double* p, const Block& b) {
  for (std::size_t q = 0; q < kBlock; ++q) store(p + q * kLanes, b.v[q]);
}
LOSSFN_INLINE Block fill(double v) {
  Block b;
  for (std::size_t q = 0; q < kBlock; ++q) b.v[q] = splat(v);
  return b;
}
LOSSFN_INLINE Block nonnegative(const Block& a) {  // a variance below 0 by rounding counts as 0
  Block r;
  for (std::size_t q = 0; q < kBlock; ++q) r.v[q] = a.v[q] > Lanes{} ? a.v[q] : Lanes{};
  return r;
}
// 1.0 in the columns j .. j + kBandLanes - 1 below `width`, 0.0 beyond.
LOSSFN_INLINE Block valid_columns(std::size_t j, std::size_t width) {
  Block b;
  for (std::size_t q = 0; q < kBlock; ++q)
    for (std::size_t l = 0; l < kLanes; ++l) b.v[q][l] = j + q * kLanes + l < width ? 1.0 : 0.0;
  return b;
}
LOSSFN_INLINE double block_sum(const Block& b) {  // the columns added in order
  double s = 0.0;
  for (std::size_t q = 0; q < kBlock; ++q) s += lane_sum(b.v[q]);
  return s;
}

// The band of one plane. kWin: the window's taps at compile time (the common sizes, whose tap
// loops unroll), or 0 for job.win.
template <class T, std::size_t kWin>
struct SsimBand {
  const BandJob<T>& job;
  std::size_t W, Wo, Ho, win, row;
  PlaneRows<const T> x, y;
  PlaneRows<T> gx, gy;
  std::size_t plane;
  double g;  // the plane's term scale
  double *xr, *yr, *out, *hring, *cring, *adj;

  std::size_t taps() const { return kWin ? kWin : win; }
  // The rings hold their rows block-interleaved: a row's kMoments (or maps()) values of a block
  // of columns are adjacent, so that a vertical sum reads win streams, not win * kMoments (too
  // many for the hardware prefetchers: the sums waited on the L2 cache). Column block j (a
  // multiple of kBandLanes) of moment m of ring slot s: hring + s * kMoments * row + j * kMoments
  // + m * kBandLanes; likewise the coefficients with maps() for kMoments.
  bool with_y() const { return gy.base || job.plane_grad_y; }  // the gradient w.r.t. y too
  std::size_t maps() const { return with_y() ? 4 : 3; }
  double* moments(std::size_t r) const { return hring + (r % win) * kMoments * row; }
  double* coefficients(std::size_t i) const { return cring + (i % win) * kCoefficients * row; }
  // Slot t of a ring whose first row is in slot `first` (t < win).
  std::size_t slot(std::size_t first, std::size_t t) const { return first + t < win ? first + t : first + t - win; }

  // Input row r filtered horizontally: its five moments at the Wo (padded) valid columns.
  void filter_row(std::size_t r) const {
    load_row(x, r, W, row, xr);
    load_row(y, r, W, row, yr);
    const double* w = job.window;
    double* h = moments(r);
    for (std::size_t j = 0; j < Wo; j += kBandLanes) {
      Block sx{}, sy{}, sxx{}, syy{}, sxy{};
      for (std::size_t k = 0; k < taps(); ++k) {
        const Block a = block_at(xr + j + k), b = block_at(yr + j + k), wk = fill(w[k]);
        const Block wa = wk * a, wb = wk * b;
        sx += wa, sy += wb, sxx += wa * a, syy += wb * b, sxy += wa * b;
      }
      double* block = h + j * kMoments;
      put(block + kMx * kBandLanes, sx), put(block + kMy * kBandLanes, sy), put(block + kExx * kBandLanes, sxx);
      put(block + kEyy * kBandLanes, syy), put(block + kExy * kBandLanes, sxy);
    }
  }

  // Map row i: the sum of its S and, with a gradient, its coefficient rows. Without the
  // luminance term (MS-SSIM's lower levels) S is cs = a2 / b2: a1 = b1 = 1 and mu_x, mu_y enter
  // through the variances alone.
  double map_row(std::size_t i, bool gradient) const {
    return job.contrast_only ? map_row<false>(i, gradient) : map_row<true>(i, gradient);
  }
  template <bool kLuminance>
  double map_row(std::size_t i, bool gradient) const {
    const double* w = job.window;
    const Block c1 = fill(job.c1), c2 = fill(job.c2), k = fill(job.cov_norm);
    const Block g = fill(this->g), two = fill(2.0), one = fill(1.0);
    Block total{};
    const std::size_t first = i % win;  // the ring slot of input row i
    for (std::size_t j = 0; j < Wo; j += kBandLanes) {
      Block mx{}, my{}, exx{}, eyy{}, exy{};
      for (std::size_t t = 0; t < taps(); ++t) {
        const Block wt = fill(w[t]);
        const double* m = hring + slot(first, t) * kMoments * row + j * kMoments;  // input row i + t
        mx += wt * block_at(m + kMx * kBandLanes), my += wt * block_at(m + kMy * kBandLanes);
        exx += wt * block_at(m + kExx * kBandLanes), eyy += wt * block_at(m + kEyy * kBandLanes);
        exy += wt * block_at(m + kExy * kBandLanes);
      }
      const Block sxx = nonnegative(k * (exx - mx * mx)), syy = nonnegative(k * (eyy - my * my));
      const Block sxy = k * (exy - mx * my);
      const Block a1 = kLuminance ? two * mx * my + c1 : one;
      const Block a2 = two * sxy + c2, b2 = sxx + syy + c2;
      const Block b1 = kLuminance ? mx * mx + my * my + c1 : one;
      // One division for both denominators: d = 1 / (b1 b2), 1 / b1 = b2 d, 1 / b2 = b1 d.
      const Block d = one / (b1 * b2), inv_b1 = b2 * d, inv_b2 = b1 * d;
      const Block s = a1 * a2 * d;
      const Block valid = j + kBandLanes <= Wo ? one : valid_columns(j, Wo);
      total += s * valid;
      if (!gradient) continue;
      const Block gv = g * valid;
      const Block b = gv * k * (-s * inv_b2);   // dS/dsigma_x^2 through w * x^2
      const Block c = gv * k * (two * a1 * d);  // dS/dsigma_xy through w * xy
      Block ax = -two * mx * b - my * c, ay = -two * my * b - mx * c;
      if (kLuminance) {
        ax += gv * (two * my * a2 * d - two * s * mx * inv_b1);
        ay += gv * (two * mx * a2 * d - two * s * my * inv_b1);
      }
      double* block = coefficients(i) + j * maps();
      put(block + kAx * kBandLanes, ax), put(block + kB * kBandLanes, b), put(block + kC * kBandLanes, c);
      if (with_y()) put(block + kAy * kBandLanes, ay);
    }
    return block_sum(total);
  }

  // The vertical adjoint of the coefficient rows [first, last] into adj (zero-padded rows of
  // `maps` sums, each shifted by win - 1 columns for the horizontal adjoint's reach); kFull: the
  // win rows of an input row away from the plane's edges.
  template <bool kFull, std::size_t kMaps>
  void vertical_adjoint(std::size_t r, std::size_t first, std::size_t last) const {
    const std::size_t pad = win - 1, count = kFull ? taps() : last - first + 1;
    const std::size_t first_slot = first % win;
    const double* wr = job.window + (r - first);  // wr[-t]: the tap of map row first + t
    for (std::size_t m = 0; m < kMaps; ++m) {
      double* v = adj + m * row;
      for (std::size_t j = 0; j < pad; ++j) v[j] = 0.0;
    }
    for (std::size_t j = 0; j < Wo; j += kBandLanes) {
      Block sum[kMaps] = {};
      for (std::size_t t = 0; t < count; ++t) {
        const Block wt = fill(*(wr - std::ptrdiff_t(t)));
        const double* c = cring + slot(first_slot, t) * kCoefficients * row + j * kMaps;  // map row first + t
        for (std::size_t m = 0; m < kMaps; ++m) sum[m] += wt * block_at(c + m * kBandLanes);
      }
      for (std::size_t m = 0; m < kMaps; ++m) put(adj + m * row + pad + j, sum[m]);
    }
    for (std::size_t m = 0; m < kMaps; ++m)
      for (std::size_t j = pad + band_padded(Wo); j < row; ++j) adj[m * row + j] = 0.0;
  }

  // Input row r's gradient from the coefficient rows [first, last] (those of the map rows that
  // read it, all in the ring; none when first > last).
  void grad_row(std::size_t r, std::size_t first, std::size_t last) const {
    const bool full = last + 1 - first == taps();
    if (with_y()) full ? vertical_adjoint<true, 4>(r, first, last) : vertical_adjoint<false, 4>(r, first, last);
    else full ? vertical_adjoint<true, 3>(r, first, last) : vertical_adjoint<false, 3>(r, first, last);
    const std::size_t pad = win - 1;
    const double* w = job.window;
    const Block two = fill(2.0);
    load_row(x, r, W, row, xr);
    load_row(y, r, W, row, yr);
    const double *va = adj, *vb = adj + row, *vc = adj + 2 * row, *vay = adj + 3 * row;
    for (int side = 0; side < (with_y() ? 2 : 1); ++side) {
      const double* own = side == 0 ? xr : yr;
      const double* other = side == 0 ? yr : xr;
      const double* a = side == 0 ? va : vay;
      for (std::size_t j = 0; j < W; j += kBandLanes) {
        Block fa{}, fb{}, fc{};
        for (std::size_t t = 0; t < taps(); ++t) {
          const Block wt = fill(w[t]);
          const std::size_t at = j + pad - t;
          fa += wt * block_at(a + at), fb += wt * block_at(vb + at), fc += wt * block_at(vc + at);
        }
        put(out + j, fa + two * block_at(own + j) * fb + block_at(other + j) * fc);
      }
      if (double* planes = side == 0 ? job.plane_grad : job.plane_grad_y) {
        __builtin_memcpy(planes + (plane * job.height + r) * W, out, W * sizeof(double));
      } else {
        store_row(side == 0 ? gx : gy, r, W, out);
      }
    }
  }
};

template <class T, std::size_t kWin>
void ssim_item(const BandJob<T>& job, std::size_t plane, std::size_t band, double* scratch) {
  const std::size_t H = job.height, W = job.width, win = job.win;
  const std::size_t row = detail::ssim_row(W, win);
  const std::size_t r0 = band * job.band_rows, r1 = r0 + job.band_rows < H ? r0 + job.band_rows : H;
  const bool gradient = job.grad != nullptr || job.plane_grad != nullptr;
  SsimBand<T, kWin> s{job,
                      W,
                      W - win + 1,
                      H - win + 1,
                      win,
                      row,
                      plane_rows(job.x, job.x_stride, job.channels, plane),
                      plane_rows(job.y, job.y_stride, job.channels, plane),
                      job.grad ? plane_rows(job.grad, job.grad_stride, job.channels, plane) : PlaneRows<T>{nullptr, 0, 0},
                      job.grad_y ? plane_rows(job.grad_y, job.grad_stride, job.channels, plane) : PlaneRows<T>{nullptr, 0, 0},
                      plane,
                      gradient ? job.term_scale[plane] : 0.0,
                      scratch,
                      scratch + row,
                      scratch + 2 * row,
                      scratch + 3 * row,
                      scratch + (3 + kMoments * win) * row,
                      scratch + (3 + (kMoments + kCoefficients) * win) * row};
  // Map rows [lo, hi): the band's own (r0 .. r1) and, for the gradient, the win - 1 before.
  const std::size_t lo = gradient ? (r0 >= win - 1 ? r0 - (win - 1) : 0) : r0;
  const std::size_t hi = r1 < s.Ho ? r1 : s.Ho;
  double total = 0.0;
  std::size_t filtered = lo;
  for (std::size_t i = lo; i < hi; ++i) {
    for (; filtered < i + win; ++filtered) s.filter_row(filtered);
    const double row_sum = s.map_row(i, gradient);
    if (i >= r0) total += row_sum;
    if (gradient && i >= r0) s.grad_row(i, i >= win - 1 ? i - (win - 1) : 0, i);
  }
  // Rows past the band's last map row read the map rows before it only (none: a zero row).
  if (gradient)
    for (std::size_t r = hi > r0 ? hi : r0; r < r1; ++r) s.grad_row(r, r >= win - 1 ? r - (win - 1) : 0, hi - 1);
  job.item_value[plane * ((H + job.band_rows - 1) / job.band_rows) + band] = total;
}

template <class T>
void ssim_kernel(const BandJob<T>& job) {
  const std::size_t bands = (job.height + job.band_rows - 1) / job.band_rows;
  auto item = job.win == 11 ? ssim_item<T, 11> : job.win == 7 ? ssim_item<T, 7> : ssim_item<T, 0>;
  for_each_band(job.batch * job.channels, bands, job.threads, [&](std::size_t plane, std::size_t band, int worker) {
    item(job, plane, band, job.scratch + std::size_t(worker) * job.scratch_doubles);
  });
}

// ---------------------------------------------------------------------------------------------
// Total variation
// ---------------------------------------------------------------------------------------------
// Pixel (r, j)'s differences dh = x[r][j + 1] - x[r][j] (0 at the last column) and
// dv = x[r + 1][j] - x[r][j] (0 on the last row), its term |dh| + |dv| (or n = sqrt(dh^2 + dv^2))
// and their derivatives uh, uv (signs, or dh / n, dv / n). The gradient at (r, j) is
//   uh(r, j - 1) - uh(r, j) + uv(r - 1, j) - uv(r, j),
// each pixel's from the three rows around it, read once into L1: the vector body recomputes the
// left and upper neighbours' derivatives instead of keeping rows of them.
LOSSFN_INLINE Lanes sign_of(Lanes d) {  // blends: AVX2 has no int64-to-double conversion
  const Lanes zero{}, one = splat(1.0);
  return (d > zero ? one : zero) - (d < zero ? one : zero);
}
LOSSFN_INLINE double sign_of(double d) { return double(d > 0.0) - double(d < 0.0); }

template <class V>
LOSSFN_INLINE V tv_term(V dh, V dv, bool isotropic, V& uh, V& uv) {
  if (isotropic) {
    V n, inv;
    if constexpr (sizeof(V) == sizeof(double)) {
      n = __builtin_sqrt(dh * dh + dv * dv);
      inv = n > 0.0 ? 1.0 / n : 0.0;
    } else {
      const V zero{};
      n = lane_sqrt(dh * dh + dv * dv);
      inv = n > zero ? 1.0 / n : zero;
    }
    uh = dh * inv, uv = dv * inv;
    return n;
  }
  uh = sign_of(dh), uv = sign_of(dv);
  return (dh > 0 ? dh : -dh) + (dv > 0 ? dv : -dv);
}

LOSSFN_INLINE Lanes lanes_at(const float* p) {
  float __attribute__((vector_size(kLanes * sizeof(float)))) v;
  __builtin_memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, Lanes);
}
LOSSFN_INLINE Lanes lanes_at(const double* p) { return load(p); }

// Anisotropic double rows (float rows: tv_row_float) are plain loops the compiler vectorizes for
// each ISA: the terms |dh| + |dv| into a row, added in the double lanes; the gradient, a small
// integer per pixel (the signs come from comparisons) times the scale, rounded once into the
// gradient's row.
template <class T>
LOSSFN_INLINE int sign_of_difference(T a, T b) {
  return int(a > b) - int(a < b);
}

template <class T>
void tv_row_anisotropic(const T* up, const T* cur, const T* down, std::size_t W, double* terms, T* grad, double g,
                        Lanes& total) {
  for (std::size_t j = 0; j + 1 < W; ++j)
    terms[j] = __builtin_fabs(double(cur[j + 1]) - double(cur[j])) + __builtin_fabs(double(down[j]) - double(cur[j]));
  terms[W - 1] = __builtin_fabs(double(down[W - 1]) - double(cur[W - 1]));
  for (std::size_t j = W; j < band_padded(W); ++j) terms[j] = 0.0;
  for (std::size_t j = 0; j < W; j += kLanes) total += load(terms + j);
  if (!grad) return;
  auto vertical = [&](std::size_t j) { return sign_of_difference(cur[j], up[j]) - sign_of_difference(down[j], cur[j]); };
  if (W == 1) {
    grad[0] = T(g * double(vertical(0)));
    return;
  }
  grad[0] = T(g * double(vertical(0) - sign_of_difference(cur[1], cur[0])));
  for (std::size_t j = 1; j + 1 < W; ++j)
    grad[j] = T(g * double(sign_of_difference(cur[j], cur[j - 1]) - sign_of_difference(cur[j + 1], cur[j]) +
                           sign_of_difference(cur[j], up[j]) - sign_of_difference(down[j], cur[j])));
  grad[W - 1] = T(g * double(vertical(W - 1) + sign_of_difference(cur[W - 1], cur[W - 2])));
}

// float rows (anisotropic): the differences in float, whose signs are exact (a - b is 0 only when
// a == b, with gradual underflow, and keeps its sign when it overflows) and whose absolute values,
// rounded once each, go into the double lanes; a row whose terms overflow (differences beyond
// the float range) is summed again from exact double differences. A pixel's gradient is the
// integer k = sign(dh left) - sign(dh) + sign(dv above) - sign(dv) times the scale, the signs
// of the row above kept in `sv_above` (this row's go to `sv`). Eight pixels per vector, half the
// work of the double rows.
constexpr std::size_t kFloatLanes = 8;
using Floats = float __attribute__((vector_size(kFloatLanes * sizeof(float))));
using Ints = int __attribute__((vector_size(8 * sizeof(int))));
// Four doubles, the terms of half a vector of Floats.
using HalfLanes = double __attribute__((vector_size(4 * sizeof(double))));

// The eight floats of t widened, lanes 0 .. 3 added to lo and 4 .. 7 to hi. With AVX, two
// conversions of a half each (GCC lowers the generic conversion to four of a quarter).
LOSSFN_INLINE void add_widened(Floats t, HalfLanes& lo, HalfLanes& hi) {
#if defined(__AVX__)
  __m256 v;
  __builtin_memcpy(&v, &t, sizeof v);
  const __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
  lo += (HalfLanes)a, hi += (HalfLanes)b;
#else
  lo += __builtin_convertvector(__builtin_shufflevector(t, t, 0, 1, 2, 3), HalfLanes);
  hi += __builtin_convertvector(__builtin_shufflevector(t, t, 4, 5, 6, 7), HalfLanes);
#endif
}

LOSSFN_INLINE Floats floats_at(const float* p) {
  Floats v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
LOSSFN_INLINE Ints ints_at(const int* p) {
  Ints v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
// -1, 0 or 1 per lane (a comparison's lanes are -1 where true).
LOSSFN_INLINE Ints sign_lanes(Floats d) { return (d < 0.0f) - (d > 0.0f); }
LOSSFN_INLINE Floats abs_lanes(Floats d) { return Floats(Ints(d) & 0x7fffffff); }
LOSSFN_INLINE int sign_int(float d) { return int(d > 0.0f) - int(d < 0.0f); }

template <bool kGradient>
void tv_row_float(const float* cur, const float* down, std::size_t W, const int* sv_above, int* sv, float* grad, double g,
                  double& edge_total) {
  // The vectors' terms in the lanes lo (0 .. 3) and hi (4 .. 7), the first and last pixels' in
  // `edge`; the row's sum goes to edge_total.
  HalfLanes lo{}, hi{};
  double edge = 0.0;
  auto pixel = [&](std::size_t j) {
    const float c = cur[j], dh = j + 1 < W ? cur[j + 1] - c : 0.0f, dv = down[j] - c;
    edge += double(__builtin_fabsf(dh) + __builtin_fabsf(dv));
    if (!kGradient) return;
    sv[j] = sign_int(dv);
    const int k = (j > 0 ? sign_int(c - cur[j - 1]) : 0) - sign_int(dh) + sv_above[j] - sv[j];
    grad[j] = float(g * double(k));
  };
  // The signs of dh one column to the left are the previous vector's, a lane later (column 0's
  // before the first vector). The gradient g k, k = -4 .. 4, is picked from its values rounded
  // once: a lane's k + 4 indexes the eight of k = -4 .. 3, k = 4 is blended in.
  Ints left_sh{};
  if (W > 1) left_sh[kFloatLanes - 1] = sign_int(cur[1] - cur[0]);
  Floats g_times{};
  for (std::size_t q = 0; q < kFloatLanes; ++q) g_times[q] = float(g * (double(q) - 4.0));
  const Floats g_times_4 = Floats{} + float(g * 4.0);
  std::size_t j = 0;
  if (W > 0) pixel(j++);
  for (; j + kFloatLanes < W; j += kFloatLanes) {  // columns j - 1 .. j + 8 exist
    const Floats c = floats_at(cur + j), dh = floats_at(cur + j + 1) - c, dv = floats_at(down + j) - c;
    const Floats t = abs_lanes(dh) + abs_lanes(dv);
    add_widened(t, lo, hi);
    if (!kGradient) continue;
    const Ints s_v = sign_lanes(dv), s_h = sign_lanes(dh);
    __builtin_memcpy(sv + j, &s_v, sizeof s_v);
    const Ints left = __builtin_shufflevector(left_sh, s_h, 7, 8, 9, 10, 11, 12, 13, 14);
    left_sh = s_h;
    const Ints k = left - s_h + ints_at(sv_above + j) - s_v;
    const Floats out = k == 4 ? g_times_4 : __builtin_shuffle(g_times, k + 4);
    __builtin_memcpy(grad + j, &out, sizeof out);
  }
  for (; j < W; ++j) pixel(j);
  const double sum = (((lo[0] + lo[1]) + (lo[2] + lo[3])) + ((hi[0] + hi[1]) + (hi[2] + hi[3]))) + edge;
  if (__builtin_isfinite(sum)) {
    edge_total += sum;
    return;
  }
  edge = 0.0;
  for (std::size_t i = 0; i < W; ++i) {
    const double c = cur[i];
    edge += __builtin_fabs(i + 1 < W ? double(cur[i + 1]) - c : 0.0) + __builtin_fabs(double(down[i]) - c);
  }
  edge_total += edge;
}

// Row r of width W in vectors of kLanes pixels (the isotropic form; the anisotropic one is
// tv_row_anisotropic), its rows above and below (the row itself where there is none: a zero
// difference); `total` gathers the row's terms, `out` gets the gradient (unscaled) when given.
template <class T>
void tv_row(const T* up, const T* cur, const T* down, std::size_t W, bool isotropic, double* out, Lanes& total,
            double& edge_total) {
  auto pixel = [&](std::size_t j) {  // one pixel, with the borders' zeros
    const double c = cur[j];
    double uh, uv, left_uh = 0.0, ignore = 0.0, up_uv;
    edge_total += tv_term(j + 1 < W ? double(cur[j + 1]) - c : 0.0, double(down[j]) - c, isotropic, uh, uv);
    if (j > 0) tv_term(c - double(cur[j - 1]), double(down[j - 1]) - double(cur[j - 1]), isotropic, left_uh, ignore);
    tv_term(j + 1 < W ? double(up[j + 1]) - double(up[j]) : 0.0, c - double(up[j]), isotropic, ignore, up_uv);
    if (out) out[j] = left_uh - uh + up_uv - uv;
  };
  std::size_t j = 0;
  if (W > 0) pixel(j++);
  for (; j + kLanes < W; j += kLanes) {  // columns j - 1 .. j + kLanes exist
    const Lanes c = lanes_at(cur + j), left = lanes_at(cur + j - 1), right = lanes_at(cur + j + 1);
    const Lanes below = lanes_at(down + j), above = lanes_at(up + j);
    Lanes uh, uv, left_uh, up_uv, ignore;
    total += tv_term(right - c, below - c, isotropic, uh, uv);
    if (!out) continue;
    tv_term(c - left, lanes_at(down + j - 1) - left, isotropic, left_uh, ignore);
    tv_term(lanes_at(up + j + 1) - above, c - above, isotropic, ignore, up_uv);
    store(out + j, left_uh - uh + up_uv - uv);
  }
  for (; j < W; ++j) pixel(j);
}

constexpr std::size_t kStreamChunk = 1024;  // elements per streamed piece of a gradient row

template <class T>
void tv_item(const BandJob<T>& job, std::size_t plane, std::size_t band, double* scratch) {
  const std::size_t H = job.height, W = job.width;
  const std::size_t r0 = band * job.band_rows, r1 = r0 + job.band_rows < H ? r0 + job.band_rows : H;
  const PlaneRows<const T> x = plane_rows(job.x, job.x_stride, job.channels, plane);
  const bool gradient = job.grad != nullptr;
  const PlaneRows<T> grad = gradient ? plane_rows(job.grad, job.grad_stride, job.channels, plane) : PlaneRows<T>{};
  const double g = gradient ? job.term_scale[plane] : 0.0;
  // Rows of a strided plane are gathered into a ring of three (as T, so that the arithmetic is
  // that of a contiguous one); the gradient row is formed in double, then scaled and stored.
  const std::size_t row = band_padded(W + kBandLanes);
  T* ring = reinterpret_cast<T*>(scratch);
  double* out = scratch + 3 * row;
  double* terms = scratch + 4 * row;
  auto read = [&](std::size_t r) -> const T* {
    if (x.step == 1) return x.row(r);
    T* dst = ring + (r % 3) * row;
    const T* src = x.row(r);
    for (std::size_t j = 0; j < W; ++j) dst[j] = src[std::ptrdiff_t(j) * x.step];
    return dst;
  };
  // A gradient larger than the caches goes out with streaming stores (no read of its lines
  // first), a row at a time; the input rows of a plane in memory are prefetched a row ahead.
  const bool stream = gradient && grad.step == 1 && !job.isotropic &&
                      job.batch * job.channels * H * W * sizeof(T) >= kStreamOutputBytes;
  const bool prefetch = x.step == 1 && job.batch * job.channels * H * W * sizeof(T) >= kStreamOutputBytes;
  StreamedOutput<T, kStreamChunk> streamed;
  Lanes total{};
  double edge_total = 0.0;
  // float rows: the signs of two rows' vertical differences, in the terms row.
  const std::size_t ints_per_row = row * sizeof(double) / sizeof(int) / 2;
  int* sv_above = reinterpret_cast<int*>(terms);
  int* sv = sv_above + ints_per_row;
  const T* cur = read(r0);
  const T* up = r0 > 0 ? read(r0 - 1) : cur;
  for (std::size_t r = r0; r < r1; ++r) {
    const T* down = r + 1 < H ? read(r + 1) : cur;
    if (prefetch && r + 2 < H)  // the row after next, while this one is worked on
      for (std::size_t b = 0; b < W * sizeof(T); b += 64) __builtin_prefetch(reinterpret_cast<const char*>(x.row(r + 2)) + b);
    if (!job.isotropic) {
      // The gradient straight into its row; through a row of T when strided or streamed.
      const bool direct = grad.step == 1 && !stream;
      T* row_out = !gradient ? nullptr : direct ? grad.row(r) : reinterpret_cast<T*>(out);
      if constexpr (sizeof(T) == sizeof(float)) {
        if (r == r0 && gradient)  // the signs of the vertical differences of the row above
          for (std::size_t j = 0; j < W; ++j) sv_above[j] = sign_int(cur[j] - up[j]);
        if (gradient) tv_row_float<true>(cur, down, W, sv_above, sv, row_out, g, edge_total);
        else tv_row_float<false>(cur, down, W, sv_above, sv, row_out, g, edge_total);
        int* swap = sv_above;
        sv_above = sv, sv = swap;
      } else {
        tv_row_anisotropic(up, cur, down, W, terms, row_out, g, total);
      }
      if (gradient && stream) {
        // Rows that abut (a C-contiguous plane) are one stream over the band: no partial cache
        // line at each row's ends.
        const bool abutting = grad.row_stride == std::ptrdiff_t(W);
        if (r == r0 || !abutting) streamed.begin(grad.row(r));
        for (std::size_t k = 0; k < W; k += kStreamChunk) {
          const std::size_t n = W - k < kStreamChunk ? W - k : kStreamChunk;
          __builtin_memcpy(streamed.slot(), row_out + k, n * sizeof(T));
          streamed.put(n);
        }
        if (r + 1 == r1 || !abutting) streamed.finish();
      } else if (gradient && !direct) {
        for (std::size_t j = 0; j < W; ++j) grad.row(r)[std::ptrdiff_t(j) * grad.step] = row_out[j];
      }
    } else {
      tv_row(up, cur, down, W, true, gradient ? out : nullptr, total, edge_total);
      if (gradient) {
        for (std::size_t j = 0; j < W; ++j) out[j] *= g;
        store_row(grad, r, W, out);
      }
    }
    up = cur, cur = down;
  }
  if (stream) stream_fence();
  job.item_value[plane * ((H + job.band_rows - 1) / job.band_rows) + band] = lane_sum(total) + edge_total;
}

template <class T>
void tv_kernel(const BandJob<T>& job) {
  const std::size_t bands = (job.height + job.band_rows - 1) / job.band_rows;
  for_each_band(job.batch * job.channels, bands, job.threads, [&](std::size_t plane, std::size_t band, int worker) {
    tv_item(job, plane, band, job.scratch + std::size_t(worker) * job.scratch_doubles);
  });
}

// ---------------------------------------------------------------------------------------------
// Perceptual losses
// ---------------------------------------------------------------------------------------------
// sum_j (x_j - y_j)^2 over a row of W features in double; with g, g_j = scale (x_j - y_j).
template <class T, bool Gradient>
double squared_difference_row(const T* x, std::ptrdiff_t sx, const T* y, std::ptrdiff_t sy, T* g, std::ptrdiff_t sg,
                              std::size_t W, double scale) {
  double acc = 0.0;
  if (sx == 1 && sy == 1 && (!Gradient || sg == 1)) {
#pragma omp simd reduction(+ : acc)
    for (std::size_t j = 0; j < W; ++j) {
      const double d = double(x[j]) - double(y[j]);
      acc += d * d;
      if (Gradient) g[j] = T(scale * d);
    }
    return acc;
  }
  for (std::size_t j = 0; j < W; ++j) {
    const std::ptrdiff_t jj = std::ptrdiff_t(j);
    const double d = double(x[jj * sx]) - double(y[jj * sy]);
    acc += d * d;
    if (Gradient) g[jj * sg] = T(scale * d);
  }
  return acc;
}

template <class T>
void feature_kernel(const FeatureJob<T>& job) {
  const std::size_t H = job.height, W = job.width, rows = job.channels * H;
  const std::size_t item_rows = detail::rows_per_item(W), per = items_per_sample(rows, item_rows);
  const std::ptrdiff_t *xs = job.x_stride, *ys = job.y_stride, *gs = job.grad_stride;
  for_each_item(job.batch, rows, item_rows, job.threads, [&](std::size_t k, const PixelRange& r, int) {
    const std::ptrdiff_t n = std::ptrdiff_t(r.sample);
    const double scale = job.grad ? 2.0 * job.grad_scale[r.sample] : 0.0;
    double total = 0.0;
    for (std::size_t row = r.first; row < r.last; ++row) {
      const std::ptrdiff_t c = std::ptrdiff_t(row / H), i = std::ptrdiff_t(row % H);
      const T* x = job.x + n * xs[0] + c * xs[1] + i * xs[2];
      const T* y = job.y + n * ys[0] + c * ys[1] + i * ys[2];
      if (job.grad)
        total += squared_difference_row<T, true>(x, xs[3], y, ys[3], job.grad + n * gs[0] + c * gs[1] + i * gs[2],
                                                 gs[3], W, scale);
      else
        total += squared_difference_row<T, false>(x, xs[3], y, ys[3], nullptr, 0, W, 0.0);
    }
    job.partials[k] = total;
  });
  for (std::size_t n = 0; n < job.batch; ++n) {
    double sum = 0.0;
    for (std::size_t k = 0; k < per; ++k) sum += job.partials[n * per + k];
    job.image_value[n] = sum;
  }
}

// Image n's features as a channels x pixels matrix: in place, or packed into `pack`.
template <class T>
la::MatrixView<T> feature_matrix(const FeatureJob<T>& job, const T* data, const std::ptrdiff_t* s,
                                 const detail::FeatureMatrix& m, std::size_t n, T* pack) {
  const std::size_t C = job.channels, H = job.height, W = job.width, P = H * W;
  const T* base = data + std::ptrdiff_t(n) * s[0];
  if (m.layout == detail::kFeatureRowMajor) return {base, C, P, m.ld, la::Layout::row_major};
  if (m.layout == detail::kFeatureColMajor) return {base, C, P, m.ld, la::Layout::col_major};
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t i = 0; i < H; ++i) {
      const T* row = base + std::ptrdiff_t(c) * s[1] + std::ptrdiff_t(i) * s[2];
      T* out = pack + c * P + i * W;
      for (std::size_t j = 0; j < W; ++j) out[j] = row[std::ptrdiff_t(j) * s[3]];
    }
  return {pack, C, P, std::ptrdiff_t(P), la::Layout::row_major};
}

// One image of a Gram layer: G(x), G(y), D = G(x) - G(y), sum D^2 and the gradient 4 s D F(x).
template <class T>
void gram_item(const FeatureJob<T>& job, std::size_t n, T* scratch) {
  const std::size_t C = job.channels, P = job.height * job.width;
  T* gx = scratch;
  T* gy = gx + C * C;
  T* pack = gy + C * C;
  const la::MatrixView<T> fx = feature_matrix(job, job.x, job.x_stride, job.x_matrix, n, pack);
  if (job.x_matrix.layout == detail::kFeaturePacked) pack += C * P;
  const la::MatrixView<T> fy = feature_matrix(job, job.y, job.y_stride, job.y_matrix, n, pack);
  if (job.y_matrix.layout == detail::kFeaturePacked) pack += C * P;
  const T norm = T(job.gram_norm);
  la::gram(norm, fx, gx, std::ptrdiff_t(C));
  la::gram(norm, fy, gy, std::ptrdiff_t(C));
  double total = 0.0;
  for (std::size_t a = 0; a < C * C; ++a) {
    const double d = double(gx[a]) - double(gy[a]);
    total += d * d;
    gx[a] = T(d);
  }
  job.image_value[n] = total;
  if (!job.grad) return;
  const T alpha = T(4.0 * job.grad_scale[n] * job.gram_norm);
  const la::MatrixView<T> d{gx, C, C, std::ptrdiff_t(C), la::Layout::row_major};
  T* g = job.grad + std::ptrdiff_t(n) * job.grad_stride[0];
  if (job.grad_matrix.layout == detail::kFeatureRowMajor) {
    la::gemm(alpha, d, fx, false, g, job.grad_matrix.ld);
    return;
  }
  la::gemm(alpha, d, fx, false, pack, std::ptrdiff_t(P));
  const std::ptrdiff_t* s = job.grad_stride;
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t i = 0; i < job.height; ++i) {
      T* row = g + std::ptrdiff_t(c) * s[1] + std::ptrdiff_t(i) * s[2];
      const T* in = pack + c * P + i * job.width;
      for (std::size_t j = 0; j < job.width; ++j) row[std::ptrdiff_t(j) * s[3]] = in[j];
    }
}

template <class T>
void perceptual_kernel(const FeatureJob<T>& job) {
  if (!job.gram) return feature_kernel(job);
  for_each_item(job.batch, 1, 1, job.threads, [&](std::size_t, const PixelRange& r, int worker) {
    gram_item(job, r.sample, job.scratch + std::size_t(worker) * job.scratch_elements);
  });
}

}  // namespace

void fill_image(detail::KernelTable& table) {
  table.ssim_f32 = ssim_kernel<float>;
  table.ssim_f64 = ssim_kernel<double>;
  table.total_variation_f32 = tv_kernel<float>;
  table.total_variation_f64 = tv_kernel<double>;
  table.perceptual_f32 = perceptual_kernel<float>;
  table.perceptual_f64 = perceptual_kernel<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
