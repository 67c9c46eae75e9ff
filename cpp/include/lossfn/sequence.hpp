// Sequence losses (SPEC §2 G): CTC, a dynamic programme per sample. C++17, no third-party
// headers; errors throw lossfn::Error naming the argument (and the sample).
//
//   // log_probs: (T, N, C) float, C-contiguous; padded targets (N, S); lengths per sample
//   lossfn::CtcCall<float> call;
//   call.max_time = T, call.batch = N, call.classes = C;
//   call.log_probs = log_probs;
//   call.targets = targets, call.targets_size = N * S, call.targets_width = S;
//   call.input_lengths = input_lengths, call.target_lengths = target_lengths;
//   double loss;
//   call.value = &loss, call.grad = grad;              // value and gradient in one call
//   lossfn::ctc(call, lossfn::Ctc{/*blank=*/0});
#pragma once

#include <cstddef>
#include <cstdint>

#include "lossfn/core.hpp"

namespace lossfn {

// CTC's hyper-parameters.
//   blank          the blank class, in [0, C)
//   zero_infinity  an impossible alignment (loss +inf) counts as loss 0 (its gradient is 0
//                  either way)
//   from_logits    the scores are logits: log_softmax over the class axis is applied inside and
//                  the gradient is w.r.t. the logits (softmax - posterior, what torch's
//                  ctc_loss returns through its log_softmax). Without it the scores are
//                  log-probabilities and the gradient is the true derivative w.r.t. them
//                  (-posterior); they need not be normalised.
struct Ctc {
  std::int64_t blank = 0;
  bool zero_infinity = false;
  bool from_logits = false;
};

// One CTC call. Sample b's loss is l_b = -log p(labels_b | frames 0 .. input_lengths[b] - 1).
//   none  loss[b] = l_b
//   sum   sum_b l_b
//   mean  (1/N) sum_b l_b / max(target_lengths[b], 1)   (torch's convention)
// The gradient (the scores' shape, every element written; 0 past a sample's input length and
// for an impossible sample) is that of the reduced value times grad_output, or for none of each
// l_b times grad_output_array[b] when given.
template <class T>
struct CtcCall {
  std::size_t max_time = 0, batch = 0, classes = 0;
  // Score (t, b, c) is log_probs[t * strides[0] + b * strides[1] + c * strides[2]]; strides in
  // elements; nullptr: C-contiguous (max_time, batch, classes). {C, T * C, 1} reads (N, T, C)
  // data in place.
  const T* log_probs = nullptr;
  const std::ptrdiff_t* strides = nullptr;
  // Targets, class indices in [0, C) other than blank: padded, a (batch, targets_width) array
  // (row b's first target_lengths[b] entries are used), or concatenated (targets_width = 0):
  // targets_size = the sum of the target lengths, sample after sample.
  const std::int64_t* targets = nullptr;
  std::size_t targets_size = 0;
  std::size_t targets_width = 0;
  const std::int64_t* input_lengths = nullptr;   // batch values in [0, max_time]
  const std::int64_t* target_lengths = nullptr;  // batch values >= 0
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;  // none only: batch values

  double* value = nullptr;  // mean/sum: the reduced loss
  T* loss = nullptr;        // none: batch per-sample losses
  T* grad = nullptr;        // d value / d log_probs (or the logits)
  const std::ptrdiff_t* grad_strides = nullptr;  // as strides; nullptr: C-contiguous (T, N, C)
};

void ctc(const CtcCall<float>& call, const Ctc& options = Ctc{});
void ctc(const CtcCall<double>& call, const Ctc& options = Ctc{});

}  // namespace lossfn
