/* lossfn C ABI (C99). Stable names; every function returns a status and never lets an
 * exception or a crash through: on error it returns nonzero and lossfn_last_error() (per
 * thread) says what, naming the argument.
 *
 * Per loss <name> (LOSSFN_LOSSES below) and dtype <t> (f32: T = float, f64: T = double):
 *
 *   lossfn_status lossfn_<name>_value_<t>(double* value, T* loss,
 *       const T* pred, const T* target, const T* aux, const T* weight, size_t n,
 *       const double* params, lossfn_reduction reduction);
 *   lossfn_status lossfn_<name>_value_and_grad_<t>(double* value, T* loss, T* grad, T* grad_aux,
 *       const T* pred, const T* target, const T* aux, const T* weight, size_t n,
 *       const double* params, lossfn_reduction reduction);
 *   lossfn_status lossfn_<name>_grad_<t>(T* grad, T* grad_aux,
 *       const T* pred, const T* target, const T* aux, const T* weight, size_t n,
 *       const double* params, lossfn_reduction reduction,
 *       double grad_output, const T* grad_output_array);
 *   lossfn_status lossfn_<name>_hess_<t>(T* hess,
 *       const T* pred, const T* target, const T* aux, const T* weight, size_t n,
 *       const double* params, lossfn_reduction reduction);
 *
 * value: the reduced loss (mean/sum; pass NULL for none). loss: per-element losses (none only;
 * NULL otherwise). aux: the third input of quantile (tau), bce_with_logits (pos_weight) and
 * gaussian_nll (var, required), else NULL. weight: per-element weights or NULL. grad_aux: the
 * gradient w.r.t. aux for gaussian_nll, else NULL. params: the hyper-parameters in the order
 * lossfn_param_name() gives (NULL: the defaults). grad_output_array: per-element upstream
 * gradient, reduction none only (NULL: the scalar grad_output).
 *
 * Row losses and softmax utilities (LOSSFN_ROW_LOSSES below: multi-class losses along a class
 * axis, then logsumexp, softmax, log_softmax). One struct describes the call's inputs,
 * lossfn_rows_<t> (the fields are the same for f32 and f64, T the dtype):
 *
 *   size_t outer, classes, inner;  the logits are a C-contiguous (outer, classes, inner) array:
 *                                  (rows, classes) is {rows, classes, 1}, NCHW data with the
 *                                  class axis 1 is {N, C, H*W}; inner must be >= 1. A "row" is
 *                                  one (outer, inner) position: outer * inner rows.
 *   const T* logits;               outer * classes * inner values.
 *   const int64_t* labels;         one class index per row, or NULL;
 *   const T* target;               or a dense target of the logits' shape, or NULL (the
 *                                  lossfn_row_loss_target() of the loss says which it takes).
 *   const double* class_weight;    `classes` weights (softmax_focal: alpha per class), or NULL.
 *   const T* weight;               per-row sample weights, or NULL.
 *   const double* params;          hyper-parameters in lossfn_param_name() order (NULL: defaults).
 *   int has_ignore_index;          nonzero: rows whose label is ignore_index are skipped.
 *   int64_t ignore_index;
 *   lossfn_reduction reduction;    (0, as in a zero-initialised struct, is NONE)
 *
 * and per row loss <name> and dtype <t>:
 *
 *   lossfn_status lossfn_<name>_value_<t>(const lossfn_rows_<t>* in, double* value, T* loss);
 *   lossfn_status lossfn_<name>_value_and_grad_<t>(const lossfn_rows_<t>* in, double* value,
 *       T* loss, T* grad);
 *   lossfn_status lossfn_<name>_grad_<t>(const lossfn_rows_<t>* in, T* grad,
 *       double grad_output, const T* grad_output_array);
 *
 * value: the reduced loss (mean/sum; NULL for none). loss: outer * inner per-row losses (none
 * only; NULL otherwise). grad: the gradient w.r.t. the logits (their shape), of the reduced
 * loss times grad_output, or for none of each row's loss times grad_output_array[row] (NULL:
 * grad_output). mean = sum_i s_i l_i / sum_i s_i d_i with sample weights s_i and d_i the
 * label's class weight for softmax_cross_entropy and nll with labels, 0 for an ignored row,
 * else 1 (docs/losses.md).
 * The utilities take the logits only (labels, target, class_weight, weight NULL; reduction
 * ignored); value: `value` must be NULL and `loss` receives the output (logsumexp: outer *
 * inner values; softmax, log_softmax: the logits' shape, see lossfn_row_loss_full_output());
 * grad: the vector-Jacobian product with grad_output_array (the output's shape; NULL: all
 * ones), grad_output must be 1; value_and_grad: both, with all ones.
 */
#ifndef LOSSFN_H
#define LOSSFN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
/* In C++ the enums below take every int value (a fixed underlying type), so a value outside
 * the listed ones reaches the library as a number it rejects, not as undefined behaviour; the
 * type and the ABI are those of the C enum, an int. */
#define LOSSFN_ENUM_BASE : int
#else
#define LOSSFN_ENUM_BASE
#endif

typedef enum lossfn_status LOSSFN_ENUM_BASE {
  LOSSFN_OK = 0,
  LOSSFN_ERROR_VALUE = 1,    /* bad size, pointer, hyper-parameter or input value */
  LOSSFN_ERROR_TYPE = 2,     /* wrong kind of argument */
  LOSSFN_ERROR_INTERNAL = 3  /* out of memory or another unexpected failure */
} lossfn_status;

typedef enum lossfn_reduction LOSSFN_ENUM_BASE {
  LOSSFN_REDUCTION_NONE = 0,
  LOSSFN_REDUCTION_MEAN = 1,
  LOSSFN_REDUCTION_SUM = 2
} lossfn_reduction;

const char* lossfn_version(void);
/* The message of this thread's last failed call ("" if none). */
const char* lossfn_last_error(void);

/* Threads a large call may use: n in 1..1024 (LOSSFN_ERROR_VALUE otherwise). Until it is
 * set, OpenMP's default (OMP_NUM_THREADS, clamped to 1024). A process created by fork() runs
 * single-threaded. */
lossfn_status lossfn_set_num_threads(int n);
int lossfn_get_num_threads(void);
/* "baseline", "avx2" or "avx512": the kernel level in use; lossfn_set_isa forces one. */
const char* lossfn_isa(void);
lossfn_status lossfn_set_isa(const char* isa);
/* 1 when the level is compiled in and this CPU supports it. */
int lossfn_isa_available(const char* isa);

/* The catalogue: losses by index 0..lossfn_num_losses()-1. */
int lossfn_num_losses(void);
const char* lossfn_loss_name(int index);
int lossfn_num_params(const char* loss);                   /* -1 for an unknown loss */
const char* lossfn_param_name(const char* loss, int i);    /* NULL when out of range */
double lossfn_param_default(const char* loss, int i);
/* The three above answer for row losses and utilities too (their names are distinct). */

/* The row losses and utilities by index 0..lossfn_num_row_losses()-1 (LOSSFN_ROW_LOSSES order). */
int lossfn_num_row_losses(void);
const char* lossfn_row_loss_name(int index);
/* What the target is: one of lossfn_row_target, or -1 for an unknown name. */
typedef enum lossfn_row_target LOSSFN_ENUM_BASE {
  LOSSFN_ROW_TARGET_NONE = 0,           /* the utilities: no target */
  LOSSFN_ROW_TARGET_LABELS = 1,         /* in->labels */
  LOSSFN_ROW_TARGET_DENSE = 2,          /* in->target */
  LOSSFN_ROW_TARGET_LABELS_OR_DENSE = 3 /* either (softmax_cross_entropy) */
} lossfn_row_target;
int lossfn_row_loss_target(const char* loss);
/* The name of the per-class vector in->class_weight stands for ("class_weight", "alpha"), or
 * NULL where the loss takes none (or the name is unknown). */
const char* lossfn_row_loss_class_weight(const char* loss);
/* 1 when the loss honours in->has_ignore_index, 0 when not, -1 for an unknown name. */
int lossfn_row_loss_ignore_index(const char* loss);
/* 1 when the output written to `loss` has the logits' shape (softmax, log_softmax), 0 when it
 * has one value per row, -1 for an unknown name. */
int lossfn_row_loss_full_output(const char* loss);

#define LOSSFN_LOSSES(X)                                                                    \
  X(mse) X(mae) X(huber) X(smooth_l1) X(log_cosh) X(quantile) X(msle) X(mape) X(poisson_nll) \
  X(gaussian_nll) X(charbonnier) X(cauchy) X(welsch) X(geman_mcclure) X(general_robust)      \
  X(bce) X(bce_with_logits) X(binary_focal) X(sigmoid_focal) X(hinge) X(squared_hinge)       \
  X(smooth_hinge) X(modified_huber) X(soft_margin)

#define LOSSFN_DECLARE_TYPED(name, t, T)                                                       \
  lossfn_status lossfn_##name##_value_##t(double* value, T* loss, const T* pred,               \
                                          const T* target, const T* aux, const T* weight,      \
                                          size_t n, const double* params,                      \
                                          lossfn_reduction reduction);                         \
  lossfn_status lossfn_##name##_value_and_grad_##t(                                            \
      double* value, T* loss, T* grad, T* grad_aux, const T* pred, const T* target,            \
      const T* aux, const T* weight, size_t n, const double* params, lossfn_reduction reduction); \
  lossfn_status lossfn_##name##_grad_##t(T* grad, T* grad_aux, const T* pred, const T* target, \
                                         const T* aux, const T* weight, size_t n,              \
                                         const double* params, lossfn_reduction reduction,     \
                                         double grad_output, const T* grad_output_array);      \
  lossfn_status lossfn_##name##_hess_##t(T* hess, const T* pred, const T* target,              \
                                         const T* aux, const T* weight, size_t n,              \
                                         const double* params, lossfn_reduction reduction);
#define LOSSFN_DECLARE(name) LOSSFN_DECLARE_TYPED(name, f32, float) LOSSFN_DECLARE_TYPED(name, f64, double)
LOSSFN_LOSSES(LOSSFN_DECLARE)
#undef LOSSFN_DECLARE

#define LOSSFN_ROW_LOSSES(X)                                                              \
  X(softmax_cross_entropy) X(categorical_crossentropy) X(sparse_categorical_crossentropy) \
  X(nll) X(softmax_focal) X(categorical_hinge) X(multi_margin) X(multilabel_soft_margin)  \
  X(logsumexp) X(softmax) X(log_softmax)

#define LOSSFN_ROWS_STRUCT(t, T)     \
  typedef struct lossfn_rows_##t {   \
    size_t outer, classes, inner;    \
    const T* logits;                 \
    const int64_t* labels;           \
    const T* target;                 \
    const double* class_weight;      \
    const T* weight;                 \
    const double* params;            \
    int has_ignore_index;            \
    int64_t ignore_index;            \
    lossfn_reduction reduction;      \
  } lossfn_rows_##t;
LOSSFN_ROWS_STRUCT(f32, float)
LOSSFN_ROWS_STRUCT(f64, double)
#undef LOSSFN_ROWS_STRUCT

#define LOSSFN_DECLARE_ROWS_TYPED(name, t, T)                                                      \
  lossfn_status lossfn_##name##_value_##t(const lossfn_rows_##t* in, double* value, T* loss);      \
  lossfn_status lossfn_##name##_value_and_grad_##t(const lossfn_rows_##t* in, double* value,       \
                                                   T* loss, T* grad);                              \
  lossfn_status lossfn_##name##_grad_##t(const lossfn_rows_##t* in, T* grad, double grad_output,   \
                                         const T* grad_output_array);
#define LOSSFN_DECLARE_ROWS(name) \
  LOSSFN_DECLARE_ROWS_TYPED(name, f32, float) LOSSFN_DECLARE_ROWS_TYPED(name, f64, double)
LOSSFN_ROW_LOSSES(LOSSFN_DECLARE_ROWS)
#undef LOSSFN_DECLARE_ROWS

/* CTC (connectionist temporal classification), f32 and f64. The call's inputs:
 *
 *   size_t max_time, batch, classes;  the scores are (T, N, C) = (max_time, batch, classes)
 *   const T* log_probs;               score (t, b, c) at log_probs[t*s[0] + b*s[1] + c*s[2]]
 *   const ptrdiff_t* strides;         s, in elements, or NULL: C-contiguous (T, N, C)
 *                                     ({C, T*C, 1} reads (N, T, C) data in place)
 *   const ptrdiff_t* grad_strides;    the gradient's, likewise (NULL: C-contiguous (T, N, C))
 *   const int64_t* targets;           labels in [0, C), never blank: padded (batch, targets_width)
 *   size_t targets_size;              or, with targets_width 0, concatenated (targets_size =
 *   size_t targets_width;             the sum of the target lengths)
 *   const int64_t* input_lengths;     batch frame counts in [0, max_time]
 *   const int64_t* target_lengths;    batch label counts
 *   int64_t blank;                    the blank class
 *   int zero_infinity;                nonzero: an impossible sample's loss (+inf) counts as 0
 *   int from_logits;                  nonzero: the scores are logits (log_softmax applied inside,
 *                                     gradient w.r.t. the logits); else log-probabilities
 *   lossfn_reduction reduction;       mean: (1/N) sum_b loss_b / max(target_length_b, 1)
 *
 * value: the reduced loss (mean/sum; NULL for none); loss: batch per-sample losses (none only);
 * grad: the scores' shape, of the reduced loss times grad_output (none: of each sample's loss
 * times grad_output_array[b], NULL: grad_output). */
#define LOSSFN_CTC_STRUCT(t, T)        \
  typedef struct lossfn_ctc_##t {      \
    size_t max_time, batch, classes;   \
    const T* log_probs;                \
    const ptrdiff_t* strides;          \
    const ptrdiff_t* grad_strides;     \
    const int64_t* targets;            \
    size_t targets_size;               \
    size_t targets_width;              \
    const int64_t* input_lengths;      \
    const int64_t* target_lengths;     \
    int64_t blank;                     \
    int zero_infinity;                 \
    int from_logits;                   \
    lossfn_reduction reduction;        \
  } lossfn_ctc_##t;                    \
  lossfn_status lossfn_ctc_value_##t(const lossfn_ctc_##t* in, double* value, T* loss);                  \
  lossfn_status lossfn_ctc_value_and_grad_##t(const lossfn_ctc_##t* in, double* value, T* loss, T* grad); \
  lossfn_status lossfn_ctc_grad_##t(const lossfn_ctc_##t* in, T* grad, double grad_output,                \
                                    const T* grad_output_array);
LOSSFN_CTC_STRUCT(f32, float)
LOSSFN_CTC_STRUCT(f64, double)
#undef LOSSFN_CTC_STRUCT

/* Overlap losses (segmentation), f32 and f64: lossfn_overlap_value_<t>, _value_and_grad_<t>,
 * _grad_<t>, with `loss` one of lossfn_overlap_loss. The call's inputs, lossfn_segment_<t>:
 *
 *   size_t batch, outer, classes, inner;  the scores are C-contiguous (batch, outer, classes,
 *                                         inner): NCHW is {N, 1, C, H*W}, NHWC {N, H*W, C, 1};
 *                                         pixel arrays are (batch, outer, inner)
 *   const T* pred;                        probabilities, or logits with an activation
 *   const T* target;                      dense masks of pred's shape, or NULL with
 *   const int64_t* labels;                pixel-shaped class indices in [0, classes)
 *   const T* weight;                      pixel weights, or NULL
 *   const double* class_weight;           classes weights >= 0, or NULL
 *   double smooth, alpha, beta, gamma;    alpha, beta: tversky and focal_tversky; gamma: focal
 *   int squared, per_sample, per_class;   nonzero: squared denominators (V-Net); a segment per
 *                                         sample and class (else per class over the batch);
 *                                         reduction none writes one loss per segment
 *   int activation;                       0 probabilities, 1 sigmoid, 2 softmax over the classes
 *   int has_ignore_index;                 nonzero: pixels whose label (or one-class mask value)
 *   int64_t ignore_index;                 equals ignore_index count nowhere
 *   lossfn_reduction reduction;           over the samples' losses (class-weighted means)
 *   double w_bce, w_dice;                 bce_dice: the weights of its two terms
 *
 * Formulas and conventions: lossfn/segmentation.hpp. value: mean/sum; loss: none (samples, or
 * samples * classes with per_class; with per_sample 0 the batch is one sample); grad: pred's
 * shape, of the reduced loss times grad_output (none: of each loss times grad_output_array). */
typedef enum lossfn_overlap_loss {
  LOSSFN_DICE = 0,
  LOSSFN_JACCARD = 1,
  LOSSFN_TVERSKY = 2,
  LOSSFN_FOCAL_TVERSKY = 3,
  LOSSFN_BCE_DICE = 4
} lossfn_overlap_loss;

#define LOSSFN_SEGMENT_STRUCT(t, T)                                                                        \
  typedef struct lossfn_segment_##t {                                                                      \
    size_t batch, outer, classes, inner;                                                                   \
    const T* pred;                                                                                         \
    const T* target;                                                                                       \
    const int64_t* labels;                                                                                 \
    const T* weight;                                                                                       \
    const double* class_weight;                                                                            \
    double smooth, alpha, beta, gamma;                                                                     \
    int squared, per_sample, per_class;                                                                    \
    int activation;                                                                                        \
    int has_ignore_index;                                                                                  \
    int64_t ignore_index;                                                                                  \
    lossfn_reduction reduction;                                                                            \
    double w_bce, w_dice;                                                                                  \
  } lossfn_segment_##t;                                                                                    \
  lossfn_status lossfn_overlap_value_##t(lossfn_overlap_loss loss, const lossfn_segment_##t* in, double* value, \
                                         T* losses);                                                       \
  lossfn_status lossfn_overlap_value_and_grad_##t(lossfn_overlap_loss loss, const lossfn_segment_##t* in,   \
                                                  double* value, T* losses, T* grad);                      \
  lossfn_status lossfn_overlap_grad_##t(lossfn_overlap_loss loss, const lossfn_segment_##t* in, T* grad,    \
                                        double grad_output, const T* grad_output_array);
LOSSFN_SEGMENT_STRUCT(f32, float)
LOSSFN_SEGMENT_STRUCT(f64, double)
#undef LOSSFN_SEGMENT_STRUCT

/* The Lovász hinge (segmentation), f32 and f64: lossfn_lovasz_hinge_value_<t>,
 * _value_and_grad_<t>, _grad_<t>. The call's inputs, lossfn_lovasz_<t>:
 *
 *   size_t batch, pixels;        logits and masks are C-contiguous (batch, pixels)
 *   const T* logits;
 *   const T* masks;              dense masks of 0 and 1, or NULL with
 *   const int64_t* labels;       the same as integers
 *   int per_sample;              nonzero: a loss per sample (Berman's per_image; Python's default),
 *                                zero: the batch is one segment
 *   int has_ignore_index;        nonzero: pixels whose mask equals ignore_index count nowhere
 *   int64_t ignore_index;
 *   lossfn_reduction reduction;  over the segments' losses
 *
 * Formula and conventions: lovasz_hinge in lossfn/segmentation.hpp. value: mean/sum; loss: none
 * (batch values with per_sample, else one); grad: the logits' shape, of the reduced loss times
 * grad_output (none: of each loss times grad_output_array). */
#define LOSSFN_LOVASZ_STRUCT(t, T)                                                                         \
  typedef struct lossfn_lovasz_##t {                                                                       \
    size_t batch, pixels;                                                                                  \
    const T* logits;                                                                                       \
    const T* masks;                                                                                        \
    const int64_t* labels;                                                                                 \
    int per_sample;                                                                                        \
    int has_ignore_index;                                                                                  \
    int64_t ignore_index;                                                                                  \
    lossfn_reduction reduction;                                                                            \
  } lossfn_lovasz_##t;                                                                                     \
  lossfn_status lossfn_lovasz_hinge_value_##t(const lossfn_lovasz_##t* in, double* value, T* losses);      \
  lossfn_status lossfn_lovasz_hinge_value_and_grad_##t(const lossfn_lovasz_##t* in, double* value, T* losses, \
                                                       T* grad);                                           \
  lossfn_status lossfn_lovasz_hinge_grad_##t(const lossfn_lovasz_##t* in, T* grad, double grad_output,     \
                                             const T* grad_output_array);
LOSSFN_LOVASZ_STRUCT(f32, float)
LOSSFN_LOVASZ_STRUCT(f64, double)
#undef LOSSFN_LOVASZ_STRUCT

/* Image losses, f32 and f64: lossfn_ssim_value_<t>, _value_and_grad_<t>, _grad_<t>,
 * lossfn_ms_ssim_value_<t>, ... and lossfn_total_variation_value_<t>, ... The call's inputs,
 * lossfn_image_<t>:
 *
 *   size_t batch, channels, height, width;
 *   const T* x;                      pixel (n, c, i, j) at x[n s0 + c s1 + i s2 + j s3] with
 *   const ptrdiff_t* strides;        s = strides (4 element strides), or NULL: C-contiguous NCHW
 *   const T* y;                      (ms_)ssim's second image (NULL for total_variation)
 *   const ptrdiff_t* y_strides;      as strides
 *   const ptrdiff_t* grad_strides;   the gradients' strides, or NULL: C-contiguous NCHW
 *   T* grad_y;                       (ms_)ssim: when not NULL, calls that write grad write d/dy here too
 *   double data_range;               (ms_)ssim (C++ defaults: 1.0, 11, 1.5, 0.01, 0.03, 1, 0)
 *   int64_t win_size;
 *   double sigma, k1, k2;
 *   int gaussian_weights, use_sample_covariance;
 *   int isotropic;                   total_variation (0: anisotropic)
 *   lossfn_reduction reduction;      over the images' losses
 *   const double* weights;           ms_ssim: the levels' weights, or NULL: the default five
 *   size_t levels;                   ms_ssim: the number of weights (0 or 5 with NULL weights)
 *
 * Formulas and conventions: lossfn/image.hpp. value: mean/sum; loss: none (batch values); grad:
 * x's shape, of the reduced loss times grad_output (none: of each loss times
 * grad_output_array). */
#define LOSSFN_IMAGE_STRUCT(t, T)                                                                          \
  typedef struct lossfn_image_##t {                                                                        \
    size_t batch, channels, height, width;                                                                 \
    const T* x;                                                                                            \
    const ptrdiff_t* strides;                                                                              \
    const T* y;                                                                                            \
    const ptrdiff_t* y_strides;                                                                            \
    const ptrdiff_t* grad_strides;                                                                         \
    T* grad_y;                                                                                             \
    double data_range;                                                                                     \
    int64_t win_size;                                                                                      \
    double sigma, k1, k2;                                                                                  \
    int gaussian_weights, use_sample_covariance;                                                           \
    int isotropic;                                                                                         \
    lossfn_reduction reduction;                                                                            \
    const double* weights;                                                                                 \
    size_t levels;                                                                                         \
  } lossfn_image_##t;                                                                                      \
  lossfn_status lossfn_ssim_value_##t(const lossfn_image_##t* in, double* value, T* losses);               \
  lossfn_status lossfn_ssim_value_and_grad_##t(const lossfn_image_##t* in, double* value, T* losses, T* grad); \
  lossfn_status lossfn_ssim_grad_##t(const lossfn_image_##t* in, T* grad, double grad_output,              \
                                     const T* grad_output_array);                                          \
  lossfn_status lossfn_ms_ssim_value_##t(const lossfn_image_##t* in, double* value, T* losses);            \
  lossfn_status lossfn_ms_ssim_value_and_grad_##t(const lossfn_image_##t* in, double* value, T* losses,     \
                                                  T* grad);                                                \
  lossfn_status lossfn_ms_ssim_grad_##t(const lossfn_image_##t* in, T* grad, double grad_output,           \
                                        const T* grad_output_array);                                       \
  lossfn_status lossfn_total_variation_value_##t(const lossfn_image_##t* in, double* value, T* losses);    \
  lossfn_status lossfn_total_variation_value_and_grad_##t(const lossfn_image_##t* in, double* value,       \
                                                          T* losses, T* grad);                             \
  lossfn_status lossfn_total_variation_grad_##t(const lossfn_image_##t* in, T* grad, double grad_output,   \
                                                const T* grad_output_array);
LOSSFN_IMAGE_STRUCT(f32, float)
LOSSFN_IMAGE_STRUCT(f64, double)
#undef LOSSFN_IMAGE_STRUCT

/* Perceptual and style losses, f32 and f64: lossfn_perceptual_value_<t>, _value_and_grad_<t>,
 * _grad_<t>. The call's inputs, lossfn_perceptual_<t>:
 *
 *   size_t batch;                                the images
 *   const lossfn_feature_layer_<t>* layers;      num_layers layers, each:
 *       size_t channels, height, width;          one image's feature maps of the layer
 *       const T* x; const ptrdiff_t* x_strides;  element (n, c, i, j) at x[n s0 + c s1 + i s2 + j s3]
 *       const T* y; const ptrdiff_t* y_strides;  (NULL strides: C-contiguous)
 *       const ptrdiff_t* grad_strides;           the layer's gradient, or NULL: C-contiguous
 *   size_t num_layers;
 *   const double* layer_weights;                 num_layers weights, or NULL: 1 each
 *   int gram;                                    nonzero: the style loss on Gram matrices
 *   lossfn_reduction reduction;                  over the images' losses
 *
 * grads: num_layers pointers, the gradients w.r.t. each layer's x (its shape). Formulas and
 * conventions: lossfn/image.hpp. */
#define LOSSFN_PERCEPTUAL_STRUCT(t, T)                                                                     \
  typedef struct lossfn_feature_layer_##t {                                                                \
    size_t channels, height, width;                                                                        \
    const T* x;                                                                                            \
    const ptrdiff_t* x_strides;                                                                            \
    const T* y;                                                                                            \
    const ptrdiff_t* y_strides;                                                                            \
    const ptrdiff_t* grad_strides;                                                                         \
  } lossfn_feature_layer_##t;                                                                              \
  typedef struct lossfn_perceptual_##t {                                                                   \
    size_t batch;                                                                                          \
    const lossfn_feature_layer_##t* layers;                                                                \
    size_t num_layers;                                                                                     \
    const double* layer_weights;                                                                           \
    int gram;                                                                                              \
    lossfn_reduction reduction;                                                                            \
  } lossfn_perceptual_##t;                                                                                 \
  lossfn_status lossfn_perceptual_value_##t(const lossfn_perceptual_##t* in, double* value, T* losses);    \
  lossfn_status lossfn_perceptual_value_and_grad_##t(const lossfn_perceptual_##t* in, double* value,       \
                                                     T* losses, T* const* grads);                          \
  lossfn_status lossfn_perceptual_grad_##t(const lossfn_perceptual_##t* in, T* const* grads,               \
                                           double grad_output, const T* grad_output_array);
LOSSFN_PERCEPTUAL_STRUCT(f32, float)
LOSSFN_PERCEPTUAL_STRUCT(f64, double)
#undef LOSSFN_PERCEPTUAL_STRUCT

/* Metric-learning losses on given pairs and triplets, f32 and f64: lossfn_pair_value_<t>,
 * _value_and_grad_<t>, _grad_<t>, with `loss` one of lossfn_pair_loss. The call's inputs,
 * lossfn_pair_<t>:
 *
 *   size_t samples, features;      rows of features values (1 for margin_ranking, hinge_embedding)
 *   const T* a;                    x1 / anchor / x, C-contiguous (samples, features)
 *   const T* b;                    x2 / positive (NULL for hinge_embedding)
 *   const T* c;                    negative (triplet only, else NULL)
 *   const T* labels;               one per sample (NULL for triplet)
 *   double margin, p, eps;         C++ defaults 1.0, 2.0, 1e-6
 *   int swap;                      triplet: nonzero for the distance swap
 *   lossfn_reduction reduction;    over the samples' losses
 *
 * grad_a, grad_b, grad_c: the gradients w.r.t. a, b, c, one for every input the loss takes (NULL
 * for an input it does not take). Formulas and conventions: lossfn/metric.hpp. */
typedef enum lossfn_pair_loss {
  LOSSFN_CONTRASTIVE = 0,
  LOSSFN_TRIPLET = 1,
  LOSSFN_COSINE_EMBEDDING = 2,
  LOSSFN_MARGIN_RANKING = 3,
  LOSSFN_HINGE_EMBEDDING = 4
} lossfn_pair_loss;
#define LOSSFN_PAIR_STRUCT(t, T)                                                                           \
  typedef struct lossfn_pair_##t {                                                                         \
    size_t samples, features;                                                                              \
    const T* a;                                                                                            \
    const T* b;                                                                                            \
    const T* c;                                                                                            \
    const T* labels;                                                                                       \
    double margin, p, eps;                                                                                 \
    int swap;                                                                                              \
    lossfn_reduction reduction;                                                                            \
  } lossfn_pair_##t;                                                                                       \
  lossfn_status lossfn_pair_value_##t(lossfn_pair_loss loss, const lossfn_pair_##t* in, double* value,      \
                                      T* losses);                                                          \
  lossfn_status lossfn_pair_value_and_grad_##t(lossfn_pair_loss loss, const lossfn_pair_##t* in,           \
                                               double* value, T* losses, T* grad_a, T* grad_b, T* grad_c); \
  lossfn_status lossfn_pair_grad_##t(lossfn_pair_loss loss, const lossfn_pair_##t* in, T* grad_a,          \
                                     T* grad_b, T* grad_c, double grad_output, const T* grad_output_array);
LOSSFN_PAIR_STRUCT(f32, float)
LOSSFN_PAIR_STRUCT(f64, double)
#undef LOSSFN_PAIR_STRUCT

/* The center loss, f32 and f64: lossfn_center_value_<t>, _value_and_grad_<t>, _grad_<t> and
 * lossfn_center_update_<t> (Wen et al.'s update of the centers, in place). lossfn_center_<t>:
 *
 *   size_t samples, features, classes;
 *   const T* x;                    features (samples, features), C-contiguous
 *   const int64_t* labels;         samples labels in [0, classes)
 *   const T* centers;              (classes, features), C-contiguous
 *   lossfn_reduction reduction;    over the samples' losses
 *
 * grad_x, grad_centers: the gradients w.r.t. x and the centers (either may be NULL, not both).
 * update: `centers` must be in->centers. Formulas and conventions: lossfn/metric.hpp. */
#define LOSSFN_CENTER_STRUCT(t, T)                                                                         \
  typedef struct lossfn_center_##t {                                                                       \
    size_t samples, features, classes;                                                                     \
    const T* x;                                                                                            \
    const int64_t* labels;                                                                                 \
    const T* centers;                                                                                      \
    lossfn_reduction reduction;                                                                            \
  } lossfn_center_##t;                                                                                     \
  lossfn_status lossfn_center_value_##t(const lossfn_center_##t* in, double* value, T* losses);            \
  lossfn_status lossfn_center_value_and_grad_##t(const lossfn_center_##t* in, double* value, T* losses,     \
                                                 T* grad_x, T* grad_centers);                              \
  lossfn_status lossfn_center_grad_##t(const lossfn_center_##t* in, T* grad_x, T* grad_centers,            \
                                       double grad_output, const T* grad_output_array);                    \
  lossfn_status lossfn_center_update_##t(T* centers, const lossfn_center_##t* in, double alpha);
LOSSFN_CENTER_STRUCT(f32, float)
LOSSFN_CENTER_STRUCT(f64, double)
#undef LOSSFN_CENTER_STRUCT

/* Softmax cross-entropy with a margin on the label's cosine, over unit embeddings and unit class
 * weights (cosface, arcface), f32 and f64: lossfn_margin_value_<t>, _value_and_grad_<t>,
 * _grad_<t>, with `loss` one of lossfn_margin_loss. lossfn_margin_<t>:
 *
 *   size_t samples, features, classes;
 *   const T* x;                    embeddings (samples, features), C-contiguous
 *   const int64_t* labels;         samples labels in [0, classes)
 *   const T* weights;              class weights (classes, features), C-contiguous
 *   double s, m;                   cosface 30, 0.35; arcface 64, 0.5
 *   int easy_margin;               arcface: nonzero for InsightFace's easy_margin
 *   lossfn_reduction reduction;    over the samples' losses
 *
 * grad_x, grad_weights: the gradients w.r.t. x and the weights (either may be NULL, not both).
 * Formulas and conventions: lossfn/metric.hpp. */
typedef enum lossfn_margin_loss { LOSSFN_COSFACE = 0, LOSSFN_ARCFACE = 1 } lossfn_margin_loss;
#define LOSSFN_MARGIN_STRUCT(t, T)                                                                         \
  typedef struct lossfn_margin_##t {                                                                       \
    size_t samples, features, classes;                                                                     \
    const T* x;                                                                                            \
    const int64_t* labels;                                                                                 \
    const T* weights;                                                                                      \
    double s, m;                                                                                           \
    int easy_margin;                                                                                       \
    lossfn_reduction reduction;                                                                            \
  } lossfn_margin_##t;                                                                                     \
  lossfn_status lossfn_margin_value_##t(lossfn_margin_loss loss, const lossfn_margin_##t* in, double* value, \
                                        T* losses);                                                        \
  lossfn_status lossfn_margin_value_and_grad_##t(lossfn_margin_loss loss, const lossfn_margin_##t* in,     \
                                                 double* value, T* losses, T* grad_x, T* grad_weights);    \
  lossfn_status lossfn_margin_grad_##t(lossfn_margin_loss loss, const lossfn_margin_##t* in, T* grad_x,    \
                                       T* grad_weights, double grad_output, const T* grad_output_array);
LOSSFN_MARGIN_STRUCT(f32, float)
LOSSFN_MARGIN_STRUCT(f64, double)
#undef LOSSFN_MARGIN_STRUCT

/* InfoNCE on two views of the same samples (CLIP's loss, or SimCLR's NT-Xent), f32 and f64:
 * lossfn_info_nce_value_<t>, _value_and_grad_<t>, _grad_<t>. lossfn_info_nce_<t>:
 *
 *   size_t samples, features;
 *   const T* a;                    z1 (samples, features), C-contiguous
 *   const T* b;                    z2 (samples, features)
 *   double temperature;            0.1 in C++
 *   int symmetric;                 clip: nonzero for the mean of both directions
 *   int simclr;                    nonzero: NT-Xent over the 2 samples views, else clip
 *   lossfn_reduction reduction;    over the samples' losses
 *
 * grad_a, grad_b: the gradients w.r.t. a and b (a gradient call writes both). Formulas and
 * conventions: lossfn/metric.hpp. */
#define LOSSFN_INFO_NCE_STRUCT(t, T)                                                                       \
  typedef struct lossfn_info_nce_##t {                                                                     \
    size_t samples, features;                                                                              \
    const T* a;                                                                                            \
    const T* b;                                                                                            \
    double temperature;                                                                                    \
    int symmetric, simclr;                                                                                 \
    lossfn_reduction reduction;                                                                            \
  } lossfn_info_nce_##t;                                                                                   \
  lossfn_status lossfn_info_nce_value_##t(const lossfn_info_nce_##t* in, double* value, T* losses);        \
  lossfn_status lossfn_info_nce_value_and_grad_##t(const lossfn_info_nce_##t* in, double* value, T* losses, \
                                                   T* grad_a, T* grad_b);                                  \
  lossfn_status lossfn_info_nce_grad_##t(const lossfn_info_nce_##t* in, T* grad_a, T* grad_b,              \
                                         double grad_output, const T* grad_output_array);
LOSSFN_INFO_NCE_STRUCT(f32, float)
LOSSFN_INFO_NCE_STRUCT(f64, double)
#undef LOSSFN_INFO_NCE_STRUCT

/* The batch triplet loss with online mining, f32 and f64: lossfn_batch_triplet_value_<t>,
 * _value_and_grad_<t>, _grad_<t>. lossfn_batch_triplet_<t>:
 *
 *   size_t samples, features;
 *   const T* x;                    embeddings (samples, features), C-contiguous
 *   const int64_t* labels;         samples labels (equal labels: a positive pair)
 *   double margin;                 0.2 in C++
 *   int mining;                    lossfn_triplet_mining
 *   int distance;                  lossfn_triplet_distance
 *   int nonzero;                   nonzero: the mean over the triplets with a positive loss
 *   lossfn_reduction reduction;    mean over the kept triplets, their sum, or per anchor
 *
 * grad_x: the gradient w.r.t. x. Formulas and conventions: lossfn/metric.hpp. */
typedef enum lossfn_triplet_mining {
  LOSSFN_MINE_ALL = 0,
  LOSSFN_MINE_HARD = 1,
  LOSSFN_MINE_SEMIHARD = 2,
  LOSSFN_MINE_SEMIHARD_TFA = 3
} lossfn_triplet_mining;
typedef enum lossfn_triplet_distance {
  LOSSFN_DISTANCE_EUCLIDEAN = 0,
  LOSSFN_DISTANCE_SQUARED = 1,
  LOSSFN_DISTANCE_COSINE = 2
} lossfn_triplet_distance;
#define LOSSFN_BATCH_TRIPLET_STRUCT(t, T)                                                                  \
  typedef struct lossfn_batch_triplet_##t {                                                                \
    size_t samples, features;                                                                              \
    const T* x;                                                                                            \
    const int64_t* labels;                                                                                 \
    double margin;                                                                                         \
    int mining, distance, nonzero;                                                                         \
    lossfn_reduction reduction;                                                                            \
  } lossfn_batch_triplet_##t;                                                                              \
  lossfn_status lossfn_batch_triplet_value_##t(const lossfn_batch_triplet_##t* in, double* value, T* losses); \
  lossfn_status lossfn_batch_triplet_value_and_grad_##t(const lossfn_batch_triplet_##t* in, double* value, \
                                                        T* losses, T* grad_x);                             \
  lossfn_status lossfn_batch_triplet_grad_##t(const lossfn_batch_triplet_##t* in, T* grad_x,               \
                                              double grad_output, const T* grad_output_array);
LOSSFN_BATCH_TRIPLET_STRUCT(f32, float)
LOSSFN_BATCH_TRIPLET_STRUCT(f64, double)
#undef LOSSFN_BATCH_TRIPLET_STRUCT

#ifdef __cplusplus
}
#endif

#endif /* LOSSFN_H */
