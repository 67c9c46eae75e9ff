// Regression losses (SPEC §2 A): elementwise, pred and target of one shape.
// For each loss: L(p, y), dL/dp and d2L/dp2, with d = p - y unless said otherwise. The
// reduction, weights and upstream gradient are applied by elementwise_loop.hpp.
#include "kernels/loss_base.hpp"

namespace lossfn {
namespace LOSSFN_ISA {
namespace {

using namespace math;

// mse: L = d^2, dL/dp = 2d, d2L/dp2 = 2.  Peer: torch mse_loss, Keras MeanSquaredError.
struct Mse : NoAux {
  static constexpr Loss id = Loss::mse;
  template <class T> struct Op : OpBase<T> {
    explicit Op(const double*) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T d = p - y;
      o.l = d * d;
      o.g = T(2) * d;
      o.h = T(2);
    }
  };
};

// mae: L = |d|, dL/dp = sign(d) (0 at d = 0, as torch; nan for a nan input), d2L/dp2 = 0.
// Peer: torch l1_loss.
struct Mae : NoAux {
  static constexpr Loss id = Loss::mae;
  template <class T> struct Op : OpBase<T> {
    explicit Op(const double*) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T d = p - y;
      o.l = abs(d);
      o.g = sign(d);
      o.h = T(0);
    }
  };
};

// huber (delta > 0): L = d^2/2 if |d| <= delta else delta (|d| - delta/2);
// dL/dp = clamp(d, -delta, delta); d2L/dp2 = [|d| <= delta].  Peer: torch huber_loss.
struct Huber : NoAux {
  static constexpr Loss id = Loss::huber;
  template <class T> struct Op : OpBase<T> {
    T delta;
    explicit Op(const double* p) : delta(T(p[0])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T d = p - y, a = abs(d);
      const bool inner = a <= delta;
      o.l = inner ? T(0.5) * d * d : delta * (a - T(0.5) * delta);
      o.g = min(max(d, -delta), delta);
      o.h = inner ? T(1) : T(0);
    }
  };
};

// smooth_l1 (beta >= 0): L = d^2/(2 beta) if |d| < beta else |d| - beta/2;
// dL/dp = d/beta or sign(d); d2L/dp2 = 1/beta or 0. beta = 0 is l1.  Peer: torch smooth_l1_loss.
struct SmoothL1 : NoAux {
  static constexpr Loss id = Loss::smooth_l1;
  template <class T> struct Op : OpBase<T> {
    T beta, inv_beta;
    explicit Op(const double* p) : beta(T(p[0])), inv_beta(p[0] > 0 ? T(1 / p[0]) : T(0)) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T d = p - y, a = abs(d);
      const bool inner = a < beta;
      o.l = inner ? T(0.5) * d * d * inv_beta : a - T(0.5) * beta;
      o.g = inner ? d * inv_beta : sign(d);
      o.h = inner ? inv_beta : T(0);
    }
  };
};

// log_cosh: L = log cosh d, dL/dp = tanh d, d2L/dp2 = sech^2 d = 4e/(1+e)^2 with e = exp(-2|d|).
// With m = expm1(-2|d|): tanh|d| = -m/(2+m). For |d| >= 1/2, L = |d| - ln2 + log1p(e) (no
// overflow for huge |d|); below, L = -log1p(-tanh^2)/2, which keeps full relative precision
// where L ~ d^2/2 (the first form would cancel).  Peer: Keras LogCosh, optax log_cosh.
struct LogCosh : NoAux {
  static constexpr Loss id = Loss::log_cosh;
  template <class T> struct Op : OpBase<T> {
    explicit Op(const double*) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T d = p - y, a = abs(d);
      const T m = expm1_nonpositive(T(-2) * a), e = T(1) + m;
      const T th = -m / (T(2) + m);
      const bool small = a < T(0.5);
      // The argument lies in [-0.22, 0.37], inside log1p_reduced's own interval: no reduction.
      const T lg = log1p_reduced(small ? -th * th : e);
      o.l = small ? T(-0.5) * lg : (a - T(0.693147180559945309417)) + lg;
      o.g = d < T(0) ? -th : th;
      // 1 + expm1(-2|d|) has lost e's digits by |d| ~ 8 (float32): the Hessian takes its own
      // e^(-2|d|) (dead code in the modes that do not store it).
      const T eh = exp_nonpositive(T(-2) * a), opl = T(1) + eh;
      o.h = T(4) * eh / (opl * opl);
    }
  };
};

// quantile (pinball), tau in (0, 1), scalar or one per element (aux): with r = y - p,
// L = tau r if r >= 0 else (tau - 1) r; dL/dp = -tau (r > 0), 1 - tau (r < 0), 0 at r = 0
// (a valid subgradient, as mae); d2L/dp2 = 0.
struct Quantile {
  static constexpr Loss id = Loss::quantile;
  static constexpr AuxKind aux = AuxKind::optional;
  template <class T> struct Op : OpBase<T> {
    explicit Op(const double* p) { this->aux_default = T(p[0]); }
    LOSSFN_INLINE void eval(T p, T y, T tau, Terms<T>& o) const {
      const T r = y - p;
      o.l = r >= T(0) ? tau * r : (tau - T(1)) * r;
      o.g = r > T(0) ? -tau : (r < T(0) ? T(1) - tau : r);  // r: 0 at the kink, nan stays nan
      o.h = T(0);
    }
  };
};

// msle (eps > 0): inputs clipped below at eps, as Keras: u = log1p(max(p, eps)),
// v = log1p(max(y, eps)); L = (u - v)^2; dL/dp = 2(u - v)/(1 + p) where p > eps, else 0;
// d2L/dp2 = 2(1 - (u - v))/(1 + p)^2 where p > eps.  Peer: Keras MeanSquaredLogarithmicError.
// u - v = log(R), R = (1 + p)/(1 + y), with one log1p: of (p - y)/(1 + y) where R is within
// [1/2, 2] (u - v would cancel there; p - y does not), of R - 1 (exact) elsewhere.
struct Msle : NoAux {
  static constexpr Loss id = Loss::msle;
  template <class T> struct Op : OpBase<T> {
    T eps;
    explicit Op(const double* p) : eps(T(p[0])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const bool live = p > eps;
      const T pc = max(p, eps), yc = max(y, eps);
      const T inv_y1 = T(1) / (T(1) + yc), ratio = (T(1) + pc) * inv_y1;
      const bool close = (ratio >= T(0.5)) & (ratio <= T(2));
      const T diff = log1p(close ? (pc - yc) * inv_y1 : ratio - T(1));
      const T inv = T(1) / (T(1) + pc);
      const T dead = p != p ? p : T(0);  // below eps the derivatives are 0; nan stays nan
      o.l = diff * diff;
      o.g = live ? T(2) * diff * inv : dead;
      o.h = live ? T(2) * (T(1) - diff) * inv * inv : dead;
    }
  };
};

// mape (eps > 0): L = 100 |p - y| / max(|y|, eps); dL/dp = 100 sign(p - y) / max(|y|, eps);
// d2L/dp2 = 0.  Peer: Keras MeanAbsolutePercentageError.
struct Mape : NoAux {
  static constexpr Loss id = Loss::mape;
  template <class T> struct Op : OpBase<T> {
    T eps;
    explicit Op(const double* p) : eps(T(p[0])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T k = T(100) / max(abs(y), eps), d = p - y;
      o.l = k * abs(d);
      o.g = k * sign(d);
      o.h = T(0);
    }
  };
};

// poisson_nll, as torch poisson_nll_loss:
//   log_input: L = e^p - y p,            dL/dp = e^p - y,         d2L/dp2 = e^p
//              (dL/dp as expm1(p) - (y - 1): exact where e^p ~ y = 1, a count's commonest value)
//   otherwise: L = p - y log(p + eps),   dL/dp = 1 - y/(p + eps),  d2L/dp2 = y/(p + eps)^2
//   full adds Stirling's y log y - y + log(2 pi y)/2 where y > 1 (no effect on derivatives).
// log_input and full are compile-time here (a branch in the loop would stop vectorization);
// run_poisson_nll picks the instance.
template <bool LogInput, bool Full>
struct PoissonNll : NoAux {
  static constexpr Loss id = Loss::poisson_nll;
  template <class T> struct Op : OpBase<T> {
    T eps;
    explicit Op(const double* p) : eps(T(p[2])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      if constexpr (LogInput) {
        // One expm1 serves every term, so each mode computes the loss from the same e^p.
        const T em1 = expm1(p), ep = em1 + T(1);
        o.l = ep - y * p;
        o.g = em1 - (y - T(1));
        o.h = ep;
      } else {
        const T q = p + eps, inv = T(1) / q;
        o.l = p - y * log(q);
        o.g = T(1) - y * inv;
        o.h = y * inv * inv;
      }
      if constexpr (Full) {
        const T ys = y > T(1) ? y : T(2);  // keeps log finite in the lanes that add nothing
        const T st = y * log(ys) - y + T(0.5) * log(T(6.283185307179586477) * ys);
        o.l += y > T(1) ? st : T(0);
      }
    }
  };
};

template <class T>
double run_poisson_nll(const Job<T>& j) {
  const bool log_input = j.params[0] != 0, full = j.params[1] != 0;
  if (log_input) return full ? run_elementwise<PoissonNll<true, true>, T>(j) : run_elementwise<PoissonNll<true, false>, T>(j);
  return full ? run_elementwise<PoissonNll<false, true>, T>(j) : run_elementwise<PoissonNll<false, false>, T>(j);
}

// gaussian_nll, var = aux (>= 0, clamped below at eps as torch does, the clamp not being
// differentiated): v = max(var, eps); L = (log v + d^2/v)/2 (+ log(2 pi)/2 if full);
// dL/dp = d/v; dL/dvar = (1/v - d^2/v^2)/2; d2L/dp2 = 1/v.  Peer: torch gaussian_nll_loss.
struct GaussianNll {
  static constexpr Loss id = Loss::gaussian_nll;
  static constexpr AuxKind aux = AuxKind::required;
  template <class T> struct Op : OpBase<T> {
    static constexpr bool aux_differentiable = true;
    T eps, constant;
    explicit Op(const double* p)
        : eps(T(p[1])), constant(p[0] != 0 ? T(0.918938533204672741780) : T(0)) {}
    LOSSFN_INLINE void eval(T p, T y, T var, Terms<T>& o) const {
      const T v = max(var, eps), inv = T(1) / v, d = p - y, di = d * inv;
      o.l = T(0.5) * (log(v) + d * di) + constant;
      o.g = di;
      o.ga = T(0.5) * (inv - di * di);
      o.h = inv;
    }
  };
};

// The robust family of Barron, "A General and Adaptive Robust Loss Function" (CVPR 2019),
// with scale c > 0 and r = d/c; kornia's losses are the c = 1 cases.
// charbonnier (alpha = 1): L = sqrt(r^2 + 1) - 1, dL/dp = r/(c s), d2L/dp2 = 1/(c^2 s^3),
// s = sqrt(r^2 + 1), computed as |r| sqrt(1 + 1/r^2) for |r| > 1 so r^2 cannot overflow, and
// L = r^2/(s + 1) for |r| <= 1 (no cancellation); dL/dp = sign(r)/(c sqrt(1 + 1/r^2)) there.
struct Charbonnier : NoAux {
  static constexpr Loss id = Loss::charbonnier;
  template <class T> struct Op : OpBase<T> {
    T inv_c;
    explicit Op(const double* p) : inv_c(T(1 / p[0])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T r = (p - y) * inv_c, a = abs(r);
      const bool big = a > T(1);
      const T ia = T(1) / (big ? a : T(1));
      const T s = big ? a * sqrt(T(1) + ia * ia) : sqrt(T(1) + r * r);
      o.l = big ? s - T(1) : r * r / (s + T(1));
      // r/s = sign(r)/sqrt(1 + 1/r^2) for |r| > 1: finite when r overflows to inf.
      o.g = (big ? sign(r) / sqrt(T(1) + ia * ia) : r / s) * inv_c;
      const T is = T(1) / s;
      o.h = is * is * is * inv_c * inv_c;
    }
  };
};

// cauchy / Lorentzian (alpha = 0): L = log(1 + r^2/2), dL/dp = r q / c,
// d2L/dp2 = (2q - 1) q / c^2 with q = 1/(1 + r^2/2) (no inf/inf when r^2 overflows).
// Beyond |r| = 1e15, L = 2 log|r| - log 2 (log1p(|r|) = log|r| there) and dL/dp = 2/(r c).
struct Cauchy : NoAux {
  static constexpr Loss id = Loss::cauchy;
  template <class T> struct Op : OpBase<T> {
    T inv_c;
    explicit Op(const double* p) : inv_c(T(1 / p[0])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T r = (p - y) * inv_c, a = abs(r), z = T(0.5) * r * r;
      const bool huge = a > T(1e15);
      const T lg = log1p(huge ? a : z);
      o.l = huge ? T(2) * lg - T(0.693147180559945309417) : lg;
      const T q = T(1) / (T(1) + z);
      // r q = 2/(r + 2/r) -> 2/r: no inf * 0 when r^2 (or r) overflows.
      o.g = (huge ? T(2) / r : r * q) * inv_c;
      o.h = (T(2) * q - T(1)) * q * inv_c * inv_c;
    }
  };
};

// welsch (alpha = -inf): L = 1 - exp(-r^2/2) (= -expm1), dL/dp = r e / c,
// d2L/dp2 = (1 - r^2) e / c^2, e = exp(-r^2/2); r^2/2 is capped at 1e4 where e is 0 anyway.
struct Welsch : NoAux {
  static constexpr Loss id = Loss::welsch;
  template <class T> struct Op : OpBase<T> {
    T inv_c;
    explicit Op(const double* p) : inv_c(T(1 / p[0])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T r = (p - y) * inv_c, z = min(T(0.5) * r * r, T(1e4));
      const T e = exp_nonpositive(-z);  // not 1 + expm1(-z): that rounds to 0 long before e^-z does
      o.l = -expm1_nonpositive(-z);
      // r is clamped where e = 0 already: no inf * 0 when r overflows (nan still propagates).
      o.g = min(max(r, T(-1e4)), T(1e4)) * e * inv_c;
      o.h = (T(1) - T(2) * z) * e * inv_c * inv_c;
    }
  };
};

// geman_mcclure (alpha = -2): L = 2 r^2/(r^2 + 4), dL/dp = 16 r q^2 / c,
// d2L/dp2 = 16 (4 - 3 r^2) q^3 / c^2 with q = 1/(r^2 + 4). For |r| > 1 the same in t = 1/|r|
// (t^2 = 1/r^2, no overflow at any r): L = 2/(1 + 4t^2), dL/dp = 16 sign(r) t^3/((1 + 4t^2)^2 c),
// d2L/dp2 = 16 (4t^2 - 3) t^4/((1 + 4t^2)^3 c^2) -- exact down to 16/r^3 at r = 1e100.
struct GemanMcclure : NoAux {
  static constexpr Loss id = Loss::geman_mcclure;
  template <class T> struct Op : OpBase<T> {
    T inv_c;
    explicit Op(const double* p) : inv_c(T(1 / p[0])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T r = (p - y) * inv_c, a = abs(r);
      const bool big = a > T(1);
      const T s = big ? T(1) / a : a, s2 = s * s;
      const T den = big ? T(1) + T(4) * s2 : s2 + T(4), q = T(1) / den;
      o.l = T(2) * (big ? T(1) : s2) * q;
      o.g = T(16) * (big ? sign(r) * s2 * s : r) * q * q * inv_c;
      o.h = T(16) * (big ? (T(4) * s2 - T(3)) * s2 * s2 : T(4) - T(3) * s2) * q * q * q * inv_c * inv_c;
    }
  };
};

// general_robust (Barron's rho(x, alpha, c)), alpha outside {0, 2, -inf} (those limits are
// cauchy, r^2/2 and welsch, routed in run_general_robust, as is |alpha| < 1e-20, where the
// cauchy limit is exact to far below an ulp): with b = r^2/|alpha-2| + 1 and lb = log b,
// L = |alpha-2|/alpha (b^(alpha/2) - 1) = |alpha-2|/alpha expm1(alpha/2 lb),
// dL/dp = r b^(alpha/2-1) / c, d2L/dp2 = b^(alpha/2-2) (b + sign(alpha-2) r^2) / c^2.
// Exact at every r: b + sign(alpha-2) r^2 = 1 + r^2 (1/|alpha-2| + sign(alpha-2)) (no
// cancellation: alpha = 1 gives exactly 1); for |r| > 1e15, lb = 2 log|r| - log|alpha-2| +
// log1p(|alpha-2|/r^2) so r^2 never overflows, dL/dp = sign(r) e^((alpha/2-1) lb + log|r|) / c
// and b^(alpha/2-2) (b + ...) = e^((alpha/2-1) lb + log|r|) (|alpha-2|/|r|) (1/r^2 + k) /
// (1 + |alpha-2|/r^2), k = 1/|alpha-2| + sign(alpha-2).
struct GeneralRobust : NoAux {
  static constexpr Loss id = Loss::general_robust;
  template <class T> struct Op : OpBase<T> {
    T half_alpha, inv_abs_am2, abs_am2, log_abs_am2, k, coef, inv_c;
    explicit Op(const double* p)
        : half_alpha(T(p[0] / 2)), inv_abs_am2(T(1 / __builtin_fabs(p[0] - 2))), abs_am2(T(__builtin_fabs(p[0] - 2))),
          log_abs_am2(T(__builtin_log(__builtin_fabs(p[0] - 2)))),
          k(T(1 / __builtin_fabs(p[0] - 2) + (p[0] > 2 ? 1.0 : -1.0))),
          coef(T(__builtin_fabs(p[0] - 2) / p[0])), inv_c(T(1 / p[1])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T r = (p - y) * inv_c, a = min(abs(r), max_finite<T>());
      const bool big = a > T(1e15);
      const T ia = T(1) / a, ia2 = ia * ia, z = big ? T(0) : a * a;
      const T la = big ? log(a) : T(0);
      // One log1p for both ranges (a vector loop evaluates both sides of a select).
      const T l1 = log1p(big ? abs_am2 * ia2 : z * inv_abs_am2);
      const T lb = big ? T(2) * la - log_abs_am2 + l1 : l1;
      o.l = coef * expm1(half_alpha * lb);
      // b^(alpha/2-1), times |r| when big (for the gradient; b^(alpha/2-1) alone may underflow
      // where r b^(alpha/2-1) does not) or not (for the Hessian; times |r| it may overflow where
      // the Hessian does not). A mode that stores one of the two computes one exp.
      const T e1 = exp((half_alpha - T(1)) * lb + la), e2 = exp((half_alpha - T(1)) * lb);
      o.g = (big ? sign(r) : r) * e1 * inv_c;
      const T per_b = big ? abs_am2 / (T(1) + abs_am2 * ia2) : T(1) / (T(1) + z * inv_abs_am2);
      // per_b times the last factor first: e2 * per_b alone may underflow in float32.
      o.h = e2 * (per_b * (big ? ia2 + k : T(1) + z * k)) * inv_c * inv_c;
    }
  };
};

// r^2/2: general_robust's alpha = 2 limit.
struct HalfSquared : NoAux {
  static constexpr Loss id = Loss::general_robust;
  template <class T> struct Op : OpBase<T> {
    T inv_c;
    explicit Op(const double* p) : inv_c(T(1 / p[1])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const T r = (p - y) * inv_c;
      o.l = T(0.5) * r * r;
      o.g = r * inv_c;
      o.h = inv_c * inv_c;
    }
  };
};

// general_robust's parameters are (alpha, c); the limit cases take (c).
template <class T>
double run_general_robust(const Job<T>& j) {
  const double alpha = j.params[0];
  const bool cauchy_limit = __builtin_fabs(alpha) < 1e-20;
  if (!cauchy_limit && alpha != 2 && alpha != -__builtin_inf()) return run_elementwise<GeneralRobust, T>(j);
  if (alpha == 2) return run_elementwise<HalfSquared, T>(j);
  Job<T> shifted = j;
  shifted.params[0] = j.params[1];
  return cauchy_limit ? run_elementwise<Cauchy, T>(shifted) : run_elementwise<Welsch, T>(shifted);
}

}  // namespace

void fill_regression(detail::KernelTable& table) {
  add_kernel<Mse>(table);
  add_kernel<Mae>(table);
  add_kernel<Huber>(table);
  add_kernel<SmoothL1>(table);
  add_kernel<LogCosh>(table);
  add_kernel<Quantile>(table);
  add_kernel<Msle>(table);
  add_kernel<Mape>(table);
  table.f32[int(Loss::poisson_nll)] = &run_poisson_nll<float>;
  table.f64[int(Loss::poisson_nll)] = &run_poisson_nll<double>;
  add_kernel<GaussianNll>(table);
  add_kernel<Charbonnier>(table);
  add_kernel<Cauchy>(table);
  add_kernel<Welsch>(table);
  add_kernel<GemanMcclure>(table);
  table.f32[int(Loss::general_robust)] = &run_general_robust<float>;
  table.f64[int(Loss::general_robust)] = &run_general_robust<double>;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
