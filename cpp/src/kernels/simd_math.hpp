// Branch-free elementary functions written so that the compiler vectorizes a loop that calls
// them (every special case is a select, no calls, no tables). Each kernel translation unit is
// compiled once per ISA and includes this file inside its own namespace lossfn::<isa>, so the
// AVX-512 copy of exp() and the baseline copy never share a symbol.
//
// Accuracy: exp, expm1, log, log1p within a few ulp over the whole range, with IEEE special
// values (exp(-inf) = 0, log(0) = -inf, log(<0) = nan, nan propagates); the bound of each
// function, per ISA and type, is checked by tests/cpp/test_simd_math.cpp.
#pragma once

#ifndef LOSSFN_ISA
#error "simd_math.hpp is included by per-ISA kernel files only"
#endif

#include <cstddef>
#include <cstdint>

namespace lossfn {
namespace LOSSFN_ISA {

// The doubles in one of the ISA's vector registers: the width of the kernels' explicit vectors
// (GCC's vector extensions). A loop-carried vector wider than the registers is kept in memory
// (GCC splits it through the stack and general registers), many times slower.
#if defined(__AVX512F__)
constexpr std::size_t kRegisterDoubles = 8;
#elif defined(__AVX__)
constexpr std::size_t kRegisterDoubles = 4;
#else
constexpr std::size_t kRegisterDoubles = 2;
#endif

namespace math {

// Everything here is forced inline: a call left in a kernel loop stops its vectorization.
#define LOSSFN_INLINE inline __attribute__((always_inline))
// A lambda's always_inline goes after its parameter list.
#define LOSSFN_INLINE_LAMBDA __attribute__((always_inline))

template <class T> struct Bits;
template <> struct Bits<float> {
  using Int = std::int32_t;
  using UInt = std::uint32_t;
  static constexpr int mantissa = 23;
  static constexpr Int bias = 127;
  static constexpr Int sqrt_half = 0x3f3504f3;  // bits of sqrt(0.5)
  static constexpr float min_normal = 1.17549435e-38f;
  static constexpr float subnormal_scale = 16777216.0f;  // 2^24
  static constexpr int subnormal_shift = 24;
  static constexpr float round_magic = 12582912.0f;  // 1.5 * 2^23: x + magic - magic rounds to int
  static constexpr float ln2_hi = 0.693359375f;       // ln 2 = ln2_hi + ln2_lo (Cephes split)
  static constexpr float ln2_lo = -2.12194440e-4f;
  // exp(x) rounds to 0 for x <= exp_floor and overflows for x >= exp_ceiling, with the
  // reduction below: clamping there gives 0 and inf without a select.
  static constexpr float exp_floor = -104.0f;   // exp(-103.97...) = 2^-150, half the least subnormal
  static constexpr float exp_ceiling = 89.0f;   // exp(88.72...) = largest float
  static constexpr float expm1_floor = -30.0f;  // expm1 rounds to -1 below: e^-30 < 2^-25
  static constexpr int subnormal_guard = 24;    // 2^(k + guard) is normal for every k >= floor
};
template <> struct Bits<double> {
  using Int = std::int64_t;
  using UInt = std::uint64_t;
  static constexpr int mantissa = 52;
  static constexpr Int bias = 1023;
  static constexpr Int sqrt_half = 0x3fe6a09e667f3bcdLL;
  static constexpr double min_normal = 2.2250738585072014e-308;
  static constexpr double subnormal_scale = 18014398509481984.0;  // 2^54
  static constexpr int subnormal_shift = 54;
  static constexpr double round_magic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double ln2_hi = 6.93147180369123816490e-01;  // fdlibm split of ln 2
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr double exp_floor = -746.0;   // exp(-745.13...) = 2^-1075
  static constexpr double exp_ceiling = 710.0;  // exp(709.78...) = largest double
  static constexpr double expm1_floor = -60.0;  // e^-60 < 2^-54
  static constexpr int subnormal_guard = 54;
};

// Builtins rather than std::numeric_limits: no out-of-line std:: function may be instantiated
// here (it would be compiled once per ISA under one symbol name).
template <class T> LOSSFN_INLINE T inf() { return T(__builtin_inf()); }
template <class T> LOSSFN_INLINE T nan() { return T(__builtin_nan("")); }

template <class T> LOSSFN_INLINE typename Bits<T>::Int to_bits(T x) {
  return __builtin_bit_cast(typename Bits<T>::Int, x);
}
template <class T> LOSSFN_INLINE T from_bits(typename Bits<T>::Int i) { return __builtin_bit_cast(T, i); }
// i << s on the two's complement bits: a negative i has no defined left shift in C++17.
template <class T> LOSSFN_INLINE typename Bits<T>::Int shift_left(typename Bits<T>::Int i, int s) {
  return typename Bits<T>::Int(typename Bits<T>::UInt(i) << s);
}

template <class T> LOSSFN_INLINE T abs(T x) { return __builtin_fabs(x); }
// min/max return `a` when it is nan, so a nan input propagates through clamps (pass the data
// first, the bound second).
template <class T> LOSSFN_INLINE T min(T a, T b) { return b < a ? b : a; }
template <class T> LOSSFN_INLINE T max(T a, T b) { return b > a ? b : a; }
// sign(x) in {-1, 0, 1}; a nan stays nan (it is returned as it came, as zeros are).
template <class T> LOSSFN_INLINE T sign(T x) { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x); }
// The largest finite value of T.
template <class T> LOSSFN_INLINE T max_finite() { return T(sizeof(T) == 4 ? 3.4028234663852886e38 : 1.7976931348623157e308); }
LOSSFN_INLINE float sqrt(float x) { return __builtin_sqrtf(x); }
LOSSFN_INLINE double sqrt(double x) { return __builtin_sqrt(x); }

// Horner's rule, coefficients from the highest degree down: horner(x, a, b, c) = (a x + b) x + c.
template <class T> LOSSFN_INLINE T horner(T, T c) { return c; }
template <class T, class... C> LOSSFN_INLINE T horner(T x, T a, T b, C... rest) {
  return horner(x, T(a * x + b), T(rest)...);
}

// 2^k for an integer k inside the normal exponent range. Integer work stays in 32 bits where
// it can: AVX2 has no packed 64-bit conversions or arithmetic shifts.
template <class T> LOSSFN_INLINE T pow2i(std::int32_t k) {
  using I = typename Bits<T>::Int;
  return from_bits<T>(shift_left<T>(I(k + std::int32_t(Bits<T>::bias)), Bits<T>::mantissa));
}

// e^r - 1 for |r| <= ln2/2 as r + r^2 P(r), and e^r itself as 1 + r + r^2 P(r) in one Horner
// chain (no separate r^2).
// float: P of degree 4 fitted (weighted least squares, Chebyshev nodes) for relative error.
// double: Taylor to degree 13 (first omitted term < 2e-17).
LOSSFN_INLINE float exp_p(float r) {
  return horner(r, 0.001385754905641079f, 0.008367348462343216f, 0.0416676327586174f,
                0.16666537523269653f, 0.4999999701976776f);
}
LOSSFN_INLINE double exp_p(double r) {
  return horner(r, 1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
                1.0 / 6.0, 0.5);
}
template <class T> LOSSFN_INLINE T expm1_poly(T r) { return r + r * r * exp_p(r); }
template <class T> LOSSFN_INLINE T exp_poly(T r) { return (exp_p(r) * r + T(1)) * r + T(1); }

// x = k ln2 + r with |r| <= ln2/2 (Cody-Waite, ln 2 split in two so k*ln2_hi is exact).
// t = x log2e + round_magic holds k in the low bits of its mantissa (two's complement: the
// magic's own low bits are 0), which pow2_of() moves into the exponent field without a
// float-to-int conversion.
template <class T> struct Reduced {
  T r, k, t;
};
template <class T> LOSSFN_INLINE Reduced<T> reduce_ln2(T x) {
  constexpr T log2e = T(1.44269504088896340736);
  const T t = x * log2e + Bits<T>::round_magic;
  const T k = t - Bits<T>::round_magic;
  return {(x - k * Bits<T>::ln2_hi) - k * Bits<T>::ln2_lo, k, t};
}
// 2^(k + offset) for the k held in t (reduce_ln2); k + offset must lie in the normal range.
template <class T> LOSSFN_INLINE T pow2_of(T t, int offset) {
  using U = typename Bits<T>::UInt;
  constexpr int m = Bits<T>::mantissa;
  return from_bits<T>(typename Bits<T>::Int((U(to_bits(t)) << m) + (U(Bits<T>::bias + offset) << m)));
}

// e^x. Clamped to [exp_floor, exp_ceiling], where the result is already 0 or inf; 2^k in two
// factors so that subnormal results and k = max exponent + 1 stay exact. A nan stays nan
// through the clamps and the polynomial.
template <class T> LOSSFN_INLINE T exp(T x) {
  const T xc = min(max(x, Bits<T>::exp_floor), Bits<T>::exp_ceiling);
  const Reduced<T> red = reduce_ln2(xc);
  const std::int32_t ki = std::int32_t(red.k), k1 = ki >> 1;
  return exp_poly(red.r) * pow2i<T>(k1) * pow2i<T>(ki - k1);
}

// e^x for x <= 0 (or nan), e.g. exp(-|x|) in the sigmoid kernels and exp(x - max) in softmax:
// one scaling 2^(k + guard), normal for every k down to the floor, then the constant
// 2^-guard, which rounds a subnormal result once, as two factors would.
template <class T> LOSSFN_INLINE T exp_nonpositive(T x) {
  using U = typename Bits<T>::UInt;
  constexpr T unguard = T(1) / T(U(1) << Bits<T>::subnormal_guard);
  const Reduced<T> red = reduce_ln2(max(x, Bits<T>::exp_floor));
  return exp_poly(red.r) * pow2_of(red.t, Bits<T>::subnormal_guard) * unguard;
}

// e^x - 1, accurate near 0 (no cancellation: for |x| <= ln2/2 the series is returned as is):
// 2^k (1 + q) - 1 = 2 (s q + (s - 1/2)) with s = 2^(k-1), normal from k = expm1_floor/ln2 up
// to the overflow (x clamped to [expm1_floor, exp_ceiling], where the result is -1 or inf).
template <class T> LOSSFN_INLINE T expm1(T x) {
  const Reduced<T> red = reduce_ln2(min(max(x, Bits<T>::expm1_floor), Bits<T>::exp_ceiling));
  const T q = expm1_poly(red.r), s = pow2_of(red.t, -1);
  return (s * q + (s - T(0.5))) * T(2);
}
// e^x - 1 for x <= 0 (or nan): s = 2^k is normal, no halving.
template <class T> LOSSFN_INLINE T expm1_nonpositive(T x) {
  const Reduced<T> red = reduce_ln2(max(x, Bits<T>::expm1_floor));
  const T q = expm1_poly(red.r), s = pow2_of(red.t, 0);
  return s * q + (s - T(1));
}

// log(1+f) for m = 1+f in [sqrt(1/2), sqrt(2)), f in [-0.293, 0.415].
// float: f - f^2/2 + f^3 P(f), P of degree 7 fitted (weighted least squares on Chebyshev
// nodes) for relative error; at most 1.23 ulp over the interval, and no division.
LOSSFN_INLINE float log1p_reduced(float f) {
  const float p = horner(f, -0.07362867891788483f, 0.1262032687664032f, -0.13202103972434998f,
                         0.14227114617824554f, -0.16621370613574982f, 0.19999825954437256f,
                         -0.2500085234642029f, 0.3333335518836975f);
  const float f2 = f * f;
  return f - 0.5f * f2 + f2 * f * p;
}
// double: 2 atanh(s), s = f/(2+f), |s| <= 0.1716, series in z = s^2 up to z^10 (the first
// omitted term is below 1e-19).
LOSSFN_INLINE double log1p_reduced(double f) {
  const double s = f / (2.0 + f), z = s * s;
  const double p = horner(z, 1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13, 1.0 / 11, 1.0 / 9,
                          1.0 / 7, 1.0 / 5, 1.0 / 3);
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
  // (Unsigned arithmetic: for negative x, whose result is replaced below, the bits wrap.)
  using U = typename Bits<T>::UInt;
  const I ki = I(U(bits) - U(Bits<T>::sqrt_half)) >> Bits<T>::mantissa;
  const T m = from_bits<T>(I(U(bits) - (U(ki) << Bits<T>::mantissa)));
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

// log(1+x) for x in [0, 1] (nan propagates), with no reduction and no special cases: the
// softplus, sigmoid-focal and multilabel kernels only ever take log1p of e^-|x|.
// float: x + x^2 P(x), P of degree 8 fitted (weighted least squares on Chebyshev nodes,
// reweighted towards the minimax error, for the relative error of the result); 1.35 ulp.
LOSSFN_INLINE float log1p_unit(float x) {
  const float p = horner(x, -0.004518984816968441f, 0.02543811686336994f, -0.06711128354072571f,
                         0.11592341214418411f, -0.1586219221353531f, 0.1985793560743332f,
                         -0.24987022578716278f, 0.3333286643028259f, -0.4999999701976776f);
  return x + x * x * p;
}
// double: 1+x lies in [1, 2], so log(1+x) = k ln2 + log1p_reduced(f) with k = 0, f = x or,
// from 1+x >= sqrt(2), k = 1, f = (x - 1)/2 (exact for x >= 1/2).
LOSSFN_INLINE double log1p_unit(double x) {
  const bool upper = x > 0.41421356237309504880;
  const double f = upper ? (x - 1.0) * 0.5 : x;
  const double k = upper ? 1.0 : 0.0;
  return k * Bits<double>::ln2_hi + (log1p_reduced(f) + k * Bits<double>::ln2_lo);
}

// Logistic sigmoid 1/(1+e^-x); e = exp(-|x|) never overflows.
template <class T> LOSSFN_INLINE T sigmoid(T x) {
  const T e = exp_nonpositive(-abs(x));
  const T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}

// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|).
template <class T> LOSSFN_INLINE T softplus(T x) { return max(x, T(0)) + log1p_unit(exp_nonpositive(-abs(x))); }

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
