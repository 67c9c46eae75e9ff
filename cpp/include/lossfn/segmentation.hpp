// Segmentation and overlap losses (SPEC §2 E): dice, jaccard, tversky, focal_tversky, bce_dice,
// the segment shape (per sample and class sums over the pixels, a scalar finish, an elementwise
// gradient); and the Lovász hinge, the order shape (a stable sort of the errors, then scans).
// C++17, no third-party headers; errors throw lossfn::Error naming the argument.
//
//   // probabilities (N, C, H, W), C-contiguous; integer label maps (N, H, W)
//   lossfn::SegmentCall<float> call;
//   call.batch = N, call.outer = 1, call.classes = C, call.inner = H * W;
//   call.pred = probs, call.labels = labels;
//   double loss;
//   call.value = &loss, call.grad = grad;             // value and gradient in one call
//   lossfn::overlap(lossfn::Overlap::dice, call, lossfn::OverlapOptions{});
#pragma once

#include <cstddef>
#include <cstdint>

#include "lossfn/core.hpp"

namespace lossfn {

// The overlap losses. Per segment (a sample and class, or with per_sample = false a class over
// the whole batch), with w the pixel weights, p the probabilities and t the target:
//   I = sum w p t,   P = sum w p,   G = sum w t      (squared: P = sum w p^2, G = sum w t^2)
//   dice           1 - (2 I + smooth) / (P + G + smooth)
//   jaccard        1 - (I + smooth) / (P + G - I + smooth)
//   tversky        1 - (I + smooth) / (I + alpha (P - I) + beta (G - I) + smooth)
//   focal_tversky  max(tversky, 0) ^ gamma
//   bce_dice       w_dice dice + w_bce B / N,  B = sum w bce(p, t), N = sum w (the segment's mean
//                  binary cross-entropy: -(t log p + (1 - t) log(1 - p)), each log clamped at
//                  -100 as torch's BCELoss; with the sigmoid activation computed from the logits)
// alpha weighs the false positives, beta the false negatives (Salehi et al. 2017, Keras,
// segmentation-models). A segment whose denominator is 0 (nothing predicted, nothing to find,
// smooth = 0) has loss 0 and gradient 0.
// The order is part of the ABI: append only.
enum class Overlap : int { dice, jaccard, tversky, focal_tversky, bce_dice, count_ };

const char* overlap_name(Overlap loss) noexcept;

// How the scores become probabilities.
//   none     the scores are probabilities
//   sigmoid  logits of one class each (from_logits with one class)
//   softmax  logits over the class axis (from_logits with several classes)
enum class Activation : int { none = 0, sigmoid = 1, softmax = 2 };

struct OverlapOptions {
  double smooth = 1.0;
  double alpha = 0.5, beta = 0.5;  // tversky, focal_tversky
  double gamma = 1.0;              // focal_tversky
  double w_bce = 1.0, w_dice = 1.0;  // bce_dice (which takes no softmax: sigmoid or probabilities)
  bool squared = false;            // squared sums in the denominator (V-Net)
  bool per_sample = false;         // segments per sample and class, else per class over the batch
  bool per_class = false;          // reduction none: one loss per (sample,) class
  Activation activation = Activation::none;
  bool has_ignore_index = false;   // pixels whose label (or one-class mask value) is ignore_index
  std::int64_t ignore_index = 0;   // count nowhere and get a zero gradient
};

// One call. The scores are C-contiguous (batch, outer, classes, inner): NCHW is outer = 1,
// inner = H * W; NHWC is outer = H * W, inner = 1. A pixel is a (sample, outer, inner)
// position; pixel-shaped arrays are (batch, outer, inner).
//   target        dense masks (0/1 or soft), the scores' shape; or
//   labels        pixel-shaped class indices in [0, classes) (one-hot implied, never formed)
//   weight        pixel-shaped weights, or nullptr
//   class_weight  classes values >= 0 (not all 0), or nullptr
// A sample's loss is the class-weighted mean of its segments' losses (with per_sample = false,
// the batch is one sample). Reduction over the samples:
//   none  loss[s] (per_class: loss[s * classes + c], the segment losses unweighted)
//   sum   sum_s loss_s
//   mean  the mean over samples
// The gradient (the scores' shape) is that of the reduced value times grad_output, or for
// none of each loss times grad_output_array (its shape).
template <class T>
struct SegmentCall {
  std::size_t batch = 0, outer = 1, classes = 1, inner = 0;
  const T* pred = nullptr;
  const T* target = nullptr;
  const std::int64_t* labels = nullptr;
  const T* weight = nullptr;
  const double* class_weight = nullptr;
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;

  double* value = nullptr;  // mean/sum
  T* loss = nullptr;        // none
  T* grad = nullptr;        // d value / d pred (the logits with an activation)
};

void overlap(Overlap loss, const SegmentCall<float>& call, const OverlapOptions& options = OverlapOptions{});
void overlap(Overlap loss, const SegmentCall<double>& call, const OverlapOptions& options = OverlapOptions{});

// The Lovász hinge (Berman, Rannen Triki and Blaschko 2018, their lovasz_hinge): a convex
// surrogate of the Jaccard (IoU) loss for binary masks, from logits. Per segment (a sample, or
// with per_sample = false the whole batch), with s = +1 where the mask is 1 and -1 where it is 0
// and the errors e = 1 - s x sorted in decreasing order:
//   loss = sum_i max(e_i, 0) g_i,   g_i = J_i - J_(i-1),   J_i = 1 - (G - pos_i) / (G + neg_i)
// (G the segment's positives, pos_i / neg_i the positives / negatives among the i + 1 largest
// errors); d loss / d x = -s g_i where e_i > 0, else 0. Equal errors keep pixel order (a stable
// sort: the value does not depend on it, the subgradient does, as with torch.sort(stable=True)).
// The errors are ordered exactly (by s x; float32 1 - s x may round two of them equal).
struct LovaszOptions {
  bool per_sample = true;          // a segment per sample (Berman's per_image), else the batch is one
  bool has_ignore_index = false;   // pixels whose mask is ignore_index count nowhere and get a
  std::int64_t ignore_index = 0;   // zero gradient
};

// One call: logits and masks of `batch` samples of `pixels` values each, C-contiguous.
//   masks   dense masks of values 0 and 1 (or ignore_index); or
//   labels  the same as integers
// Reduction over the segments' losses: none (loss[s], one per segment: batch values with
// per_sample, else one), sum, or mean. The gradient (the logits' shape) is that of the reduced
// value times grad_output, or for none of each loss times grad_output_array[s].
template <class T>
struct LovaszCall {
  std::size_t batch = 0, pixels = 0;
  const T* logits = nullptr;
  const T* masks = nullptr;
  const std::int64_t* labels = nullptr;
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;

  double* value = nullptr;  // mean/sum
  T* loss = nullptr;        // none
  T* grad = nullptr;        // d value / d logits
};

void lovasz_hinge(const LovaszCall<float>& call, const LovaszOptions& options = LovaszOptions{});
void lovasz_hinge(const LovaszCall<double>& call, const LovaszOptions& options = LovaszOptions{});

}  // namespace lossfn
