// Metric-learning losses on given pairs and triplets (SPEC §2 F), the rows shape: each sample is a
// row of `features` values in each input (one value for margin_ranking and hinge_embedding, which
// torch defines elementwise), reduced per row to a few sums in double, finished per row, and the
// gradient written from the row's coefficients in the same sweep. C++17, no third-party headers;
// errors throw lossfn::Error naming the argument.
//
//   // x1, x2: (N, D) float, C-contiguous; y: N labels
//   lossfn::PairCall<float> call;
//   call.samples = N, call.features = D, call.a = x1, call.b = x2, call.labels = y;
//   double loss;
//   call.value = &loss, call.grad_a = g1, call.grad_b = g2;
//   lossfn::pair_loss(lossfn::PairLoss::contrastive, call, lossfn::PairOptions{});
#pragma once

#include <cstddef>
#include <cstdint>

#include "lossfn/core.hpp"

namespace lossfn {

// Per sample, with d(u, v) = ||u - v||_2 unless said otherwise:
//   contrastive       (a = x1, b = x2, labels y in [0, 1]; Hadsell, Chopra and LeCun 2006)
//                     l = 1/2 [y d(a, b)^2 + (1 - y) max(0, margin - d(a, b))^2]
//   triplet           (a = anchor, b = positive, c = negative; torch triplet_margin_loss)
//                     l = max(0, D(a, b) - D(a, c) + margin), D(u, v) = ||u - v + eps||_p, and with
//                     swap D(a, c) replaced by min(D(a, c), D(b, c))
//   cosine_embedding  (a = x1, b = x2, labels y; torch cosine_embedding_loss)
//                     cos = a.b / sqrt((|a|^2 + 1e-12)(|b|^2 + 1e-12)),
//                     l = [y == 1] (1 - cos) + [y == -1] max(0, cos - margin)
//   margin_ranking    (a = x1, b = x2, labels y, one value per sample; torch margin_ranking_loss)
//                     l = max(0, -y (a - b) + margin)
//   hinge_embedding   (a = x, labels y, one value per sample; torch hinge_embedding_loss)
//                     l = [y != 1] max(0, margin - a) + [y != -1] a
// Subgradients: 0 at a kink (max(0, .) at 0, a norm at 0: the direction of a zero difference is
// taken as 0, as torch's norm backward does).
enum class PairLoss : int { contrastive, triplet, cosine_embedding, margin_ranking, hinge_embedding, count_ };

// The loss's name ("contrastive", ...); nullptr for an invalid value.
const char* pair_loss_name(PairLoss loss) noexcept;

struct PairOptions {
  double margin = 1.0;  // contrastive and triplet >= 0; the others any finite value (torch's default there: 0, 0, 1)
  double p = 2.0;       // triplet: the norm, >= 1 (finite)
  double eps = 1e-6;    // triplet: added to every difference (torch's pairwise_distance)
  bool swap = false;    // triplet: the distance swap of Balntas et al. 2016
};

// One call over `samples` rows of `features` values: a, b (and c for triplet) C-contiguous
// (samples, features); labels one per sample (none for triplet). Reduction over the samples'
// losses: none loss[s]; sum; mean (1/samples). The gradients (each of its input's shape; a
// gradient call gives one for every input the loss takes, none for a value-only call) are those
// of the reduced value times grad_output, or for none of each loss times grad_output_array[s].
template <class T>
struct PairCall {
  std::size_t samples = 0, features = 1;
  const T* a = nullptr;
  const T* b = nullptr;
  const T* c = nullptr;
  const T* labels = nullptr;
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;  // none only: samples values

  double* value = nullptr;  // mean/sum
  T* loss = nullptr;        // none: samples values
  T* grad_a = nullptr;
  T* grad_b = nullptr;
  T* grad_c = nullptr;
};

void pair_loss(PairLoss loss, const PairCall<float>& call, const PairOptions& options = PairOptions{});
void pair_loss(PairLoss loss, const PairCall<double>& call, const PairOptions& options = PairOptions{});

// The calls of losses of labelled samples: x (samples, features) and integer labels, one per
// sample (batch_triplet's call as it is; the center and margin losses add a matrix of one row per
// class, with its gradient). Outputs and reduction as PairCall's.
template <class T>
struct LabelledSamples {
  std::size_t samples = 0, features = 0;
  const T* x = nullptr;
  const std::int64_t* labels = nullptr;
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;

  double* value = nullptr;
  T* loss = nullptr;
  T* grad_x = nullptr;
};

// Center loss (Wen, Zhang, Li and Qiao 2016): features x (samples, features), integer labels y in
// [0, classes), class centers c (classes, features), all C-contiguous; per sample
//   l = 1/2 ||x - c_y||^2,   dl/dx = x - c_y,   dl/dc_j = -sum over the samples of class j of (x - c_j)
// (pytorch-metric-learning-style implementations such as KaiyangZhou's CenterLoss average
// ||x - c_y||^2 without the 1/2). Outputs and reduction as PairCall's; grad_x and grad_centers
// each optional (nullptr), the latter written whole (0 for classes absent from the batch).
template <class T>
struct CenterCall : LabelledSamples<T> {
  std::size_t classes = 0;     // labels in [0, classes)
  const T* centers = nullptr;  // (classes, features)
  T* grad_centers = nullptr;
};

void center_loss(const CenterCall<float>& call);
void center_loss(const CenterCall<double>& call);

// Wen et al.'s center update, in place: for every class j with n_j samples in the batch,
//   c_j <- c_j - alpha sum over its samples of (c_j - x) / (1 + n_j)
// (classes absent from the batch keep their centers). `centers` is the array the call's centers
// point at (written in place); the call's outputs are ignored.
void center_update(float* centers, const CenterCall<float>& call, double alpha = 0.5);
void center_update(double* centers, const CenterCall<double>& call, double alpha = 0.5);

// Softmax cross-entropy over the cosines of unit embeddings and unit class weights, with a
// margin on the label's cosine (the pairwise shape: the samples x classes logits are formed tile
// by tile and never stored). x (samples, features), weights W (classes, features), labels y in
// [0, classes), all C-contiguous; x_unit = x / max(|x|, 1e-12) (torch's F.normalize), likewise
// W's rows; cos_ic = x_unit_i . w_unit_c clamped to [-1, 1]; logits s cos_ic, the label's s phi(cos_iy):
//   cosface (Wang et al. 2018, CosFace)   phi(c) = c - m
//   arcface (Deng et al. 2019, InsightFace arcface_torch)  phi(c) = cos(theta + m) =
//                     c cos m - sin(theta) sin m where c > cos(pi - m) (theta + m < pi), else
//                     c - m sin(pi - m) (InsightFace's th/mm tail: monotone past pi);
//                     easy_margin: cos(theta + m) where c > 0, else c
//   l_i = logsumexp_c logit_ic - logit_iy.
// Gradients w.r.t. x and W through the normalisations; the clamp is passed through (it only
// trims rounding), and arcface's dphi/dc = cos m + sin m c / max(sin theta, sqrt(eps of T)) stays
// finite at cos = 1 (where the exact derivative w.r.t. the cosine is infinite and the one w.r.t. x
// is 0 times it).
enum class MarginLoss : int { cosface, arcface, count_ };

// The loss's name ("cosface", "arcface"); nullptr for an invalid value.
const char* margin_loss_name(MarginLoss loss) noexcept;

// Defaults are cosface's; arcface's are s = 64, m = 0.5 (MarginOptions{64.0, 0.5}).
struct MarginOptions {
  double s = 30.0;           // the scale, > 0
  double m = 0.35;           // the margin, >= 0 (arcface: < pi)
  bool easy_margin = false;  // arcface
};

// grad_x and grad_weights each optional (nullptr).
template <class T>
struct MarginCall : LabelledSamples<T> {
  std::size_t classes = 0;     // labels in [0, classes)
  const T* weights = nullptr;  // (classes, features)
  T* grad_weights = nullptr;
};

void margin_loss(MarginLoss loss, const MarginCall<float>& call, const MarginOptions& options = MarginOptions{});
void margin_loss(MarginLoss loss, const MarginCall<double>& call, const MarginOptions& options = MarginOptions{});

// InfoNCE on two views a = z1, b = z2 (samples, features), C-contiguous, compared by the cosine of
// their unit rows (as above) over the temperature t (the pairwise shape; no samples x samples
// matrix is stored):
//   clip (Radford et al. 2021, CLIP's loss)  L_ij = z1_unit_i . z2_unit_j / t;
//                     l_i = 1/2 [(logsumexp_j L_ij - L_ii) + (logsumexp_j L_ji - L_ii)],
//                     symmetric = false: l_i = logsumexp_j L_ij - L_ii
//   simclr (Chen et al. 2020, NT-Xent)       the 2 samples views z = [z1; z2], L_ab = z_unit_a .
//                     z_unit_b / t for b != a, the positive of a its other view a +- samples;
//                     l_i = 1/2 (CE_i + CE_{i + samples}), CE_a = logsumexp_{b != a} L_ab - L_a,pos
// The mean reduction is CLIP's loss (SimCLR's code returns the sum of its two directions' means:
// twice the simclr mean). Outputs as PairCall's (a, b and their gradients; c and labels unused).
struct InfoNceOptions {
  double temperature = 0.1;  // > 0
  bool symmetric = true;     // clip: both directions (simclr is symmetric by construction)
  bool simclr = false;       // NT-Xent over the 2 samples views, else clip
};

void info_nce(const PairCall<float>& call, const InfoNceOptions& options = InfoNceOptions{});
void info_nce(const PairCall<double>& call, const InfoNceOptions& options = InfoNceOptions{});

// Triplet loss over every triplet of a batch that the mining keeps (the pairwise shape: the
// batch's distances from GEMM tiles, then mining per anchor). x (samples, features), labels (any
// int64 values: equal labels make a positive pair), C-contiguous. Distances, from rows centred on
// the batch mean (translation-invariant; no catastrophic cancellation far from the origin):
//   euclidean |x_i - x_j| (gradient 0 at distance 0), squared |x_i - x_j|^2, cosine 1 - cos(x_i, x_j)
//   (unit rows as F.normalize; pytorch-metric-learning's CosineSimilarity gives the same hinges)
// For an anchor a, a positive p (same label, p != a) and a negative n (another label), with
// d_ap, d_an their distances:
//   all, hard, semihard   pytorch-metric-learning's TripletMarginMiner: every (a, p, n) with
//                         d_an - d_ap <= margin (all), <= 0 (hard), in (0, margin] (semihard);
//                         each kept triplet's loss max(0, d_ap - d_an + margin)
//   semihard_tfa          TF-Addons' triplet_semihard_loss: per (a, p) one negative, the nearest
//                         with d_an > d_ap, else the farthest (with none, distance 0); loss
//                         max(0, margin + d_ap - d_neg) per positive pair
// mean: the kept triplets' (semihard_tfa: positive pairs') mean loss, over all of them
// (nonzero = false; TF-Addons, PML's MeanReducer) or over those with a positive loss (nonzero =
// true; PML's AvgNonZeroReducer, its default); 0 when there are none. sum: their sum. none: per
// anchor, the sum of its triplets' losses. Memory: the batch's distances and per-pair
// coefficients (samples^2 doubles each) and samples^2 values of T.
enum class TripletMining : int { all, hard, semihard, semihard_tfa, count_ };
enum class TripletDistance : int { euclidean, squared, cosine, count_ };

struct BatchTripletOptions {
  double margin = 0.2;  // >= 0
  TripletMining mining = TripletMining::all;
  TripletDistance distance = TripletDistance::euclidean;
  bool nonzero = false;  // the mean over the triplets with a positive loss
};

template <class T>
using BatchTripletCall = LabelledSamples<T>;

void batch_triplet(const BatchTripletCall<float>& call, const BatchTripletOptions& options = BatchTripletOptions{});
void batch_triplet(const BatchTripletCall<double>& call, const BatchTripletOptions& options = BatchTripletOptions{});

}  // namespace lossfn
