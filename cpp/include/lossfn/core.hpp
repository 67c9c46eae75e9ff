// lossfn core C++17 interface: the loss catalogue (Loss, LossInfo), one generic entry point
// (run with an ElementwiseCall), threads and ISA dispatch. No Python and no third-party
// headers. Errors are reported by throwing lossfn::Error (a std::invalid_argument) whose
// message names the offending argument. <lossfn/lossfn.hpp> adds a typed function per loss.
#pragma once

#if __cplusplus < 201703L
#error "lossfn's C++ headers need C++17 (-std=c++17); C code includes <lossfn/lossfn.h>"
#endif

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

// The version's one source: CMake's project() and pip's metadata (pyproject.toml) read these
// three lines.
#define LOSSFN_VERSION_MAJOR 0
#define LOSSFN_VERSION_MINOR 1
#define LOSSFN_VERSION_PATCH 0
#define LOSSFN_STRINGIFY_(x) #x
#define LOSSFN_STRINGIFY(x) LOSSFN_STRINGIFY_(x)
#define LOSSFN_VERSION_STRING                                                   \
  LOSSFN_STRINGIFY(LOSSFN_VERSION_MAJOR) "." LOSSFN_STRINGIFY(LOSSFN_VERSION_MINOR) "." \
      LOSSFN_STRINGIFY(LOSSFN_VERSION_PATCH)

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
// Threads a call may use. set_num_threads takes 1..kMaxThreads (throws Error otherwise).
// Until it is called, each call follows OpenMP's default for the calling thread
// (omp_get_max_threads(): OMP_NUM_THREADS, omp_set_num_threads, threadpoolctl's OpenMP
// limit), clamped to kMaxThreads. set_thread_limit(k) caps the count (k = 0: no cap; the
// Python package's threadpoolctl controller uses it); set_num_threads clears the cap. A
// process created by fork() runs single-threaded: OpenMP's pool does not survive fork.
// Beyond a few threads per core nothing gets faster, and OpenMP runtimes fail (or abort
// the process) when asked for hundreds of thousands of threads: hence the bound.
constexpr int kMaxThreads = 1024;
void set_num_threads(int n);
int get_num_threads() noexcept;
void set_thread_limit(int n);
int get_thread_limit() noexcept;
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
// real: any value; sign_labels: {-1, +1} or {0, 1}; unit_interval: in [0, 1] (bce, binary_focal).
enum class TargetKind : int { real = 0, sign_labels = 1, unit_interval = 2 };

constexpr int kMaxParams = 4;
// The most axes a strided input may have (NumPy's limit).
constexpr int kMaxDims = 64;

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

// An input read in place through strides, for an ElementwiseCall with a `shape`: element
// (i_0, ..., i_{ndim-1}) of the call's shape is at data[sum_k i_k * strides[k]]. Strides count
// elements (not bytes), may be negative, and are 0 along a broadcast axis, so a scalar weight,
// a per-column vector or a transposed view is read without a temporary of the input's size.
// The result has the same bits as for the same values in a contiguous array.

// One call of an elementwise loss. Inputs are arrays of n elements, contiguous unless strides
// are given. Request the outputs you need by setting their pointers; every combination below
// is one fused pass:
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

  // Optional layout: with `shape` set (ndim extents whose product is n), an input whose strides
  // are given is read through them (see above); one without strides is contiguous. Outputs are
  // always contiguous.
  int ndim = 0;
  const std::size_t* shape = nullptr;
  const std::ptrdiff_t* pred_strides = nullptr;
  const std::ptrdiff_t* target_strides = nullptr;
  const std::ptrdiff_t* aux_strides = nullptr;
  const std::ptrdiff_t* weight_strides = nullptr;
  const std::ptrdiff_t* grad_output_strides = nullptr;

  double* value = nullptr;  // mean/sum: the reduced loss
  T* loss = nullptr;        // none: per-element weighted loss
  T* grad = nullptr;        // d value / d pred
  T* grad_aux = nullptr;    // d value / d aux (when aux_differentiable)
  T* hess = nullptr;        // d2 value / d pred2 (diagonal)
};

void run(Loss loss, const ElementwiseCall<float>& call);
void run(Loss loss, const ElementwiseCall<double>& call);

// ---------------------------------------------------------------------------------------------
// Row losses (SPEC §2 C multi-class) and the softmax utilities
// ---------------------------------------------------------------------------------------------
// The logits are a C-contiguous array of shape (outer, classes, inner): the class axis with
// everything before it flattened into `outer` and everything after it into `inner`. A "row"
// is one (outer, inner) position; axis = -1 is inner = 1, NCHW data with axis = 1 is
// outer = N, inner = H * W (no transposing copy). Per-row arrays (labels, weights, per-row
// losses) are C-contiguous (outer, inner).
// The order is part of the ABI: append only.
enum class RowLoss : int {
  softmax_cross_entropy, categorical_crossentropy, sparse_categorical_crossentropy, nll,
  softmax_focal, categorical_hinge, multi_margin, multilabel_soft_margin,
  logsumexp, softmax, log_softmax,
  count_
};

// What the target of a row loss is: integer labels (one per row), a dense array of the logits'
// shape, either of the two, or nothing (the utilities).
enum class RowTarget : int { none = 0, labels = 1, dense = 2, labels_or_dense = 3 };

struct RowLossInfo {
  const char* name;
  const char* family;  // "multiclass" | "utility"
  int num_params;
  const char* param_names[kMaxParams];
  double param_defaults[kMaxParams];
  RowTarget target;
  const char* class_weight_name;  // the per-class vector it takes ("class_weight", "alpha") or nullptr
  bool ignore_index;              // labels equal to ignore_index are skipped
  // Where the loss's gradient and output have the logits' shape (softmax, log_softmax) rather
  // than one value per row.
  bool full_output;
};

const RowLossInfo& row_loss_info(RowLoss loss);
RowLoss row_loss_from_name(const std::string& name);  // throws Error for an unknown name
int num_row_losses() noexcept;
void validate_row_params(RowLoss loss, const double* params);

// One call of a row loss. Each row i has a loss l_i (class weights inside, as the peer
// defines it) and a weight d_i in the mean's denominator (the target's class weight for
// softmax_cross_entropy and nll with labels, 0 for an ignored row, else 1). With sample
// weights s_i: none -> loss[i] = s_i l_i; sum -> sum_i s_i l_i; mean -> sum_i s_i l_i / sum_i s_i d_i.
// The gradient is that of the reduced value times grad_output (for none: of each row's loss
// times grad_output_array[i] when given).
// The utilities ignore reduction and weights: `loss` receives their output (logsumexp: one
// value per row; softmax, log_softmax: the logits' shape) and `grad` the vector-Jacobian
// product with grad_output_array (the output's shape; nullptr: all ones).
template <class T>
struct RowCall {
  std::size_t outer = 0, classes = 0, inner = 1;
  const T* logits = nullptr;
  const std::int64_t* labels = nullptr;  // outer * inner labels, or nullptr
  const T* target = nullptr;             // dense target of the logits' shape, or nullptr
  const double* class_weight = nullptr;  // `classes` values, or nullptr
  const T* weight = nullptr;             // outer * inner sample weights, or nullptr
  const double* params = nullptr;        // row_loss_info(loss).num_params values; nullptr = defaults
  bool has_ignore_index = false;
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;
  // Optional, for messages only: the batch shape (the logits' shape without the class axis),
  // so that a bad label is reported at its index in that shape.
  const std::size_t* batch_shape = nullptr;
  int batch_ndim = 0;

  double* value = nullptr;  // mean/sum: the reduced loss
  T* loss = nullptr;        // none: per-row weighted losses; utilities: their output
  T* grad = nullptr;        // d value / d logits (the logits' shape)
};

void run(RowLoss loss, const RowCall<float>& call);
void run(RowLoss loss, const RowCall<double>& call);

}  // namespace lossfn
