// Accuracy of the kernels' elementary functions (cpp/src/kernels/simd_math.hpp), measured in units in
// the last place against long double <cmath>, with the functions evaluated in vectorized loops
// exactly as the kernels evaluate them. Built once per ISA with that ISA's kernel flags (FMA
// contraction changes the roundings), so each level's copy is checked; a level this CPU lacks
// is skipped (exit code 77).
//
// Each function has a bound in ulp over its whole domain, plus its IEEE special values.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/simd_math.hpp"

namespace math = lossfn::LOSSFN_ISA::math;

static int failures = 0;

#define STR2(x) #x
#define STR(x) STR2(x)

// Distance from y to the exact value r in units of T's last place at r (subnormal spacing
// below the normal range).
template <class T>
long double ulp_error(T y, long double r) {
  if (std::isnan(r)) return std::isnan(y) ? 0.0L : INFINITY;
  // beyond the largest finite value plus half its ulp the exact result rounds to infinity
  const long double overflow = std::ldexp((long double)std::numeric_limits<T>::max(), 0) *
                               (1.0L + std::ldexp(1.0L, -std::numeric_limits<T>::digits));
  if (std::fabs(r) >= overflow) r = std::copysign(INFINITY, r);
  if (std::isinf(r)) {
    if (y == r) return 0.0L;
    // a finite result where the exact one overflows: measure against the largest finite value
    r = std::copysign((long double)std::numeric_limits<T>::max(), r);
  }
  if (std::isnan(y) || std::isinf(y)) return INFINITY;
  const long double a = std::fabs(r);
  int e;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  const int digits = std::numeric_limits<T>::digits;
  const int min_exp = std::numeric_limits<T>::min_exponent;  // normal numbers are >= 2^(min_exp-1)
  const long double ulp = std::ldexp(1.0L, (e > min_exp ? e : min_exp) - digits);
  return std::fabs((long double)y - r) / ulp;
}

template <class T, class F>
void apply(F f, const std::vector<T>& x, std::vector<T>& y) {
  const T* __restrict xp = x.data();
  T* __restrict yp = y.data();
  const std::size_t n = x.size();
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) yp[i] = f(xp[i]);
}

// Inputs: evenly spaced over [lo, hi], random values over [lo, hi], values spread evenly over
// the exponents of [lo, hi] (for domains that span many binades) and the given special ones.
template <class T>
std::vector<T> inputs(T lo, T hi, bool log_spaced, std::initializer_list<T> special) {
  std::vector<T> x;
  const int n = 1 << 18;
  for (int i = 0; i <= n; ++i) x.push_back(lo + (hi - lo) * (T(i) / T(n)));
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<long double> u(0.0L, 1.0L);
  for (int i = 0; i < n; ++i) x.push_back(T(lo + (hi - lo) * u(rng)));
  if (log_spaced) {
    // |x| = 2^t with t uniform: every binade between the smallest subnormal and |bound| alike
    const long double tmin = std::numeric_limits<T>::min_exponent - std::numeric_limits<T>::digits;
    for (int sign = -1; sign <= 1; sign += 2) {
      const long double bound = sign < 0 ? -(long double)lo : (long double)hi;
      if (bound <= 0) continue;
      const long double tmax = std::log2(bound);
      for (int i = 0; i < n; ++i) x.push_back(T(sign * std::exp2(tmin + (tmax - tmin) * u(rng))));
    }
  }
  for (T s : special) x.push_back(s);
  return x;
}

template <class T, class F, class R>
void check(const char* name, F f, R exact, const std::vector<T>& x, double max_ulp) {
  std::vector<T> y(x.size());
  apply(f, x, y);
  long double worst = 0.0L;
  T worst_x = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const long double err = ulp_error<T>(y[i], exact((long double)x[i]));
    if (!(err <= worst)) {
      worst = err;
      worst_x = x[i];
    }
  }
  const bool ok = worst <= max_ulp;
  std::printf("%-6s %-22s max %.3Lf ulp (bound %.2f) at x = %.9Lg%s\n",
              sizeof(T) == 4 ? "float" : "double", name, worst, max_ulp, (long double)worst_x,
              ok ? "" : "  FAILED");
  if (!ok) ++failures;
}

template <class T>
void run_type() {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const T tiny = std::numeric_limits<T>::denorm_min(), big = std::numeric_limits<T>::max();
  const T exp_hi = sizeof(T) == 4 ? T(95) : T(720), exp_lo = sizeof(T) == 4 ? T(-110) : T(-760);
  const std::initializer_list<T> exp_special = {T(0), -T(0), inf, -inf, nan, big, -big, tiny, -tiny};

  check<T>("exp", [](T v) { return math::exp(v); }, [](long double v) { return std::exp(v); },
           inputs<T>(exp_lo, exp_hi, true, exp_special), 1.2);
  check<T>("exp_nonpositive", [](T v) { return math::exp_nonpositive(v); },
           [](long double v) { return std::exp(v); },
           inputs<T>(exp_lo, T(0), true, {T(0), -T(0), -inf, nan, -big, -tiny}), 1.2);
  check<T>("expm1", [](T v) { return math::expm1(v); }, [](long double v) { return std::expm1(v); },
           inputs<T>(exp_lo, exp_hi, true, exp_special), 2.0);
  check<T>("expm1_nonpositive", [](T v) { return math::expm1_nonpositive(v); },
           [](long double v) { return std::expm1(v); },
           inputs<T>(exp_lo, T(0), true, {T(0), -T(0), -inf, nan, -big, -tiny}), 1.1);
  check<T>("log", [](T v) { return math::log(v); }, [](long double v) { return std::log(v); },
           inputs<T>(T(0), T(4), true, {T(0), -T(0), T(-1), inf, -inf, nan, big, tiny, T(1)}), 2.0);
  check<T>("log (wide)", [](T v) { return math::log(v); }, [](long double v) { return std::log(v); },
           inputs<T>(T(0), big, true, {}), 2.0);
  check<T>("log1p", [](T v) { return math::log1p(v); }, [](long double v) { return std::log1p(v); },
           inputs<T>(T(-1), T(8), true, {T(-1), T(0), -T(0), T(-2), inf, -inf, nan, big, tiny, -tiny}), 4.0);
  check<T>("log1p (wide)", [](T v) { return math::log1p(v); }, [](long double v) { return std::log1p(v); },
           inputs<T>(T(0), big, true, {}), 4.0);
  check<T>("log1p_unit", [](T v) { return math::log1p_unit(v); },
           [](long double v) { return std::log1p(v); }, inputs<T>(T(0), T(1), true, {T(0), T(1), nan}), 2.6);
  check<T>("sigmoid", [](T v) { return math::sigmoid(v); },
           [](long double v) { return 1.0L / (1.0L + std::exp(-v)); },
           inputs<T>(T(-120), T(120), true, {T(0), inf, -inf, nan, big, -big}), 3.0);
  check<T>("softplus", [](T v) { return math::softplus(v); },
           [](long double v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); },
           inputs<T>(T(-120), T(120), true, {T(0), inf, -inf, nan, big, -big}), 2.6);
}

// Run by test_simd_math_main.cpp (baseline code) once it knows the CPU runs this ISA: this file
// is compiled with the ISA's flags, and even a function's prologue may use its instructions
// (AddressSanitizer poisons the stack with them).
int run_simd_math_tests() {
  std::printf("isa %s\n", STR(LOSSFN_ISA));
  run_type<float>();
  run_type<double>();
  return failures == 0 ? 0 : 1;
}
