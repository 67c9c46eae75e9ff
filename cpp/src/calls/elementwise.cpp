// lossfn::run for elementwise losses: checks a call, works out the sum of weights and the
// gradient scale, picks the fused pass that writes exactly the requested outputs and hands
// it to the active ISA's kernel. Baseline code.
#include <cmath>
#include <cstring>
#include <sstream>
#include <vector>

#include "dispatch/dispatch.hpp"

namespace lossfn {
namespace {

using detail::fail;
using detail::require;

// Sign labels must all lie in {-1, +1} or all in {0, 1}. The kernel's pass reports which
// values it met (reading the labels once); the offending index is looked up only when there
// is one. The outputs are then already written, as after any failed call: unspecified.
template <class T>
void check_sign_labels(const LossInfo& info, const T* y, std::size_t n, unsigned seen) {
  using namespace detail;
  if (!(seen & kSeenOther) && seen != (kSeenMinusOne | kSeenZero)) return;
  std::ostringstream msg;
  msg << info.name << ": target must hold labels in {-1, +1} or {0, 1}; ";
  bool seen_minus = false, seen_zero = false;
  for (std::size_t i = 0; i < n; ++i) {
    const T v = y[i];
    seen_minus |= v == T(-1);
    seen_zero |= v == T(0);
    if (!(v == T(1) || v == T(-1) || v == T(0))) {
      msg << "found " << double(v) << " at index " << i;
      fail(msg.str());
    }
    if (seen_minus && seen_zero) {
      msg << "found both -1 and 0 (index " << i << ")";
      fail(msg.str());
    }
  }
  // The kernel's pass met a bad label that is gone now: another thread changed the targets.
  msg << "they changed during the call";
  fail(msg.str());
}

// bce / binary_focal targets are probabilities: a target outside [0, 1] (nan passes, as any
// nan input does) makes the kernel's pass set kSeenOther; the first one is named here.
template <class T>
void check_unit_targets(const LossInfo& info, const T* y, std::size_t n, unsigned seen) {
  if (!(seen & detail::kSeenOther)) return;
  std::ostringstream msg;
  msg << info.name << ": target must hold probabilities in [0, 1]; ";
  for (std::size_t i = 0; i < n; ++i) {
    const T v = y[i];
    if (v < T(0) || v > T(1)) {
      msg << "found " << double(v) << " at index " << i;
      fail(msg.str());
    }
  }
  msg << "they changed during the call";
  fail(msg.str());
}

// A hyper-parameter valid in float64 may not be one in float32, the compute dtype of float32
// inputs: one that overflows or underflows to 0 there, or a scale c whose reciprocal (which
// the kernels multiply by) overflows, is refused rather than computed with as inf or 0.
template <class T>
void check_params_fit(const LossInfo& info, const double* params) {
  for (int i = 0; i < info.num_params; ++i) {
    const double v = params[i];
    const char* name = info.param_names[i];
    const bool scale = std::strcmp(name, "c") == 0;  // a scale: the kernels multiply by 1/c
    if (!std::isfinite(v)) continue;  // validate_params has ruled on those
    const T t = T(v);
    if (std::isfinite(double(t)) && (v == 0 || t != T(0)) && (!scale || std::isfinite(double(T(1 / v))))) continue;
    std::ostringstream msg;
    msg << info.name << ": " << name << " = " << v << " is outside the range of "
        << (sizeof(T) == 4 ? "float32" : "float64") << ", the compute dtype"
        << (scale ? " (c and 1/c must both be finite and nonzero there)" : "");
    fail(msg.str());
  }
}

// gaussian_nll's var must be >= 0 and quantile's per-element tau in (0, 1): one vectorized,
// threaded scan (the active ISA's kernel) that returns the first offending index.
template <class T>
void check_aux_values(Loss loss, const LossInfo& info, const T* aux, std::size_t n,
                      detail::AuxCheckFn<T> check, int threads) {
  const std::size_t i = check(loss, aux, n, threads);
  if (i == n) return;
  std::ostringstream msg;
  msg << info.name << ": " << info.aux_name
      << (loss == Loss::gaussian_nll ? " has a negative entry " : " must be in (0, 1), got ")
      << double(aux[i]) << " at index " << i;
  fail(msg.str());
}

template <class T>
void run_impl(Loss loss, const ElementwiseCall<T>& c) {
  using namespace detail;
  const LossInfo& info = loss_info(loss);
  const std::size_t n = c.n;

  double params[kMaxParams] = {0, 0, 0, 0};
  for (int i = 0; i < info.num_params; ++i)
    params[i] = c.params ? c.params[i] : info.param_defaults[i];
  validate_params(loss, params);
  check_params_fit<T>(info, params);

  require(c.pred, n, "pred");
  require(c.target, n, "target");
  if (info.aux == AuxKind::none && c.aux)
    fail(std::string(info.name) + ": takes no aux input");
  if (info.aux == AuxKind::required) require(c.aux, n, info.aux_name);
  check_optional(c.aux, n, info.aux_name ? info.aux_name : "aux");
  check_optional(c.weight, n, "weight");
  check_optional(c.grad_output_array, n, "grad_output");
  check_optional(c.loss, n, "loss");
  check_optional(c.grad, n, "grad");
  check_optional(c.grad_aux, n, "grad_aux");
  check_optional(c.hess, n, "hess");

  const bool reduced = c.reduction != Reduction::none;
  if (c.reduction != Reduction::none && c.reduction != Reduction::mean &&
      c.reduction != Reduction::sum)
    fail("reduction: must be none, mean or sum");
  const bool want_value = reduced ? c.value != nullptr : c.loss != nullptr;
  if (reduced && c.loss) fail("loss: per-element losses are written only for reduction none");
  if (!reduced && c.value) fail("value: a reduced value is written only for reduction mean or sum");
  const bool want_grad = c.grad != nullptr, want_hess = c.hess != nullptr;
  if (c.grad_output_array && reduced)
    fail("grad_output: an array upstream gradient needs reduction none");
  if (want_grad && info.aux_differentiable && c.grad_aux == nullptr && n > 0)
    fail(std::string("grad_aux: ") + info.name + " also writes the gradient w.r.t. " + info.aux_name);

  unsigned outputs = 0;
  if (want_value && !want_hess) {
    outputs = reduced ? kSum : kLoss;
    if (want_grad) outputs |= kGrad;
    if (want_grad && c.grad_output_array) fail("grad_output: an array needs a gradient-only call");
  } else if (!want_value && (want_grad || want_hess)) {
    outputs = (want_grad ? kGrad : 0u) | (want_hess ? kHess : 0u);
    if (c.grad_output_array) {
      if (want_hess) fail("grad_output: an array is not combined with the Hessian");
      outputs |= kGradOut;
    }
  } else if (want_value) {
    fail("hess: the value and the Hessian are not computed in one call");
  } else {
    fail("no output requested");
  }
  if (c.weight) outputs |= kWeight;
  if (c.aux) outputs |= kAux;

  const KernelTable& table = active_table();
  const int threads = get_num_threads();
  if (c.aux && (loss == Loss::gaussian_nll || loss == Loss::quantile)) {
    check_aux_values(loss, info, c.aux, n, for_type<T>(table.aux_check_f32, table.aux_check_f64),
                     threads);
  }

  std::vector<double> partials;
  if (threads > 1 && n >= kParallelMin) partials.resize((n + kBlock - 1) / kBlock);

  double weight_sum = double(n);
  if (c.weight && c.reduction == Reduction::mean) {
    const SumFn<T> sum = for_type<T>(table.sum_f32, table.sum_f64);
    weight_sum = sum(c.weight, n, threads, partials.data());
  }

  Job<T> job{};
  job.n = n;
  job.pred = c.pred;
  job.target = c.target;
  job.aux = c.aux;
  job.weight = c.weight;
  job.grad_output = c.grad_output_array;
  job.loss = c.loss;
  job.grad = c.grad;
  job.grad_aux = c.grad_aux;
  job.hess = c.hess;
  for (int i = 0; i < kMaxParams; ++i) job.params[i] = params[i];
  job.scale = c.reduction == Reduction::mean ? c.grad_output / weight_sum : c.grad_output;
  job.outputs = outputs;
  job.threads = threads;
  job.partials = partials.data();
  unsigned labels_seen = 0;
  job.labels_seen = &labels_seen;

  const ElementwiseFn<T> fn = for_type<T>(table.f32[int(loss)], table.f64[int(loss)]);
  const double total = n > 0 ? fn(job) : 0.0;
  if (info.target == TargetKind::sign_labels) check_sign_labels(info, c.target, n, labels_seen);
  if (info.target == TargetKind::unit_interval) check_unit_targets(info, c.target, n, labels_seen);
  if (c.value) *c.value = c.reduction == Reduction::mean ? total / weight_sum : total;
}

}  // namespace

void run(Loss loss, const ElementwiseCall<float>& call) { run_impl(loss, call); }
void run(Loss loss, const ElementwiseCall<double>& call) { run_impl(loss, call); }

}  // namespace lossfn
