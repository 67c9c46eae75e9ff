// The interface between the dispatcher (baseline code) and the per-ISA kernels.
// Plain data and function-pointer types only: this header is included by translation units
// compiled with different -m flags, so it must not define any inline function.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lossfn/core.hpp"

namespace lossfn {
namespace detail {

// Which outputs one pass writes (bit flags, combined into the kernel's compile-time mode).
enum Output : unsigned {
  kSum = 1u << 0,       // accumulate sum_i w_i * l_i
  kLoss = 1u << 1,      // loss[i] = w_i * l_i
  kGrad = 1u << 2,      // grad[i] = scale * w_i * g_i (* grad_output[i]); grad_aux likewise
  kGradOut = 1u << 3,   // the upstream gradient is an array
  kHess = 1u << 4,      // hess[i] = scale * w_i * h_i
  kWeight = 1u << 5,    // per-element weights present
  kAux = 1u << 6,       // per-element aux input present
};

// An input read in place through strides (ElementwiseCall's layout), reduced to its fewest
// axes: axes of extent 1 dropped, an axis merged into the next where the two step through
// memory as one. A kernel copies what a block needs into a scratch slot (gather_block in
// kernels/gather.hpp), so the block's arithmetic is that of a contiguous input, bit for bit.
template <class T>
struct StridedView {
  const T* data;
  int ndim;
  std::size_t extent[kMaxDims];
  std::ptrdiff_t stride[kMaxDims];
};

// The inputs of an elementwise pass, as slots of the per-thread scratch.
enum InputSlot : int { kSlotPred, kSlotTarget, kSlotAux, kSlotWeight, kSlotGradOut, kInputSlots };

// One kernel invocation over n elements: outputs contiguous, inputs contiguous unless their
// slot has a view.
template <class T>
struct Job {
  std::size_t n;
  const T* pred;
  const T* target;
  const T* aux;
  const T* weight;
  const T* grad_output;
  T* loss;
  T* grad;
  T* grad_aux;
  T* hess;
  double params[kMaxParams];
  double scale;       // factor applied to grad and hess: upstream gradient / (sum of weights)
  unsigned outputs;   // Output flags
  int threads;
  double* partials;   // one slot per block, provided by the caller when threads > 1
  // Margin losses (sign labels): the LabelSeen bits of the targets, OR-ed in by the pass itself
  // so that the labels are read once; the dispatcher raises the error afterwards.
  unsigned* labels_seen;
  // Strided inputs: views[slot] for each input read through strides (nullptr for a contiguous
  // one; `views` itself nullptr when all are contiguous), and kInputSlots slots of
  // scratch_slot elements (kBlock, or fewer for a call of fewer elements) per worker thread.
  const StridedView<T>* const* views;
  T* scratch;
  std::size_t scratch_slot;
};

// Elements per block. Sums are formed per block and the block sums are added in block order,
// so a result never depends on how blocks are spread over threads.
constexpr std::size_t kBlock = std::size_t(1) << 14;
// Below this many elements a call stays on the calling thread.
constexpr std::size_t kParallelMin = std::size_t(1) << 15;

template <class T>
using ElementwiseFn = double (*)(const Job<T>&);
template <class T>
using SumFn = double (*)(const T* x, std::size_t n, int threads, double* partials);
// The same sum, with the same bits, of a strided input of n elements (`scratch`: as for
// AuxCheckFn below).
template <class T>
using StridedSumFn = double (*)(const StridedView<T>& x, std::size_t n, int threads, double* partials,
                                T* scratch);
// Which label values occur: bit 0 for -1, bit 1 for 0, bit 2 for anything but -1, 0, +1.
enum LabelSeen : unsigned { kSeenMinusOne = 1u, kSeenZero = 2u, kSeenOther = 4u };
// Index of the first aux value outside the loss's domain (gaussian_nll: var < 0; quantile:
// tau outside (0, 1)), or n when there is none. A strided aux has its `view` (else nullptr) and
// `scratch` of kInputSlots * kBlock elements per thread (or n elements when n < kBlock).
template <class T>
using AuxCheckFn = std::size_t (*)(Loss loss, const T* aux, const StridedView<T>* view, std::size_t n,
                                   int threads, T* scratch);

// One call of a row loss (see RowCall in core.hpp): the logits are (outer, classes, inner),
// C-contiguous; rows are the (outer, inner) positions. Rows go in fixed blocks of
// rows_per_block, each block's sum in row order, the block sums added in block order.
template <class T>
struct RowJob {
  std::size_t outer, classes, inner;
  const T* logits;
  const std::int64_t* labels;
  const T* target;
  const double* class_weight;    // classes values or nullptr
  const T* class_weight_t;       // the same in T, for vector loops
  const T* weight;
  const T* grad_output;          // per row, or of the logits' shape for the full-output utilities
  T* loss;                       // per-row losses, or the utility's output
  T* grad;
  double params[kMaxParams];
  bool has_ignore_index;
  std::int64_t ignore_index;
  double scale;                  // upstream gradient / the mean's denominator
  int threads;
  std::size_t rows_per_block;
  double* partials;              // one slot per block when threads > 1
  // Few long rows: each row's segments are spread over threads. `scratch` holds
  // kStatsSize doubles per (row, segment); nullptr when the rows are not split. Losses that
  // work a row at a time ignore it and use the row blocks.
  double* scratch;
  // Rows of stride 1 whose gradient is e^(x_c - m) scaled (softmax cross-entropy, focal,
  // logsumexp): exp_scratch_size elements per worker thread (softmax_exp_scratch(classes)) in
  // which the first pass keeps its exponentials for the second; nullptr: recomputed.
  T* exp_scratch;
  std::size_t exp_scratch_size;
};

// The softmax statistics take a row kSoftmaxChunk classes at a time (the chunk's max first,
// then its exponentials from L1). A kept row: its C exponentials and each chunk's running max.
constexpr std::size_t kSoftmaxChunk = 2048;
constexpr std::size_t softmax_exp_scratch(std::size_t classes) {
  return classes + (classes + kSoftmaxChunk - 1) / kSoftmaxChunk;
}

// Classes per segment of a long row: a row's softmax statistics are formed per segment and
// the segments merged in order, so a row split over threads gives the same bits as one that
// is not.
constexpr std::size_t kRowSegment = std::size_t(1) << 14;
constexpr std::size_t kStatsSize = 6;

template <class T>
using RowFn = double (*)(const RowJob<T>&);

// One CTC call (the sequence shape): N samples, each a dynamic programme over its frames.
// Scores are read at scores[t * score_stride[0] + b * score_stride[1] + c * score_stride[2]]
// and the gradient written at the same place with grad_stride; every gradient element of the
// (max_time, batch, classes) box is written. The labels are checked copies (in [0, C), never
// blank), sample b's at labels[label_offset[b] .. label_offset[b + 1]), and its frame count
// input_length[b] <= max_time.
template <class T>
struct CtcJob {
  std::size_t max_time, batch, classes;
  const T* scores;
  std::ptrdiff_t score_stride[3];
  T* grad;                          // nullptr: value only
  std::ptrdiff_t grad_stride[3];
  const std::int64_t* labels;
  const std::size_t* label_offset;  // batch + 1 offsets
  const std::int64_t* input_length;
  std::int64_t blank;
  bool from_logits;                 // scores are logits (log_softmax over the class axis applied)
  const double* grad_scale;         // per sample: d(reduced value)/d(loss_b) * grad_output
  double* sample_loss;              // out: -log p(labels | scores) per sample, +inf when impossible
  int threads;
  bool split_frames;                // samples one after another, each one's frames over the threads
  // Per worker (1 when split_frames or threads == 1, else min(threads, batch)): scratch_doubles
  // doubles and scratch_indices indices, sized by ctc_scratch_* below for the longest sample.
  double* scratch;
  std::size_t scratch_doubles;
  std::int64_t* index_scratch;
  std::size_t scratch_indices;
};

// Scratch of one CTC sample of up to `frames` frames and `states` = 2 L + 1 states: alpha,
// the emissions and beta' per frame, two pad cells per row; per frame the emission shift and
// the log-partition; two beta columns and the transition mask.
constexpr std::size_t ctc_row_width(std::size_t states) { return states + 2; }
constexpr std::size_t ctc_scratch_doubles(std::size_t frames, std::size_t states) {
  return 3 * frames * ctc_row_width(states) + 2 * frames + 3 * ctc_row_width(states);
}
// The extended label sequence, its distinct classes and each state's index among them.
constexpr std::size_t ctc_scratch_indices(std::size_t states) { return 3 * ctc_row_width(states); }

template <class T>
using CtcFn = void (*)(const CtcJob<T>&);

// One pass of an overlap loss (the segment shape). The scores (and a dense target) are
// C-contiguous (batch, outer, classes, inner); pixel arrays (labels, weight) are (batch, outer,
// inner). Work items are (sample, range of pixels) of segment_item_pixels(classes) pixels, the
// same for both passes and any thread count; a pixel range is cut into tiles of at most
// segment_tile(classes) pixels along `inner` (along `outer` when inner = 1: NHWC).
//   stats pass: stats[(n * classes + c) * kSegmentStats + k], k: sum w p t, sum w p (or w p^2),
//               sum w t (or w t^2) over sample n's pixels, and with `bce` sum w bce(p, t) and
//               sum w; each item's sums are formed in eight fixed lanes (pixel j of a tile in
//               lane j % 8, the lanes added in order at the end of the item) and the items
//               added in order.
//   grad pass:  grad = d/dp of sum_{n,c} a(n,c) I(n,c) + b(n,c) P(n,c) + k(n,c) B(n,c), through
//               the activation: coef[(n * classes + c) * kSegmentCoefs + {0, 1, 2}] = (a, b, k).
template <class T>
struct SegmentJob {
  std::size_t batch, outer, classes, inner;
  const T* pred;
  const T* target;               // dense, or nullptr with labels
  const std::int64_t* labels;
  const T* weight;               // or nullptr
  int activation;                // lossfn::Activation
  bool squared;
  bool bce;                      // the binary cross-entropy term (bce_dice)
  bool has_ignore_index;
  std::int64_t ignore_index;
  double* stats;                 // stats pass: out
  unsigned* bad_labels;          // stats pass: set to 1 when a label outside [0, classes) is read
  const double* coef;            // grad pass
  T* grad;                       // grad pass
  int threads;
  double* partials;              // stats pass: items * classes * kSegmentStats
  double* lanes;                 // stats pass, per worker: classes * kSegmentStats * kSegmentLanes
  T* scratch;                    // per worker: segment_scratch(classes) elements
};

constexpr std::size_t kSegmentStats = 5, kSegmentCoefs = 3;
constexpr std::size_t kSegmentLanes = 8;
// Pixels per tile: a tile's classes x pixels scores (and its softmax, its transposed NHWC copy)
// are formed in scratch blocks of about 2048 values, for 8 to 256 pixels.
constexpr std::size_t segment_tile(std::size_t classes) {
  const std::size_t tile = 2048 / classes / kSegmentLanes * kSegmentLanes;
  return tile < kSegmentLanes ? kSegmentLanes : tile > 256 ? 256 : tile;
}
// Pixels per work item: about kBlock scores, and at least 4096 pixels, so that the class-major
// passes stream each class's rows for 16 KB (float) or more: shorter runs of many rows leave the
// hardware prefetchers behind (dice, 8 x 21 x 512 x 512 float32: about half the memory speed).
constexpr std::size_t segment_item_pixels(std::size_t classes) {
  const std::size_t pixels = (std::size_t(1) << 14) / classes;
  return pixels < 4096 ? 4096 : pixels;
}
// Per worker: five classes x tile blocks (the probabilities, the upstream gradients, and the
// scores, targets and gradient of a pixel-major (NHWC) tile in class-major order) and five
// pixel rows (weights, labels as T, one class's targets, two softmax rows).
constexpr std::size_t kSegmentBlocks = 5, kSegmentRows = 5;
constexpr std::size_t segment_scratch(std::size_t classes) {
  return (kSegmentBlocks * classes + kSegmentRows) * segment_tile(classes);
}

template <class T>
using SegmentFn = void (*)(const SegmentJob<T>&);

// One call of the Lovász hinge (the order shape): `segments` runs of `pixels` consecutive logits
// (a sample each, or the batch as one), with masks of the same shape (dense in T, or int64
// labels). Per segment the kernel keys each kept pixel (mask 0 or 1; ignore_index skipped) by its
// margin m = s x (s = +1 for a 1, -1 for a 0: the error 1 - m sorts as -m, exactly), sorts the keys
// with a stable LSD radix sort (ties in pixel order), and scans the sorted run for the Lovász
// gradient g_i = J_i - J_(i-1), J_i = (i + 1) / (G + negatives among the first i + 1), G the
// segment's positives; loss = sum_i max(1 - m_i, 0) g_i, summed in blocks of kOrderBlock sorted
// pixels added in order. grad[pixel] = -s g_i grad_scale[segment] where 1 - m_i > 0, else 0 (and
// 0 at an ignored pixel).
template <class T>
struct LovaszJob {
  std::size_t segments, pixels;
  const T* logits;
  const T* masks;                 // dense masks, or nullptr with labels
  const std::int64_t* labels;
  bool has_ignore_index;
  std::int64_t ignore_index;
  const double* grad_scale;       // per segment: d(reduced value)/d(loss_s) * grad_output; nullptr: no gradient
  T* grad;
  double* segment_loss;           // out, per segment
  unsigned* bad_masks;            // out: set to 1 (and nothing else written) when a mask value is not 0, 1
                                  // or ignore_index
  int threads;
  bool split;                     // segments one after another, each sorted and scanned over all threads
  // Per worker (1 when split or threads == 1, else min(threads, segments)): scratch_bytes bytes,
  // 64-byte aligned, of at least order_scratch_bytes(pixels, sizeof(T), threads when split else 1).
  unsigned char* scratch;
  std::size_t scratch_bytes;
};

// The radix sort: digits of kRadixBits bits (3 passes for 32-bit keys, 6 for 64-bit ones), each
// pass a stable counting scatter between two buffers of sort items (key and payload: 8 bytes for
// float keys, 16 for double). Scans go in blocks of kOrderBlock sorted items.
constexpr unsigned kRadixBits = 11;
constexpr std::size_t kRadixBuckets = std::size_t(1) << kRadixBits;
constexpr std::size_t kRadixMaxPasses = 6;
constexpr std::size_t kOrderBlock = 4096;
constexpr std::size_t order_blocks(std::size_t items) { return (items + kOrderBlock - 1) / kOrderBlock; }
// Bytes of one worker's scratch for `items` sort items of a key of key_bytes over `threads`
// threads: two item buffers, per-thread and total digit counts, per-block counts and sums.
constexpr std::size_t order_item_bytes(std::size_t key_bytes) { return key_bytes == 4 ? 8 : 16; }
constexpr std::size_t order_scratch_bytes(std::size_t items, std::size_t key_bytes, std::size_t threads) {
  return 2 * items * order_item_bytes(key_bytes) + (threads + 1) * kRadixMaxPasses * kRadixBuckets * sizeof(std::size_t) +
         (order_blocks(items) + 1) * 4 * sizeof(double) + (threads + 1) * 2 * sizeof(std::size_t) + 8 * 64;
}

template <class T>
using LovaszFn = void (*)(const LovaszJob<T>&);

// One call of an image loss (the band shape): batch * channels planes of height x width pixels,
// pixel (n, c, i, j) of x at x[n * x_stride[0] + c * x_stride[1] + i * x_stride[2] +
// j * x_stride[3]] (y, grad and grad_y likewise with theirs). Work items are (plane, band of
// band_rows rows), item k = plane * bands + band, bounds from the shape only; item_value[k]
// (out) is the sum, in a fixed order, of the terms the band's rows own: SSIM map values of the
// map rows in the band, total variation terms of the band's rows. The gradient of
// sum_p term_scale[p] * (the sum of plane p's terms) is written to every pixel of grad (and
// grad_y), each pixel by the one item that owns its row.
//   ssim: the window's win taps; c1, c2; cov_norm (1, or win^2 / (win^2 - 1)). A map row's
//         moments need win input rows, and an input row's gradient the coefficients of win map
//         rows: an item recomputes the win - 1 map rows before its band (kept in two rings of
//         win rows), so items share nothing. contrast_only: the map is the contrast-structure
//         term cs = (2 s_xy + C2) / (s_xx + s_yy + C2) alone (MS-SSIM's lower levels).
//         plane_grad (plane_grad_y): nullptr, or contiguous planes of height x width doubles
//         that take the gradient instead of grad (grad_y): MS-SSIM keeps each level's gradient of
//         its planes' sums (term scale 1) and combines the levels after.
template <class T>
struct BandJob {
  std::size_t batch, channels, height, width;
  const T* x;
  std::ptrdiff_t x_stride[4];
  const T* y;                   // ssim
  std::ptrdiff_t y_stride[4];
  T* grad;                      // nullptr: value only (but with plane_grad)
  T* grad_y;                    // ssim: nullptr unless asked
  std::ptrdiff_t grad_stride[4];
  const double* term_scale;     // per plane, with a gradient
  const double* window;         // ssim: win taps
  std::size_t win;
  double c1, c2, cov_norm;
  bool contrast_only;           // ssim: the cs map (MS-SSIM below its last level)
  double* plane_grad;           // ssim: nullptr, or the gradient w.r.t. x as contiguous doubles
  double* plane_grad_y;         // ssim: nullptr, or the same w.r.t. y
  bool isotropic;               // total_variation
  std::size_t band_rows;
  double* item_value;           // out: one sum per item
  int threads;
  double* scratch;              // per worker: scratch_doubles, 64-byte aligned
  std::size_t scratch_doubles;
};

// The lanes of a band kernel's vectors (eight doubles), and its rows' padding: every row buffer
// holds a whole number of vectors plus the window's reach.
constexpr std::size_t kBandLanes = 8;
constexpr std::size_t band_padded(std::size_t n) { return (n + kBandLanes - 1) / kBandLanes * kBandLanes; }
// SSIM's scratch per worker, for rows of `width` pixels and a window of win taps: two input rows
// and a gradient row; the rings of win horizontally filtered rows (5 moments) and of win
// coefficient rows (4 maps), and 4 zero-padded adjoint rows.
constexpr std::size_t ssim_row(std::size_t width, std::size_t win) { return band_padded(width + win) + kBandLanes; }
constexpr std::size_t ssim_scratch_doubles(std::size_t width, std::size_t win) {
  return (3 + 9 * win + 4) * ssim_row(width, win) + 2 * kBandLanes;
}
// Total variation's: a ring of three gathered input rows, a gradient row and a row of terms.
constexpr std::size_t tv_scratch_doubles(std::size_t width) { return 5 * band_padded(width + kBandLanes); }

template <class T>
using BandFn = void (*)(const BandJob<T>&);

// Rows of `width` values in one work item of a rows-like pass (a perceptual layer's feature rows,
// a pair loss's samples, the center loss's samples or classes): about kBlock values, at least one row.
constexpr std::size_t rows_per_item(std::size_t width) {
  return width >= kBlock ? 1 : kBlock / (width == 0 ? 1 : width);
}

// One layer of a perceptual loss: batch images of channels x height x width features, element
// (n, c, i, j) of x at x[n * x_stride[0] + c * x_stride[1] + i * x_stride[2] + j * x_stride[3]]
// (y and grad likewise).
//   features (the segment shape): image_value[n] = sum over image n's elements of (x - y)^2 in
//     double; work items are rows_per_item(width) rows (a row: one channel's row of the
//     image, in channel-major order), each summed in order, the items added in order; with a
//     gradient, grad = 2 grad_scale[n] (x - y).
//   gram (the pairwise shape): one item per image, on one thread: F the (channels x pixels)
//     matrix of its features (the layer's x_matrix / y_matrix say how to read it), G =
//     gram_norm F F^T (la::gram), D = G(x) - G(y); image_value[n] = sum D^2 in double, and
//     grad = 4 grad_scale[n] gram_norm D F(x) (la::gemm), into grad_matrix.
// A matrix is read in place when its pixels are one stride apart and one of its strides is 1,
// else packed into the worker's scratch (contiguous, row-major) and, for the gradient, written
// back from it.
struct FeatureMatrix {
  int layout;               // kFeatureRowMajor (pixel stride 1, ld between channels),
                            // kFeatureColMajor (channel stride 1, ld between pixels), or kFeaturePacked
  std::ptrdiff_t ld;
};
enum FeatureLayout : int { kFeatureRowMajor, kFeatureColMajor, kFeaturePacked };

template <class T>
struct FeatureJob {
  std::size_t batch, channels, height, width;
  const T* x;
  std::ptrdiff_t x_stride[4];
  const T* y;
  std::ptrdiff_t y_stride[4];
  T* grad;                      // nullptr: value only (but with plane_grad)
  std::ptrdiff_t grad_stride[4];
  bool gram;
  double gram_norm;             // gram: 1 / (channels height width)
  FeatureMatrix x_matrix, y_matrix, grad_matrix;  // gram
  const double* grad_scale;     // per image, with a gradient
  double* image_value;          // out, per image
  int threads;
  double* partials;             // features: one per item
  T* scratch;                   // gram: per worker scratch_elements (gram_scratch)
  std::size_t scratch_elements;
};

// A gram worker's scratch: the two Gram matrices, and a channels x pixels matrix for each of x, y
// and grad that is packed.
constexpr std::size_t gram_scratch(std::size_t channels, std::size_t pixels, std::size_t packed) {
  return 2 * channels * channels + packed * channels * pixels;
}

template <class T>
using FeatureFn = void (*)(const FeatureJob<T>&);

// One call of a pair loss (the rows shape over given pairs and triplets, lossfn/metric.hpp):
// samples rows of `features` values of a, b and c, C-contiguous, and labels one per row. Work
// items are rows_per_item(features) consecutive rows, bounds from the shape only; per row
// the kernel forms its sums in double, its loss and, with a gradient, the row's coefficients,
// and writes the row's gradients at once (the row is still in cache). item_value[k] (out) is the
// sum of item k's losses in row order; loss_out (none) each row's loss. The gradients are those
// of sum_s r_s l_s, r_s = scale (times grad_output_array[s] when given).
template <class T>
struct PairJob {
  std::size_t samples, features;
  const T* a;
  const T* b;
  const T* c;
  const T* labels;
  int loss;                      // lossfn::PairLoss
  double margin, p, eps;
  bool swap;
  T* loss_out;                   // or nullptr
  T* grad_a;                     // each nullptr when not wanted; all nullptr: value only
  T* grad_b;
  T* grad_c;
  const T* grad_output_array;    // or nullptr
  double scale;
  double* item_value;            // out: one sum per item
  int threads;
};


template <class T>
using PairFn = void (*)(const PairJob<T>&);

// One center-loss pass (lossfn/metric.hpp): x (samples, features), checked labels in [0, classes),
// centers (classes, features). The samples of class j are by_class[class_start[j] ..
// class_start[j + 1]), in sample order.
//   rows pass (rows = true): items of rows_per_item(features) samples: item_value[k] (out),
//     the sum of 1/2 |x - c_y|^2 over the item's samples in order; loss_out and grad_x
//     (r_s (x - c_y)) when set.
//   classes pass (rows = false): items of rows_per_item(features) classes, each class's
//     samples in order, sums in double: grad_centers (every row written) = -sum r_s (x - c_j), or
//     with `update` the centers in place: c_j -= alpha (n_j c_j - sum x) / (1 + n_j).
template <class T>
struct CenterJob {
  std::size_t samples, features, classes;
  const T* x;
  const std::int64_t* labels;
  const T* centers;
  const std::size_t* by_class;
  const std::size_t* class_start;
  bool rows;
  T* loss_out;
  T* grad_x;
  T* grad_centers;
  T* update;                 // the centers to update in place (classes pass), or nullptr
  double alpha;
  const T* grad_output_array;
  double scale;
  double* item_value;
  double* scratch;           // classes pass: features doubles per worker
  int threads;
};


template <class T>
using CenterFn = void (*)(const CenterJob<T>&);

// Rows scaled to unit length, as torch's F.normalize (eps = 1e-12), and the adjoint of that map
// (the pairwise losses that compare directions: cosface, arcface, info_nce). Items of
// rows_per_item(features) rows.
//   forward: unit = x inv_norm, inv_norm[i] = 1 / max(|x_i|, eps) (the norm in double)
//   backward: g = sum over `parts` partial gradients w.r.t. the unit rows (grad_unit + k part_stride,
//     added in k order in double), then grad = inv_norm (g - unit (unit . g)) where |x| > eps, else
//     inv_norm g (x / eps is linear there).
template <class T>
struct UnitRowsJob {
  std::size_t rows, features;
  const T* x;
  T* unit;
  double* inv_norm;
  bool backward;
  const T* grad_unit;
  std::size_t parts, part_stride;
  T* grad;
  int threads;
};

template <class T>
using UnitRowsFn = void (*)(const UnitRowsJob<T>&);

// The tiles of the pairwise shape: rows in blocks of kPairTile, columns (classes, or the other
// view's rows) in tiles of kPairTile; a tile is one la::gemm (single-threaded) and its epilogue.
constexpr std::size_t kPairTile = 256;

// One pass of a margin-softmax loss (cosface, arcface; lossfn/metric.hpp): x_unit the unit
// embeddings (samples, features), weights (classes, features) read in place, labels checked.
// The class tiles are cut into `groups` runs of group_tiles consecutive tiles (from the shape
// only); a worker takes whole groups, and inside a group tiles and row blocks go in order.
// Logits: s cos(x_i, w_c), the label's s phi(cos), phi the loss's margin.
//   stats pass (grad_pass = false): per group g and row i the softmax statistics of the group's
//     logits, stats[(g samples + i) 2 + {0, 1}] = (max, sum of e^(logit - max)); the tile holding
//     a row's label writes target_cos[i].
//   grad pass: with lse[i] and row_coef[i] (d reduced / d loss_i), the coefficient of each logit
//     is row_coef (softmax - [c = y]) ds/dcos; grad_weights (when set): the rows of the group's
//     classes, w.r.t. the raw weights; grad_unit (when set): the group's partial gradient w.r.t.
//     x_unit at grad_unit + g samples features.
template <class T>
struct MarginJob {
  std::size_t samples, features, classes;
  const T* x_unit;
  const T* weights;
  const std::int64_t* labels;
  int loss;                       // lossfn::MarginLoss
  double s, m;
  bool easy_margin;
  std::size_t groups, group_tiles;
  bool grad_pass;
  double* stats;
  double* target_cos;
  const double* lse;
  const double* row_coef;
  T* grad_weights;
  T* grad_unit;
  T* scratch;                     // margin_scratch() elements per worker
  int threads;
};

// A margin worker's scratch: the logit tile and the tile's inverse weight norms.
constexpr std::size_t margin_scratch() { return kPairTile * kPairTile + kPairTile; }

template <class T>
using MarginFn = void (*)(const MarginJob<T>&);

// One pass of info_nce (lossfn/metric.hpp) over unit rows: clip, a (samples) against b (samples),
// logits a_i . b_j / temperature, the positives on the diagonal; simclr, the 2 samples stacked
// views a against themselves, the diagonal left out, the positive of row i at i +- samples. Tiles
// of kPairTile x kPairTile. clip runs a wavefront: in step t the row block I meets the column
// block (I + t) mod blocks, so each row block's and each column block's statistics and gradients
// are touched by one tile per step, in step order, whatever the thread count. simclr: a worker
// owns a row block and meets every column block in order.
//   stats pass: per row (row_stats) and, for clip, per column (col_stats) (max, sum of
//     e^(logit - max)); positive[i] the positive logit of row i.
//   grad pass: coefficient of logit (i, j): row_coef[i] (softmax_row - [positive]) + col_coef[j]
//     (softmax_col - [positive]) (clip; the second term with col_coef only), for simclr the
//     row term of (i, j) plus that of (j, i); grad_a (+)= coef b (clip; and grad_b (+)= coef^T a),
//     simclr grad_a (+)= coef a; both accumulated from zero.
template <class T>
struct InfoNceJob {
  std::size_t rows, features;     // rows: samples (clip), 2 samples (simclr)
  const T* a;
  const T* b;
  double inv_temperature;
  bool simclr, columns;           // columns: clip's column direction enters (symmetric)
  bool grad_pass;
  double* row_stats;
  double* col_stats;
  double* positive;
  const double* row_lse;
  const double* col_lse;
  const double* row_coef;
  const double* col_coef;
  T* grad_a;
  T* grad_b;
  T* scratch;                     // info_nce_scratch() elements per worker
  int threads;
};

// An info_nce worker's scratch: the logit tile, the coefficient tile, two columns' statistics.
constexpr std::size_t info_nce_scratch() { return 2 * kPairTile * kPairTile + 2 * kPairTile; }

template <class T>
using InfoNceFn = void (*)(const InfoNceJob<T>&);

// One pass of batch_triplet (lossfn/metric.hpp) over x (samples, features): centred rows for the
// euclidean and squared distances, unit rows for cosine; labels compared for equality only.
//   distances: dist (samples x samples, double) from tiles of kPairTile rows and columns, the
//     upper triangle's tiles computed (la::gemm) and mirrored: d2 = |x_i|^2 + |x_j|^2 - 2 x_i.x_j
//     clamped at 0 (euclidean: its root), or 1 - x_i.x_j; the diagonal exactly 0.
//   mine: per anchor a (items of one anchor; `scratch` 4 samples doubles per worker), the
//     triplets the mining keeps, stats[3 a + {0, 1, 2}] = (the sum of their losses, their count,
//     the count of those with a positive loss), and coef's row a = d (sum of its positive losses)
//     / d dist(a, j) for every j.
//   grad: with anchor_weight[a] (d reduced / d sum of anchor a's losses), s_kj = w_k coef_kj +
//     w_j coef_jk times the distance's slope (euclidean 1/d, 0 at d = 0; squared 2; cosine -1),
//     grad = s_k x_k - (S x)_k (euclidean, squared), or (S x)_k w.r.t. the unit rows (cosine);
//     `matrix` (samples x samples of T) holds S.
template <class T>
struct TripletJob {
  std::size_t samples, features;
  const T* x;
  const std::int64_t* labels;
  int pass;                       // kTripletDistances, kTripletMine, kTripletGrad
  int distance;                   // kTripletEuclidean, kTripletSquared, kTripletCosine
  int mining;                     // kMineAll, kMineHard, kMineSemihard, kMineSemihardTfa
  double margin;
  double* dist;
  double* coef;
  double* stats;
  const double* anchor_weight;
  T* matrix;
  T* grad;
  double* scratch;
  int threads;
};
enum TripletPass : int { kTripletDistances, kTripletMine, kTripletGrad };
enum TripletDistance : int { kTripletEuclidean, kTripletSquared, kTripletCosine };
enum TripletMining : int { kMineAll, kMineHard, kMineSemihard, kMineSemihardTfa };

template <class T>
using TripletFn = void (*)(const TripletJob<T>&);

struct KernelTable {
  RowFn<float> rows_f32[int(RowLoss::count_)];
  RowFn<double> rows_f64[int(RowLoss::count_)];
  ElementwiseFn<float> f32[int(Loss::count_)];
  ElementwiseFn<double> f64[int(Loss::count_)];
  SumFn<float> sum_f32;
  SumFn<double> sum_f64;
  StridedSumFn<float> strided_sum_f32;
  StridedSumFn<double> strided_sum_f64;
  AuxCheckFn<float> aux_check_f32;
  AuxCheckFn<double> aux_check_f64;
  CtcFn<float> ctc_f32;
  CtcFn<double> ctc_f64;
  SegmentFn<float> segment_stats_f32;
  SegmentFn<double> segment_stats_f64;
  SegmentFn<float> segment_grad_f32;
  SegmentFn<double> segment_grad_f64;
  LovaszFn<float> lovasz_f32;
  LovaszFn<double> lovasz_f64;
  BandFn<float> ssim_f32;
  BandFn<double> ssim_f64;
  BandFn<float> total_variation_f32;
  BandFn<double> total_variation_f64;
  FeatureFn<float> perceptual_f32;
  FeatureFn<double> perceptual_f64;
  PairFn<float> pair_f32;
  PairFn<double> pair_f64;
  CenterFn<float> center_f32;
  CenterFn<double> center_f64;
  UnitRowsFn<float> unit_rows_f32;
  UnitRowsFn<double> unit_rows_f64;
  MarginFn<float> margin_f32;
  MarginFn<double> margin_f64;
  InfoNceFn<float> info_nce_f32;
  InfoNceFn<double> info_nce_f64;
  TripletFn<float> triplet_f32;
  TripletFn<double> triplet_f64;
};

}  // namespace detail
}  // namespace lossfn

// Each ISA fills the table with its kernels; defined in the per-ISA translation units.
#define LOSSFN_DECLARE_ISA(ns)                                            \
  namespace lossfn {                                                      \
  namespace ns {                                                          \
  void fill_regression(detail::KernelTable& table);                       \
  void fill_binary(detail::KernelTable& table);                           \
  void fill_common(detail::KernelTable& table);                           \
  void fill_multiclass(detail::KernelTable& table);                       \
  void fill_sequence(detail::KernelTable& table);                         \
  void fill_segmentation(detail::KernelTable& table);                     \
  void fill_image(detail::KernelTable& table);                            \
  void fill_la(detail::KernelTable& table);                               \
  void fill_metric(detail::KernelTable& table);                           \
  }                                                                       \
  }
LOSSFN_DECLARE_ISA(baseline)
LOSSFN_DECLARE_ISA(avx2)
LOSSFN_DECLARE_ISA(avx512)
