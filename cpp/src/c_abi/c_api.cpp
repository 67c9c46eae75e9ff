// The C ABI (lossfn.h): every entry point catches everything and turns it into a status and
// a per-thread message. Baseline code.
#include "lossfn/lossfn.h"

#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "lossfn/core.hpp"
#include "lossfn/image.hpp"
#include "lossfn/metric.hpp"
#include "lossfn/segmentation.hpp"
#include "lossfn/sequence.hpp"

namespace {

thread_local std::string last_error;

template <class F>
lossfn_status guarded(F&& f) noexcept {
  try {
    f();
    last_error.clear();
    return LOSSFN_OK;
  } catch (const lossfn::Error& e) {
    last_error = e.what();
    return e.kind() == lossfn::ErrorKind::type ? LOSSFN_ERROR_TYPE : LOSSFN_ERROR_VALUE;
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
  } catch (const std::exception& e) {
    last_error = e.what();
  } catch (...) {
    last_error = "unknown error";
  }
  return LOSSFN_ERROR_INTERNAL;
}

int find(const char* name) {
  if (name == nullptr) return -1;
  for (int i = 0; i < lossfn::num_losses(); ++i)
    if (std::strcmp(lossfn::loss_info(lossfn::Loss(i)).name, name) == 0) return i;
  return -1;
}

const lossfn::RowLossInfo* find_row(const char* name) {
  if (name == nullptr) return nullptr;
  for (int i = 0; i < lossfn::num_row_losses(); ++i) {
    const lossfn::RowLossInfo& info = lossfn::row_loss_info(lossfn::RowLoss(i));
    if (std::strcmp(info.name, name) == 0) return &info;
  }
  return nullptr;
}

// The hyper-parameter table of an elementwise or row loss by name; false when unknown.
struct Params {
  int num = 0;
  const char* const* names = nullptr;
  const double* defaults = nullptr;
};
bool find_params(const char* name, Params* out) {
  const int i = find(name);
  if (i >= 0) {
    const lossfn::LossInfo& info = lossfn::loss_info(lossfn::Loss(i));
    *out = {info.num_params, info.param_names, info.param_defaults};
    return true;
  }
  if (const lossfn::RowLossInfo* row = find_row(name)) {
    *out = {row->num_params, row->param_names, row->param_defaults};
    return true;
  }
  return false;
}

lossfn::Reduction to_reduction(lossfn_reduction r) {
  if (r != LOSSFN_REDUCTION_NONE && r != LOSSFN_REDUCTION_MEAN && r != LOSSFN_REDUCTION_SUM)
    throw lossfn::Error(lossfn::ErrorKind::value, "reduction: must be LOSSFN_REDUCTION_NONE, _MEAN or _SUM");
  return lossfn::Reduction(int(r));
}

// The reduction, the outputs and the upstream gradient, as every reduced call holds them.
template <class Call, class T>
void set_outputs(Call& c, lossfn_reduction reduction, double* value, T* losses, double grad_output,
                 const T* grad_output_array) {
  c.reduction = to_reduction(reduction);
  c.value = value;
  c.loss = losses;
  c.grad_output = grad_output;
  c.grad_output_array = grad_output_array;
}

template <class T>
lossfn::ElementwiseCall<T> make_call(const T* pred, const T* target, const T* aux, const T* weight,
                                     size_t n, const double* params, lossfn_reduction reduction) {
  lossfn::ElementwiseCall<T> c;
  c.n = n;
  c.pred = pred;
  c.target = target;
  c.aux = aux;
  c.weight = weight;
  c.params = params;
  c.reduction = to_reduction(reduction);
  return c;
}

[[noreturn]] void value_error(const std::string& message) {
  throw lossfn::Error(lossfn::ErrorKind::value, message);
}

// The reduction, outputs and upstream gradient of a call with a reduction (CTC, the overlap
// losses, the Lovász hinge), as its C entry point got them.
template <class Call, class T>
void set_reduced_outputs(Call& c, lossfn_reduction reduction, double* value, T* loss, T* grad, double grad_output,
                         const T* grad_output_array) {
  c.reduction = to_reduction(reduction);
  c.value = value;
  c.loss = loss;
  c.grad = grad;
  c.grad_output = grad_output;
  c.grad_output_array = grad_output_array;
}

// CTC calls: lossfn_ctc_f32 / _f64 into a CtcCall and its options.
template <class T, class In>
lossfn_status ctc_call(const In* in, double* value, T* loss, T* grad, double grad_output,
                       const T* grad_output_array, const char* refuse = nullptr) {
  return guarded([&] {
    if (refuse) value_error(refuse);
    if (in == nullptr) value_error("in: null pointer");
    lossfn::CtcCall<T> c;
    c.max_time = in->max_time;
    c.batch = in->batch;
    c.classes = in->classes;
    c.log_probs = in->log_probs;
    c.strides = in->strides;
    c.grad_strides = in->grad_strides;
    c.targets = in->targets;
    c.targets_size = in->targets_size;
    c.targets_width = in->targets_width;
    c.input_lengths = in->input_lengths;
    c.target_lengths = in->target_lengths;
    set_reduced_outputs(c, in->reduction, value, loss, grad, grad_output, grad_output_array);
    lossfn::Ctc options;
    options.blank = in->blank;
    options.zero_infinity = in->zero_infinity != 0;
    options.from_logits = in->from_logits != 0;
    lossfn::ctc(c, options);
  });
}

// Overlap calls: lossfn_segment_f32 / _f64 into a SegmentCall and its options.
// The loss a C caller named, read as the int it passed: a value outside the enum's range may not
// be loaded as a lossfn_overlap_loss in C++.
static_assert(sizeof(lossfn_overlap_loss) == sizeof(int), "a C enum is an int");
int overlap_id(const lossfn_overlap_loss& loss) {
  int id;
  std::memcpy(&id, &loss, sizeof id);
  return id;
}

template <class T, class In>
lossfn_status overlap_call(int loss, const In* in, double* value, T* losses, T* grad,
                           double grad_output, const T* grad_output_array, const char* refuse = nullptr) {
  return guarded([&] {
    if (refuse) value_error(refuse);
    if (in == nullptr) value_error("in: null pointer");
    if (loss < 0 || loss >= int(lossfn::Overlap::count_)) value_error("loss: unknown overlap loss");
    lossfn::SegmentCall<T> c;
    c.batch = in->batch;
    c.outer = in->outer;
    c.classes = in->classes;
    c.inner = in->inner;
    c.pred = in->pred;
    c.target = in->target;
    c.labels = in->labels;
    c.weight = in->weight;
    c.class_weight = in->class_weight;
    set_reduced_outputs(c, in->reduction, value, losses, grad, grad_output, grad_output_array);
    lossfn::OverlapOptions o;
    o.smooth = in->smooth;
    o.alpha = in->alpha;
    o.beta = in->beta;
    o.gamma = in->gamma;
    o.w_bce = in->w_bce;
    o.w_dice = in->w_dice;
    o.squared = in->squared != 0;
    o.per_sample = in->per_sample != 0;
    o.per_class = in->per_class != 0;
    if (in->activation < 0 || in->activation > 2) value_error("in->activation: must be 0, 1 or 2");
    o.activation = lossfn::Activation(in->activation);
    o.has_ignore_index = in->has_ignore_index != 0;
    o.ignore_index = in->ignore_index;
    lossfn::overlap(lossfn::Overlap(loss), c, o);
  });
}

// Lovász hinge calls: lossfn_lovasz_f32 / _f64 into a LovaszCall and its options.
template <class T, class In>
lossfn_status lovasz_call(const In* in, double* value, T* losses, T* grad, double grad_output,
                          const T* grad_output_array, const char* refuse = nullptr) {
  return guarded([&] {
    if (refuse) value_error(refuse);
    if (in == nullptr) value_error("in: null pointer");
    lossfn::LovaszCall<T> c;
    c.batch = in->batch;
    c.pixels = in->pixels;
    c.logits = in->logits;
    c.masks = in->masks;
    c.labels = in->labels;
    set_reduced_outputs(c, in->reduction, value, losses, grad, grad_output, grad_output_array);
    lossfn::LovaszOptions o;
    o.per_sample = in->per_sample != 0;
    o.has_ignore_index = in->has_ignore_index != 0;
    o.ignore_index = in->ignore_index;
    lossfn::lovasz_hinge(c, o);
  });
}

// Image calls: lossfn_image_f32 / _f64 into an ImageCall and the loss's options.
enum class ImageKind { ssim, ms_ssim, total_variation };
template <ImageKind kind, class T, class In>
lossfn_status image_call(const In* in, double* value, T* losses, T* grad, double grad_output,
                         const T* grad_output_array, const char* refuse) {
  return guarded([&] {
    if (refuse) value_error(refuse);
    if (in == nullptr) value_error("in: null pointer");
    lossfn::ImageCall<T> c;
    c.batch = in->batch;
    c.channels = in->channels;
    c.height = in->height;
    c.width = in->width;
    c.x = in->x;
    c.strides = in->strides;
    c.y = in->y;
    c.y_strides = in->y_strides;
    c.grad_strides = in->grad_strides;
    set_reduced_outputs(c, in->reduction, value, losses, grad, grad_output, grad_output_array);
    if (kind != ImageKind::total_variation) {
      c.grad_y = grad ? in->grad_y : nullptr;
      lossfn::SsimOptions o;
      o.data_range = in->data_range;
      o.win_size = in->win_size;
      o.sigma = in->sigma;
      o.k1 = in->k1;
      o.k2 = in->k2;
      o.gaussian_weights = in->gaussian_weights != 0;
      o.use_sample_covariance = in->use_sample_covariance != 0;
      if (kind == ImageKind::ssim) {
        lossfn::ssim(c, o);
      } else {
        lossfn::MsSsimOptions ms;
        ms.ssim = o;
        ms.weights = in->weights;
        ms.levels = in->levels;
        lossfn::ms_ssim(c, ms);
      }
    } else {
      lossfn::TotalVariationOptions o;
      o.isotropic = in->isotropic != 0;
      lossfn::total_variation(c, o);
    }
  });
}
template <class T, class In>
lossfn_status ssim_call(const In* in, double* value, T* losses, T* grad, double grad_output,
                        const T* grad_output_array, const char* refuse = nullptr) {
  return image_call<ImageKind::ssim>(in, value, losses, grad, grad_output, grad_output_array, refuse);
}
template <class T, class In>
lossfn_status ms_ssim_call(const In* in, double* value, T* losses, T* grad, double grad_output,
                           const T* grad_output_array, const char* refuse = nullptr) {
  return image_call<ImageKind::ms_ssim>(in, value, losses, grad, grad_output, grad_output_array, refuse);
}
template <class T, class In>
lossfn_status total_variation_call(const In* in, double* value, T* losses, T* grad, double grad_output,
                                   const T* grad_output_array, const char* refuse = nullptr) {
  return image_call<ImageKind::total_variation>(in, value, losses, grad, grad_output, grad_output_array, refuse);
}

// Perceptual calls: lossfn_perceptual_f32 / _f64 and its layers into a PerceptualCall; grads
// (with a gradient) num_layers pointers.
template <class T, class In>
lossfn_status perceptual_call(const In* in, double* value, T* losses, T* const* grads, double grad_output,
                              const T* grad_output_array) {
  return guarded([&] {
    if (in == nullptr) value_error("in: null pointer");
    const std::size_t L = in->num_layers;
    if (L > 0 && in->layers == nullptr) value_error("in->layers: null pointer");
    std::vector<lossfn::FeatureLayer<T>> layers(L);
    for (std::size_t l = 0; l < L; ++l) {
      const auto& from = in->layers[l];
      lossfn::FeatureLayer<T>& to = layers[l];
      to.channels = from.channels, to.height = from.height, to.width = from.width;
      to.x = from.x, to.x_strides = from.x_strides, to.y = from.y, to.y_strides = from.y_strides;
      to.grad_strides = from.grad_strides;
      to.grad = grads ? grads[l] : nullptr;
      if (grads && !to.grad) value_error("grads[" + std::to_string(l) + "]: null pointer");
    }
    lossfn::PerceptualCall<T> c;
    c.batch = in->batch;
    c.layers = layers.data();
    c.num_layers = L;
    c.layer_weights = in->layer_weights;
    set_outputs(c, in->reduction, value, losses, grad_output, grad_output_array);
    lossfn::PerceptualOptions o;
    o.gram = in->gram != 0;
    lossfn::perceptual(c, o);
  });
}

// Pair calls: lossfn_pair_f32 / _f64 into a PairCall and its options.
template <class T, class In>
lossfn_status pair_call(lossfn_pair_loss loss, const In* in, double* value, T* losses, T* grad_a, T* grad_b,
                        T* grad_c, double grad_output, const T* grad_output_array, bool gradient) {
  return guarded([&] {
    if (in == nullptr) value_error("in: null pointer");
    if (gradient && !grad_a && !grad_b && !grad_c) value_error("grad: every gradient pointer is null");
    int id;
    std::memcpy(&id, &loss, sizeof id);
    lossfn::PairCall<T> c;
    c.samples = in->samples;
    c.features = in->features;
    c.a = in->a;
    c.b = in->b;
    c.c = in->c;
    c.labels = in->labels;
    set_outputs(c, in->reduction, value, losses, grad_output, grad_output_array);
    c.grad_a = grad_a, c.grad_b = grad_b, c.grad_c = grad_c;
    lossfn::PairOptions o;
    o.margin = in->margin;
    o.p = in->p;
    o.eps = in->eps;
    o.swap = in->swap != 0;
    lossfn::pair_loss(lossfn::PairLoss(id), c, o);
  });
}

// Center-loss calls: lossfn_center_f32 / _f64 into a CenterCall.
template <class T, class In>
lossfn::CenterCall<T> make_center_call(const In* in) {
  if (in == nullptr) value_error("in: null pointer");
  lossfn::CenterCall<T> c;
  c.samples = in->samples;
  c.features = in->features;
  c.classes = in->classes;
  c.x = in->x;
  c.labels = in->labels;
  c.centers = in->centers;
  c.reduction = to_reduction(in->reduction);
  return c;
}

template <class T, class In>
lossfn_status center_call(const In* in, double* value, T* losses, T* grad_x, T* grad_centers, double grad_output,
                          const T* grad_output_array, bool gradient) {
  return guarded([&] {
    if (gradient && !grad_x && !grad_centers) value_error("grad: grad_x and grad_centers are both null");
    lossfn::CenterCall<T> c = make_center_call<T>(in);
    c.value = value;
    c.loss = losses;
    c.grad_x = grad_x;
    c.grad_centers = grad_centers;
    c.grad_output = grad_output;
    c.grad_output_array = grad_output_array;
    lossfn::center_loss(c);
  });
}

// Margin-loss calls: lossfn_margin_f32 / _f64 into a MarginCall and its options.
template <class T, class In>
lossfn_status margin_call(lossfn_margin_loss loss, const In* in, double* value, T* losses, T* grad_x, T* grad_weights,
                          double grad_output, const T* grad_output_array, bool gradient) {
  return guarded([&] {
    if (in == nullptr) value_error("in: null pointer");
    if (gradient && !grad_x && !grad_weights) value_error("grad: grad_x and grad_weights are both null");
    int id;
    std::memcpy(&id, &loss, sizeof id);
    lossfn::MarginCall<T> c;
    c.samples = in->samples;
    c.features = in->features;
    c.classes = in->classes;
    c.x = in->x;
    c.labels = in->labels;
    c.weights = in->weights;
    set_outputs(c, in->reduction, value, losses, grad_output, grad_output_array);
    c.grad_x = grad_x, c.grad_weights = grad_weights;
    lossfn::MarginOptions o;
    o.s = in->s;
    o.m = in->m;
    o.easy_margin = in->easy_margin != 0;
    lossfn::margin_loss(lossfn::MarginLoss(id), c, o);
  });
}

// info_nce calls: lossfn_info_nce_f32 / _f64 into a PairCall and InfoNceOptions.
template <class T, class In>
lossfn_status info_nce_call(const In* in, double* value, T* losses, T* grad_a, T* grad_b, double grad_output,
                            const T* grad_output_array, bool gradient) {
  return guarded([&] {
    if (in == nullptr) value_error("in: null pointer");
    if (gradient && !grad_a && !grad_b) value_error("grad: grad_a and grad_b are both null");
    lossfn::PairCall<T> c;
    c.samples = in->samples;
    c.features = in->features;
    c.a = in->a;
    c.b = in->b;
    set_outputs(c, in->reduction, value, losses, grad_output, grad_output_array);
    c.grad_a = grad_a, c.grad_b = grad_b;
    lossfn::InfoNceOptions o;
    o.temperature = in->temperature;
    o.symmetric = in->symmetric != 0;
    o.simclr = in->simclr != 0;
    lossfn::info_nce(c, o);
  });
}

// batch_triplet calls: lossfn_batch_triplet_f32 / _f64 into a BatchTripletCall and its options.
template <class T, class In>
lossfn_status batch_triplet_call(const In* in, double* value, T* losses, T* grad_x, double grad_output,
                                 const T* grad_output_array, bool gradient) {
  return guarded([&] {
    if (in == nullptr) value_error("in: null pointer");
    if (gradient && !grad_x) value_error("grad: grad_x is null");
    if (in->mining < 0 || in->mining > LOSSFN_MINE_SEMIHARD_TFA) value_error("in->mining: not a lossfn_triplet_mining");
    if (in->distance < 0 || in->distance > LOSSFN_DISTANCE_COSINE)
      value_error("in->distance: not a lossfn_triplet_distance");
    lossfn::BatchTripletCall<T> c;
    c.samples = in->samples;
    c.features = in->features;
    c.x = in->x;
    c.labels = in->labels;
    set_outputs(c, in->reduction, value, losses, grad_output, grad_output_array);
    c.grad_x = grad_x;
    lossfn::BatchTripletOptions o;
    o.margin = in->margin;
    o.mining = lossfn::TripletMining(in->mining);
    o.distance = lossfn::TripletDistance(in->distance);
    o.nonzero = in->nonzero != 0;
    lossfn::batch_triplet(c, o);
  });
}

// Row calls: lossfn_rows_f32 / _f64 into a RowCall, then the three entry points.
template <class T, class Rows>
lossfn::RowCall<T> make_row_call(const Rows* in) {
  if (in == nullptr) value_error("in: null pointer");
  if (in->inner == 0) value_error("in->inner: must be >= 1 (1 for (rows, classes) logits)");
  lossfn::RowCall<T> c;
  c.outer = in->outer;
  c.classes = in->classes;
  c.inner = in->inner;
  c.logits = in->logits;
  c.labels = in->labels;
  c.target = in->target;
  c.class_weight = in->class_weight;
  c.weight = in->weight;
  c.params = in->params;
  c.has_ignore_index = in->has_ignore_index != 0;
  c.ignore_index = in->ignore_index;
  c.reduction = to_reduction(in->reduction);
  return c;
}

template <class T>
void require_grad(const T* grad, const lossfn::RowCall<T>& c) {
  if (grad == nullptr && c.outer * c.classes * c.inner > 0) value_error("grad: null pointer");
}

template <class T, class Rows>
lossfn_status row_value(lossfn::RowLoss loss, const Rows* in, double* value, T* out) {
  return guarded([&] {
    lossfn::RowCall<T> c = make_row_call<T>(in);
    c.value = value;
    c.loss = out;
    lossfn::run(loss, c);
  });
}

template <class T, class Rows>
lossfn_status row_value_and_grad(lossfn::RowLoss loss, const Rows* in, double* value, T* out, T* grad) {
  return guarded([&] {
    lossfn::RowCall<T> c = make_row_call<T>(in);
    require_grad(grad, c);
    c.value = value;
    c.loss = out;
    c.grad = grad;
    lossfn::run(loss, c);
  });
}

template <class T, class Rows>
lossfn_status row_grad(lossfn::RowLoss loss, const Rows* in, T* grad, double grad_output,
                       const T* grad_output_array) {
  return guarded([&] {
    lossfn::RowCall<T> c = make_row_call<T>(in);
    require_grad(grad, c);
    // The utilities' upstream gradient is grad_output_array alone (the core ignores the scalar).
    if (lossfn::row_loss_info(loss).target == lossfn::RowTarget::none && grad_output != 1.0)
      value_error(std::string(lossfn::row_loss_info(loss).name) +
                  ": grad_output: must be 1 (pass the upstream gradient as grad_output_array)");
    c.grad = grad;
    c.grad_output = grad_output;
    c.grad_output_array = grad_output_array;
    lossfn::run(loss, c);
  });
}

#define LOSSFN_COUNT_ONE(name) +1
static_assert(0 LOSSFN_ROW_LOSSES(LOSSFN_COUNT_ONE) == int(lossfn::RowLoss::count_),
              "LOSSFN_ROW_LOSSES lists every RowLoss");
#undef LOSSFN_COUNT_ONE
static_assert(LOSSFN_ROW_TARGET_NONE == int(lossfn::RowTarget::none) &&
                  LOSSFN_ROW_TARGET_LABELS == int(lossfn::RowTarget::labels) &&
                  LOSSFN_ROW_TARGET_DENSE == int(lossfn::RowTarget::dense) &&
                  LOSSFN_ROW_TARGET_LABELS_OR_DENSE == int(lossfn::RowTarget::labels_or_dense),
              "lossfn_row_target matches lossfn::RowTarget");

}  // namespace

extern "C" {

const char* lossfn_version(void) { return lossfn::version(); }
const char* lossfn_last_error(void) { return last_error.c_str(); }

lossfn_status lossfn_set_num_threads(int n) {
  return guarded([&] { lossfn::set_num_threads(n); });
}
int lossfn_get_num_threads(void) { return lossfn::get_num_threads(); }
const char* lossfn_isa(void) { return lossfn::isa_name(lossfn::active_isa()); }

lossfn_status lossfn_set_isa(const char* isa) {
  return guarded([&] {
    for (int i = 0; i < 3; ++i)
      if (isa && std::strcmp(isa, lossfn::isa_name(lossfn::Isa(i))) == 0) return lossfn::set_isa(lossfn::Isa(i));
    throw lossfn::Error(lossfn::ErrorKind::value, "isa: expected \"baseline\", \"avx2\" or \"avx512\"");
  });
}

int lossfn_isa_available(const char* isa) {
  for (int i = 0; i < 3; ++i)
    if (isa && std::strcmp(isa, lossfn::isa_name(lossfn::Isa(i))) == 0) return lossfn::isa_available(lossfn::Isa(i));
  return 0;
}

int lossfn_num_losses(void) { return lossfn::num_losses(); }
const char* lossfn_loss_name(int index) {
  return index >= 0 && index < lossfn::num_losses() ? lossfn::loss_info(lossfn::Loss(index)).name : nullptr;
}
int lossfn_num_params(const char* loss) {
  Params p;
  return find_params(loss, &p) ? p.num : -1;
}
const char* lossfn_param_name(const char* loss, int k) {
  Params p;
  return find_params(loss, &p) && k >= 0 && k < p.num ? p.names[k] : nullptr;
}
double lossfn_param_default(const char* loss, int k) {
  Params p;
  return find_params(loss, &p) && k >= 0 && k < p.num ? p.defaults[k] : 0.0;
}

int lossfn_num_row_losses(void) { return lossfn::num_row_losses(); }
const char* lossfn_row_loss_name(int index) {
  return index >= 0 && index < lossfn::num_row_losses() ? lossfn::row_loss_info(lossfn::RowLoss(index)).name
                                                        : nullptr;
}
int lossfn_row_loss_target(const char* loss) {
  const lossfn::RowLossInfo* info = find_row(loss);
  return info ? int(info->target) : -1;
}
const char* lossfn_row_loss_class_weight(const char* loss) {
  const lossfn::RowLossInfo* info = find_row(loss);
  return info ? info->class_weight_name : nullptr;
}
int lossfn_row_loss_ignore_index(const char* loss) {
  const lossfn::RowLossInfo* info = find_row(loss);
  return info ? int(info->ignore_index) : -1;
}
int lossfn_row_loss_full_output(const char* loss) {
  const lossfn::RowLossInfo* info = find_row(loss);
  return info ? int(info->full_output) : -1;
}

#define LOSSFN_DEFINE_TYPED(name, t, T)                                                           \
  lossfn_status lossfn_##name##_value_##t(double* value, T* loss, const T* pred, const T* target,  \
                                          const T* aux, const T* weight, size_t n,                 \
                                          const double* params, lossfn_reduction reduction) {      \
    return guarded([&] {                                                                          \
      auto c = make_call(pred, target, aux, weight, n, params, reduction);                        \
      c.value = value;                                                                            \
      c.loss = loss;                                                                              \
      lossfn::run(lossfn::Loss::name, c);                                                         \
    });                                                                                           \
  }                                                                                               \
  lossfn_status lossfn_##name##_value_and_grad_##t(                                               \
      double* value, T* loss, T* grad, T* grad_aux, const T* pred, const T* target, const T* aux, \
      const T* weight, size_t n, const double* params, lossfn_reduction reduction) {              \
    return guarded([&] {                                                                          \
      if (grad == nullptr && n > 0) throw lossfn::Error(lossfn::ErrorKind::value, "grad: null pointer"); \
      auto c = make_call(pred, target, aux, weight, n, params, reduction);                        \
      c.value = value;                                                                            \
      c.loss = loss;                                                                              \
      c.grad = grad;                                                                              \
      c.grad_aux = grad_aux;                                                                      \
      lossfn::run(lossfn::Loss::name, c);                                                         \
    });                                                                                           \
  }                                                                                               \
  lossfn_status lossfn_##name##_grad_##t(T* grad, T* grad_aux, const T* pred, const T* target,    \
                                         const T* aux, const T* weight, size_t n,                 \
                                         const double* params, lossfn_reduction reduction,        \
                                         double grad_output, const T* grad_output_array) {        \
    return guarded([&] {                                                                          \
      if (grad == nullptr && n > 0) throw lossfn::Error(lossfn::ErrorKind::value, "grad: null pointer"); \
      auto c = make_call(pred, target, aux, weight, n, params, reduction);                        \
      c.grad = grad;                                                                              \
      c.grad_aux = grad_aux;                                                                      \
      c.grad_output = grad_output;                                                                \
      c.grad_output_array = grad_output_array;                                                    \
      lossfn::run(lossfn::Loss::name, c);                                                         \
    });                                                                                           \
  }                                                                                               \
  lossfn_status lossfn_##name##_hess_##t(T* hess, const T* pred, const T* target, const T* aux,   \
                                         const T* weight, size_t n, const double* params,         \
                                         lossfn_reduction reduction) {                            \
    return guarded([&] {                                                                          \
      if (hess == nullptr && n > 0) throw lossfn::Error(lossfn::ErrorKind::value, "hess: null pointer"); \
      auto c = make_call(pred, target, aux, weight, n, params, reduction);                        \
      c.hess = hess;                                                                              \
      lossfn::run(lossfn::Loss::name, c);                                                         \
    });                                                                                           \
  }
#define LOSSFN_DEFINE(name) LOSSFN_DEFINE_TYPED(name, f32, float) LOSSFN_DEFINE_TYPED(name, f64, double)
LOSSFN_LOSSES(LOSSFN_DEFINE)

#define LOSSFN_DEFINE_ROWS_TYPED(name, t, T)                                                        \
  lossfn_status lossfn_##name##_value_##t(const lossfn_rows_##t* in, double* value, T* loss) {       \
    return row_value(lossfn::RowLoss::name, in, value, loss);                                        \
  }                                                                                                 \
  lossfn_status lossfn_##name##_value_and_grad_##t(const lossfn_rows_##t* in, double* value,         \
                                                   T* loss, T* grad) {                               \
    return row_value_and_grad(lossfn::RowLoss::name, in, value, loss, grad);                         \
  }                                                                                                 \
  lossfn_status lossfn_##name##_grad_##t(const lossfn_rows_##t* in, T* grad, double grad_output,     \
                                         const T* grad_output_array) {                              \
    return row_grad(lossfn::RowLoss::name, in, grad, grad_output, grad_output_array);                \
  }
#define LOSSFN_DEFINE_ROWS(name) LOSSFN_DEFINE_ROWS_TYPED(name, f32, float) LOSSFN_DEFINE_ROWS_TYPED(name, f64, double)
LOSSFN_ROW_LOSSES(LOSSFN_DEFINE_ROWS)

// The three entry points of a loss whose inputs come in one struct (CTC, the Lovász hinge, images):
// lossfn_<name>_value_<t>, _value_and_grad_<t>, _grad_<t>, each a call of `run`.
#define LOSSFN_DEFINE_STRUCT_CALLS(name, In, run, t, T)                                              \
  lossfn_status lossfn_##name##_value_##t(const In* in, double* value, T* loss) {                    \
    return run<T>(in, value, loss, nullptr, 1.0, nullptr);                                           \
  }                                                                                                 \
  lossfn_status lossfn_##name##_value_and_grad_##t(const In* in, double* value, T* loss, T* grad) {  \
    return run<T>(in, value, loss, grad, 1.0, nullptr);                                              \
  }                                                                                                 \
  lossfn_status lossfn_##name##_grad_##t(const In* in, T* grad, double grad_output,                  \
                                         const T* grad_output_array) {                              \
    if (grad == nullptr) return run<T>(in, nullptr, nullptr, nullptr, 0.0, nullptr, "grad: null pointer"); \
    return run<T>(in, nullptr, nullptr, grad, grad_output, grad_output_array);                       \
  }
LOSSFN_DEFINE_STRUCT_CALLS(ctc, lossfn_ctc_f32, ctc_call, f32, float)
LOSSFN_DEFINE_STRUCT_CALLS(ctc, lossfn_ctc_f64, ctc_call, f64, double)

#define LOSSFN_DEFINE_OVERLAP(t, T)                                                                \
  lossfn_status lossfn_overlap_value_##t(lossfn_overlap_loss loss, const lossfn_segment_##t* in,   \
                                         double* value, T* losses) {                               \
    return overlap_call<T>(overlap_id(loss), in, value, losses, nullptr, 1.0, nullptr);                         \
  }                                                                                                 \
  lossfn_status lossfn_overlap_value_and_grad_##t(lossfn_overlap_loss loss, const lossfn_segment_##t* in, \
                                                  double* value, T* losses, T* grad) {              \
    return overlap_call<T>(overlap_id(loss), in, value, losses, grad, 1.0, nullptr);                            \
  }                                                                                                 \
  lossfn_status lossfn_overlap_grad_##t(lossfn_overlap_loss loss, const lossfn_segment_##t* in, T* grad, \
                                        double grad_output, const T* grad_output_array) {           \
    if (grad == nullptr)                                                                            \
      return overlap_call<T>(overlap_id(loss), in, nullptr, nullptr, nullptr, 0.0, nullptr, "grad: null pointer"); \
    return overlap_call<T>(overlap_id(loss), in, nullptr, nullptr, grad, grad_output, grad_output_array);      \
  }
LOSSFN_DEFINE_OVERLAP(f32, float)
LOSSFN_DEFINE_OVERLAP(f64, double)

LOSSFN_DEFINE_STRUCT_CALLS(lovasz_hinge, lossfn_lovasz_f32, lovasz_call, f32, float)
LOSSFN_DEFINE_STRUCT_CALLS(lovasz_hinge, lossfn_lovasz_f64, lovasz_call, f64, double)
LOSSFN_DEFINE_STRUCT_CALLS(ssim, lossfn_image_f32, ssim_call, f32, float)
LOSSFN_DEFINE_STRUCT_CALLS(ssim, lossfn_image_f64, ssim_call, f64, double)
LOSSFN_DEFINE_STRUCT_CALLS(ms_ssim, lossfn_image_f32, ms_ssim_call, f32, float)
LOSSFN_DEFINE_STRUCT_CALLS(ms_ssim, lossfn_image_f64, ms_ssim_call, f64, double)
LOSSFN_DEFINE_STRUCT_CALLS(total_variation, lossfn_image_f32, total_variation_call, f32, float)
LOSSFN_DEFINE_STRUCT_CALLS(total_variation, lossfn_image_f64, total_variation_call, f64, double)

#define LOSSFN_DEFINE_PERCEPTUAL(t, T)                                                                      \
  lossfn_status lossfn_perceptual_value_##t(const lossfn_perceptual_##t* in, double* value, T* losses) {    \
    return perceptual_call<T>(in, value, losses, nullptr, 1.0, nullptr);                                   \
  }                                                                                                         \
  lossfn_status lossfn_perceptual_value_and_grad_##t(const lossfn_perceptual_##t* in, double* value,        \
                                                     T* losses, T* const* grads) {                          \
    if (grads == nullptr) return guarded([] { value_error("grads: null pointer"); });                      \
    return perceptual_call<T>(in, value, losses, grads, 1.0, nullptr);                                     \
  }                                                                                                         \
  lossfn_status lossfn_perceptual_grad_##t(const lossfn_perceptual_##t* in, T* const* grads, double grad_output, \
                                           const T* grad_output_array) {                                    \
    if (grads == nullptr) return guarded([] { value_error("grads: null pointer"); });                      \
    return perceptual_call<T>(in, nullptr, nullptr, grads, grad_output, grad_output_array);                \
  }
LOSSFN_DEFINE_PERCEPTUAL(f32, float)
LOSSFN_DEFINE_PERCEPTUAL(f64, double)

#define LOSSFN_DEFINE_PAIR(t, T)                                                                            \
  lossfn_status lossfn_pair_value_##t(lossfn_pair_loss loss, const lossfn_pair_##t* in, double* value,       \
                                      T* losses) {                                                          \
    return pair_call<T>(loss, in, value, losses, nullptr, nullptr, nullptr, 1.0, nullptr, false);          \
  }                                                                                                         \
  lossfn_status lossfn_pair_value_and_grad_##t(lossfn_pair_loss loss, const lossfn_pair_##t* in,            \
                                               double* value, T* losses, T* grad_a, T* grad_b, T* grad_c) { \
    return pair_call<T>(loss, in, value, losses, grad_a, grad_b, grad_c, 1.0, nullptr, true);              \
  }                                                                                                         \
  lossfn_status lossfn_pair_grad_##t(lossfn_pair_loss loss, const lossfn_pair_##t* in, T* grad_a, T* grad_b, \
                                     T* grad_c, double grad_output, const T* grad_output_array) {           \
    return pair_call<T>(loss, in, nullptr, nullptr, grad_a, grad_b, grad_c, grad_output, grad_output_array, \
                        true);                                                                              \
  }
LOSSFN_DEFINE_PAIR(f32, float)
LOSSFN_DEFINE_PAIR(f64, double)

#define LOSSFN_DEFINE_CENTER(t, T)                                                                          \
  lossfn_status lossfn_center_value_##t(const lossfn_center_##t* in, double* value, T* losses) {            \
    return center_call<T>(in, value, losses, nullptr, nullptr, 1.0, nullptr, false);                       \
  }                                                                                                         \
  lossfn_status lossfn_center_value_and_grad_##t(const lossfn_center_##t* in, double* value, T* losses,      \
                                                 T* grad_x, T* grad_centers) {                              \
    return center_call<T>(in, value, losses, grad_x, grad_centers, 1.0, nullptr, true);                    \
  }                                                                                                         \
  lossfn_status lossfn_center_grad_##t(const lossfn_center_##t* in, T* grad_x, T* grad_centers,             \
                                       double grad_output, const T* grad_output_array) {                    \
    return center_call<T>(in, nullptr, nullptr, grad_x, grad_centers, grad_output, grad_output_array, true);\
  }                                                                                                         \
  lossfn_status lossfn_center_update_##t(T* centers, const lossfn_center_##t* in, double alpha) {           \
    return guarded([&] { lossfn::center_update(centers, make_center_call<T>(in), alpha); });               \
  }
LOSSFN_DEFINE_CENTER(f32, float)
LOSSFN_DEFINE_CENTER(f64, double)

#define LOSSFN_DEFINE_MARGIN(t, T)                                                                          \
  lossfn_status lossfn_margin_value_##t(lossfn_margin_loss loss, const lossfn_margin_##t* in, double* value, \
                                        T* losses) {                                                        \
    return margin_call<T>(loss, in, value, losses, nullptr, nullptr, 1.0, nullptr, false);                 \
  }                                                                                                         \
  lossfn_status lossfn_margin_value_and_grad_##t(lossfn_margin_loss loss, const lossfn_margin_##t* in,      \
                                                 double* value, T* losses, T* grad_x, T* grad_weights) {    \
    return margin_call<T>(loss, in, value, losses, grad_x, grad_weights, 1.0, nullptr, true);              \
  }                                                                                                         \
  lossfn_status lossfn_margin_grad_##t(lossfn_margin_loss loss, const lossfn_margin_##t* in, T* grad_x,     \
                                       T* grad_weights, double grad_output, const T* grad_output_array) {   \
    return margin_call<T>(loss, in, nullptr, nullptr, grad_x, grad_weights, grad_output, grad_output_array, \
                          true);                                                                            \
  }
LOSSFN_DEFINE_MARGIN(f32, float)
LOSSFN_DEFINE_MARGIN(f64, double)

#define LOSSFN_DEFINE_INFO_NCE(t, T)                                                                        \
  lossfn_status lossfn_info_nce_value_##t(const lossfn_info_nce_##t* in, double* value, T* losses) {        \
    return info_nce_call<T>(in, value, losses, nullptr, nullptr, 1.0, nullptr, false);                     \
  }                                                                                                         \
  lossfn_status lossfn_info_nce_value_and_grad_##t(const lossfn_info_nce_##t* in, double* value, T* losses,  \
                                                   T* grad_a, T* grad_b) {                                  \
    return info_nce_call<T>(in, value, losses, grad_a, grad_b, 1.0, nullptr, true);                        \
  }                                                                                                         \
  lossfn_status lossfn_info_nce_grad_##t(const lossfn_info_nce_##t* in, T* grad_a, T* grad_b,               \
                                         double grad_output, const T* grad_output_array) {                  \
    return info_nce_call<T>(in, nullptr, nullptr, grad_a, grad_b, grad_output, grad_output_array, true);   \
  }
LOSSFN_DEFINE_INFO_NCE(f32, float)
LOSSFN_DEFINE_INFO_NCE(f64, double)

#define LOSSFN_DEFINE_BATCH_TRIPLET(t, T)                                                                   \
  lossfn_status lossfn_batch_triplet_value_##t(const lossfn_batch_triplet_##t* in, double* value, T* losses) { \
    return batch_triplet_call<T>(in, value, losses, nullptr, 1.0, nullptr, false);                         \
  }                                                                                                         \
  lossfn_status lossfn_batch_triplet_value_and_grad_##t(const lossfn_batch_triplet_##t* in, double* value,  \
                                                        T* losses, T* grad_x) {                             \
    return batch_triplet_call<T>(in, value, losses, grad_x, 1.0, nullptr, true);                           \
  }                                                                                                         \
  lossfn_status lossfn_batch_triplet_grad_##t(const lossfn_batch_triplet_##t* in, T* grad_x,                \
                                              double grad_output, const T* grad_output_array) {             \
    return batch_triplet_call<T>(in, nullptr, nullptr, grad_x, grad_output, grad_output_array, true);      \
  }
LOSSFN_DEFINE_BATCH_TRIPLET(f32, float)
LOSSFN_DEFINE_BATCH_TRIPLET(f64, double)

}  // extern "C"
