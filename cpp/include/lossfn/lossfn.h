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
 */
#ifndef LOSSFN_H
#define LOSSFN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lossfn_status {
  LOSSFN_OK = 0,
  LOSSFN_ERROR_VALUE = 1,    /* bad size, pointer, hyper-parameter or input value */
  LOSSFN_ERROR_TYPE = 2,     /* wrong kind of argument */
  LOSSFN_ERROR_INTERNAL = 3  /* out of memory or another unexpected failure */
} lossfn_status;

typedef enum lossfn_reduction {
  LOSSFN_REDUCTION_NONE = 0,
  LOSSFN_REDUCTION_MEAN = 1,
  LOSSFN_REDUCTION_SUM = 2
} lossfn_reduction;

const char* lossfn_version(void);
/* The message of this thread's last failed call ("" if none). */
const char* lossfn_last_error(void);

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

#ifdef __cplusplus
}
#endif

#endif /* LOSSFN_H */
