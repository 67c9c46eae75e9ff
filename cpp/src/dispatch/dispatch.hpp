// Baseline-only internal interface of the dispatcher.
#pragma once

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

// A null pointer is an error only where it should hold elements.
template <class P>
void require(const P* p, std::size_t n, const char* name) {
  if (p == nullptr && n > 0) fail(std::string(name) + ": null pointer for " + std::to_string(n) + " elements");
}
}  // namespace detail
}  // namespace lossfn
