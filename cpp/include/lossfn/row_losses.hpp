// Typed C++ front-end for the row losses (multi-class losses along a class axis) and the softmax
// utilities: one struct per function holding its hyper-parameters with the documented defaults,
// a view of the inputs (RowInputs), and templates over float and double. Everything forwards to
// lossfn::run(RowLoss, RowCall<T>) (core.hpp).
//
//   // logits: rows x classes, labels: one int64 class index per row
//   lossfn::RowInputs<float> in(logits, rows, classes, labels);
//   double loss = lossfn::value_and_grad(grad, in, lossfn::SoftmaxCrossEntropy{});
//
//   // NCHW scores with the class axis 1: outer = N, inner = H * W (read in place)
//   lossfn::RowInputs<float> seg(scores, lossfn::RowShape{n, c, h * w}, labels);
//   seg.with_ignore_index(255).with_class_weight(class_weight);
//   double v = lossfn::value(seg, lossfn::SoftmaxCrossEntropy{0.1});
//
//   lossfn::apply(probs, lossfn::RowInputs<double>(x, rows, classes), lossfn::Softmax{});
//
// Functions (argument order: outputs, inputs, hyper-parameters, reduction):
//   row losses (L = SoftmaxCrossEntropy, ..., MultilabelSoftMargin)
//     double value(in, L, reduction = mean)                       the reduced loss (mean/sum)
//     void   value_none(T* loss_out, in, L)                       one weighted loss per row
//     double value_and_grad(T* grad, in, L, reduction = mean)     one fused pass
//     void   grad(T* grad, in, L, reduction = mean, grad_output = 1, grad_output_array = nullptr)
//   utilities (F = Logsumexp, Softmax, LogSoftmax)
//     void apply(T* out, in, F)                                   logsumexp: one value per row;
//                                                                 softmax, log_softmax: the logits' shape
//     void vjp(T* grad, in, F, const T* grad_output = nullptr)    vector-Jacobian product (nullptr: all ones)
//     void apply_and_vjp(T* out, T* grad, in, F, const T* grad_output = nullptr)
// A row loss struct given to apply/vjp, a utility given to value/grad, or an elementwise loss
// struct given with RowInputs (or a row struct with Inputs) selects no overload: it does not
// compile. Errors at run time throw lossfn::Error, as everywhere in the C++ API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "lossfn/core.hpp"
#include "lossfn/losses.hpp"

namespace lossfn {

// The logits' layout: a C-contiguous (outer, classes, inner) array. (rows, classes) data is
// {rows, classes, 1}; NCHW data with the class axis 1 is {N, C, H * W}.
struct RowShape {
  std::size_t outer = 0, classes = 0, inner = 1;
};

// The inputs of one row call (a view: nothing is copied). Per-row arrays (labels, weight,
// per-row losses) are C-contiguous (outer, inner), i.e. outer * inner values.
//   labels        one class index per row (softmax_cross_entropy, sparse_categorical_crossentropy,
//                 nll, softmax_focal, multi_margin); or
//   target        a dense target of the logits' shape (softmax_cross_entropy's probabilities,
//                 categorical_crossentropy, categorical_hinge, multilabel_soft_margin);
//   class_weight  `classes` weights (softmax_cross_entropy, nll, multi_margin,
//                 multilabel_soft_margin) or softmax_focal's per-class alpha (for a scalar
//                 alpha pass `classes` copies of it); nullptr: none;
//   weight        per-row sample weights, nullptr: ones;
//   ignore_index  rows whose label equals it are skipped (softmax_cross_entropy, nll,
//                 sparse_categorical_crossentropy), only when has_ignore_index is set.
// The utilities take the logits alone.
template <class T>
struct RowInputs {
  const T* logits = nullptr;
  std::size_t outer = 0, classes = 0, inner = 1;
  const std::int64_t* labels = nullptr;
  const T* target = nullptr;
  const double* class_weight = nullptr;
  const T* weight = nullptr;
  bool has_ignore_index = false;
  std::int64_t ignore_index = -100;

  RowInputs() = default;
  // (rows, classes) logits, the class axis last.
  RowInputs(const T* logits_, std::size_t rows_, std::size_t classes_)
      : RowInputs(logits_, RowShape{rows_, classes_, 1}) {}
  RowInputs(const T* logits_, std::size_t rows_, std::size_t classes_, const std::int64_t* labels_)
      : RowInputs(logits_, RowShape{rows_, classes_, 1}, labels_) {}
  RowInputs(const T* logits_, std::size_t rows_, std::size_t classes_, const T* target_)
      : RowInputs(logits_, RowShape{rows_, classes_, 1}, target_) {}
  // (outer, classes, inner) logits: the class axis anywhere.
  RowInputs(const T* logits_, RowShape shape)
      : logits(logits_), outer(shape.outer), classes(shape.classes), inner(shape.inner) {}
  RowInputs(const T* logits_, RowShape shape, const std::int64_t* labels_) : RowInputs(logits_, shape) {
    labels = labels_;
  }
  RowInputs(const T* logits_, RowShape shape, const T* target_) : RowInputs(logits_, shape) { target = target_; }

  // Chainable setters for the optional inputs.
  RowInputs& with_weight(const T* weight_) { return weight = weight_, *this; }
  RowInputs& with_class_weight(const double* class_weight_) { return class_weight = class_weight_, *this; }
  RowInputs& with_ignore_index(std::int64_t index = -100) {
    has_ignore_index = true;
    ignore_index = index;
    return *this;
  }

  std::size_t rows() const { return outer * inner; }           // length of per-row arrays
  std::size_t size() const { return outer * classes * inner; }  // length of logits, target, grad
};

// --- Hyper-parameters, one struct per function (fields in RowLossInfo order) -------------------
// The class weights, alpha and ignore_index are inputs (RowInputs), not fields here.
#define LOSSFN_ROW_PARAMS_0(Name, id_)            \
  struct Name {                                   \
    static constexpr RowLoss id = RowLoss::id_;   \
    void to_params(double*) const {}              \
  };

struct SoftmaxCrossEntropy {  // labels or a probability target
  static constexpr RowLoss id = RowLoss::softmax_cross_entropy;
  double label_smoothing = 0.0;  // in [0, 1]
  void to_params(double* p) const { p[0] = label_smoothing; }
};
struct CategoricalCrossentropy {  // logits are probabilities (Keras from_logits=False)
  static constexpr RowLoss id = RowLoss::categorical_crossentropy;
  double eps = 1e-7;             // clip to [eps, 1 - eps], in [0, 0.5)
  double label_smoothing = 0.0;  // in [0, 1]
  void to_params(double* p) const { p[0] = eps, p[1] = label_smoothing; }
};
struct SparseCategoricalCrossentropy {  // logits are probabilities
  static constexpr RowLoss id = RowLoss::sparse_categorical_crossentropy;
  double eps = 1e-7;  // in [0, 0.5)
  void to_params(double* p) const { p[0] = eps; }
};
LOSSFN_ROW_PARAMS_0(Nll, nll)  // logits are log-probabilities
struct SoftmaxFocal {  // alpha per class: RowInputs::class_weight
  static constexpr RowLoss id = RowLoss::softmax_focal;
  double gamma = 2.0;  // >= 0
  void to_params(double* p) const { p[0] = gamma; }
};
LOSSFN_ROW_PARAMS_0(CategoricalHinge, categorical_hinge)
struct MultiMargin {
  static constexpr RowLoss id = RowLoss::multi_margin;
  double p = 1.0;       // 1 or 2
  double margin = 1.0;  // >= 0
  void to_params(double* q) const { q[0] = p, q[1] = margin; }
};
LOSSFN_ROW_PARAMS_0(MultilabelSoftMargin, multilabel_soft_margin)
LOSSFN_ROW_PARAMS_0(Logsumexp, logsumexp)
LOSSFN_ROW_PARAMS_0(Softmax, softmax)
LOSSFN_ROW_PARAMS_0(LogSoftmax, log_softmax)
#undef LOSSFN_ROW_PARAMS_0

namespace detail {
constexpr bool is_row_function(RowLoss id) {
  return id == RowLoss::logsumexp || id == RowLoss::softmax || id == RowLoss::log_softmax;
}

// 0: not a row struct; 1: a row loss; 2: a utility.
template <class L, class = void>
struct row_kind : std::integral_constant<int, 0> {};
template <class L>
struct row_kind<L, std::enable_if_t<std::is_same<std::decay_t<decltype(L::id)>, RowLoss>::value>>
    : std::integral_constant<int, is_row_function(L::id) ? 2 : 1> {};

template <class L>
using if_row_loss = std::enable_if_t<row_kind<L>::value == 1, int>;
template <class L>
using if_row_function = std::enable_if_t<row_kind<L>::value == 2, int>;

// What one call writes: the reduced value (returned by run_rows), per-row losses or the
// utility's output, the gradient, and the upstream gradient.
template <class T>
struct RowOutputs {
  bool value = false;
  T* loss = nullptr;
  T* grad = nullptr;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;
};

template <class L, class T>
double run_rows(const RowInputs<T>& in, const L& loss, Reduction reduction, const RowOutputs<T>& out) {
  double params[kMaxParams] = {}, v = 0.0;
  loss.to_params(params);
  RowCall<T> c;
  c.outer = in.outer;
  c.classes = in.classes;
  c.inner = in.inner;
  c.logits = in.logits;
  c.labels = in.labels;
  c.target = in.target;
  c.class_weight = in.class_weight;
  c.weight = in.weight;
  c.has_ignore_index = in.has_ignore_index;
  c.ignore_index = in.ignore_index;
  c.params = params;
  c.reduction = reduction;
  c.value = out.value ? &v : nullptr;
  c.loss = out.loss;
  c.grad = out.grad;
  c.grad_output = out.grad_output;
  c.grad_output_array = out.grad_output_array;
  run(L::id, c);
  return v;
}
}  // namespace detail

// --- Row losses ---------------------------------------------------------------------------------
// Each row i has a loss l_i, a sample weight s_i and a weight d_i in the mean's denominator
// (its label's class weight for softmax_cross_entropy and nll with labels, 0 for an ignored
// row, else 1): mean = sum_i s_i l_i / sum_i s_i d_i, sum = sum_i s_i l_i (docs/losses.md).

// The reduced loss (mean or sum).
template <class L, class T, detail::if_row_loss<L> = 0>
double value(const RowInputs<T>& in, const L& loss = L{}, Reduction reduction = Reduction::mean) {
  return detail::run_rows(in, loss, reduction, detail::RowOutputs<T>{true});
}

// Per-row weighted losses (reduction none) into loss_out[in.rows()].
template <class L, class T, detail::if_row_loss<L> = 0>
void value_none(typename detail::non_deduced<T>::type* loss_out, const RowInputs<T>& in, const L& loss = L{}) {
  detail::run_rows(in, loss, Reduction::none, detail::RowOutputs<T>{false, loss_out});
}

// The reduced loss and its gradient w.r.t. the logits (grad[in.size()]), in one pass.
template <class L, class T, detail::if_row_loss<L> = 0>
double value_and_grad(typename detail::non_deduced<T>::type* grad, const RowInputs<T>& in, const L& loss = L{},
                      Reduction reduction = Reduction::mean) {
  return detail::run_rows(in, loss, reduction, detail::RowOutputs<T>{true, nullptr, grad});
}

// Gradient w.r.t. the logits (grad[in.size()]) of the reduced loss times grad_output; for
// none, of each row's loss times grad_output_array[i] (in.rows() values) when given, else
// grad_output.
template <class L, class T, detail::if_row_loss<L> = 0>
void grad(typename detail::non_deduced<T>::type* grad, const RowInputs<T>& in, const L& loss = L{},
          Reduction reduction = Reduction::mean, double grad_output = 1.0,
          const typename detail::non_deduced<T>::type* grad_output_array = nullptr) {
  detail::run_rows(in, loss, reduction, detail::RowOutputs<T>{false, nullptr, grad, grad_output, grad_output_array});
}

// --- Utilities (logsumexp, softmax, log_softmax over the class axis) ---------------------------
// Output and grad_output: in.rows() values for Logsumexp, in.size() for Softmax and LogSoftmax.
// No weights, labels or reduction.

// The function's value into out.
template <class F, class T, detail::if_row_function<F> = 0>
void apply(typename detail::non_deduced<T>::type* out, const RowInputs<T>& in, const F& f = F{}) {
  detail::run_rows(in, f, Reduction::none, detail::RowOutputs<T>{false, out});
}

// Vector-Jacobian product: grad[in.size()] = J^T grad_output (nullptr: all ones).
template <class F, class T, detail::if_row_function<F> = 0>
void vjp(typename detail::non_deduced<T>::type* grad, const RowInputs<T>& in, const F& f = F{},
         const typename detail::non_deduced<T>::type* grad_output = nullptr) {
  detail::run_rows(in, f, Reduction::none, detail::RowOutputs<T>{false, nullptr, grad, 1.0, grad_output});
}

// Both in one call.
template <class F, class T, detail::if_row_function<F> = 0>
void apply_and_vjp(typename detail::non_deduced<T>::type* out, typename detail::non_deduced<T>::type* grad,
                   const RowInputs<T>& in, const F& f = F{},
                   const typename detail::non_deduced<T>::type* grad_output = nullptr) {
  detail::run_rows(in, f, Reduction::none, detail::RowOutputs<T>{false, out, grad, 1.0, grad_output});
}

}  // namespace lossfn
