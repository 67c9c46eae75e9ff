// Image losses (SPEC §2 H): SSIM, MS-SSIM and total variation, the band shape (a separable filter over
// bands of rows and, for the gradient, its adjoint), and the perceptual and style losses over a
// network's feature maps (the segment shape; with Gram matrices, the pairwise shape). C++17, no third-party headers; errors
// throw lossfn::Error naming the argument.
//
//   // x, y: (N, C, H, W) float, C-contiguous
//   lossfn::ImageCall<float> call;
//   call.batch = N, call.channels = C, call.height = H, call.width = W;
//   call.x = x, call.y = y;
//   double loss;
//   call.value = &loss, call.grad = grad;             // value and gradient in one call
//   lossfn::ssim(call, lossfn::SsimOptions{});
#pragma once

#include <cstddef>
#include <cstdint>

#include "lossfn/core.hpp"

namespace lossfn {

// SSIM (Wang, Bovik, Sheikh and Simoncelli 2004), as pytorch-msssim computes it by default:
// per channel plane, with w the window (a normalised Gaussian of win_size taps and sigma, or
// uniform), filtered over the valid positions only (no padding: an (H - win + 1) x
// (W - win + 1) map),
//   mu_x = w * x,   s_xx = k (w * x^2 - mu_x^2),   s_xy = k (w * xy - mu_x mu_y)   (likewise y)
//   S = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_xx + s_yy + C2)),
//   C1 = (k1 data_range)^2, C2 = (k2 data_range)^2,
// k = 1 (population covariance) or win^2 / (win^2 - 1) (use_sample_covariance, scikit-image's
// default). An image's loss is 1 - the mean over its channels of the mean of S over the map.
// The moments are formed in double for float32 input too (bright, low-contrast images keep
// their variance; a variance below 0 by rounding is taken as 0).
// gaussian_weights = false with win_size = 7 and use_sample_covariance = true is
// scikit-image's structural_similarity.
struct SsimOptions {
  double data_range = 1.0;
  std::int64_t win_size = 11;   // odd, >= 1
  double sigma = 1.5;           // > 0, the Gaussian's width in pixels
  double k1 = 0.01, k2 = 0.03;  // > 0
  bool gaussian_weights = true;
  bool use_sample_covariance = false;
};

// MS-SSIM (Wang, Simoncelli and Bovik 2003), as pytorch-msssim's ms_ssim: a pyramid of `levels`
// scales, level 0 the images and level l + 1 level l 2x2 average-pooled (torch's avg_pool2d with
// kernel 2 and a zero padding of height % 2 rows and width % 2 columns on each side, counted:
// every output pixel is a quarter of its four); per channel plane, with cs_l the mean over the
// valid positions of level l of the contrast-structure term (2 s_xy + C2) / (s_xx + s_yy + C2)
// and S the mean SSIM map of the last level,
//   MS = prod_{l < L-1} relu(cs_l)^w_l * relu(S)^w_{L-1}   (a factor with w_l = 0 is 1),
// and an image's loss is 1 - the mean over its channels of MS. A plane with a factor <= 0 (and
// w_l > 0) has MS = 0 and a zero gradient (pytorch-msssim's backward gives NaN there). Every
// level must hold the window: ceil(height / 2^(L-1)) and the same of width >= win_size
// (pytorch-msssim asks for more: a smaller side above (win_size - 1) 2^4). Each level is filtered
// once: with a gradient, the levels' gradients are kept in doubles until the loss is known (8
// bytes per pixel of the pyramid, about 11 per image pixel, for each image differentiated).
struct MsSsimOptions {
  SsimOptions ssim;
  const double* weights = nullptr;  // levels finite values >= 0; nullptr: the default five
  std::size_t levels = 0;           // with weights: 1 .. 32; without: 0 or 5
};
constexpr double kMsSsimWeights[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

// Total variation (Rudin, Osher and Fatemi 1992) of each image, summed over its channels and
// pixels, with forward differences dh = x[i, j + 1] - x[i, j], dv = x[i + 1, j] - x[i, j]:
//   anisotropic  sum |dh| + sum |dv|     (kornia's total_variation, per plane, added over channels)
//   isotropic    sum_ij sqrt(dh_ij^2 + dv_ij^2), a difference past the last row or column taken
//                as 0
// Subgradients: sign(0) = 0, and 0 where the isotropic norm is 0 (as torch's norm backward).
struct TotalVariationOptions {
  bool isotropic = false;
};

// One call over `batch` images of `channels` planes of height x width pixels. Pixel (n, c, i, j)
// of x is x[n * strides[0] + c * strides[1] + i * strides[2] + j * strides[3]] (strides in
// elements; nullptr: C-contiguous NCHW; {H W C, 1, W C, C} reads NHWC in place); y likewise
// with y_strides, the gradients with grad_strides. Reduction over the images' losses:
//   none  loss[n]
//   sum   sum_n loss_n
//   mean  the mean over the images
// grad (x's shape) is d value / d x times grad_output, or for none of each loss times
// grad_output_array[n]; grad_y ((ms_)ssim only, or nullptr) the same w.r.t. y.
template <class T>
struct ImageCall {
  std::size_t batch = 0, channels = 1, height = 0, width = 0;
  const T* x = nullptr;
  const std::ptrdiff_t* strides = nullptr;
  const T* y = nullptr;                       // (ms_)ssim's second image; total_variation takes none
  const std::ptrdiff_t* y_strides = nullptr;
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;       // none only: batch values

  double* value = nullptr;  // mean/sum
  T* loss = nullptr;        // none: batch values
  T* grad = nullptr;        // d value / d x
  T* grad_y = nullptr;      // d value / d y ((ms_)ssim)
  const std::ptrdiff_t* grad_strides = nullptr;
};

// Perceptual (Johnson, Alahi and Fei-Fei 2016) and style (Gatys, Ecker and Bethge 2016) losses
// over the feature maps a network produced for x and y: layer l of image n is a
// channels_l x height_l x width_l block F_l(x_n) (and F_l(y_n)), and with w_l the layer weights
//   features:  loss_n = sum_l w_l mean_{c,i,j} (F_l(x_n) - F_l(y_n))^2
//   gram:      loss_n = sum_l w_l mean_{a,b} (G_l(x_n) - G_l(y_n))_ab^2,
//              G(F) = F F^T / (channels height width), F as the (channels x pixels) matrix
// (for "mean", sum_l w_l torch.nn.functional.mse_loss(F_l(x), F_l(y)), or the same of the Gram
// matrices). The gradient is w.r.t. the x features: 2 w_l (F_x - F_y) / (C H W) per element,
// and with gram 4 w_l / (C^2 C H W) (G_x - G_y) F_x. The Gram products are the GEMM engine's
// (Eigen, one image's layer per thread).
struct PerceptualOptions {
  bool gram = false;
};

// One layer's feature maps: element (n, c, i, j) of x at x[n * x_strides[0] + c * x_strides[1] +
// i * x_strides[2] + j * x_strides[3]] (nullptr: C-contiguous); y likewise; grad (x's shape, the
// gradient w.r.t. x, with grad_strides) when the call asks for a gradient.
template <class T>
struct FeatureLayer {
  std::size_t channels = 1, height = 1, width = 1;
  const T* x = nullptr;
  const std::ptrdiff_t* x_strides = nullptr;
  const T* y = nullptr;
  const std::ptrdiff_t* y_strides = nullptr;
  T* grad = nullptr;
  const std::ptrdiff_t* grad_strides = nullptr;
};

// A call over `batch` images' num_layers layers. The outputs as ImageCall's: value (mean/sum
// over the images' losses), loss (none), and a gradient in every layer's grad (all of them, or
// none for a value-only call).
template <class T>
struct PerceptualCall {
  std::size_t batch = 0;
  const FeatureLayer<T>* layers = nullptr;
  std::size_t num_layers = 0;
  const double* layer_weights = nullptr;  // num_layers finite values >= 0; nullptr: 1 each
  Reduction reduction = Reduction::mean;
  double grad_output = 1.0;
  const T* grad_output_array = nullptr;   // none only: batch values

  double* value = nullptr;
  T* loss = nullptr;
};

void ssim(const ImageCall<float>& call, const SsimOptions& options = SsimOptions{});
void ssim(const ImageCall<double>& call, const SsimOptions& options = SsimOptions{});
void ms_ssim(const ImageCall<float>& call, const MsSsimOptions& options = MsSsimOptions{});
void ms_ssim(const ImageCall<double>& call, const MsSsimOptions& options = MsSsimOptions{});
void total_variation(const ImageCall<float>& call, const TotalVariationOptions& options = TotalVariationOptions{});
void total_variation(const ImageCall<double>& call, const TotalVariationOptions& options = TotalVariationOptions{});
void perceptual(const PerceptualCall<float>& call, const PerceptualOptions& options = PerceptualOptions{});
void perceptual(const PerceptualCall<double>& call, const PerceptualOptions& options = PerceptualOptions{});

}  // namespace lossfn
