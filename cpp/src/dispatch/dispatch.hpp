// Baseline-only internal interface of the dispatcher.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "dispatch/kernel_abi.hpp"

namespace lossfn {
namespace detail {
// The kernels of the level chosen at run time (LOSSFN_ISA, set_isa or the best supported).
const KernelTable& active_table();

// The kernel table's entry for the compute type T: for_type<T>(table.sum_f32, table.sum_f64).
template <class T, class F32, class F64>
auto for_type(F32 f32, F64 f64) {
  if constexpr (std::is_same<T, float>::value) return f32;
  else return f64;
}

[[noreturn]] inline void fail(const std::string& msg) { throw Error(ErrorKind::value, msg); }

// Whether `n` elements of P starting at p could exist: their bytes fit in PTRDIFF_MAX and do
// not run past the top of the address space. (A count that passes may still be larger than
// the caller's buffer; that a C caller must get right.)
template <class P>
bool span_fits(const P* p, std::size_t n) {
  if (n > std::size_t(PTRDIFF_MAX) / sizeof(P)) return false;
  const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(p);
  return start + n * sizeof(P) >= start;
}

// A buffer of n elements that must be there: not null, and a size that memory can hold.
template <class P>
void require(const P* p, std::size_t n, const char* name) {
  if (p == nullptr && n > 0)
    fail(std::string(name) + ": required, got a null pointer for " + std::to_string(n) + " elements");
  if (p != nullptr && !span_fits(p, n))
    fail(std::string(name) + ": " + std::to_string(n) + " elements cannot be in memory (the size is too large)");
}

// An optional buffer of n elements: null, or a size that memory can hold.
template <class P>
void check_optional(const P* p, std::size_t n, const char* name) {
  if (p != nullptr) require(p, n, name);
}

// An array of `ndim` axes read through element strides (CTC's scores, images): checks that the
// box it spans can be in memory and that `data` is there when it is not empty.
inline bool box_span(int ndim, const std::size_t* extent, const std::ptrdiff_t* stride, std::ptrdiff_t& low,
                     std::ptrdiff_t& high) {
  low = high = 0;
  for (int k = 0; k < ndim; ++k) {
    if (extent[k] == 0) return true;
    const std::size_t last = extent[k] - 1;
    const std::ptrdiff_t s = stride[k];
    const std::size_t mag = std::size_t(s < 0 ? -s : s);
    if (mag != 0 && last > std::size_t(PTRDIFF_MAX / 4) / mag) return false;
    const std::ptrdiff_t step = std::ptrdiff_t(last) * s;
    (step < 0 ? low : high) += step;
    if (high > PTRDIFF_MAX / 4 || low < -(PTRDIFF_MAX / 4)) return false;
  }
  return true;
}

template <class T>
void check_box(const T* data, int ndim, const std::size_t* extent, const std::ptrdiff_t* stride, const char* name) {
  std::ptrdiff_t low, high;
  if (!box_span(ndim, extent, stride, low, high))
    fail(std::string(name) + ": the strides address more memory than exists");
  for (int k = 0; k < ndim; ++k)
    if (extent[k] == 0) return;
  if (data == nullptr) fail(std::string(name) + ": required, got a null pointer");
  if (low < 0 && std::size_t(-low) > reinterpret_cast<std::uintptr_t>(data) / sizeof(T))
    fail(std::string(name) + ": the strides reach below the start of memory");
  require(data + low, std::size_t(high - low) + 1, name);
}

// The outputs of a call with a reduction (CTC, the overlap losses): a reduced value for mean and
// sum, per-term losses for none, a gradient, an upstream gradient array (none, gradient only).
// Fails on a combination that does not fit; says which outputs are requested.
struct Requested {
  bool value, grad;
};
inline Requested check_outputs(Reduction reduction, const void* value, const void* loss, const void* grad,
                               const void* grad_output_array) {
  if (reduction != Reduction::none && reduction != Reduction::mean && reduction != Reduction::sum)
    fail("reduction: must be none, mean or sum");
  const bool reduced = reduction != Reduction::none;
  if (reduced && loss) fail("loss: per-sample losses are written only for reduction none");
  if (!reduced && value) fail("value: a reduced value is written only for reduction mean or sum");
  const Requested r{reduced ? value != nullptr : loss != nullptr, grad != nullptr};
  if (!r.value && !r.grad) fail(std::string("no output requested: pass ") + (reduced ? "value" : "loss") + " or grad");
  if (grad_output_array && reduced) fail("grad_output: an array upstream gradient needs reduction none");
  if (grad_output_array && !r.grad) fail("grad_output: an upstream gradient needs a gradient output");
  if (grad_output_array && r.value) fail("grad_output: an array needs a gradient-only call");
  return r;
}
}  // namespace detail
}  // namespace lossfn
