// lossfn: loss functions with their gradients and Hessian diagonals as vectorized C++ kernels.
// Umbrella header of the C++ API (C++17): the core (Loss, LossInfo, run, threads, ISA) and one
// typed struct per loss with value / value_and_grad / grad / hess templates. See docs/cpp.md.
#pragma once

#include "lossfn/core.hpp"
#include "lossfn/losses.hpp"
