// The C ABI (lossfn.h): every entry point catches everything and turns it into a status and
// a per-thread message. Baseline code.
#include "lossfn/lossfn.h"

#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "lossfn/core.hpp"

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

lossfn::Reduction to_reduction(lossfn_reduction r) {
  if (r != LOSSFN_REDUCTION_NONE && r != LOSSFN_REDUCTION_MEAN && r != LOSSFN_REDUCTION_SUM)
    throw lossfn::Error(lossfn::ErrorKind::value, "reduction: must be LOSSFN_REDUCTION_NONE, _MEAN or _SUM");
  return lossfn::Reduction(int(r));
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
  const int i = find(loss);
  return i < 0 ? -1 : lossfn::loss_info(lossfn::Loss(i)).num_params;
}
const char* lossfn_param_name(const char* loss, int k) {
  const int i = find(loss);
  if (i < 0) return nullptr;
  const lossfn::LossInfo& info = lossfn::loss_info(lossfn::Loss(i));
  return k >= 0 && k < info.num_params ? info.param_names[k] : nullptr;
}
double lossfn_param_default(const char* loss, int k) {
  const int i = find(loss);
  if (i < 0) return 0.0;
  const lossfn::LossInfo& info = lossfn::loss_info(lossfn::Loss(i));
  return k >= 0 && k < info.num_params ? info.param_defaults[k] : 0.0;
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

}  // extern "C"
