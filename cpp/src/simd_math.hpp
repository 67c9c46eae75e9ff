// Branch-free elementary functions written so that the compiler vectorizes a loop that calls
// them (every special case is a select, no calls, no tables). Each kernel translation unit is
// compiled once per ISA and includes this file inside its own namespace lossfn::<isa>, so the
// AVX-512 copy of exp() and the baseline copy never share a symbol.
//
// Accuracy: exp, expm1, log, log1p within a few ulp over the whole range, with IEEE special
// values (exp(-inf) = 0, log(0) = -inf, log(<0) = nan, nan propagates).
#ifndef LOSSFN_ISA
#error "simd_math.hpp is included by per-ISA kernel files only"
#endif

#include <cstdint>

namespace lossfn {
namespace LOSSFN_ISA {
namespace math {

// Everything here is forced inline: a call left in a kernel loop stops its vectorization.
#define LOSSFN_INLINE inline __attribute__((always_inline))

template <class T> struct Bits;
template <> struct Bits<float> {
  using Int = std::int32_t;
  static constexpr int mantissa = 23;
  static constexpr Int bias = 127;
  static constexpr Int sqrt_half = 0x3f3504f3;  // bits of sqrt(0.5)
  static constexpr float min_normal = 1.17549435e-38f;
  static constexpr float subnormal_scale = 16777216.0f;  // 2^24
  static constexpr int subnormal_shift = 24;
  static constexpr float round_magic = 12582912.0f;  // 1.5 * 2^23: x + magic - magic rounds to int
  static constexpr float ln2_hi = 0.693359375f;       // ln 2 = ln2_hi + ln2_lo (Cephes split)
  static constexpr float ln2_lo = -2.12194440e-4f;
  static constexpr float exp_max = 88.7228394f;       // above: exp overflows
  static constexpr float exp_min = -103.972084f;      // below: exp underflows to 0
  static constexpr float expm1_min = -30.0f;          // below: expm1 == -1 to float precision
};
template <> struct Bits<double> {
  using Int = std::int64_t;
  static constexpr int mantissa = 52;
  static constexpr Int bias = 1023;
  static constexpr Int sqrt_half = 0x3fe6a09e667f3bcdLL;
  static constexpr double min_normal = 2.2250738585072014e-308;
  static constexpr double subnormal_scale = 18014398509481984.0;  // 2^54
  static constexpr int subnormal_shift = 54;
  static constexpr double round_magic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double ln2_hi = 6.93147180369123816490e-01;  // fdlibm split of ln 2
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr double exp_max = 709.782712893383973096;
  static constexpr double exp_min = -745.133219101941108420;
  static constexpr double expm1_min = -60.0;
};

// Builtins rather than std::numeric_limits: no out-of-line std:: function may be instantiated
// here (it would be compiled once per ISA under one symbol name).
template <class T> LOSSFN_INLINE T inf() { return T(__builtin_inf()); }
template <class T> LOSSFN_INLINE T nan() { return T(__builtin_nan("")); }

template <class T> LOSSFN_INLINE typename Bits<T>::Int to_bits(T x) {
  return __builtin_bit_cast(typename Bits<T>::Int, x);
}
template <class T> LOSSFN_INLINE T from_bits(typename Bits<T>::Int i) { return __builtin_bit_cast(T, i); }

template <class T> LOSSFN_INLINE T abs(T x) { return __builtin_fabs(x); }
// min/max return `a` when it is nan, so a nan input propagates through clamps (pass the data
// first, the bound second).
template <class T> LOSSFN_INLINE T min(T a, T b) { return b < a ? b : a; }
template <class T> LOSSFN_INLINE T max(T a, T b) { return b > a ? b : a; }
template <class T> LOSSFN_INLINE T sign(T x) { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0)); }
LOSSFN_INLINE float sqrt(float x) { return __builtin_sqrtf(x); }
LOSSFN_INLINE double sqrt(double x) { return __builtin_sqrt(x); }

// 2^k for an integer k inside the normal exponent range. Integer work stays in 32 bits where
// it can: AVX2 has no packed 64-bit conversions or arithmetic shifts.
template <class T> LOSSFN_INLINE T pow2i(std::int32_t k) {
  using I = typename Bits<T>::Int;
  return from_bits<T>(I(k + std::int32_t(Bits<T>::bias)) << Bits<T>::mantissa);
}

// e^r - 1 for |r| <= ln2/2 as r + r^2 P(r).
// float: P of degree 4 fitted (weighted least squares, Chebyshev nodes) for relative error,
// within 1 ulp for exp and expm1. double: Taylor to degree 13 (first omitted term < 2e-17).
LOSSFN_INLINE float expm1_poly(float r) {
  float p = 0.001385754905641079f;
  p = p * r + 0.008367348462343216f;
  p = p * r + 0.0416676327586174f;
  p = p * r + 0.16666537523269653f;
  p = p * r + 0.4999999701976776f;
  return r + r * r * p;
}
LOSSFN_INLINE double expm1_poly(double r) {
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  return r + r * r * p;
}

// x = k ln2 + r with |r| <= ln2/2 (Cody-Waite, ln 2 split in two so k*ln2_hi is exact).
template <class T> LOSSFN_INLINE T reduce_ln2(T x, T& k) {
  constexpr T log2e = T(1.44269504088896340736);
  k = (x * log2e + Bits<T>::round_magic) - Bits<T>::round_magic;
  return (x - k * Bits<T>::ln2_hi) - k * Bits<T>::ln2_lo;
}

// NonPositive: the caller guarantees x <= 0 (or nan), e.g. exp(-|x|); the overflow guard goes.
template <bool NonPositive, class T> LOSSFN_INLINE T exp_impl(T x) {
  T xc = max(x, Bits<T>::exp_min);
  if (!NonPositive) xc = min(xc, Bits<T>::exp_max);
  T k;
  const T r = reduce_ln2(xc, k);
  const T p = T(1) + expm1_poly(r);
  // 2^k in two factors so that subnormal results and k = max exponent + 1 stay exact.
  const std::int32_t ki = std::int32_t(k), k1 = ki >> 1;
  T y = p * pow2i<T>(k1) * pow2i<T>(ki - k1);
  if (!NonPositive) y = x > Bits<T>::exp_max ? inf<T>() : y;
  y = x < Bits<T>::exp_min ? T(0) : y;
  return x != x ? x : y;
}
template <class T> LOSSFN_INLINE T exp(T x) { return exp_impl<false>(x); }
template <class T> LOSSFN_INLINE T exp_nonpositive(T x) { return exp_impl<true>(x); }

// e^x - 1, accurate near 0 (no cancellation: for |x| <= ln2/2 the series is returned as is).
template <bool NonPositive, class T> LOSSFN_INLINE T expm1_impl(T x) {
  T xc = max(x, Bits<T>::expm1_min);
  if (!NonPositive) xc = min(xc, Bits<T>::exp_max);
  T k;
  const T r = reduce_ln2(xc, k);
  const T q = expm1_poly(r);
  // e^x - 1 = 2^k (1 + q) - 1 = 2^k q + (2^k - 1); k >= expm1_min/ln2 keeps 2^k normal.
  const T s = pow2i<T>(std::int32_t(k));
  T y = s * q + (s - T(1));
  if (!NonPositive) y = x > Bits<T>::exp_max ? inf<T>() : y;
  y = x < Bits<T>::expm1_min ? T(-1) : y;
  return x != x ? x : y;
}
template <class T> LOSSFN_INLINE T expm1(T x) { return expm1_impl<false>(x); }
template <class T> LOSSFN_INLINE T expm1_nonpositive(T x) { return expm1_impl<true>(x); }

// log(1+f) for m = 1+f in [sqrt(1/2), sqrt(2)), f in [-0.293, 0.415].
// float: f - f^2/2 + f^3 P(f), P of degree 7 fitted (weighted least squares on Chebyshev
// nodes) for relative error; at most 1.23 ulp over the interval, and no division.
LOSSFN_INLINE float log1p_reduced(float f) {
  float p = -0.07362867891788483f;
  p = p * f + 0.1262032687664032f;
  p = p * f - 0.13202103972434998f;
  p = p * f + 0.14227114617824554f;
  p = p * f - 0.16621370613574982f;
  p = p * f + 0.19999825954437256f;
  p = p * f - 0.2500085234642029f;
  p = p * f + 0.3333335518836975f;
  const float f2 = f * f;
  return f - 0.5f * f2 + f2 * f * p;
}
// double: 2 atanh(s), s = f/(2+f), |s| <= 0.1716, series in z = s^2 up to z^10 (the first
// omitted term is below 1e-19).
LOSSFN_INLINE double log1p_reduced(double f) {
  const double s = f / (2.0 + f), z = s * s;
  double p = 1.0 / 21;
  p = p * z + 1.0 / 19;
  p = p * z + 1.0 / 17;
  p = p * z + 1.0 / 15;
  p = p * z + 1.0 / 13;
  p = p * z + 1.0 / 11;
  p = p * z + 1.0 / 9;
  p = p * z + 1.0 / 7;
  p = p * z + 1.0 / 5;
  p = p * z + 1.0 / 3;
  return 2.0 * s + 2.0 * s * z * p;
}

template <class T> LOSSFN_INLINE T log(T x) {
  using I = typename Bits<T>::Int;
  // Subnormal inputs are scaled into the normal range first.
  const bool tiny = x < Bits<T>::min_normal;
  const T xs = tiny ? x * Bits<T>::subnormal_scale : x;
  const I bits = to_bits(xs);
  // Exponent k and mantissa m in [sqrt(1/2), sqrt(2)): subtracting the bits of sqrt(1/2)
  // makes the exponent field of the difference the wanted k (arithmetic shift keeps its sign).
  const I ki = (bits - Bits<T>::sqrt_half) >> Bits<T>::mantissa;
  const T m = from_bits<T>(bits - (ki << Bits<T>::mantissa));
  const T k = T(std::int32_t(ki)) - (tiny ? T(Bits<T>::subnormal_shift) : T(0));
  T y = k * Bits<T>::ln2_hi + (log1p_reduced(m - T(1)) + k * Bits<T>::ln2_lo);
  y = x < T(0) ? nan<T>() : y;
  y = x == T(0) ? -inf<T>() : y;
  y = x == inf<T>() ? x : y;
  return x != x ? x : y;
}

// log(1+x) without cancellation: with u = 1+x rounded, log(u) * x/(u-1) corrects the rounding
// of u (Goldberg, "What every computer scientist should know...", Theorem 4).
template <class T> LOSSFN_INLINE T log1p(T x) {
  const T u = T(1) + x;
  const T d = u - T(1);
  const T y = log(u) * (x / (d == T(0) ? T(1) : d));
  T r = d == T(0) ? x : y;
  r = x == inf<T>() ? x : r;
  return r;
}

// log(1+x) for x in [sqrt(1/2) - 1, 1] (nan propagates), with no reduction and no special
// cases: 1+x lies in [sqrt(1/2), 2], so log(1+x) = k ln2 + log1p_reduced(f) with k = 0, f = x
// or, from 1+x >= sqrt(2), k = 1, f = (x - 1)/2 (exact for x >= 1/2). The softplus, sigmoid
// and log-cosh kernels only ever take log1p of such arguments (e^-|x| and friends).
template <class T> LOSSFN_INLINE T log1p_small(T x) {
  const bool upper = x > T(0.41421356237309504880);
  const T f = upper ? (x - T(1)) * T(0.5) : x;
  const T k = upper ? T(1) : T(0);
  return k * Bits<T>::ln2_hi + (log1p_reduced(f) + k * Bits<T>::ln2_lo);
}

// Logistic sigmoid 1/(1+e^-x); e = exp(-|x|) never overflows.
template <class T> LOSSFN_INLINE T sigmoid(T x) {
  const T e = exp_nonpositive(-abs(x));
  const T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}

// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|).
template <class T> LOSSFN_INLINE T softplus(T x) { return max(x, T(0)) + log1p_small(exp_nonpositive(-abs(x))); }

// base^e for base >= 0, from log(base): 0^0 = 1, 0^e = 0 (e > 0), 0^e = inf (e < 0).
// e is usually loop-invariant and a select on an invariant condition does not vectorize, so it
// is the nan of 0 * -inf (0^0) that gets replaced by 0. A nan base gives 1 too: every caller
// multiplies the power by a term that carries the nan of its input.
template <class T> LOSSFN_INLINE T pow_from_log(T log_base, T e) {
  const T t = e * log_base;
  return exp(t != t ? T(0) : t);
}

}  // namespace math
}  // namespace LOSSFN_ISA
}  // namespace lossfn
