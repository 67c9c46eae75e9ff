// Baseline-only internal interface of the dispatcher.
#pragma once

#include <string>

#include "kernel_abi.hpp"

namespace lossfn {
namespace detail {
// The kernels of the level chosen at run time (LOSSFN_ISA, set_isa or the best supported).
const KernelTable& active_table();

[[noreturn]] inline void fail(const std::string& msg) { throw Error(ErrorKind::value, msg); }

// A null pointer is an error only where it should hold elements.
template <class P>
void require(const P* p, std::size_t n, const char* name) {
  if (p == nullptr && n > 0) fail(std::string(name) + ": null pointer for " + std::to_string(n) + " elements");
}
}  // namespace detail
}  // namespace lossfn
