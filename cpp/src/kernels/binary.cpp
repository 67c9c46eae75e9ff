// Binary classification losses (SPEC §2 B): elementwise over predictions (probabilities,
// logits or scores) and targets of the same shape. For each: L, dL/dp, d2L/dp2.
// Margin losses take sign labels y in {-1, +1} or {0, 1}; 0 is read as -1 (label()).
#include "kernels/loss_base.hpp"

namespace lossfn {
namespace LOSSFN_ISA {
namespace {

using namespace math;

template <class T> LOSSFN_INLINE T label(T y) { return y == T(0) ? T(-1) : y; }

// bce on probabilities, clipped to [eps, 1 - eps] as Keras 3 (the gradient is 0 where p lies
// outside), class weights (w0, w1): L = -(w1 y log pc + w0 (1-y) log(1-pc));
// dL/dp = -w1 y/pc + w0 (1-y)/(1-pc) = (w0 (pc - y) + (w0 - w1) y (1-pc)) / (pc (1-pc)) (the
// two fractions cancel where pc ~ y; pc - y does not); d2L/dp2 = w1 y/pc^2 + w0 (1-y)/(1-pc)^2.
// Targets outside [0, 1] are an error (checked by the pass). Peer: Keras BinaryCrossentropy.
struct Bce : NoAux {
  static constexpr Loss id = Loss::bce;
  template <class T> struct Op : UnitTargetOp<T> {
    T lo, hi, w0, w1;
    explicit Op(const double* p)
        : lo(T(p[0])), hi(T(1) - T(p[0])), w0(T(p[1])), w1(T(p[2])) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const bool live = (p >= lo) & (p <= hi);  // & not &&: no branch in the loop
      const T pc = min(max(p, lo), hi), qc = T(1) - pc;
      const T a = w1 * y, b = w0 * (T(1) - y);
      o.l = -(a * log(pc) + b * log1p(-pc));  // log1p(-pc), not log(qc): 1 - pc rounds for pc ~ 0
      const T ip = T(1) / pc, iq = T(1) / qc;
      const T dead = p != p ? p : T(0);  // outside the clip the derivatives are 0; nan stays nan
      o.g = live ? (w0 * (pc - y) + (w0 - w1) * y * qc) * ip * iq : dead;
      o.h = live ? a * ip * ip + b * iq * iq : dead;
    }
  };
};

// bce_with_logits, x = logit, pos_weight pw (scalar or per element), class weights (w0, w1):
// with a = w1 pw y and b = w0 (1 - y), L = a softplus(-x) + b softplus(x);
// dL/dx = b s(x) - a s(-x); d2L/dx2 = (a + b) s(x) s(-x), s = sigmoid.
// Peer: torch binary_cross_entropy_with_logits.
struct BceWithLogits {
  static constexpr Loss id = Loss::bce_with_logits;
  static constexpr AuxKind aux = AuxKind::optional;
  template <class T> struct Op : OpBase<T> {
    T w0, w1;
    explicit Op(const double* p) : w0(T(p[1])), w1(T(p[2])) { this->aux_default = T(p[0]); }
    LOSSFN_INLINE void eval(T x, T y, T pw, Terms<T>& o) const {
      const T a = w1 * pw * y, b = w0 * (T(1) - y);
      // With e = exp(-|x|), r = 1/(1+e): softplus(+-x) = max(+-x, 0) + log1p(e) summed term by
      // term (softplus(x) - x would round a tiny log1p(e) away against a large x);
      // s(|x|) = r, s(-|x|) = e r, so dL/dx = (b - a e) r for x >= 0, (b e - a) r below,
      // and s(x) s(-x) = e r^2.
      const T e = exp_nonpositive(-abs(x)), r = T(1) / (T(1) + e);
      const bool pos = x >= T(0);
      o.l = (a + b) * log1p_unit(e) + (pos ? b * x : -a * x);
      o.g = (pos ? b - a * e : b * e - a) * r;
      o.h = (a + b) * e * r * r;
    }
  };
};

// binary_focal on probabilities, as Keras 3 BinaryFocalCrossentropy: bce on pc clipped to
// [eps, 1-eps] (derivatives 0 outside), focal factor f = m^gamma with m = 1 - p_t =
// y(1-p) + (1-y)p from the unclipped p, optional balancing alpha_t = alpha y + (1-alpha)(1-y)
// (alpha < 0: none). L = alpha_t f bce; with m' = 1 - 2y:
// dL/dp = alpha_t (f' bce + f bce'), f' = gamma m^(gamma-1) m';
// d2L/dp2 = alpha_t (f'' bce + 2 f' bce' + f bce''), f'' = gamma (gamma-1) m^(gamma-2) m'^2.
// m^k is exp(k log m) with 0^0 = 1 (pow_from_log). Where m < eps (p within eps of its
// target, outside the clipped range, where bce' = 0) f' (gamma < 1) and f'' (gamma < 2) grow
// without bound and 0 * inf would give nan: those powers are taken at max(m, eps), as
// max(log m, log eps) -- the exact derivatives wherever they are finite.
// GammaTwo: gamma == 2 (the default) as m^2, without log and exp; run_binary_focal picks.
template <bool GammaTwo>
struct BinaryFocal : NoAux {
  static constexpr Loss id = Loss::binary_focal;
  template <class T> struct Op : UnitTargetOp<T> {
    T gamma, lo, hi, alpha_pos, alpha_neg, log_floor1, log_floor2;
    explicit Op(const double* p)
        : gamma(T(p[0])), lo(T(p[2])), hi(T(1) - T(p[2])), alpha_pos(p[1] >= 0 ? T(p[1]) : T(1)),
          alpha_neg(p[1] >= 0 ? T(1 - p[1]) : T(1)),
          log_floor1(p[0] < 1 ? T(__builtin_log(p[2])) : -inf<T>()),
          log_floor2(p[0] < 2 ? T(__builtin_log(p[2])) : -inf<T>()) {}
    LOSSFN_INLINE void eval(T p, T y, T, Terms<T>& o) const {
      const bool live = (p >= lo) & (p <= hi);  // & not &&: no branch in the loop
      const T pc = min(max(p, lo), hi), qc = T(1) - pc;
      const T bce = -(y * log(pc) + (T(1) - y) * log1p(-pc));  // as bce
      const T ip = T(1) / pc, iq = T(1) / qc;
      const T dbce = live ? (pc - y) * ip * iq : T(0);  // (1-y)/(1-pc) - y/pc, as bce
      const T d2bce = live ? y * ip * ip + (T(1) - y) * iq * iq : T(0);
      const T m = y * (T(1) - p) + (T(1) - y) * p, dm = T(1) - T(2) * y;
      T f, f1, f2;
      if constexpr (GammaTwo) {
        f = m * m;
        f1 = T(2) * m * dm;
        f2 = T(2) * dm * dm;
      } else {
        const T lm = log(m);
        f = pow_from_log(lm, gamma);
        // gamma m^(gamma-1) is 0 for gamma = 0 and gamma (gamma-1) m^(gamma-2) for gamma in
        // {0, 1}; a huge gamma makes the powers 0 and their factors inf.
        const T f1_raw = gamma * pow_from_log(max(lm, log_floor1), gamma - T(1)) * dm;
        f1 = f1_raw != f1_raw ? T(0) : f1_raw;
        const T f2_raw = gamma * (gamma - T(1)) * pow_from_log(max(lm, log_floor2), gamma - T(2)) * dm * dm;
        f2 = f2_raw != f2_raw ? T(0) : f2_raw;
      }
      const T at = alpha_pos * y + alpha_neg * (T(1) - y);
      o.l = at * f * bce;
      o.g = at * (f1 * bce + f * dbce);
      o.h = at * (f2 * bce + T(2) * f1 * dbce + f * d2bce);
    }
  };
};

// sigmoid_focal on logits x, as torchvision sigmoid_focal_loss: s = sigmoid(x),
// ce = y softplus(-x) + (1-y) softplus(x), m = 1 - p_t = y s(-x) + (1-y) s(x), f = m^gamma,
// L = alpha_t f ce (alpha < 0: alpha_t = 1). Derivatives use q = m'/m in closed form,
// q = (1-2y) / (1 + y e^-x + (1-y) e^x), finite where m underflows:
// f' = gamma f q, f'' = gamma f q ((gamma-1) q + 1 - 2s), ce' = s - y, ce'' = s(1-s);
// dL/dx = alpha_t (ce' f + ce f'), d2L/dx2 = alpha_t (ce'' f + 2 ce' f' + ce f'').
// GammaTwo: gamma == 2 (the default): f = m^2, f' = 2 m m', f'' = 2 (m'^2 + m m''), with
// m' = (1-2y) s(x) s(-x) and m'' = m' (1 - 2s): no log, pow or 1/e. run_sigmoid_focal picks.
template <bool GammaTwo>
struct SigmoidFocal : NoAux {
  static constexpr Loss id = Loss::sigmoid_focal;
  template <class T> struct Op : OpBase<T> {
    T gamma, alpha_pos, alpha_neg;  // alpha_t = alpha_pos y + alpha_neg (1 - y)
    explicit Op(const double* p)
        : gamma(T(p[0])), alpha_pos(p[1] >= 0 ? T(p[1]) : T(1)),
          alpha_neg(p[1] >= 0 ? T(1 - p[1]) : T(1)) {}
    LOSSFN_INLINE void eval(T x, T y, T, Terms<T>& o) const {
      const T e = exp_nonpositive(-abs(x)), r = T(1) / (T(1) + e);
      const bool pos = x >= T(0);
      const T s = pos ? r : e * r, sn = pos ? e * r : r;  // s(x), s(-x)
      // ce term by term, as bce_with_logits
      const T ce = log1p_unit(e) + (pos ? (T(1) - y) * x : -y * x);
      const T m = y * sn + (T(1) - y) * s;
      T f, f1, f2;
      if constexpr (GammaTwo) {
        const T dm = (T(1) - T(2) * y) * s * sn;
        f = m * m;
        f1 = T(2) * m * dm;
        f2 = T(2) * (dm * dm + m * dm * (T(1) - T(2) * s));
      } else {
        f = pow_from_log(log(m), gamma);
        // e^-x and e^x from e = e^-|x|, the growing one only where its coefficient is nonzero.
        const T big = T(1) / e;
        const T ex_neg = pos ? e : big, ex_pos = pos ? big : e;
        const T t1 = y == T(0) ? T(0) : y * ex_neg;
        const T t2 = y == T(1) ? T(0) : (T(1) - y) * ex_pos;
        const T q = (T(1) - T(2) * y) / (T(1) + t1 + t2);
        f1 = gamma * f * q;
        // f1 = 0 (f underflowed, or gamma = 0) is f'' = 0 too, even where (gamma - 1) q is inf.
        f2 = f1 == T(0) ? T(0) : f1 * ((gamma - T(1)) * q + T(1) - T(2) * s);
      }
      // s - y without cancellation for confident logits (s rounds to 1): as bce_with_logits,
      // ((1 - y) - y e) r for x >= 0 and ((1 - y) e - y) r below.
      const T dce = (pos ? (T(1) - y) - y * e : (T(1) - y) * e - y) * r, d2ce = s * sn;
      const T at = alpha_pos * y + alpha_neg * (T(1) - y);
      o.l = at * f * ce;
      o.g = at * (dce * f + ce * f1);
      o.h = at * (d2ce * f + T(2) * dce * f1 + ce * f2);
    }
  };
};

template <template <bool> class Focal, class T>
double run_focal(const Job<T>& j) {
  return j.params[0] == 2 ? run_elementwise<Focal<true>, T>(j) : run_elementwise<Focal<false>, T>(j);
}

// hinge: z = y x, L = max(1 - z, 0), dL/dx = -y where z < 1 (0 at the kink), d2L/dx2 = 0.
// Peer: Keras Hinge.
struct Hinge : NoAux {
  static constexpr Loss id = Loss::hinge;
  template <class T> struct Op : SignLabelOp<T> {
    explicit Op(const double*) {}
    LOSSFN_INLINE void eval(T x, T y, T, Terms<T>& o) const {
      const T s = label(y), u = T(1) - s * x;
      o.l = max(u, T(0));
      o.g = u > T(0) ? -s : (u != u ? u : T(0));
      o.h = T(0);
    }
  };
};

// squared_hinge: L = max(1 - z, 0)^2, dL/dx = -2 y max(1 - z, 0), d2L/dx2 = 2 [z < 1].
// Peer: Keras SquaredHinge.
struct SquaredHinge : NoAux {
  static constexpr Loss id = Loss::squared_hinge;
  template <class T> struct Op : SignLabelOp<T> {
    explicit Op(const double*) {}
    LOSSFN_INLINE void eval(T x, T y, T, Terms<T>& o) const {
      const T s = label(y), u = max(T(1) - s * x, T(0));
      o.l = u * u;
      o.g = T(-2) * s * u;
      o.h = u > T(0) ? T(2) : T(0);
    }
  };
};

// smooth_hinge, smoothing g > 0 (Rennie & Srebro 2005, quadratically smoothed): z = y x,
// L = 0 (z >= 1), (1 - z)^2/(2g) (1-g < z < 1), 1 - z - g/2 (z <= 1-g);
// dL/dx = y dL/dz with dL/dz = 0, -(1 - z)/g, -1; d2L/dx2 = 1/g in the quadratic piece.
struct SmoothHinge : NoAux {
  static constexpr Loss id = Loss::smooth_hinge;
  template <class T> struct Op : SignLabelOp<T> {
    T g, inv_g;
    explicit Op(const double* p) : g(T(p[0])), inv_g(T(1 / p[0])) {}
    LOSSFN_INLINE void eval(T x, T y, T, Terms<T>& o) const {
      const T s = label(y), u = T(1) - s * x;  // u = 1 - z
      const bool linear = u >= g, zero = u <= T(0);
      o.l = zero ? T(0) : (linear ? u - T(0.5) * g : T(0.5) * u * u * inv_g);
      const T dz = zero ? T(0) : (linear ? T(-1) : -u * inv_g);
      o.g = s * dz;
      o.h = (zero | linear) ? T(0) : inv_g;
    }
  };
};

// modified_huber: z = y x, L = max(0, 1 - z)^2 for z >= -1, -4z below;
// dL/dx = y (-2 max(0, 1 - z)) or -4y; d2L/dx2 = 2 for -1 <= z < 1.  Peer: scikit-learn
// SGDClassifier(loss="modified_huber").
struct ModifiedHuber : NoAux {
  static constexpr Loss id = Loss::modified_huber;
  template <class T> struct Op : SignLabelOp<T> {
    explicit Op(const double*) {}
    LOSSFN_INLINE void eval(T x, T y, T, Terms<T>& o) const {
      const T s = label(y), z = s * x, u = max(T(1) - z, T(0));
      const bool quad = !(z < T(-1));  // a nan z takes the quadratic piece: nan stays nan
      o.l = quad ? u * u : T(-4) * z;
      o.g = s * (quad ? T(-2) * u : T(-4));
      o.h = quad & (z < T(1)) ? T(2) : T(0);
    }
  };
};

// soft_margin: L = softplus(-y x) = log(1 + e^(-y x)), dL/dx = -y s(-y x),
// d2L/dx2 = s(y x) s(-y x).  Peer: torch soft_margin_loss.
struct SoftMargin : NoAux {
  static constexpr Loss id = Loss::soft_margin;
  template <class T> struct Op : SignLabelOp<T> {
    explicit Op(const double*) {}
    LOSSFN_INLINE void eval(T x, T y, T, Terms<T>& o) const {
      const T s = label(y), z = s * x;
      const T e = exp_nonpositive(-abs(z)), r = T(1) / (T(1) + e);
      const bool pos = z >= T(0);
      const T sz = pos ? r : e * r, snz = pos ? e * r : r;
      o.l = max(-z, T(0)) + log1p_unit(e);
      o.g = -s * snz;
      o.h = sz * snz;
    }
  };
};

}  // namespace

void fill_binary(detail::KernelTable& table) {
  add_kernel<Bce>(table);
  add_kernel<BceWithLogits>(table);
  table.f32[int(Loss::binary_focal)] = &run_focal<BinaryFocal, float>;
  table.f64[int(Loss::binary_focal)] = &run_focal<BinaryFocal, double>;
  table.f32[int(Loss::sigmoid_focal)] = &run_focal<SigmoidFocal, float>;
  table.f64[int(Loss::sigmoid_focal)] = &run_focal<SigmoidFocal, double>;
  add_kernel<Hinge>(table);
  add_kernel<SquaredHinge>(table);
  add_kernel<SmoothHinge>(table);
  add_kernel<ModifiedHuber>(table);
  add_kernel<SoftMargin>(table);
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
