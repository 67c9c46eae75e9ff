// lossfn::run for row losses (multi-class losses and softmax utilities): checks a call (targets,
// labels, class weights, outputs), works out the mean's denominator and the gradient scale,
// chooses how rows are spread over threads and hands the call to the active ISA's kernel.
// Baseline code.
#include <cmath>
#include <memory>
#include <sstream>
#include <vector>

#include "dispatch/dispatch.hpp"

namespace lossfn {
namespace {

using detail::fail;
using detail::require;

// "(3, 5)" for flat row index 41 of a (9, 12) batch; "41" without a batch shape.
std::string position(std::size_t flat, const std::size_t* shape, int ndim) {
  if (shape == nullptr || ndim <= 0) return std::to_string(flat);
  std::vector<std::size_t> idx(std::size_t(ndim), 0);
  for (int d = ndim - 1; d >= 0; --d) {
    const std::size_t n = shape[d] ? shape[d] : 1;
    idx[std::size_t(d)] = flat % n;
    flat /= n;
  }
  std::ostringstream s;
  s << "(";
  for (int d = 0; d < ndim; ++d) s << (d ? ", " : "") << idx[std::size_t(d)];
  s << (ndim == 1 ? ",)" : ")");
  return s.str();
}

// Copies the labels while checking them: the kernels index the logits, the gradient and the
// class weights with the copy, so a caller's thread that rewrites its labels during the call
// (the GIL is released) cannot make them address memory outside the buffers. A label is
// 8 bytes per row of C scores: the copy costs nothing next to the logits.
template <class T>
void copy_checked_labels(const RowLossInfo& info, const RowCall<T>& c, std::size_t rows, std::int64_t* out) {
  const std::int64_t C = std::int64_t(c.classes);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::int64_t y = c.labels[r];
    out[r] = y;
    if ((y < 0 || y >= C) && !(c.has_ignore_index && y == c.ignore_index)) {
      std::ostringstream msg;
      msg << info.name << ": target label " << y << " at index " << position(r, c.batch_shape, c.batch_ndim)
          << " is outside [0, " << C << ")";
      if (c.has_ignore_index) msg << " and is not ignore_index (" << c.ignore_index << ")";
      fail(msg.str());
    }
  }
}

template <class T>
void run_impl(RowLoss loss, const RowCall<T>& c) {
  using namespace detail;
  const RowLossInfo& info = row_loss_info(loss);
  const bool utility = info.target == RowTarget::none;
  const std::size_t rows = c.outer * c.inner, n = rows * c.classes, C = c.classes;
  if ((c.outer != 0 && rows / c.outer != c.inner) || (C != 0 && n / C != rows))
    fail("logits: the shape is too large");

  double params[kMaxParams] = {0, 0, 0, 0};
  for (int i = 0; i < info.num_params; ++i) params[i] = c.params ? c.params[i] : info.param_defaults[i];
  validate_row_params(loss, params);

  if (rows > 0 && C == 0) fail(std::string(info.name) + ": logits: the class axis has length 0");
  require(c.logits, n, "logits");
  check_optional(c.target, n, "target");
  check_optional(c.labels, rows, "labels");
  check_optional(c.weight, rows, "weight");
  check_optional(c.grad, n, "grad");
  check_optional(c.loss, info.full_output ? n : rows, "loss");
  check_optional(c.grad_output_array, info.full_output ? n : rows, "grad_output");

  // Targets: labels, a dense array, either, or none.
  const bool wants_labels = info.target == RowTarget::labels || info.target == RowTarget::labels_or_dense;
  const bool wants_dense = info.target == RowTarget::dense || info.target == RowTarget::labels_or_dense;
  if (utility && (c.labels || c.target)) fail(std::string(info.name) + ": target: takes no target");
  if (c.labels && c.target) fail(std::string(info.name) + ": target: pass labels or a dense target, not both");
  if (c.labels && !wants_labels) fail(std::string(info.name) + ": target: takes a dense target, not labels");
  if (c.target && !wants_dense) fail(std::string(info.name) + ": target: takes integer labels, not a dense target");
  if (!utility && rows > 0 && !c.labels && !c.target) fail(std::string(info.name) + ": target: null pointer");
  if (c.has_ignore_index && !info.ignore_index) fail(std::string(info.name) + ": ignore_index: not supported");
  if (c.has_ignore_index && !c.labels) fail(std::string(info.name) + ": ignore_index: applies to integer labels only");

  if (c.class_weight) {
    if (!info.class_weight_name) fail(std::string(info.name) + ": class_weight: not supported");
    for (std::size_t k = 0; k < C; ++k)
      if (!(c.class_weight[k] >= 0) || !std::isfinite(c.class_weight[k])) {
        std::ostringstream msg;
        msg << info.name << ": " << info.class_weight_name << ": entries must be finite and >= 0, got "
            << c.class_weight[k] << " at index " << k;
        fail(msg.str());
      }
  }

  // Outputs.
  const Reduction reduction = utility ? Reduction::none : c.reduction;
  if (reduction != Reduction::none && reduction != Reduction::mean && reduction != Reduction::sum)
    fail("reduction: must be none, mean or sum");
  const bool reduced = reduction != Reduction::none;
  if (utility && c.weight) fail(std::string(info.name) + ": weight: the utilities take no weights");
  if (utility && c.value) fail("value: the utilities return an array (pass loss)");
  if (reduced && c.loss) fail("loss: per-row losses are written only for reduction none");
  if (!reduced && c.value) fail("value: a reduced value is written only for reduction mean or sum");
  const bool want_value = reduced ? c.value != nullptr : c.loss != nullptr;
  const bool want_grad = c.grad != nullptr;
  if (!want_value && !want_grad)
    fail(std::string("no output requested: pass ") + (utility ? "loss" : reduced ? "value" : "loss") + " or grad");
  if (utility && c.grad_output != 1.0)
    fail("grad_output: the utilities take their upstream gradient as an array (grad_output_array)");
  if (c.grad_output_array && reduced) fail("grad_output: an array upstream gradient needs reduction none");
  if (c.grad_output_array && !want_grad) fail("grad_output: an upstream gradient needs a gradient output");
  if (c.grad_output_array && want_value && !utility) fail("grad_output: an array needs a gradient-only call");

  std::vector<std::int64_t> labels;
  if (c.labels) {
    labels.resize(rows);
    copy_checked_labels(info, c, rows, labels.data());
  }

  // The mean's denominator: sum_i s_i d_i.
  double denominator = double(rows);
  if (reduction == Reduction::mean) {
    const bool by_class = c.labels && c.class_weight &&
                          (loss == RowLoss::softmax_cross_entropy || loss == RowLoss::nll);
    if (by_class || c.weight || c.has_ignore_index) {
      denominator = 0.0;
      for (std::size_t r = 0; r < rows; ++r) {
        double d = 1.0;
        if (c.labels) {
          const std::int64_t y = labels[r];
          if (c.has_ignore_index && y == c.ignore_index) continue;
          if (by_class) d = c.class_weight[y];
        }
        denominator += (c.weight ? double(c.weight[r]) : 1.0) * d;
      }
    }
  }

  std::vector<T> class_weight_t;
  if (c.class_weight) class_weight_t.assign(c.class_weight, c.class_weight + C);

  const KernelTable& table = active_table();
  const int threads = get_num_threads();
  RowJob<T> job{};
  job.outer = c.outer;
  job.classes = C;
  job.inner = c.inner;
  job.logits = c.logits;
  job.labels = c.labels ? labels.data() : nullptr;
  job.target = c.target;
  job.class_weight = c.class_weight;
  job.class_weight_t = c.class_weight ? class_weight_t.data() : nullptr;
  job.weight = c.weight;
  job.grad_output = c.grad_output_array;
  job.loss = c.loss;
  job.grad = c.grad;
  for (int i = 0; i < kMaxParams; ++i) job.params[i] = params[i];
  job.has_ignore_index = c.has_ignore_index;
  job.ignore_index = c.ignore_index;
  job.scale = utility ? 1.0 : reduction == Reduction::mean ? c.grad_output / denominator : c.grad_output;
  job.threads = threads;
  // Rows per block: whole rows, about kBlock scores a block (one row a block for long rows).
  job.rows_per_block = C >= kBlock ? 1 : kBlock / (C ? C : 1);

  // Threads share the row blocks; a few rows of many classes are split into their segments
  // instead (by the kernels that can split a row; the others ignore the scratch).
  std::vector<double> partials;
  std::unique_ptr<double[]> scratch;
  if (threads > 1 && n >= kParallelMin) {
    partials.resize((rows + job.rows_per_block - 1) / job.rows_per_block);
    if (C >= 2 * kRowSegment && rows < std::size_t(2 * threads)) {
      const std::size_t nseg = (C + kRowSegment - 1) / kRowSegment;
      scratch.reset(new double[rows * nseg * kStatsSize]);
    }
  }
  job.partials = partials.data();
  job.scratch = scratch.get();
  // The gradient of the softmax losses is k e^(x_c - m): rows of stride 1 keep the first
  // pass's exponentials in a buffer per thread (a row's worth, read back from L2) instead of
  // computing them twice. Rows split over threads, tiles of short rows and strided rows
  // recompute them, with the same bits.
  std::unique_ptr<T[]> exp_scratch;
  const bool exp_gradient =
      loss == RowLoss::softmax_cross_entropy || loss == RowLoss::softmax_focal || loss == RowLoss::logsumexp;
  if (exp_gradient && c.grad && c.inner == 1 && C > 32 && !scratch && rows > 0) {
    const bool parallel = threads > 1 && n >= kParallelMin;
    job.exp_scratch_size = softmax_exp_scratch(C);
    exp_scratch.reset(new T[std::size_t(parallel ? threads : 1) * job.exp_scratch_size]);
    job.exp_scratch = exp_scratch.get();
  }

  const RowFn<T> fn = for_type<T>(table.rows_f32[int(loss)], table.rows_f64[int(loss)]);
  const double total = rows > 0 ? fn(job) : 0.0;
  if (c.value) *c.value = reduction == Reduction::mean ? total / denominator : total;
}

}  // namespace

void run(RowLoss loss, const RowCall<float>& call) { run_impl(loss, call); }
void run(RowLoss loss, const RowCall<double>& call) { run_impl(loss, call); }

}  // namespace lossfn
