// What every elementwise loss takes: names, hyper-parameters with their defaults and limits.
// Baseline code. The order follows enum class Loss.
#include <cmath>
#include <cstring>
#include <sstream>

#include "lossfn/core.hpp"

namespace lossfn {
namespace {

using A = AuxKind;
using TK = TargetKind;

// name, family, num_params, param names, defaults, aux kind, aux name, aux param,
// aux differentiable, target kind
const LossInfo kLosses[] = {
    {"mse", "regression", 0, {}, {}, A::none, nullptr, -1, false, TK::real},
    {"mae", "regression", 0, {}, {}, A::none, nullptr, -1, false, TK::real},
    {"huber", "regression", 1, {"delta"}, {1.0}, A::none, nullptr, -1, false, TK::real},
    {"smooth_l1", "regression", 1, {"beta"}, {1.0}, A::none, nullptr, -1, false, TK::real},
    {"log_cosh", "regression", 0, {}, {}, A::none, nullptr, -1, false, TK::real},
    {"quantile", "regression", 1, {"tau"}, {0.5}, A::optional, "tau", 0, false, TK::real},
    {"msle", "regression", 1, {"eps"}, {1e-7}, A::none, nullptr, -1, false, TK::real},
    {"mape", "regression", 1, {"eps"}, {1e-7}, A::none, nullptr, -1, false, TK::real},
    {"poisson_nll", "regression", 3, {"log_input", "full", "eps"}, {1.0, 0.0, 1e-8}, A::none,
     nullptr, -1, false, TK::real},
    {"gaussian_nll", "regression", 2, {"full", "eps"}, {0.0, 1e-6}, A::required, "var", -1, true,
     TK::real},
    {"charbonnier", "regression", 1, {"c"}, {1.0}, A::none, nullptr, -1, false, TK::real},
    {"cauchy", "regression", 1, {"c"}, {1.0}, A::none, nullptr, -1, false, TK::real},
    {"welsch", "regression", 1, {"c"}, {1.0}, A::none, nullptr, -1, false, TK::real},
    {"geman_mcclure", "regression", 1, {"c"}, {1.0}, A::none, nullptr, -1, false, TK::real},
    {"general_robust", "regression", 2, {"alpha", "c"}, {1.0, 1.0}, A::none, nullptr, -1, false,
     TK::real},
    {"bce", "binary", 3, {"eps", "w0", "w1"}, {1e-7, 1.0, 1.0}, A::none, nullptr, -1, false,
     TK::unit_interval},
    {"bce_with_logits", "binary", 3, {"pos_weight", "w0", "w1"}, {1.0, 1.0, 1.0}, A::optional,
     "pos_weight", 0, false, TK::real},
    {"binary_focal", "binary", 3, {"gamma", "alpha", "eps"}, {2.0, -1.0, 1e-7}, A::none, nullptr,
     -1, false, TK::unit_interval},
    {"sigmoid_focal", "binary", 2, {"gamma", "alpha"}, {2.0, 0.25}, A::none, nullptr, -1, false,
     TK::real},
    {"hinge", "binary", 0, {}, {}, A::none, nullptr, -1, false, TK::sign_labels},
    {"squared_hinge", "binary", 0, {}, {}, A::none, nullptr, -1, false, TK::sign_labels},
    {"smooth_hinge", "binary", 1, {"smoothing"}, {1.0}, A::none, nullptr, -1, false,
     TK::sign_labels},
    {"modified_huber", "binary", 0, {}, {}, A::none, nullptr, -1, false, TK::sign_labels},
    {"soft_margin", "binary", 0, {}, {}, A::none, nullptr, -1, false, TK::sign_labels},
};
static_assert(sizeof(kLosses) / sizeof(kLosses[0]) == std::size_t(Loss::count_),
              "one LossInfo per Loss");

[[noreturn]] void fail(const char* loss, const char* param, const char* rule, double got) {
  std::ostringstream msg;
  msg << loss << ": " << param << " must be " << rule << ", got " << got;
  throw Error(ErrorKind::value, msg.str());
}

struct Checker {
  const char* loss;
  const double* p;
  const LossInfo& info;
  int index(const char* name) const {
    for (int i = 0; i < info.num_params; ++i)
      if (std::strcmp(info.param_names[i], name) == 0) return i;
    return -1;
  }
  double get(const char* name) const { return p[index(name)]; }
  void positive(const char* name) const {
    const double v = get(name);
    if (!(v > 0) || !std::isfinite(v)) fail(loss, name, "a finite number > 0", v);
  }
  void non_negative(const char* name) const {
    const double v = get(name);
    if (!(v >= 0) || !std::isfinite(v)) fail(loss, name, "a finite number >= 0", v);
  }
  void open_unit(const char* name) const {
    const double v = get(name);
    if (!(v > 0 && v < 1)) fail(loss, name, "in (0, 1)", v);
  }
  void clip_eps(const char* name) const {
    const double v = get(name);
    if (!(v >= 0 && v < 0.5)) fail(loss, name, "in [0, 0.5)", v);
  }
};

using RT = RowTarget;

// name, family, num_params, param names, defaults, target, class-weight vector, ignore_index,
// full output
const RowLossInfo kRowLosses[] = {
    {"softmax_cross_entropy", "multiclass", 1, {"label_smoothing"}, {0.0}, RT::labels_or_dense,
     "class_weight", true, false},
    {"categorical_crossentropy", "multiclass", 2, {"eps", "label_smoothing"}, {1e-7, 0.0}, RT::dense,
     nullptr, false, false},
    {"sparse_categorical_crossentropy", "multiclass", 1, {"eps"}, {1e-7}, RT::labels, nullptr, true,
     false},
    {"nll", "multiclass", 0, {}, {}, RT::labels, "class_weight", true, false},
    {"softmax_focal", "multiclass", 1, {"gamma"}, {2.0}, RT::labels, "alpha", false, false},
    {"categorical_hinge", "multiclass", 0, {}, {}, RT::dense, nullptr, false, false},
    {"multi_margin", "multiclass", 2, {"p", "margin"}, {1.0, 1.0}, RT::labels, "class_weight", false,
     false},
    {"multilabel_soft_margin", "multiclass", 0, {}, {}, RT::dense, "class_weight", false, false},
    {"logsumexp", "utility", 0, {}, {}, RT::none, nullptr, false, false},
    {"softmax", "utility", 0, {}, {}, RT::none, nullptr, false, true},
    {"log_softmax", "utility", 0, {}, {}, RT::none, nullptr, false, true},
};
static_assert(sizeof(kRowLosses) / sizeof(kRowLosses[0]) == std::size_t(RowLoss::count_),
              "one RowLossInfo per RowLoss");

}  // namespace

int num_row_losses() noexcept { return int(RowLoss::count_); }

const RowLossInfo& row_loss_info(RowLoss loss) {
  const int i = int(loss);
  if (i < 0 || i >= int(RowLoss::count_)) throw Error(ErrorKind::value, "loss: unknown row loss id");
  return kRowLosses[i];
}

RowLoss row_loss_from_name(const std::string& name) {
  for (int i = 0; i < int(RowLoss::count_); ++i)
    if (name == kRowLosses[i].name) return RowLoss(i);
  throw Error(ErrorKind::value, "loss: unknown row loss '" + name + "'");
}

void validate_row_params(RowLoss loss, const double* p) {
  const RowLossInfo& info = row_loss_info(loss);
  for (int i = 0; i < info.num_params; ++i)
    if (!std::isfinite(p[i])) fail(info.name, info.param_names[i], "a finite number", p[i]);
  switch (loss) {
    case RowLoss::softmax_cross_entropy:
      if (!(p[0] >= 0 && p[0] <= 1)) fail(info.name, "label_smoothing", "in [0, 1]", p[0]);
      break;
    case RowLoss::categorical_crossentropy:
      if (!(p[1] >= 0 && p[1] <= 1)) fail(info.name, "label_smoothing", "in [0, 1]", p[1]);
      [[fallthrough]];
    case RowLoss::sparse_categorical_crossentropy:
      if (!(p[0] >= 0 && p[0] < 0.5)) fail(info.name, "eps", "in [0, 0.5)", p[0]);
      break;
    case RowLoss::softmax_focal:
      if (!(p[0] >= 0)) fail(info.name, "gamma", "a finite number >= 0", p[0]);
      break;
    case RowLoss::multi_margin:
      if (!(p[0] == 1 || p[0] == 2)) fail(info.name, "p", "1 or 2", p[0]);
      if (!(p[1] >= 0)) fail(info.name, "margin", "a finite number >= 0", p[1]);
      break;
    default: break;
  }
}

int num_losses() noexcept { return int(Loss::count_); }

const LossInfo& loss_info(Loss loss) {
  const int i = int(loss);
  if (i < 0 || i >= int(Loss::count_)) throw Error(ErrorKind::value, "loss: unknown loss id");
  return kLosses[i];
}

Loss loss_from_name(const std::string& name) {
  for (int i = 0; i < int(Loss::count_); ++i)
    if (name == kLosses[i].name) return Loss(i);
  throw Error(ErrorKind::value, "loss: unknown loss '" + name + "'");
}

void validate_params(Loss loss, const double* p) {
  const LossInfo& info = loss_info(loss);
  const Checker c{info.name, p, info};
  for (int i = 0; i < info.num_params; ++i)
    if (std::isnan(p[i])) fail(info.name, info.param_names[i], "a number", p[i]);
  switch (loss) {
    case Loss::huber: c.positive("delta"); break;
    case Loss::smooth_l1: c.non_negative("beta"); break;
    case Loss::quantile: c.open_unit("tau"); break;
    case Loss::msle:
    case Loss::mape: c.positive("eps"); break;
    case Loss::poisson_nll:
    case Loss::gaussian_nll: c.positive("eps"); break;
    case Loss::charbonnier:
    case Loss::cauchy:
    case Loss::welsch:
    case Loss::geman_mcclure: c.positive("c"); break;
    case Loss::general_robust:
      c.positive("c");
      if (p[0] == HUGE_VAL) fail(info.name, "alpha", "a number or -inf", p[0]);
      break;
    case Loss::bce:
      c.clip_eps("eps");
      c.non_negative("w0");
      c.non_negative("w1");
      break;
    case Loss::bce_with_logits:
      c.non_negative("pos_weight");
      c.non_negative("w0");
      c.non_negative("w1");
      break;
    case Loss::binary_focal:
      c.non_negative("gamma");
      c.clip_eps("eps");
      if (c.get("alpha") > 1) fail(info.name, "alpha", "in [0, 1] (or negative for none)", p[1]);
      break;
    case Loss::sigmoid_focal:
      c.non_negative("gamma");
      if (c.get("alpha") > 1) fail(info.name, "alpha", "in [0, 1] (or negative for none)", p[1]);
      break;
    case Loss::smooth_hinge: c.positive("smoothing"); break;
    default: break;
  }
  for (int i = 0; i < info.num_params; ++i)
    if (std::isinf(p[i]) && !(loss == Loss::general_robust && i == 0))
      fail(info.name, info.param_names[i], "finite", p[i]);
}

}  // namespace lossfn
