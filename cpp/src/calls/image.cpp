// lossfn::ssim, lossfn::ms_ssim and lossfn::total_variation: check a call (shape, layout,
// hyper-parameters, outputs), work out each plane's term scale for the gradient, size the
// per-thread scratch, run the band kernel (once per pyramid level for MS-SSIM) and finish each
// image's loss from its bands' sums, added in band order. lossfn::perceptual: the same checks
// per layer, one kernel run per layer, the layers' terms added in layer order.
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

using namespace detail;

// Rows per band. SSIM: 128 (an item recomputes the win - 1 map rows before its band for the
// gradient: 8 % more filtering at win = 11; a 1080-row image still makes 9 items per plane);
// total variation: about 64 K pixels.
std::size_t band_rows(bool ssim, std::size_t width) {
  if (ssim) return 128;
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

void check_ssim_options(const char* name, const SsimOptions& o) {
  auto positive = [&](double v, const char* option) {
    if (!(v > 0.0) || !std::isfinite(v)) {
      std::ostringstream msg;
      msg << name << ": " << option << ": must be a finite number > 0, got " << v;
      fail(msg.str());
    }
  };
  positive(o.data_range, "data_range");
  positive(o.k1, "k1");
  positive(o.k2, "k2");
  if (o.gaussian_weights) positive(o.sigma, "sigma");
  if (o.win_size < 1 || o.win_size % 2 == 0 || o.win_size > (std::int64_t(1) << 20))
    fail(std::string(name) + ": win_size: must be an odd number >= 1, got " + std::to_string(o.win_size));
  if (o.use_sample_covariance && o.win_size == 1)
    fail(std::string(name) + ": win_size: the sample covariance needs a window of more than one pixel");
}

// MS-SSIM's level weights, checked.
std::vector<double> level_weights(const MsSsimOptions& o) {
  if (o.weights == nullptr) {
    if (o.levels != 0 && o.levels != 5)
      fail("ms_ssim: weights: needed for " + std::to_string(o.levels) + " levels (the default weights are five)");
    return std::vector<double>(std::begin(kMsSsimWeights), std::end(kMsSsimWeights));
  }
  if (o.levels < 1 || o.levels > 32)
    fail("ms_ssim: weights: must hold 1 to 32 levels, got " + std::to_string(o.levels));
  std::vector<double> w(o.weights, o.weights + o.levels);
  for (double v : w)
    if (!(v >= 0.0) || !std::isfinite(v)) {
      std::ostringstream msg;
      msg << "ms_ssim: weights: must be finite numbers >= 0, got " << v;
      fail(msg.str());
    }
  return w;
}

// A call checked: its shape, its arrays' strides (N, C, H, W order, in elements; held by value,
// so that the struct copies safely) and d value / d loss_n per image (with a gradient).
struct Checked {
  std::size_t N, C, H, W;
  std::ptrdiff_t xs[4], ys[4], gs[4];
  bool want_grad;
  std::vector<double> upstream;
};

template <class T>
Checked check_call(const char* name, bool two_images, const ImageCall<T>& c, std::size_t win) {
  Checked k{};
  k.N = c.batch, k.C = c.channels, k.H = c.height, k.W = c.width;
  const std::size_t N = k.N, C = k.C, H = k.H, W = k.W;
  const Requested requested = check_outputs(c.reduction, c.value, c.loss, c.grad, c.grad_output_array);
  k.want_grad = requested.grad;
  if (c.grad_y && !two_images) fail(std::string(name) + ": grad_y: this loss has one image input");
  if (c.grad_y && !c.grad) fail(std::string(name) + ": grad_y: needs grad too");
  if (N > 0 && C == 0) fail(std::string(name) + ": x: the channel axis has length 0");
  if (N > 0 && (H == 0 || W == 0)) fail(std::string(name) + ": x: the images have no pixels");
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
  for (int a = 0; a < 4; ++a) {
    k.xs[a] = c.strides ? c.strides[a] : contiguous[a];
    k.ys[a] = c.y_strides ? c.y_strides[a] : contiguous[a];
    k.gs[a] = c.grad_strides ? c.grad_strides[a] : contiguous[a];
  }
  check_box(c.x, 4, extent, k.xs, "x");
  if (two_images) check_box(c.y, 4, extent, k.ys, "y");
  if (k.want_grad) check_box(c.grad, 4, extent, k.gs, "grad");
  if (c.grad_y) check_box(c.grad_y, 4, extent, k.gs, "grad_y");
  check_optional(c.loss, N, "loss");
  check_optional(c.grad_output_array, N, "grad_output");
  if (k.want_grad) {
    k.upstream.resize(N);
    for (std::size_t n = 0; n < N; ++n) {
      double g = c.grad_output_array ? double(c.grad_output_array[n]) : c.grad_output;
      if (c.reduction == Reduction::mean) g /= double(N);
      k.upstream[n] = g;
    }
  }
  return k;
}

// The SSIM kernel's settings from the options.
template <class T>
void set_ssim(BandJob<T>& job, const SsimOptions& o, const std::vector<double>& taps) {
  job.window = taps.data();
  job.win = taps.size();
  job.c1 = (o.k1 * o.data_range) * (o.k1 * o.data_range);
  job.c2 = (o.k2 * o.data_range) * (o.k2 * o.data_range);
  const double np = double(job.win) * double(job.win);
  job.cov_norm = o.use_sample_covariance ? np / (np - 1.0) : 1.0;
}

// Runs a band kernel (ssim when job.window is set, else total variation) over the job's planes,
// splitting them into bands for the threads, and returns each plane's sum of terms, its bands'
// added in order.
template <class T>
std::vector<double> plane_sums(BandJob<T> job) {
  const bool ssim = job.window != nullptr;
  const std::size_t H = job.height, W = job.width, planes = job.batch * job.channels;
  const std::size_t rows = std::min(band_rows(ssim, W), H), bands = (H + rows - 1) / rows;
  const std::size_t items = planes * bands;
  const double work = double(planes) * double(H) * double(W) * (ssim ? 64.0 : 1.0);
  int threads = get_num_threads();
  if (work < double(kParallelMin)) threads = 1;
  const std::size_t workers = std::min<std::size_t>(std::size_t(threads), items);
  const std::size_t scratch_doubles = ssim ? ssim_scratch_doubles(W, job.win) : tv_scratch_doubles(W);
  std::unique_ptr<double[]> scratch(new double[workers * scratch_doubles]);
  std::vector<double> item_value(items, 0.0);
  job.band_rows = rows;
  job.item_value = item_value.data();
  job.threads = int(workers);
  job.scratch = scratch.get();
  job.scratch_doubles = scratch_doubles;
  const KernelTable& table = active_table();
  if (ssim) for_type<T>(table.ssim_f32, table.ssim_f64)(job);
  else for_type<T>(table.total_variation_f32, table.total_variation_f64)(job);
  std::vector<double> sums(planes, 0.0);
  for (std::size_t p = 0; p < planes; ++p)
    for (std::size_t b = 0; b < bands; ++b) sums[p] += item_value[p * bands + b];
  return sums;
}

template <class T>
BandJob<T> job_of(const ImageCall<T>& c, const Checked& k) {
  BandJob<T> job{};
  job.batch = k.N, job.channels = k.C, job.height = k.H, job.width = k.W;
  job.x = c.x;
  job.y = c.y;
  job.grad = k.want_grad ? c.grad : nullptr;
  job.grad_y = c.grad_y;
  for (int a = 0; a < 4; ++a) job.x_stride[a] = k.xs[a], job.y_stride[a] = k.ys[a], job.grad_stride[a] = k.gs[a];
  return job;
}

// The reduced value and the per-image losses.
template <class T>
void finish(const ImageCall<T>& c, const std::vector<double>& losses) {
  double total = 0.0;
  for (std::size_t n = 0; n < losses.size(); ++n) {
    if (c.loss) c.loss[n] = T(losses[n]);
    total += losses[n];
  }
  if (c.value) *c.value = c.reduction == Reduction::mean ? total / double(losses.size()) : total;
}

template <class T>
bool empty_batch(const ImageCall<T>& c) {
  if (c.batch != 0) return false;
  if (c.value) *c.value = c.reduction == Reduction::mean ? std::nan("") : 0.0;
  return true;
}

// ssim and total variation: one kernel run, value and gradient together.
template <class T>
void run_single(const ImageCall<T>& c, const SsimOptions* ssim, const TotalVariationOptions* tv) {
  const char* name = ssim ? "ssim" : "total_variation";
  if (ssim) check_ssim_options(name, *ssim);
  const std::size_t win = ssim ? std::size_t(ssim->win_size) : 1;
  const Checked k = check_call(name, ssim != nullptr, c, win);
  if (empty_batch(c)) return;
  const std::size_t N = k.N, C = k.C, H = k.H, W = k.W;
  // An image's loss from the sum of its terms: ssim 1 - sum / (C * map pixels), total
  // variation the sum itself.
  const double map_pixels = ssim ? double(H - win + 1) * double(W - win + 1) : 1.0;
  const double per_term = ssim ? -1.0 / (double(C) * map_pixels) : 1.0;
  std::vector<double> term_scale;
  if (k.want_grad) {
    term_scale.resize(N * C);
    for (std::size_t p = 0; p < N * C; ++p) term_scale[p] = k.upstream[p / C] * per_term;
  }
  BandJob<T> job = job_of(c, k);
  job.term_scale = term_scale.data();
  const std::vector<double> taps = ssim ? window(*ssim) : std::vector<double>{};
  if (ssim) set_ssim(job, *ssim, taps);
  else job.y = nullptr, job.isotropic = tv->isotropic;
  const std::vector<double> sums = plane_sums(job);
  std::vector<double> losses(N);
  for (std::size_t n = 0; n < N; ++n) {
    double sum = 0.0;
    for (std::size_t ch = 0; ch < C; ++ch) sum += sums[n * C + ch];
    losses[n] = ssim ? 1.0 + sum * per_term : sum;
  }
  finish(c, losses);
}

// Threads for an elementwise pass over `pixels` (the same bits for any count).
int pass_threads(double pixels) { return pixels < double(kParallelMin) ? 1 : get_num_threads(); }

// Level l + 1 of an MS-SSIM pyramid from level l (planes of H x W pixels at `src` through the
// strides s): torch's avg_pool2d(kernel_size=2, padding=(H % 2, W % 2)), the padding counted,
// into contiguous planes of ceil(H / 2) x ceil(W / 2). An output pixel is a quarter of the sum of
// its (up to) four inputs, added row by row, left to right.
template <class T>
void pool(const T* src, const std::ptrdiff_t* s, std::size_t N, std::size_t C, std::size_t H, std::size_t W,
          double* dst) {
  const std::size_t ph = H % 2, pw = W % 2, Ho = (H + ph) / 2, Wo = (W + pw) / 2, rows = N * C * Ho;
  const std::ptrdiff_t step = s[3];
#pragma omp parallel for num_threads(pass_threads(double(N * C) * double(H * W))) schedule(static)
  for (std::ptrdiff_t k = 0; k < std::ptrdiff_t(rows); ++k) {
    const std::size_t p = std::size_t(k) / Ho, io = std::size_t(k) % Ho;
    const T* plane = src + std::ptrdiff_t(p / C) * s[0] + std::ptrdiff_t(p % C) * s[1];
    double* out = dst + std::size_t(k) * Wo;
    // Input rows 2 io - ph and 2 io + 1 - ph, those inside the image.
    const T* in[2];
    std::size_t count = 0;
    for (std::size_t r = 2 * io; r < 2 * io + 2; ++r)
      if (r >= ph && r - ph < H) in[count++] = plane + std::ptrdiff_t(r - ph) * s[2];
    auto at = [&](const T* row, std::size_t j) { return double(row[std::ptrdiff_t(j) * step]); };
    // Output column 0 reads column 0 alone where pw = 1; every other reads 2 jo - pw and the next
    // (W + pw is even: the last column has both).
    if (pw == 1) {
      double sum = 0.0;
      for (std::size_t q = 0; q < count; ++q) sum += at(in[q], 0);
      out[0] = 0.25 * sum;
    }
    if (count == 2 && step == 1) {
      const T *a = in[0], *b = in[1];
      for (std::size_t jo = pw; jo < Wo; ++jo) {
        const std::size_t j = 2 * jo - pw;
        out[jo] = 0.25 * (((double(a[j]) + double(a[j + 1])) + double(b[j])) + double(b[j + 1]));
      }
    } else {
      for (std::size_t jo = pw; jo < Wo; ++jo) {
        const std::size_t j = 2 * jo - pw;
        double sum = 0.0;
        for (std::size_t q = 0; q < count; ++q) sum = (sum + at(in[q], j)) + at(in[q], j + 1);
        out[jo] = 0.25 * sum;
      }
    }
  }
}

// MS-SSIM's gradient from its levels': acc_{L-1} = s_{L-1} G_{L-1}, then down the pyramid
// acc_l = s_l G_l + the pooling's adjoint of acc_{l+1} (pixel (i, j) of level l takes a quarter
// of pixel ((i + H_l % 2) / 2, (j + W_l % 2) / 2) of level l + 1), level 0's written into grad
// through its strides. G[l]: contiguous planes of H_l x W_l doubles, the gradient of each
// plane's sum of map values (the levels above 0 are overwritten with acc_l); s[l][p]: d loss /
// d (that sum).
template <class T>
void combine_levels(std::vector<std::vector<double>>& G, const std::vector<std::vector<double>>& s,
                    const std::vector<std::size_t>& Hl, const std::vector<std::size_t>& Wl, std::size_t C, T* grad,
                    const std::ptrdiff_t* gs) {
  const std::size_t L = G.size(), planes = s[0].size();
  for (std::size_t l = L; l-- > 0;) {
    const std::size_t H = Hl[l], W = Wl[l], ph = H % 2, pw = W % 2, rows = planes * H;
#pragma omp parallel for num_threads(pass_threads(double(rows) * double(W))) schedule(static)
    for (std::ptrdiff_t k = 0; k < std::ptrdiff_t(rows); ++k) {
      const std::size_t p = std::size_t(k) / H, i = std::size_t(k) % H;
      const double scale = s[l][p];
      double* row = G[l].data() + std::size_t(k) * W;
      // Level 0 goes to grad (contiguous rows straight), the levels above back into G.
      T* out = l > 0 ? nullptr
                     : grad + std::ptrdiff_t(p / C) * gs[0] + std::ptrdiff_t(p % C) * gs[1] + std::ptrdiff_t(i) * gs[2];
      const std::ptrdiff_t step = l > 0 ? 0 : gs[3];
      auto put = [&](std::size_t j, double v) {
        if (!out) row[j] = v;
        else if (step == 1) out[j] = T(v);
        else out[std::ptrdiff_t(j) * step] = T(v);
      };
      if (l + 1 == L) {
        for (std::size_t j = 0; j < W; ++j) put(j, scale * row[j]);
        continue;
      }
      // Column 0 takes the quarter of the column above it alone where pw = 1, then each pair of
      // columns 2 ju - pw, 2 ju + 1 - pw the quarter of column ju above (W + pw is even).
      const double* up = G[l + 1].data() + (p * Hl[l + 1] + (i + ph) / 2) * Wl[l + 1];
      if (pw == 1) put(0, scale * row[0] + 0.25 * up[0]);
      for (std::size_t ju = pw, j = pw; ju < Wl[l + 1]; ++ju, j += 2) {
        const double quarter = 0.25 * up[ju];
        put(j, scale * row[j] + quarter);
        put(j + 1, scale * row[j + 1] + quarter);
      }
    }
  }
}

// MS-SSIM: one kernel run per level (level l + 1 pooled from level l first), each giving its
// planes' factor sums and, with a gradient, the gradient of each plane's sum; the loss from the
// factors, then the gradient from the levels' (combine_levels): every level is filtered once.
template <class T>
void run_ms_ssim(const ImageCall<T>& c, const MsSsimOptions& o) {
  check_ssim_options("ms_ssim", o.ssim);
  const std::vector<double> weights = level_weights(o);
  const std::size_t L = weights.size(), win = std::size_t(o.ssim.win_size);
  const Checked k = check_call("ms_ssim", true, c, win);
  const std::size_t N = k.N, C = k.C, planes = N * C;
  std::vector<std::size_t> Hl{k.H}, Wl{k.W};
  for (std::size_t l = 1; l < L; ++l) Hl.push_back((Hl.back() + 1) / 2), Wl.push_back((Wl.back() + 1) / 2);
  if (N > 0 && (Hl.back() < win || Wl.back() < win)) {
    std::ostringstream msg;
    msg << "ms_ssim: x: the images (" << k.H << " x " << k.W << ") are too small for " << L
        << " levels: the last is " << Hl.back() << " x " << Wl.back() << ", smaller than the " << win << " x "
        << win << " window (win_size)";
    fail(msg.str());
  }
  if (empty_batch(c)) return;
  const std::vector<double> taps = window(o.ssim);
  // Levels 1 .. L-1 of x and y, contiguous doubles.
  std::vector<std::vector<double>> px(L), py(L);
  auto strides_of = [&](std::size_t l, std::ptrdiff_t* s) {
    s[0] = std::ptrdiff_t(C * Hl[l] * Wl[l]), s[1] = std::ptrdiff_t(Hl[l] * Wl[l]), s[2] = std::ptrdiff_t(Wl[l]), s[3] = 1;
  };
  for (std::size_t l = 1; l < L; ++l) {
    px[l].resize(planes * Hl[l] * Wl[l]);
    py[l].resize(planes * Hl[l] * Wl[l]);
    std::ptrdiff_t s[4];
    strides_of(l - 1, s);
    if (l == 1) {
      pool(c.x, k.xs, N, C, k.H, k.W, px[1].data());
      pool(c.y, k.ys, N, C, k.H, k.W, py[1].data());
    } else {
      pool(px[l - 1].data(), s, N, C, Hl[l - 1], Wl[l - 1], px[l].data());
      pool(py[l - 1].data(), s, N, C, Hl[l - 1], Wl[l - 1], py[l].data());
    }
  }
  // One kernel run at level l: its planes' sums and, with a gradient, its G[l] (Gy[l]).
  std::vector<std::vector<double>> G(L), Gy(L);
  const std::vector<double> unit_scale(planes, 1.0);
  auto run_level = [&](std::size_t l) {
    const std::size_t level_size = planes * Hl[l] * Wl[l];
    if (k.want_grad) G[l].resize(level_size);
    if (c.grad_y) Gy[l].resize(level_size);
    auto gradient_into = [&](auto& job) {
      job.grad = nullptr, job.grad_y = nullptr;
      set_ssim(job, o.ssim, taps);
      job.contrast_only = l + 1 < L;
      if (!k.want_grad) return;
      job.term_scale = unit_scale.data();
      job.plane_grad = G[l].data();
      job.plane_grad_y = c.grad_y ? Gy[l].data() : nullptr;
    };
    if (l == 0) {
      BandJob<T> job = job_of(c, k);
      gradient_into(job);
      return plane_sums(job);
    }
    BandJob<double> job{};
    job.batch = N, job.channels = C, job.height = Hl[l], job.width = Wl[l];
    job.x = px[l].data(), job.y = py[l].data();
    strides_of(l, job.x_stride);
    strides_of(l, job.y_stride);
    strides_of(l, job.grad_stride);
    gradient_into(job);
    return plane_sums(job);
  };
  // factor[l][p]: cs_l (S at the last level) of plane p, the mean of its map.
  std::vector<std::vector<double>> factor(L);
  for (std::size_t l = 0; l < L; ++l) {
    factor[l] = run_level(l);
    const double map_pixels = double(Hl[l] - win + 1) * double(Wl[l] - win + 1);
    for (double& f : factor[l]) f /= map_pixels;
  }
  // MS per plane: the product of relu(factor)^w; zero when a weighted factor is <= 0.
  auto power = [&](std::size_t l, std::size_t p) {
    if (weights[l] == 0.0) return 1.0;
    return factor[l][p] > 0.0 ? std::pow(factor[l][p], weights[l]) : 0.0;
  };
  std::vector<double> ms(planes, 1.0), losses(N, 0.0);
  for (std::size_t p = 0; p < planes; ++p)
    for (std::size_t l = 0; l < L; ++l) ms[p] *= power(l, p);
  for (std::size_t n = 0; n < N; ++n) {
    double sum = 0.0;
    for (std::size_t ch = 0; ch < C; ++ch) sum += ms[n * C + ch];
    losses[n] = 1.0 - sum / double(C);
  }
  if (k.want_grad) {
    // d loss_n / d map pixel of level l = -(1 / C) w_l factor_l^(w_l - 1) prod_{m != l}
    // factor_m^w_m / map pixels; zero for a plane whose MS vanished.
    std::vector<std::vector<double>> scale(L, std::vector<double>(planes, 0.0));
    for (std::size_t p = 0; p < planes; ++p) {
      bool vanished = false;
      for (std::size_t l = 0; l < L; ++l) vanished = vanished || (weights[l] > 0.0 && !(factor[l][p] > 0.0));
      if (vanished) continue;
      for (std::size_t l = 0; l < L; ++l) {
        if (weights[l] == 0.0) continue;
        double rest = 1.0;
        for (std::size_t m = 0; m < L; ++m)
          if (m != l) rest *= power(m, p);
        const double map_pixels = double(Hl[l] - win + 1) * double(Wl[l] - win + 1);
        scale[l][p] = -k.upstream[p / C] / double(C) * weights[l] * std::pow(factor[l][p], weights[l] - 1.0) * rest /
                      map_pixels;
      }
    }
    combine_levels(G, scale, Hl, Wl, C, c.grad, k.gs);
    if (c.grad_y) combine_levels(Gy, scale, Hl, Wl, C, c.grad_y, k.gs);
  }
  finish(c, losses);
}

// ---------------------------------------------------------------------------------------------
// Perceptual losses
// ---------------------------------------------------------------------------------------------
// A layer read once: its shape, pointers and strides (N, C, H, W order, in elements) by value.
template <class T>
struct CheckedLayer {
  std::size_t C, H, W;
  const T* x;
  const T* y;
  T* grad;
  std::ptrdiff_t xs[4], ys[4], gs[4];
};

// How the gram kernel reads a layer's (channels x pixels) matrix through strides s: rows of
// pixels one apart (row-major) or channels one apart (column-major) with their pixels one
// stride apart, else packed.
FeatureMatrix feature_matrix(const std::ptrdiff_t* s, std::size_t C, std::size_t H, std::size_t W) {
  const std::size_t P = H * W;
  std::ptrdiff_t pixel;  // the one stride between consecutive pixels, if there is one
  if (W == 1) pixel = s[2];
  else if (H == 1 || s[2] == s[3] * std::ptrdiff_t(W)) pixel = s[3];
  else return {kFeaturePacked, 0};
  if (pixel == 1 && (C == 1 || s[1] >= std::ptrdiff_t(P))) return {kFeatureRowMajor, C == 1 ? std::ptrdiff_t(P) : s[1]};
  if ((C == 1 || s[1] == 1) && pixel >= std::ptrdiff_t(C) && pixel > 0) return {kFeatureColMajor, P == 1 ? std::ptrdiff_t(C) : pixel};
  if (P == 1 && s[1] >= 1) return {kFeatureColMajor, std::ptrdiff_t(C)};
  return {kFeaturePacked, 0};
}

template <class T>
void run_perceptual(const PerceptualCall<T>& c, const PerceptualOptions& o) {
  const std::size_t L = c.num_layers, N = c.batch;
  if (L == 0) fail("perceptual: features_x: needs at least one layer");
  require(c.layers, L, "layers");
  std::vector<double> weights(L, 1.0);
  if (c.layer_weights) {
    require(c.layer_weights, L, "layer_weights");
    for (std::size_t l = 0; l < L; ++l) {
      weights[l] = c.layer_weights[l];
      if (!(weights[l] >= 0.0) || !std::isfinite(weights[l])) {
        std::ostringstream msg;
        msg << "perceptual: layer_weights: must be finite numbers >= 0, got " << weights[l] << " for layer " << l;
        fail(msg.str());
      }
    }
  }
  // The layers' descriptions, read once.
  std::vector<CheckedLayer<T>> layers(L);
  bool any_grad = false, all_grad = true;
  for (std::size_t l = 0; l < L; ++l) {
    const FeatureLayer<T> in = c.layers[l];
    CheckedLayer<T>& k = layers[l];
    k.C = in.channels, k.H = in.height, k.W = in.width, k.x = in.x, k.y = in.y, k.grad = in.grad;
    any_grad = any_grad || in.grad, all_grad = all_grad && in.grad;
    const std::string at = "[" + std::to_string(l) + "]";
    if (N > 0 && (k.C == 0 || k.H == 0 || k.W == 0)) fail("perceptual: features_x" + at + ": the layer has no features");
    if (k.C != 0 && k.H != 0 && k.W != 0 &&
        (k.W > std::size_t(PTRDIFF_MAX) / k.H || k.H * k.W > std::size_t(PTRDIFF_MAX) / k.C ||
         N > std::size_t(PTRDIFF_MAX) / (k.C * k.H * k.W)))
      fail("perceptual: features_x" + at + ": the shape is too large");
    const std::ptrdiff_t contiguous[4] = {std::ptrdiff_t(k.C * k.H * k.W), std::ptrdiff_t(k.H * k.W),
                                          std::ptrdiff_t(k.W), 1};
    for (int a = 0; a < 4; ++a) {
      k.xs[a] = in.x_strides ? in.x_strides[a] : contiguous[a];
      k.ys[a] = in.y_strides ? in.y_strides[a] : contiguous[a];
      k.gs[a] = in.grad_strides ? in.grad_strides[a] : contiguous[a];
    }
  }
  if (any_grad && !all_grad) fail("perceptual: grad: every layer needs its gradient buffer (or none: a value-only call)");
  const Requested requested = check_outputs(c.reduction, c.value, c.loss, any_grad ? c.layers : nullptr,
                                            c.grad_output_array);
  for (std::size_t l = 0; l < L; ++l) {
    const CheckedLayer<T>& k = layers[l];
    const std::size_t extent[4] = {N, k.C, k.H, k.W};
    const std::string at = "[" + std::to_string(l) + "]";
    check_box(k.x, 4, extent, k.xs, ("features_x" + at).c_str());
    check_box(k.y, 4, extent, k.ys, ("features_y" + at).c_str());
    if (requested.grad) check_box(k.grad, 4, extent, k.gs, ("grad" + at).c_str());
  }
  check_optional(c.loss, N, "loss");
  check_optional(c.grad_output_array, N, "grad_output");
  if (N == 0) {
    if (c.value) *c.value = c.reduction == Reduction::mean ? std::nan("") : 0.0;
    return;
  }
  std::vector<double> upstream;
  if (requested.grad) {
    upstream.resize(N);
    for (std::size_t n = 0; n < N; ++n) {
      double g = c.grad_output_array ? double(c.grad_output_array[n]) : c.grad_output;
      if (c.reduction == Reduction::mean) g /= double(N);
      upstream[n] = g;
    }
  }
  std::vector<double> losses(N, 0.0), image_value(N), grad_scale(N);
  const KernelTable& table = active_table();
  for (std::size_t l = 0; l < L; ++l) {
    const CheckedLayer<T>& k = layers[l];
    const std::size_t P = k.H * k.W, elements = k.C * P;
    FeatureJob<T> job{};
    job.batch = N, job.channels = k.C, job.height = k.H, job.width = k.W;
    job.x = k.x, job.y = k.y, job.grad = requested.grad ? k.grad : nullptr;
    for (int a = 0; a < 4; ++a) job.x_stride[a] = k.xs[a], job.y_stride[a] = k.ys[a], job.grad_stride[a] = k.gs[a];
    job.gram = o.gram;
    job.image_value = image_value.data();
    // An image's term: the mean of its squared differences over the layer's elements, or over
    // the Gram matrix's C^2 entries.
    const double per_term = weights[l] / (o.gram ? double(k.C) * double(k.C) : double(elements));
    for (std::size_t n = 0; n < N && requested.grad; ++n) grad_scale[n] = upstream[n] * per_term;
    job.grad_scale = grad_scale.data();
    std::vector<double> partials;
    std::unique_ptr<T[]> scratch;
    int threads = get_num_threads();
    if (!o.gram) {
      const std::size_t per = (k.C * k.H + rows_per_item(k.W) - 1) / rows_per_item(k.W), items = N * per;
      if (double(N) * double(elements) < double(kParallelMin)) threads = 1;
      partials.resize(items);
      job.partials = partials.data();
      job.threads = int(std::min<std::size_t>(std::size_t(threads), items));
    } else {
      job.gram_norm = 1.0 / double(elements);
      job.x_matrix = feature_matrix(k.xs, k.C, k.H, k.W);
      job.y_matrix = feature_matrix(k.ys, k.C, k.H, k.W);
      job.grad_matrix = requested.grad ? feature_matrix(k.gs, k.C, k.H, k.W) : FeatureMatrix{kFeatureRowMajor, 0};
      const std::size_t packed = std::size_t(job.x_matrix.layout == kFeaturePacked) +
                                 std::size_t(job.y_matrix.layout == kFeaturePacked) +
                                 std::size_t(requested.grad && job.grad_matrix.layout != kFeatureRowMajor);
      // A Gram layer is about C^2 P multiply-adds per image: worth a thread of its own above
      // the elementwise threshold's size.
      if (double(N) * double(elements) * double(k.C) < double(kParallelMin)) threads = 1;
      const std::size_t workers = std::min<std::size_t>(std::size_t(threads), N);
      job.scratch_elements = gram_scratch(k.C, P, packed);
      scratch.reset(new T[workers * job.scratch_elements]);
      job.scratch = scratch.get();
      job.threads = int(workers);
    }
    for_type<T>(table.perceptual_f32, table.perceptual_f64)(job);
    for (std::size_t n = 0; n < N; ++n) losses[n] += per_term * image_value[n];
  }
  double total = 0.0;
  for (std::size_t n = 0; n < N; ++n) {
    if (c.loss) c.loss[n] = T(losses[n]);
    total += losses[n];
  }
  if (c.value) *c.value = c.reduction == Reduction::mean ? total / double(N) : total;
}

}  // namespace

void perceptual(const PerceptualCall<float>& call, const PerceptualOptions& options) { run_perceptual(call, options); }
void perceptual(const PerceptualCall<double>& call, const PerceptualOptions& options) { run_perceptual(call, options); }

void ssim(const ImageCall<float>& call, const SsimOptions& options) {
  run_single(call, &options, nullptr);
}
void ssim(const ImageCall<double>& call, const SsimOptions& options) {
  run_single(call, &options, nullptr);
}
void ms_ssim(const ImageCall<float>& call, const MsSsimOptions& options) { run_ms_ssim(call, options); }
void ms_ssim(const ImageCall<double>& call, const MsSsimOptions& options) { run_ms_ssim(call, options); }
void total_variation(const ImageCall<float>& call, const TotalVariationOptions& options) {
  run_single(call, nullptr, &options);
}
void total_variation(const ImageCall<double>& call, const TotalVariationOptions& options) {
  run_single(call, nullptr, &options);
}

}  // namespace lossfn
