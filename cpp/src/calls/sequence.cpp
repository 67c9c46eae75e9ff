// lossfn::ctc: checks a call (lengths, targets, layout, outputs), copies the lengths and the
// labels it checked (the kernels index with the copies, so a caller's thread that rewrites them
// during the call cannot make them address memory outside the buffers), works out each sample's
// gradient scale, sizes the per-thread scratch, and after the kernel applies zero_infinity and
// the reduction in sample order. Baseline code.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <vector>

#include "dispatch/dispatch.hpp"
#include "lossfn/sequence.hpp"

namespace lossfn {
namespace {

using detail::fail;

template <class T>
void run_impl(const CtcCall<T>& c, const Ctc& options) {
  using namespace detail;
  const std::size_t T_ = c.max_time, N = c.batch, C = c.classes;
  if (N > 0 && C == 0) fail("ctc: log_probs: the class axis has length 0");
  if (N > 0 && (options.blank < 0 || std::uint64_t(options.blank) >= C)) {
    std::ostringstream msg;
    msg << "ctc: blank: " << options.blank << " is outside [0, " << C << ")";
    fail(msg.str());
  }
  const Reduction reduction = c.reduction;
  const Requested requested = check_outputs(reduction, c.value, c.loss, c.grad, c.grad_output_array);
  const bool want_value = requested.value, want_grad = requested.grad;

  const std::size_t extent[3] = {T_, N, C};
  if (C != 0 && N != 0 && (N > std::size_t(PTRDIFF_MAX) / C || T_ > std::size_t(PTRDIFF_MAX) / (N * C)))
    fail("log_probs: the shape is too large");
  const std::ptrdiff_t contiguous[3] = {std::ptrdiff_t(N * C), std::ptrdiff_t(C), 1};
  const std::ptrdiff_t* xs = c.strides ? c.strides : contiguous;
  const std::ptrdiff_t* gs = c.grad_strides ? c.grad_strides : contiguous;
  check_box(c.log_probs, 3, extent, xs, "log_probs");
  if (want_grad) check_box(c.grad, 3, extent, gs, "grad");
  check_optional(c.loss, N, "loss");
  check_optional(c.grad_output_array, N, "grad_output");
  require(c.input_lengths, N, "input_lengths");
  require(c.target_lengths, N, "target_lengths");
  require(c.targets, c.targets_size, "targets");
  if (c.targets_width != 0 && (N > c.targets_size / c.targets_width || N * c.targets_width != c.targets_size))
    fail("targets: padded targets must hold batch * targets_width = " + std::to_string(N) + " * " +
         std::to_string(c.targets_width) + " labels, got " + std::to_string(c.targets_size));

  // Lengths and labels, read once and checked.
  std::vector<std::int64_t> input_length(c.input_lengths, c.input_lengths + N);
  std::vector<std::int64_t> target_length(c.target_lengths, c.target_lengths + N);
  std::vector<std::size_t> offset(N + 1, 0);
  for (std::size_t b = 0; b < N; ++b) {
    const std::int64_t t = input_length[b], l = target_length[b];
    if (t < 0 || std::uint64_t(t) > T_) {
      std::ostringstream msg;
      msg << "ctc: input_lengths: sample " << b << " has length " << t << ", outside [0, " << T_
          << "] (the frames of log_probs)";
      fail(msg.str());
    }
    const std::size_t room = c.targets_width ? c.targets_width : c.targets_size - offset[b];
    if (l < 0 || std::uint64_t(l) > room) {
      std::ostringstream msg;
      msg << "ctc: target_lengths: sample " << b << " has length " << l;
      if (l < 0) msg << ", which is negative";
      else if (c.targets_width) msg << ", longer than the padded targets' " << c.targets_width << " columns";
      else msg << ", but the concatenated targets hold only " << room << " more labels";
      fail(msg.str());
    }
    offset[b + 1] = offset[b] + std::size_t(l);
  }
  if (c.targets_width == 0 && offset[N] != c.targets_size) {
    std::ostringstream msg;
    msg << "ctc: targets: the concatenated targets hold " << c.targets_size
        << " labels, but target_lengths sum to " << offset[N];
    fail(msg.str());
  }
  std::vector<std::int64_t> labels(offset[N]);
  std::size_t max_states = 1;
  for (std::size_t b = 0; b < N; ++b) {
    const std::int64_t* row = c.targets + (c.targets_width ? b * c.targets_width : offset[b]);
    const std::size_t L = offset[b + 1] - offset[b];
    for (std::size_t i = 0; i < L; ++i) {
      const std::int64_t y = row[i];
      if (y < 0 || std::uint64_t(y) >= C || y == options.blank) {
        std::ostringstream msg;
        msg << "ctc: targets: label " << y << " of sample " << b << " (position " << i << ") ";
        if (y == options.blank) msg << "is the blank (" << options.blank << ")";
        else msg << "is outside [0, " << C << ")";
        fail(msg.str());
      }
      labels[offset[b] + i] = y;
    }
    if (2 * L + 1 > max_states) max_states = 2 * L + 1;
  }

  // Per-sample gradient scale.
  std::vector<double> grad_scale;
  if (want_grad) {
    grad_scale.resize(N);
    for (std::size_t b = 0; b < N; ++b) {
      double k = c.grad_output;
      if (c.grad_output_array) k = double(c.grad_output_array[b]);
      if (reduction == Reduction::mean) k /= double(N) * double(target_length[b] > 1 ? target_length[b] : 1);
      grad_scale[b] = k;
    }
  }

  // Threads: a call of little work stays on the calling thread; a batch smaller than the thread
  // count runs its samples in turn, each one's frames over the threads.
  double work = 0.0;
  std::size_t scratch_doubles = 0;
  for (std::size_t b = 0; b < N; ++b) {
    const std::size_t frames = std::size_t(input_length[b]), states = 2 * (offset[b + 1] - offset[b]) + 1;
    work += double(frames) * double(C + 4 * states);
    const std::size_t need = ctc_scratch_doubles(frames, states);
    if (need > scratch_doubles) scratch_doubles = need;
  }
  int threads = get_num_threads();
  if (work < double(kParallelMin) || N == 0) threads = 1;
  const bool split_frames = threads > 1 && N < std::size_t(threads);
  const std::size_t workers = threads == 1 || split_frames ? 1 : std::min(std::size_t(threads), N);
  const std::size_t scratch_indices = ctc_scratch_indices(max_states);
  std::unique_ptr<double[]> scratch(new double[workers * scratch_doubles + 1]);
  std::unique_ptr<std::int64_t[]> index_scratch(new std::int64_t[workers * scratch_indices]);

  std::vector<double> sample_loss(N, 0.0);
  CtcJob<T> job{};
  job.max_time = T_;
  job.batch = N;
  job.classes = C;
  job.scores = c.log_probs;
  job.grad = c.grad;
  for (int k = 0; k < 3; ++k) job.score_stride[k] = xs[k], job.grad_stride[k] = gs[k];
  job.labels = labels.data();
  job.label_offset = offset.data();
  job.input_length = input_length.data();
  job.blank = options.blank;
  job.from_logits = options.from_logits;
  job.grad_scale = want_grad ? grad_scale.data() : nullptr;
  job.sample_loss = sample_loss.data();
  job.threads = threads;
  job.split_frames = split_frames;
  job.scratch = scratch.get();
  job.scratch_doubles = scratch_doubles;
  job.index_scratch = index_scratch.get();
  job.scratch_indices = scratch_indices;
  if (N > 0) for_type<T>(active_table().ctc_f32, active_table().ctc_f64)(job);

  if (options.zero_infinity)
    for (double& l : sample_loss)
      if (l == std::numeric_limits<double>::infinity()) l = 0.0;
  if (c.loss)
    for (std::size_t b = 0; b < N; ++b) c.loss[b] = T(sample_loss[b]);
  if (c.value) {
    double total = 0.0;
    for (std::size_t b = 0; b < N; ++b)
      total += reduction == Reduction::mean
                   ? sample_loss[b] / double(target_length[b] > 1 ? target_length[b] : 1)
                   : sample_loss[b];
    *c.value = reduction == Reduction::mean ? total / double(N) : total;
  }
}

}  // namespace

void ctc(const CtcCall<float>& call, const Ctc& options) { run_impl(call, options); }
void ctc(const CtcCall<double>& call, const Ctc& options) { run_impl(call, options); }

}  // namespace lossfn
