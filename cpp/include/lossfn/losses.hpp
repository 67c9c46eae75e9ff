// Typed C++ front-end: one struct per loss holding its hyper-parameters with the documented
// defaults, and value / value_and_grad / grad / hess / grad_and_hess templates over float and
// double. Everything forwards to lossfn::run (core.hpp).
//
//   lossfn::Huber huber;  huber.delta = 0.5;
//   std::vector<float> grad(n);
//   double loss = lossfn::value_and_grad(grad.data(), lossfn::Inputs<float>(pred, target, n), huber);
//
// The templates take only these structs (L::id a Loss); the row losses have their own overloads
// on RowInputs<T> (row_losses.hpp).
#pragma once

#include <type_traits>

#include "lossfn/core.hpp"

namespace lossfn {

// The inputs of one call: n contiguous elements each. `aux` is the third input of quantile
// (tau per element), bce_with_logits (pos_weight per element) and gaussian_nll (var).
template <class T>
struct Inputs {
  const T* pred = nullptr;
  const T* target = nullptr;
  std::size_t n = 0;
  const T* aux = nullptr;
  const T* weight = nullptr;
  Inputs(const T* pred_, const T* target_, std::size_t n_, const T* aux_ = nullptr,
         const T* weight_ = nullptr)
      : pred(pred_), target(target_), n(n_), aux(aux_), weight(weight_) {}
};

// Gradient outputs: w.r.t. pred, and w.r.t. aux where it is differentiable (gaussian_nll).
template <class T>
struct Grad {
  T* pred = nullptr;
  T* aux = nullptr;
  Grad(T* pred_, T* aux_ = nullptr) : pred(pred_), aux(aux_) {}  // NOLINT: implicit from T*
};

// --- Hyper-parameters, one struct per loss (fields in LossInfo order) -------------------------
#define LOSSFN_PARAMS_0(Name, id_)                            \
  struct Name {                                               \
    static constexpr Loss id = Loss::id_;                     \
    void to_params(double*) const {}                          \
  };
#define LOSSFN_PARAMS_1(Name, id_, a, da)                     \
  struct Name {                                               \
    static constexpr Loss id = Loss::id_;                     \
    double a = da;                                            \
    void to_params(double* p) const { p[0] = a; }             \
  };
#define LOSSFN_PARAMS_2(Name, id_, a, da, b, db)              \
  struct Name {                                               \
    static constexpr Loss id = Loss::id_;                     \
    double a = da, b = db;                                    \
    void to_params(double* p) const { p[0] = a, p[1] = b; }   \
  };
#define LOSSFN_PARAMS_3(Name, id_, a, da, b, db, c, dc)              \
  struct Name {                                                      \
    static constexpr Loss id = Loss::id_;                            \
    double a = da, b = db, c = dc;                                   \
    void to_params(double* p) const { p[0] = a, p[1] = b, p[2] = c; } \
  };

LOSSFN_PARAMS_0(Mse, mse)
LOSSFN_PARAMS_0(Mae, mae)
LOSSFN_PARAMS_1(Huber, huber, delta, 1.0)
LOSSFN_PARAMS_1(SmoothL1, smooth_l1, beta, 1.0)
LOSSFN_PARAMS_0(LogCosh, log_cosh)
LOSSFN_PARAMS_1(Quantile, quantile, tau, 0.5)  // or tau per element in Inputs::aux
LOSSFN_PARAMS_1(Msle, msle, eps, 1e-7)
LOSSFN_PARAMS_1(Mape, mape, eps, 1e-7)
LOSSFN_PARAMS_3(PoissonNll, poisson_nll, log_input, 1.0, full, 0.0, eps, 1e-8)
LOSSFN_PARAMS_2(GaussianNll, gaussian_nll, full, 0.0, eps, 1e-6)  // var in Inputs::aux
LOSSFN_PARAMS_1(Charbonnier, charbonnier, c, 1.0)
LOSSFN_PARAMS_1(Cauchy, cauchy, c, 1.0)
LOSSFN_PARAMS_1(Welsch, welsch, c, 1.0)
LOSSFN_PARAMS_1(GemanMcclure, geman_mcclure, c, 1.0)
LOSSFN_PARAMS_2(GeneralRobust, general_robust, alpha, 1.0, c, 1.0)
LOSSFN_PARAMS_3(Bce, bce, eps, 1e-7, w0, 1.0, w1, 1.0)
LOSSFN_PARAMS_3(BceWithLogits, bce_with_logits, pos_weight, 1.0, w0, 1.0, w1, 1.0)
LOSSFN_PARAMS_3(BinaryFocal, binary_focal, gamma, 2.0, alpha, -1.0, eps, 1e-7)  // alpha < 0: none
LOSSFN_PARAMS_2(SigmoidFocal, sigmoid_focal, gamma, 2.0, alpha, 0.25)         // alpha < 0: none
LOSSFN_PARAMS_0(Hinge, hinge)
LOSSFN_PARAMS_0(SquaredHinge, squared_hinge)
LOSSFN_PARAMS_1(SmoothHinge, smooth_hinge, smoothing, 1.0)
LOSSFN_PARAMS_0(ModifiedHuber, modified_huber)
LOSSFN_PARAMS_0(SoftMargin, soft_margin)

#undef LOSSFN_PARAMS_0
#undef LOSSFN_PARAMS_1
#undef LOSSFN_PARAMS_2
#undef LOSSFN_PARAMS_3

namespace detail {
// Keeps T from being deduced from an argument (T comes from Inputs<T>), so that a plain T*
// converts to Grad<T>.
template <class T>
struct non_deduced {
  using type = T;
};

// Enables a template for elementwise loss structs only.
template <class L>
using if_elementwise = std::enable_if_t<std::is_same<std::decay_t<decltype(L::id)>, Loss>::value, int>;

template <class L, class T>
ElementwiseCall<T> make_call(const Inputs<T>& in, const L& loss, Reduction reduction, double* params) {
  loss.to_params(params);
  ElementwiseCall<T> c;
  c.n = in.n;
  c.pred = in.pred;
  c.target = in.target;
  c.aux = in.aux;
  c.weight = in.weight;
  c.params = params;
  c.reduction = reduction;
  return c;
}
}  // namespace detail

// The reduced loss (mean or sum).
template <class L, class T, detail::if_elementwise<L> = 0>
double value(const Inputs<T>& in, const L& loss = L{}, Reduction reduction = Reduction::mean) {
  double params[kMaxParams], v = 0.0;
  ElementwiseCall<T> c = detail::make_call(in, loss, reduction, params);
  c.value = &v;
  run(L::id, c);
  return v;
}

// Per-element weighted losses (reduction none) into loss_out[n].
template <class L, class T, detail::if_elementwise<L> = 0>
void value_none(T* loss_out, const Inputs<T>& in, const L& loss = L{}) {
  double params[kMaxParams];
  ElementwiseCall<T> c = detail::make_call(in, loss, Reduction::none, params);
  c.loss = loss_out;
  run(L::id, c);
}

// The reduced loss and its gradient, in one pass.
template <class L, class T, detail::if_elementwise<L> = 0>
double value_and_grad(Grad<typename detail::non_deduced<T>::type> grad, const Inputs<T>& in, const L& loss = L{},
                      Reduction reduction = Reduction::mean) {
  double params[kMaxParams], v = 0.0;
  ElementwiseCall<T> c = detail::make_call(in, loss, reduction, params);
  c.value = &v;
  c.grad = grad.pred;
  c.grad_aux = grad.aux;
  run(L::id, c);
  return v;
}

// Gradient of the reduced loss times grad_output (for none: of each element's loss, times
// grad_output_array[i] when given, else grad_output).
template <class L, class T, detail::if_elementwise<L> = 0>
void grad(Grad<typename detail::non_deduced<T>::type> grad, const Inputs<T>& in, const L& loss = L{},
          Reduction reduction = Reduction::mean, double grad_output = 1.0,
          const typename detail::non_deduced<T>::type* grad_output_array = nullptr) {
  double params[kMaxParams];
  ElementwiseCall<T> c = detail::make_call(in, loss, reduction, params);
  c.grad = grad.pred;
  c.grad_aux = grad.aux;
  c.grad_output = grad_output;
  c.grad_output_array = grad_output_array;
  run(L::id, c);
}

// Diagonal of the Hessian w.r.t. pred.
template <class L, class T, detail::if_elementwise<L> = 0>
void hess(T* hess_out, const Inputs<T>& in, const L& loss = L{},
          Reduction reduction = Reduction::mean) {
  double params[kMaxParams];
  ElementwiseCall<T> c = detail::make_call(in, loss, reduction, params);
  c.hess = hess_out;
  run(L::id, c);
}

// Gradient and Hessian diagonal in one pass (what boosting objectives need).
template <class L, class T, detail::if_elementwise<L> = 0>
void grad_and_hess(Grad<typename detail::non_deduced<T>::type> grad, T* hess_out, const Inputs<T>& in, const L& loss = L{},
                   Reduction reduction = Reduction::sum) {
  double params[kMaxParams];
  ElementwiseCall<T> c = detail::make_call(in, loss, reduction, params);
  c.grad = grad.pred;
  c.grad_aux = grad.aux;
  c.hess = hess_out;
  run(L::id, c);
}

}  // namespace lossfn
