// lossfn core C++17 interface: the loss catalogue (Loss, LossInfo), one generic entry point
// (run with an ElementwiseCall), threads and ISA dispatch. No Python and no third-party
// headers. Errors are reported by throwing lossfn::Error (a std::invalid_argument) whose
// message names the offending argument. <lossfn/lossfn.hpp> adds a typed function per loss.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#define LOSSFN_VERSION_MAJOR 0
#define LOSSFN_VERSION_MINOR 1
#define LOSSFN_VERSION_PATCH 0
#define LOSSFN_VERSION_STRING "0.1.0"

namespace lossfn {

const char* version() noexcept;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------
enum class ErrorKind : int { value = 1, type = 2 };

class Error : public std::invalid_argument {
 public:
  Error(ErrorKind kind, const std::string& message) : std::invalid_argument(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

// ---------------------------------------------------------------------------------------------
// Threads and CPU dispatch
// ---------------------------------------------------------------------------------------------
enum class Isa : int { baseline = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa) noexcept;
Isa active_isa() noexcept;            // the level kernels run at now
bool isa_available(Isa isa) noexcept;  // compiled in and supported by this CPU
void set_isa(Isa isa);                 // throws Error when the level is not available
void set_num_threads(int n);           // n >= 1; throws Error otherwise
int get_num_threads() noexcept;        // default: omp_get_max_threads() (honours OMP_NUM_THREADS)
bool has_openmp() noexcept;
const char* compiler() noexcept;

// ---------------------------------------------------------------------------------------------
// Elementwise losses (SPEC §2 A regression, §2 B binary classification)
// ---------------------------------------------------------------------------------------------
// The order is part of the ABI: append only.
enum class Loss : int {
  mse, mae, huber, smooth_l1, log_cosh, quantile, msle, mape, poisson_nll, gaussian_nll,
  charbonnier, cauchy, welsch, geman_mcclure, general_robust,
  bce, bce_with_logits, binary_focal, sigmoid_focal, hinge, squared_hinge, smooth_hinge,
  modified_huber, soft_margin,
  count_
};

enum class Reduction : int { none = 0, mean = 1, sum = 2 };

// An optional third per-element input. `optional`: when absent the kernel uses a
// hyper-parameter in its place (quantile's tau, bce_with_logits' pos_weight).
enum class AuxKind : int { none = 0, optional = 1, required = 2 };

// What the target holds. `sign_labels`: {-1, +1} or {0, 1} (0 is read as -1).
enum class TargetKind : int { real = 0, sign_labels = 1 };

constexpr int kMaxParams = 4;

struct LossInfo {
  const char* name;
  const char* family;  // "regression" | "binary"
  int num_params;
  const char* param_names[kMaxParams];
  double param_defaults[kMaxParams];
  AuxKind aux;
  const char* aux_name;      // nullptr when aux == none
  int aux_param;             // index of the parameter that stands in for an absent aux, or -1
  bool aux_differentiable;   // the gradient has a second output, w.r.t. aux
  TargetKind target;
};

const LossInfo& loss_info(Loss loss);
Loss loss_from_name(const std::string& name);  // throws Error for an unknown name
int num_losses() noexcept;

// Checks hyper-parameters; throws Error naming the first invalid one.
void validate_params(Loss loss, const double* params);

// One call of an elementwise loss. Inputs are contiguous arrays of n elements. Request the
// outputs you need by setting their pointers; every combination below is one fused pass:
//   value                      -> value (mean/sum) or loss (none)
//   value + grad               -> value_and_grad
//   grad                       -> gradient, scaled by grad_output (scalar or per element)
//   hess (+ grad)              -> Hessian diagonal (and gradient, e.g. for boosting objectives)
// The gradient of mean/sum is the gradient of the reduced value times grad_output;
// for none it is the per-element gradient times grad_output_array[i] (or grad_output).
template <class T>
struct ElementwiseCall {
  std::size_t n = 0;
  const T* pred = nullptr;
  const T* target = nullptr;
  const T* aux = nullptr;     // n values, or nullptr (see AuxKind)
  const T* weight = nullptr;  // n values, or nullptr for unit weights
  const double* params = nullptr;  // loss_info(loss).num_params values; nullptr = defaults
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;  // reduction none only

  double* value = nullptr;  // mean/sum: the reduced loss
  T* loss = nullptr;        // none: per-element weighted loss
  T* grad = nullptr;        // d value / d pred
  T* grad_aux = nullptr;    // d value / d aux (when aux_differentiable)
  T* hess = nullptr;        // d2 value / d pred2 (diagonal)
};

void run(Loss loss, const ElementwiseCall<float>& call);
void run(Loss loss, const ElementwiseCall<double>& call);

}  // namespace lossfn
