// The loop driver of the band shape (image losses: a stencil or separable filter over rows, and
// its adjoint): work items are (plane, band of rows), spread over threads by the segment
// shape's item loop (a plane is a "sample" of `bands` items); rows go in and out through
// strides, as double rows padded to whole vectors. Included by per-ISA kernel files inside
// their own namespace.
#pragma once

#ifndef LOSSFN_ISA
#error "band_loop.hpp is included by per-ISA kernel files only"
#endif

#include <cstddef>
#include <cstring>

#include "dispatch/kernel_abi.hpp"
#include "kernels/segment_loop.hpp"

namespace lossfn {
namespace LOSSFN_ISA {

// item(plane, band, worker) for every band of every plane (planes x bands items in item order).
template <class Item>
void for_each_band(std::size_t planes, std::size_t bands, int threads, Item&& item) {
  for_each_item(planes, bands, 1, threads,
                [&](std::size_t, const PixelRange& r, int worker) { item(r.sample, r.first, worker); });
}

// Where a plane's rows are: pixel (i, j) of plane (n, c) at base + i * row_stride + j * step.
template <class P>
struct PlaneRows {
  P* base;
  std::ptrdiff_t row_stride, step;
  P* row(std::size_t i) const { return base + std::ptrdiff_t(i) * row_stride; }
};

template <class P>
PlaneRows<P> plane_rows(P* data, const std::ptrdiff_t* stride, std::size_t channels, std::size_t plane) {
  const std::size_t n = plane / channels, c = plane % channels;
  return {data + std::ptrdiff_t(n) * stride[0] + std::ptrdiff_t(c) * stride[1], stride[2], stride[3]};
}

// Row i of a plane as doubles into `out` (width values, then zeros up to `padded`).
template <class T>
void load_row(const PlaneRows<const T>& rows, std::size_t i, std::size_t width, std::size_t padded, double* out) {
  const T* src = rows.row(i);
  if (rows.step == 1) {
    for (std::size_t j = 0; j < width; ++j) out[j] = double(src[j]);
  } else {
    for (std::size_t j = 0; j < width; ++j) out[j] = double(src[std::ptrdiff_t(j) * rows.step]);
  }
  for (std::size_t j = width; j < padded; ++j) out[j] = 0.0;
}

// width values of `in` rounded to T into row i of a plane.
template <class T>
void store_row(const PlaneRows<T>& rows, std::size_t i, std::size_t width, const double* in) {
  T* dst = rows.row(i);
  if (rows.step == 1) {
    for (std::size_t j = 0; j < width; ++j) dst[j] = T(in[j]);
  } else {
    for (std::size_t j = 0; j < width; ++j) dst[std::ptrdiff_t(j) * rows.step] = T(in[j]);
  }
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
