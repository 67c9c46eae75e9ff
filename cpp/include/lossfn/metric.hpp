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

// Center loss (Wen, Zhang, Li and Qiao 2016): features x (samples, features), integer labels y in
// [0, classes), class centers c (classes, features), all C-contiguous; per sample
//   l = 1/2 ||x - c_y||^2,   dl/dx = x - c_y,   dl/dc_j = -sum over the samples of class j of (x - c_j)
// (pytorch-metric-learning-style implementations such as KaiyangZhou's CenterLoss average
// ||x - c_y||^2 without the 1/2). Outputs and reduction as PairCall's; grad_x and grad_centers
// each optional (nullptr), the latter written whole (0 for classes absent from the batch).
template <class T>
struct CenterCall {
  std::size_t samples = 0, features = 0, classes = 0;
  const T* x = nullptr;
  const std::int64_t* labels = nullptr;
  const T* centers = nullptr;
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;

  double* value = nullptr;
  T* loss = nullptr;
  T* grad_x = nullptr;
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

}  // namespace lossfn
