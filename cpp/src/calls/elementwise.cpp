// lossfn::run for elementwise losses: checks a call, works out the sum of weights and the
// gradient scale, picks the fused pass that writes exactly the requested outputs and hands
// it to the active ISA's kernel. Baseline code.
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <vector>

#include "dispatch/dispatch.hpp"

namespace lossfn {
namespace {

using detail::fail;
using detail::require;

// Element i (in the call's C order) of an input, contiguous or strided: for messages.
template <class T>
T element(const T* data, const detail::StridedView<T>* v, std::size_t i) {
  if (v == nullptr) return data[i];
  std::ptrdiff_t offset = 0;
  for (int k = v->ndim - 1; k >= 0; --k) {
    offset += std::ptrdiff_t(i % v->extent[k]) * v->stride[k];
    i /= v->extent[k];
  }
  return v->data[offset];
}

// Sign labels must all lie in {-1, +1} or all in {0, 1}. The kernel's pass reports which
// values it met (reading the labels once); the offending index is looked up only when there
// is one. The outputs are then already written, as after any failed call: unspecified.
template <class T>
void check_sign_labels(const LossInfo& info, const T* y, const detail::StridedView<T>* view, std::size_t n,
                       unsigned seen) {
  using namespace detail;
  if (!(seen & kSeenOther) && seen != (kSeenMinusOne | kSeenZero)) return;
  std::ostringstream msg;
  msg << info.name << ": target must hold labels in {-1, +1} or {0, 1}; ";
  bool seen_minus = false, seen_zero = false;
  for (std::size_t i = 0; i < n; ++i) {
    const T v = element(y, view, i);
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
void check_unit_targets(const LossInfo& info, const T* y, const detail::StridedView<T>* view, std::size_t n,
                        unsigned seen) {
  if (!(seen & detail::kSeenOther)) return;
  std::ostringstream msg;
  msg << info.name << ": target must hold probabilities in [0, 1]; ";
  for (std::size_t i = 0; i < n; ++i) {
    const T v = element(y, view, i);
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
void check_aux_values(Loss loss, const LossInfo& info, const T* aux, const detail::StridedView<T>* view,
                      std::size_t n, detail::AuxCheckFn<T> check, int threads, T* scratch) {
  const std::size_t i = check(loss, aux, view, n, threads, scratch);
  if (i == n) return;
  std::ostringstream msg;
  msg << info.name << ": " << info.aux_name
      << (loss == Loss::gaussian_nll ? " has a negative entry " : " must be in (0, 1), got ")
      << double(element(aux, view, i)) << " at index " << i;
  fail(msg.str());
}

// The call's layout, checked: `shape` with `ndim` extents whose product is n, required when
// any input has strides.
template <class T>
bool has_layout(const ElementwiseCall<T>& c) {
  const std::ptrdiff_t* strides[] = {c.pred_strides, c.target_strides, c.aux_strides, c.weight_strides,
                                     c.grad_output_strides};
  bool any = false;
  for (const std::ptrdiff_t* s : strides) any |= s != nullptr;
  if (!any) return false;
  if (c.shape == nullptr) fail("shape: required when an input has strides");
  if (c.ndim < 1 || c.ndim > kMaxDims)
    fail("ndim: must be 1.." + std::to_string(kMaxDims) + ", got " + std::to_string(c.ndim));
  std::size_t count = 1;
  for (int k = 0; k < c.ndim; ++k) {
    if (c.shape[k] != 0 && count > SIZE_MAX / c.shape[k]) fail("shape: the product of the extents overflows");
    count *= c.shape[k];
  }
  if (count != c.n)
    fail("shape: the extents multiply to " + std::to_string(count) + ", not n = " + std::to_string(c.n));
  return true;
}

// An input read through strides, as its fewest axes (extent-1 axes dropped, an axis merged
// into the next where they step through memory as one). Returns whether it must be gathered:
// false when it reduces to one contiguous run, which the kernels read directly from `data`.
// Checks that the elements it spans could all be in memory.
template <class T>
bool strided_view(const ElementwiseCall<T>& c, const T* data, const std::ptrdiff_t* strides, const char* name,
                  detail::StridedView<T>& v) {
  v.data = data;
  v.ndim = 0;
  if (strides == nullptr || c.n == 0) return false;
  // The lowest and highest offsets reached; every extent is >= 1 here (n > 0).
  std::ptrdiff_t low = 0, high = 0;
  for (int k = 0; k < c.ndim; ++k) {
    if (c.shape[k] == 1) continue;
    const std::ptrdiff_t s = strides[k];
    const std::size_t steps = c.shape[k] - 1;
    const std::size_t reach = s < 0 ? std::size_t(-(s + 1)) + 1 : std::size_t(s);  // |s|, also for PTRDIFF_MIN
    if (reach != 0 && steps > std::size_t(PTRDIFF_MAX) / sizeof(T) / reach)
      fail(std::string(name) + ": its strides reach beyond any memory");
    const std::ptrdiff_t span = std::ptrdiff_t(steps * reach);
    if (s < 0) low -= span;
    else high += span;
    if (low < -(PTRDIFF_MAX / std::ptrdiff_t(sizeof(T))) || high > PTRDIFF_MAX / std::ptrdiff_t(sizeof(T)))
      fail(std::string(name) + ": its strides reach beyond any memory");
    if (v.ndim > 0 && v.stride[v.ndim - 1] == std::ptrdiff_t(c.shape[k]) * s) {
      v.extent[v.ndim - 1] *= c.shape[k];
      v.stride[v.ndim - 1] = s;
    } else {
      v.extent[v.ndim] = c.shape[k];
      v.stride[v.ndim] = s;
      ++v.ndim;
    }
  }
  if (data == nullptr) return false;
  const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(data);
  if (at < std::uintptr_t(-low) * sizeof(T) || at + std::uintptr_t(high) * sizeof(T) < at)
    fail(std::string(name) + ": its strides reach beyond any memory");
  return !(v.ndim == 0 || (v.ndim == 1 && v.stride[0] == 1));
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

  const char* aux_name = info.aux_name ? info.aux_name : "aux";
  const bool layout = has_layout(c);
  // Inputs with strides are checked for their span here; contiguous ones by require().
  detail::StridedView<T> views[kInputSlots];
  const detail::StridedView<T>* strided[kInputSlots] = {};
  bool any_strided = false;
  {
    const T* data[kInputSlots] = {c.pred, c.target, c.aux, c.weight, c.grad_output_array};
    const std::ptrdiff_t* strides[kInputSlots] = {c.pred_strides, c.target_strides, c.aux_strides,
                                                  c.weight_strides, c.grad_output_strides};
    const char* names[kInputSlots] = {"pred", "target", aux_name, "weight", "grad_output"};
    for (int s = 0; s < kInputSlots; ++s) {
      if (!layout || strides[s] == nullptr) {
        if (s <= kSlotTarget) require(data[s], n, names[s]);
        else check_optional(data[s], n, names[s]);
        continue;
      }
      if (data[s] == nullptr && n > 0 && s <= kSlotTarget)
        fail(std::string(names[s]) + ": required, got a null pointer for " + std::to_string(n) + " elements");
      if (strided_view(c, data[s], strides[s], names[s], views[s])) {
        strided[s] = &views[s];
        any_strided = true;
      }
    }
  }
  if (info.aux == AuxKind::none && c.aux)
    fail(std::string(info.name) + ": takes no aux input");
  if (info.aux == AuxKind::required && c.aux == nullptr && n > 0)
    fail(std::string(aux_name) + ": required, got a null pointer for " + std::to_string(n) + " elements");
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
  const bool parallel = threads > 1 && n >= kParallelMin;
  // Scratch for the blocks of strided inputs: kInputSlots slots of a block (or of the whole
  // call when it is smaller: a short call with a scalar weight costs no large allocation) per
  // worker; left uninitialised, every element is written before it is read.
  const std::size_t slot = n < kBlock ? (n + 15) / 16 * 16 : kBlock;
  std::unique_ptr<T[]> scratch;
  if (any_strided) scratch.reset(new T[std::size_t(parallel ? threads : 1) * kInputSlots * slot]);

  if (c.aux && (loss == Loss::gaussian_nll || loss == Loss::quantile)) {
    check_aux_values(loss, info, c.aux, strided[kSlotAux], n,
                     for_type<T>(table.aux_check_f32, table.aux_check_f64), threads, scratch.get());
  }

  std::vector<double> partials;
  if (parallel) partials.resize((n + kBlock - 1) / kBlock);

  double weight_sum = double(n);
  if (c.weight && c.reduction == Reduction::mean) {
    if (strided[kSlotWeight]) {
      const StridedSumFn<T> sum = for_type<T>(table.strided_sum_f32, table.strided_sum_f64);
      weight_sum = sum(*strided[kSlotWeight], n, threads, partials.data(), scratch.get());
    } else {
      const SumFn<T> sum = for_type<T>(table.sum_f32, table.sum_f64);
      weight_sum = sum(c.weight, n, threads, partials.data());
    }
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
  job.views = any_strided ? strided : nullptr;
  job.scratch = scratch.get();
  job.scratch_slot = slot;

  const ElementwiseFn<T> fn = for_type<T>(table.f32[int(loss)], table.f64[int(loss)]);
  const double total = n > 0 ? fn(job) : 0.0;
  if (info.target == TargetKind::sign_labels)
    check_sign_labels(info, c.target, strided[kSlotTarget], n, labels_seen);
  if (info.target == TargetKind::unit_interval)
    check_unit_targets(info, c.target, strided[kSlotTarget], n, labels_seen);
  if (c.value) *c.value = c.reduction == Reduction::mean ? total / weight_sum : total;
}

}  // namespace

void run(Loss loss, const ElementwiseCall<float>& call) { run_impl(loss, call); }
void run(Loss loss, const ElementwiseCall<double>& call) { run_impl(loss, call); }

}  // namespace lossfn
