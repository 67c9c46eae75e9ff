// lossfn::ssim and lossfn::total_variation: check a call (shape, layout, hyper-parameters,
// outputs), work out each image's term scale for the gradient, size the per-thread scratch, run
// the band kernel and finish each image's loss from its bands' sums, added in band order.
// Baseline code.
#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dispatch/dispatch.hpp"
#include "lossfn/image.hpp"

namespace lossfn {
namespace {

using detail::fail;

enum class ImageLoss { ssim, total_variation };

// Rows per band. SSIM: 64 (an item recomputes the win - 1 map rows before its band for the
// gradient: 16 % more filtering at win = 11); total variation: about 64 K pixels.
std::size_t band_rows(ImageLoss loss, std::size_t width) {
  if (loss == ImageLoss::ssim) return 64;
  const std::size_t rows = (std::size_t(1) << 16) / std::max<std::size_t>(width, 1);
  return std::max<std::size_t>(rows, 8);
}

// The window: win taps, a normalised Gaussian exp(-(k - win / 2)^2 / (2 sigma^2)) or uniform.
std::vector<double> window(const SsimOptions& o) {
  const std::size_t win = std::size_t(o.win_size);
  std::vector<double> w(win, 1.0 / double(win));
  if (!o.gaussian_weights) return w;
  double total = 0.0;
  for (std::size_t k = 0; k < win; ++k) {
    const double d = double(k) - double(win / 2);
    w[k] = std::exp(-d * d / (2.0 * o.sigma * o.sigma));
    total += w[k];
  }
  for (double& v : w) v /= total;
  return w;
}

void check_ssim_options(const SsimOptions& o) {
  auto positive = [](double v, const char* name) {
    if (!(v > 0.0) || !std::isfinite(v)) {
      std::ostringstream msg;
      msg << "ssim: " << name << ": must be a finite number > 0, got " << v;
      fail(msg.str());
    }
  };
  positive(o.data_range, "data_range");
  positive(o.k1, "k1");
  positive(o.k2, "k2");
  if (o.gaussian_weights) positive(o.sigma, "sigma");
  if (o.win_size < 1 || o.win_size % 2 == 0 || o.win_size > (std::int64_t(1) << 20))
    fail("ssim: win_size: must be an odd number >= 1, got " + std::to_string(o.win_size));
  if (o.use_sample_covariance && o.win_size == 1)
    fail("ssim: win_size: the sample covariance needs a window of more than one pixel");
}

template <class T>
void run_impl(ImageLoss loss, const ImageCall<T>& c, const SsimOptions* ssim, const TotalVariationOptions* tv) {
  using namespace detail;
  const char* name = loss == ImageLoss::ssim ? "ssim" : "total_variation";
  const std::size_t N = c.batch, C = c.channels, H = c.height, W = c.width;
  if (ssim) check_ssim_options(*ssim);
  const Reduction reduction = c.reduction;
  const Requested requested = check_outputs(reduction, c.value, c.loss, c.grad, c.grad_output_array);
  const bool want_grad = requested.grad;
  if (c.grad_y && loss != ImageLoss::ssim) fail(std::string(name) + ": grad_y: this loss has one image input");
  if (c.grad_y && !c.grad) fail(std::string(name) + ": grad_y: needs grad too");
  if (N > 0 && C == 0) fail(std::string(name) + ": x: the channel axis has length 0");
  if (N > 0 && (H == 0 || W == 0)) fail(std::string(name) + ": x: the images have no pixels");
  const std::size_t win = ssim ? std::size_t(ssim->win_size) : 1;
  if (N > 0 && (H < win || W < win)) {
    std::ostringstream msg;
    msg << name << ": x: the images (" << H << " x " << W << ") are smaller than the " << win << " x " << win
        << " window (win_size)";
    fail(msg.str());
  }
  const std::size_t extent[4] = {N, C, H, W};
  if (C != 0 && H != 0 && W != 0 &&
      (W > std::size_t(PTRDIFF_MAX) / H || H * W > std::size_t(PTRDIFF_MAX) / C ||
       N > std::size_t(PTRDIFF_MAX) / (C * H * W)))
    fail(std::string(name) + ": x: the shape is too large");
  const std::ptrdiff_t contiguous[4] = {std::ptrdiff_t(C * H * W), std::ptrdiff_t(H * W), std::ptrdiff_t(W), 1};
  const std::ptrdiff_t* xs = c.strides ? c.strides : contiguous;
  const std::ptrdiff_t* ys = c.y_strides ? c.y_strides : contiguous;
  const std::ptrdiff_t* gs = c.grad_strides ? c.grad_strides : contiguous;
  check_box(c.x, 4, extent, xs, "x");
  if (ssim) check_box(c.y, 4, extent, ys, "y");
  if (want_grad) check_box(c.grad, 4, extent, gs, "grad");
  if (c.grad_y) check_box(c.grad_y, 4, extent, gs, "grad_y");
  check_optional(c.loss, N, "loss");
  check_optional(c.grad_output_array, N, "grad_output");

  // An image's loss from the sum of its terms: ssim 1 - sum / (C * map pixels), total
  // variation the sum itself.
  const double map_pixels = ssim ? double(H - win + 1) * double(W - win + 1) : 1.0;
  const double per_term = ssim ? -1.0 / (double(C) * map_pixels) : 1.0;
  std::vector<double> term_scale;
  if (want_grad) {
    term_scale.resize(N);
    for (std::size_t n = 0; n < N; ++n) {
      double k = c.grad_output_array ? double(c.grad_output_array[n]) : c.grad_output;
      if (reduction == Reduction::mean) k /= double(N);
      term_scale[n] = k * per_term;
    }
  }
  if (N == 0) {
    if (c.value) *c.value = reduction == Reduction::mean ? std::nan("") : 0.0;
    return;
  }

  const std::size_t rows = std::min(band_rows(loss, W), H), bands = (H + rows - 1) / rows;
  const std::size_t planes = N * C, items = planes * bands;
  const double work = double(planes) * double(H) * double(W) * (ssim ? 64.0 : 1.0);
  int threads = get_num_threads();
  if (work < double(kParallelMin)) threads = 1;
  const std::size_t workers = std::min<std::size_t>(std::size_t(threads), items);
  const std::size_t scratch_doubles = ssim ? ssim_scratch_doubles(W, win) : tv_scratch_doubles(W);
  std::unique_ptr<double[]> scratch(new double[workers * scratch_doubles]);
  std::vector<double> item_value(items, 0.0);
  const std::vector<double> taps = ssim ? window(*ssim) : std::vector<double>{};

  BandJob<T> job{};
  job.batch = N, job.channels = C, job.height = H, job.width = W;
  job.x = c.x;
  job.y = ssim ? c.y : nullptr;
  job.grad = want_grad ? c.grad : nullptr;
  job.grad_y = c.grad_y;
  for (int k = 0; k < 4; ++k) job.x_stride[k] = xs[k], job.y_stride[k] = ys[k], job.grad_stride[k] = gs[k];
  job.term_scale = want_grad ? term_scale.data() : nullptr;
  if (ssim) {
    job.window = taps.data();
    job.win = win;
    job.c1 = (ssim->k1 * ssim->data_range) * (ssim->k1 * ssim->data_range);
    job.c2 = (ssim->k2 * ssim->data_range) * (ssim->k2 * ssim->data_range);
    const double np = double(win) * double(win);
    job.cov_norm = ssim->use_sample_covariance ? np / (np - 1.0) : 1.0;
  }
  job.isotropic = tv && tv->isotropic;
  job.band_rows = rows;
  job.item_value = item_value.data();
  job.threads = int(workers);
  job.scratch = scratch.get();
  job.scratch_doubles = scratch_doubles;
  const KernelTable& table = active_table();
  if (ssim) for_type<T>(table.ssim_f32, table.ssim_f64)(job);
  else for_type<T>(table.total_variation_f32, table.total_variation_f64)(job);

  // Each image's sum, its planes' bands in order.
  double total = 0.0;
  for (std::size_t n = 0; n < N; ++n) {
    double sum = 0.0;
    for (std::size_t k = n * C * bands; k < (n + 1) * C * bands; ++k) sum += item_value[k];
    const double l = ssim ? 1.0 + sum * per_term : sum;
    if (c.loss) c.loss[n] = T(l);
    total += l;
  }
  if (c.value) *c.value = reduction == Reduction::mean ? total / double(N) : total;
}

}  // namespace

void ssim(const ImageCall<float>& call, const SsimOptions& options) {
  run_impl(ImageLoss::ssim, call, &options, nullptr);
}
void ssim(const ImageCall<double>& call, const SsimOptions& options) {
  run_impl(ImageLoss::ssim, call, &options, nullptr);
}
void total_variation(const ImageCall<float>& call, const TotalVariationOptions& options) {
  run_impl(ImageLoss::total_variation, call, nullptr, &options);
}
void total_variation(const ImageCall<double>& call, const TotalVariationOptions& options) {
  run_impl(ImageLoss::total_variation, call, nullptr, &options);
}

}  // namespace lossfn
