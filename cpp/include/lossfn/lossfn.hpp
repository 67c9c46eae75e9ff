// lossfn: loss functions with their gradients and Hessian diagonals as vectorized C++ kernels.
// Umbrella header of the C++ API (C++17): the core (Loss, RowLoss, their infos, run, threads,
// ISA), one typed struct per elementwise loss with value / value_and_grad / grad / hess
// templates (losses.hpp), and one per row loss or softmax utility with value / value_and_grad /
// grad and apply / vjp over RowInputs (row_losses.hpp), CTC (sequence.hpp), the overlap losses
// (segmentation.hpp), the image losses (image.hpp) and the metric-learning losses on given pairs
// (metric.hpp). See docs/cpp.md.
#pragma once

#include "lossfn/core.hpp"
#include "lossfn/image.hpp"
#include "lossfn/losses.hpp"
#include "lossfn/metric.hpp"
#include "lossfn/row_losses.hpp"
#include "lossfn/segmentation.hpp"
#include "lossfn/sequence.hpp"
