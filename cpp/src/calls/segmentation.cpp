// lossfn::overlap: checks a call (shapes, targets, weights, options, outputs), runs the stats
// pass, finishes each segment (its loss and the two coefficients of its gradient, a few scalars),
// reduces over samples in order and runs the gradient pass. lossfn::lovasz_hinge: checks a call,
// sizes the sort's scratch and reduces the segments' losses in order. Baseline code.
#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <vector>

#include "dispatch/dispatch.hpp"
#include "lossfn/segmentation.hpp"

namespace lossfn {
namespace {

using detail::fail;
using detail::kSegmentCoefs;
using detail::kSegmentLanes;
using detail::kSegmentStats;

// A segment's loss and its derivatives w.r.t. I, P and B (see segmentation.hpp):
//   score = (k I + smooth) / (c I + alpha P + beta G + smooth),  loss = 1 - score
// dice k = 2, c = 0, alpha = beta = 1; jaccard k = 1, c = -1, alpha = beta = 1; tversky k = 1,
// c = 1 - alpha - beta. focal_tversky raises the tversky loss (clamped at 0) to gamma; bce_dice
// weighs dice by w_dice and adds w_bce B / N.
struct SegmentLoss {
  double value, d_intersection, d_pred, d_bce;
};

struct Finish {
  double k, c, alpha, beta, smooth, gamma, w_overlap = 1.0, w_bce = 0.0;
  bool focal;

  Finish(Overlap loss, const OverlapOptions& o) : smooth(o.smooth), gamma(o.gamma), focal(loss == Overlap::focal_tversky) {
    switch (loss) {
      case Overlap::dice: k = 2, c = 0, alpha = 1, beta = 1; break;
      case Overlap::bce_dice: k = 2, c = 0, alpha = 1, beta = 1, w_overlap = o.w_dice, w_bce = o.w_bce; break;
      case Overlap::jaccard: k = 1, c = -1, alpha = 1, beta = 1; break;
      default: k = 1, c = 1 - o.alpha - o.beta, alpha = o.alpha, beta = o.beta; break;
    }
  }

  SegmentLoss operator()(const double* stats) const {
    const double I = stats[0], P = stats[1], G = stats[2], B = stats[3], N = stats[4];
    SegmentLoss r{0.0, 0.0, 0.0, 0.0};
    if (w_bce != 0.0 && N > 0.0) r.value = w_bce * B / N, r.d_bce = w_bce / N;
    const double num = k * I + smooth, den = c * I + alpha * P + beta * G + smooth;
    if (den == 0.0) return r;  // nothing predicted, nothing to find, smooth = 0: the overlap adds 0
    const double score = num / den;
    double value = 1.0 - score, outer = 1.0;  // outer: d loss / d (1 - score)
    if (focal) {
      const double base = value > 0.0 ? value : 0.0;
      value = std::pow(base, gamma);
      outer = base > 0.0 ? gamma * std::pow(base, gamma - 1.0) : 0.0;
    }
    outer *= w_overlap;
    const double den2 = den * den;
    r.value += w_overlap * value;
    r.d_intersection = -outer * (k * den - c * num) / den2;
    r.d_pred = outer * alpha * num / den2;
    return r;
  }
};

template <class T>
void run_impl(Overlap loss, const SegmentCall<T>& call, const OverlapOptions& o) {
  using namespace detail;
  if (int(loss) < 0 || int(loss) >= int(Overlap::count_)) fail("loss: unknown overlap loss");
  const char* name = overlap_name(loss);
  auto bad = [&](const std::string& what) { fail(std::string(name) + ": " + what); };
  const std::size_t N = call.batch, A = call.outer, C = call.classes, B = call.inner;
  if (C == 0) bad("pred: the class axis has length 0");
  if (!(o.smooth >= 0.0) || !std::isfinite(o.smooth)) bad("smooth: must be finite and >= 0");
  if (loss == Overlap::tversky || loss == Overlap::focal_tversky) {
    if (!(o.alpha >= 0.0) || !(o.beta >= 0.0) || !std::isfinite(o.alpha) || !std::isfinite(o.beta))
      bad("alpha, beta: must be finite and >= 0");
    if (!(o.alpha + o.beta > 0.0)) bad("alpha, beta: alpha + beta must be > 0");
  }
  if (loss == Overlap::focal_tversky && (!(o.gamma > 0.0) || !std::isfinite(o.gamma)))
    bad("gamma: must be finite and > 0");
  if (int(o.activation) < 0 || int(o.activation) > 2) bad("activation: unknown");
  if (loss == Overlap::bce_dice) {
    if (!(o.w_bce >= 0.0) || !(o.w_dice >= 0.0) || !std::isfinite(o.w_bce) || !std::isfinite(o.w_dice))
      bad("w_bce, w_dice: must be finite and >= 0");
    if (o.activation == Activation::softmax)
      bad("activation: the binary cross-entropy takes probabilities or a sigmoid of each score, not a softmax");
  }
  const Reduction reduction = call.reduction;
  const Requested requested = check_outputs(reduction, call.value, call.loss, call.grad, call.grad_output_array);
  const bool want_value = requested.value, want_grad = requested.grad;
  if (o.per_class && reduction != Reduction::none) fail("per_class: per-class losses are written only for reduction none");

  // Sizes.
  std::size_t pixels = 0, n_scores = 0, n_pixels = 0;
  {
    const std::size_t limit = std::size_t(PTRDIFF_MAX) / 8;
    auto mul = [&](std::size_t a, std::size_t b) {
      if (a != 0 && b > limit / a) bad("pred: the shape is too large");
      return a * b;
    };
    pixels = mul(A, B);
    n_pixels = mul(N, pixels);
    n_scores = mul(n_pixels, C);
  }
  if ((call.target == nullptr) == (call.labels == nullptr)) bad("target: pass either a dense target or labels");
  require(call.pred, n_scores, "pred");
  check_optional(call.target, n_scores, "target");
  check_optional(call.labels, n_pixels, "target");
  check_optional(call.weight, n_pixels, "weight");
  check_optional(call.class_weight, C, "class_weight");
  if (call.labels && C > (std::size_t(1) << 24)) bad("target: labels need fewer than 2**24 classes");
  if (o.has_ignore_index && call.target && C > 1)
    bad("ignore_index: needs integer labels (or a one-class mask); with dense masks of several classes pass weight= instead");

  // Class weights: read once.
  std::vector<double> class_weight(C, 1.0);
  double class_weight_sum = double(C);
  if (call.class_weight) {
    class_weight.assign(call.class_weight, call.class_weight + C);
    class_weight_sum = 0.0;
    for (std::size_t c = 0; c < C; ++c) {
      const double w = class_weight[c];
      if (!(w >= 0.0) || !std::isfinite(w)) {
        std::ostringstream msg;
        msg << "class_weight: must be finite and >= 0, got " << w << " for class " << c;
        bad(msg.str());
      }
      class_weight_sum += w;
    }
    if (!(class_weight_sum > 0.0)) bad("class_weight: the weights must not all be 0");
  }

  const std::size_t samples = o.per_sample ? N : 1;  // loss terms of the reduction
  const std::size_t out_size = o.per_class ? samples * C : samples;
  check_optional(call.loss, out_size, "loss");
  check_optional(call.grad_output_array, out_size, "grad_output");
  if (want_grad) require(call.grad, n_scores, "grad");

  int threads = get_num_threads();
  if (n_scores < kParallelMin) threads = 1;
  const std::size_t items = N * ((pixels + segment_item_pixels(C) - 1) / segment_item_pixels(C));
  const std::size_t workers = std::size_t(threads);
  std::unique_ptr<double[]> partials(new double[items * C * kSegmentStats + 1]);
  std::unique_ptr<T[]> scratch(new T[workers * segment_scratch(C)]);
  // The kernels' lane accumulators are vectors of kSegmentLanes doubles: aligned to their size.
  std::unique_ptr<double[]> lanes_storage(new double[(workers * C * kSegmentStats + 1) * kSegmentLanes]);
  const std::size_t lane_bytes = kSegmentLanes * sizeof(double);
  double* lanes = reinterpret_cast<double*>((reinterpret_cast<std::uintptr_t>(lanes_storage.get()) + lane_bytes - 1) /
                                            lane_bytes * lane_bytes);
  std::vector<double> stats(std::max<std::size_t>(N, 1) * C * kSegmentStats, 0.0);  // one segment row even for no samples

  SegmentJob<T> job{};
  job.batch = N, job.outer = A, job.classes = C, job.inner = B;
  job.pred = call.pred;
  job.target = call.target;
  job.labels = call.labels;
  job.weight = call.weight;
  job.activation = int(o.activation);
  job.squared = o.squared;
  job.bce = loss == Overlap::bce_dice;
  job.has_ignore_index = o.has_ignore_index;
  job.ignore_index = o.ignore_index;
  unsigned bad_labels = 0;
  job.stats = stats.data();
  job.bad_labels = &bad_labels;
  job.threads = threads;
  job.partials = partials.get();
  job.lanes = lanes;
  job.scratch = scratch.get();
  const KernelTable& table = active_table();
  if (n_scores > 0) for_type<T>(table.segment_stats_f32, table.segment_stats_f64)(job);
  if (bad_labels) {
    // Name one: read again for the message only (the sums never used a label to address memory).
    for (std::size_t i = 0; i < n_pixels; ++i) {
      const std::int64_t y = call.labels[i];
      if ((y < 0 || std::uint64_t(y) >= C) && !(o.has_ignore_index && y == o.ignore_index)) {
        std::ostringstream msg;
        msg << "target: label " << y << " at pixel " << i << " is outside [0, " << C << ")";
        if (o.has_ignore_index) msg << " and is not ignore_index (" << o.ignore_index << ")";
        bad(msg.str());
      }
    }
    bad("target: a label outside [0, " + std::to_string(C) + ") changed while it was read");
  }

  // Segments: per sample, or the batch's sums added in sample order.
  if (!o.per_sample) {
    for (std::size_t n = 1; n < N; ++n)
      for (std::size_t k = 0; k < C * kSegmentStats; ++k) stats[k] += stats[n * C * kSegmentStats + k];
  }
  const Finish finish(loss, o);
  std::vector<SegmentLoss> segment(samples * C);
  for (std::size_t s = 0; s < samples; ++s)
    for (std::size_t c = 0; c < C; ++c) segment[s * C + c] = finish(&stats[(s * C + c) * kSegmentStats]);
  auto sample_loss = [&](std::size_t s) {
    double l = 0.0;
    for (std::size_t c = 0; c < C; ++c) l += class_weight[c] * segment[s * C + c].value;
    return l / class_weight_sum;
  };

  if (want_value) {
    if (call.value) {
      double total = 0.0;
      for (std::size_t s = 0; s < samples; ++s) total += sample_loss(s);
      *call.value = reduction == Reduction::mean ? total / double(samples) : total;
    } else if (o.per_class) {
      for (std::size_t k = 0; k < samples * C; ++k) call.loss[k] = T(segment[k].value);
    } else {
      for (std::size_t s = 0; s < samples; ++s) call.loss[s] = T(sample_loss(s));
    }
  }
  if (!want_grad || n_scores == 0) return;

  // d value / d (I, P) of every (sample, class): the segment's, shared by the batch's samples
  // when the segments span the batch.
  std::vector<double> coef(N * C * kSegmentCoefs);
  for (std::size_t n = 0; n < N; ++n) {
    const std::size_t s = o.per_sample ? n : 0;
    for (std::size_t c = 0; c < C; ++c) {
      double up;
      if (o.per_class) {
        up = call.grad_output_array ? double(call.grad_output_array[s * C + c]) : call.grad_output;
      } else {
        up = call.grad_output_array ? double(call.grad_output_array[s]) : call.grad_output;
        if (reduction == Reduction::mean) up /= double(samples);
        up *= class_weight[c] / class_weight_sum;
      }
      const SegmentLoss& l = segment[s * C + c];
      double* k = &coef[(n * C + c) * kSegmentCoefs];
      k[0] = up * l.d_intersection, k[1] = up * l.d_pred, k[2] = up * l.d_bce;
    }
  }
  job.coef = coef.data();
  job.grad = call.grad;
  for_type<T>(table.segment_grad_f32, table.segment_grad_f64)(job);
}

template <class T>
void lovasz_impl(const LovaszCall<T>& call, const LovaszOptions& o) {
  using namespace detail;
  auto bad = [&](const std::string& what) { fail("lovasz_hinge: " + what); };
  const Reduction reduction = call.reduction;
  const Requested requested = check_outputs(reduction, call.value, call.loss, call.grad, call.grad_output_array);
  const std::size_t N = call.batch, P = call.pixels;
  if (P != 0 && N > std::size_t(PTRDIFF_MAX) / 8 / P) bad("logits: the shape is too large");
  const std::size_t n = N * P;
  if ((call.masks == nullptr) == (call.labels == nullptr)) bad("masks: pass either dense masks or labels");
  require(call.logits, n, "logits");
  check_optional(call.masks, n, "masks");
  check_optional(call.labels, n, "masks");
  const std::size_t segments = o.per_sample ? N : 1, segment_pixels = o.per_sample ? P : n;
  // A pixel's index within its segment travels with its key in 31 bits.
  if (segment_pixels >= (std::size_t(1) << 31))
    bad("logits: a segment of " + std::to_string(segment_pixels) + " pixels is more than the 2**31 - 1 the sort takes" +
        (o.per_sample ? "" : " (per_sample=True sorts each sample apart)"));
  check_optional(call.loss, segments, "loss");
  check_optional(call.grad_output_array, segments, "grad_output");
  if (requested.grad) require(call.grad, n, "grad");

  int threads = get_num_threads();
  if (n < kParallelMin) threads = 1;
  const bool split = threads > 1 && segments < std::size_t(threads);
  const std::size_t workers = threads == 1 || split ? 1 : std::min<std::size_t>(std::size_t(threads), segments);
  const std::size_t bytes = (order_scratch_bytes(segment_pixels, sizeof(T), split ? std::size_t(threads) : 1) + 63) / 64 * 64;
  std::unique_ptr<unsigned char[]> storage(new unsigned char[workers * bytes + 64]);
  unsigned char* scratch = reinterpret_cast<unsigned char*>((reinterpret_cast<std::uintptr_t>(storage.get()) + 63) / 64 * 64);

  std::vector<double> grad_scale(segments), segment_loss(segments, 0.0);
  for (std::size_t s = 0; s < segments; ++s) {
    grad_scale[s] = call.grad_output_array ? double(call.grad_output_array[s]) : call.grad_output;
    if (reduction == Reduction::mean) grad_scale[s] /= double(segments);
  }
  LovaszJob<T> job{};
  job.segments = n == 0 ? 0 : segments;
  job.pixels = segment_pixels;
  job.logits = call.logits;
  job.masks = call.masks;
  job.labels = call.labels;
  job.has_ignore_index = o.has_ignore_index;
  job.ignore_index = o.ignore_index;
  job.grad_scale = requested.grad ? grad_scale.data() : nullptr;
  job.grad = requested.grad ? call.grad : nullptr;
  job.segment_loss = segment_loss.data();
  unsigned bad_masks = 0;
  job.bad_masks = &bad_masks;
  job.threads = threads;
  job.split = split;
  job.scratch = scratch;
  job.scratch_bytes = bytes;
  const KernelTable& table = active_table();
  for_type<T>(table.lovasz_f32, table.lovasz_f64)(job);
  if (bad_masks) {
    // Name one: read again for the message only.
    for (std::size_t i = 0; i < n; ++i) {
      const double v = call.masks ? double(call.masks[i]) : double(call.labels[i]);
      const bool ignored = o.has_ignore_index && (call.masks ? v == double(o.ignore_index) : call.labels[i] == o.ignore_index);
      if (!(v == 0.0 || v == 1.0 || ignored)) {
        std::ostringstream msg;
        msg << "masks: " << (call.masks ? "value " : "label ");
        if (call.masks) msg << v;
        else msg << call.labels[i];
        msg << " at pixel " << i << " of the " << (call.masks ? "masks" : "labels") << " is not 0 or 1";
        if (o.has_ignore_index) msg << " (nor ignore_index, " << o.ignore_index << ")";
        bad(msg.str());
      }
    }
    bad("masks: a value that is not 0 or 1 changed while it was read");
  }
  if (!requested.value) return;
  if (call.value) {
    double total = 0.0;
    for (std::size_t s = 0; s < segments; ++s) total += segment_loss[s];
    *call.value = reduction == Reduction::mean ? total / double(segments) : total;
  } else {
    for (std::size_t s = 0; s < segments; ++s) call.loss[s] = T(segment_loss[s]);
  }
}

}  // namespace

const char* overlap_name(Overlap loss) noexcept {
  switch (loss) {
    case Overlap::dice: return "dice";
    case Overlap::jaccard: return "jaccard";
    case Overlap::tversky: return "tversky";
    case Overlap::focal_tversky: return "focal_tversky";
    case Overlap::bce_dice: return "bce_dice";
    default: return "unknown";
  }
}

void overlap(Overlap loss, const SegmentCall<float>& call, const OverlapOptions& options) {
  run_impl(loss, call, options);
}
void overlap(Overlap loss, const SegmentCall<double>& call, const OverlapOptions& options) {
  run_impl(loss, call, options);
}
void lovasz_hinge(const LovaszCall<float>& call, const LovaszOptions& options) { lovasz_impl(call, options); }
void lovasz_hinge(const LovaszCall<double>& call, const LovaszOptions& options) { lovasz_impl(call, options); }

}  // namespace lossfn
