// Baseline-only internal interface of the dispatcher.
#pragma once

#include "kernel_abi.hpp"

namespace lossfn {
namespace detail {
// The kernels of the level chosen at run time (LOSSFN_ISA, set_isa or the best supported).
const KernelTable& active_table();
}  // namespace detail
}  // namespace lossfn
