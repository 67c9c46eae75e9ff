// Copies the elements [lo, lo + count) of a strided input, in the call's C order, into a
// contiguous scratch slot: one pass over the view's innermost runs (a copy for unit stride, a
// fill for a broadcast axis, a strided walk otherwise). Included by per-ISA kernel files only.
#ifndef LOSSFN_ISA
#error "gather.hpp is included by per-ISA kernel files only"
#endif
#ifndef LOSSFN_KERNELS_GATHER_HPP
#define LOSSFN_KERNELS_GATHER_HPP

#include "dispatch/kernel_abi.hpp"
#include "kernels/simd_math.hpp"

namespace lossfn {
namespace LOSSFN_ISA {

template <class T>
LOSSFN_INLINE void copy_run(const T* __restrict src, std::ptrdiff_t stride, std::size_t count,
                            T* __restrict dst) {
  if (stride == 1) {
#pragma omp simd
    for (std::size_t k = 0; k < count; ++k) dst[k] = src[k];
  } else if (stride == 0) {
    const T v = *src;
#pragma omp simd
    for (std::size_t k = 0; k < count; ++k) dst[k] = v;
  } else {
    for (std::size_t k = 0; k < count; ++k) dst[k] = src[std::ptrdiff_t(k) * stride];
  }
}

// The view has at least one axis (a view that reduces to none is contiguous and never gathered).
template <class T>
__attribute__((noinline)) void gather_block(const detail::StridedView<T>& v, std::size_t lo,
                                            std::size_t count, T* __restrict dst) {
  const int last = v.ndim - 1;
  // The multi-index of element lo, and its offset.
  std::size_t index[kMaxDims];
  std::ptrdiff_t offset = 0;
  std::size_t rest = lo;
  for (int k = last; k >= 0; --k) {
    index[k] = rest % v.extent[k];
    rest /= v.extent[k];
    offset += std::ptrdiff_t(index[k]) * v.stride[k];
  }
  while (count > 0) {
    const std::size_t left_in_run = v.extent[last] - index[last];
    const std::size_t run = left_in_run < count ? left_in_run : count;
    copy_run(v.data + offset, v.stride[last], run, dst);
    dst += run;
    count -= run;
    if (count == 0) break;
    // Step to the start of the next run: carry through the outer axes.
    offset -= std::ptrdiff_t(index[last]) * v.stride[last];
    index[last] = 0;
    for (int k = last - 1; k >= 0; --k) {
      offset += v.stride[k];
      if (++index[k] < v.extent[k]) break;
      offset -= std::ptrdiff_t(index[k]) * v.stride[k];
      index[k] = 0;
    }
  }
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn

#endif  // LOSSFN_KERNELS_GATHER_HPP
