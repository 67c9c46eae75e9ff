// Non-temporal (streaming) stores for outputs larger than the caches. An ordinary store first
// reads the output's cache line from memory (write-allocate), so writing an array costs a
// read and a write of it; a streaming store writes the line without reading it. The kernels
// compute a chunk into a small buffer that stays in L1 (their loops stay compiler-vectorized)
// and stream_copy moves it out. Per-ISA code: the intrinsics are inline and the functions live
// in lossfn::<isa> like everything else in the kernel files. Included by per-ISA kernel files.
#pragma once

#ifndef LOSSFN_ISA
#error "stream_store.hpp is included by per-ISA kernel files only"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/simd_math.hpp"

namespace lossfn {
namespace LOSSFN_ISA {

// Outputs of at least this many bytes are streamed: they cannot stay in the caches anyway.
constexpr std::size_t kStreamOutputBytes = std::size_t(32) << 20;

#if defined(__AVX512F__)
constexpr std::size_t kStreamAlign = 64;
LOSSFN_INLINE void stream_vector(float* p, const float* s) { _mm512_stream_ps(p, _mm512_loadu_ps(s)); }
LOSSFN_INLINE void stream_vector(double* p, const double* s) { _mm512_stream_pd(p, _mm512_loadu_pd(s)); }
#elif defined(__AVX__)
constexpr std::size_t kStreamAlign = 32;
LOSSFN_INLINE void stream_vector(float* p, const float* s) { _mm256_stream_ps(p, _mm256_loadu_ps(s)); }
LOSSFN_INLINE void stream_vector(double* p, const double* s) { _mm256_stream_pd(p, _mm256_loadu_pd(s)); }
#else
constexpr std::size_t kStreamAlign = 16;  // SSE2, part of baseline x86-64
LOSSFN_INLINE void stream_vector(float* p, const float* s) { _mm_stream_ps(p, _mm_loadu_ps(s)); }
LOSSFN_INLINE void stream_vector(double* p, const double* s) { _mm_stream_pd(p, _mm_loadu_pd(s)); }
#endif

// dst[0, n) = src[0, n): ordinary stores up to dst's first vector-aligned address and after
// the last whole vector, streaming stores between. The same values as a plain copy.
template <class T>
LOSSFN_INLINE void stream_copy(T* dst, const T* src, std::size_t n) {
  constexpr std::size_t width = kStreamAlign / sizeof(T);
  std::size_t i = 0;
  for (; i < n && (reinterpret_cast<std::uintptr_t>(dst + i) % kStreamAlign) != 0; ++i) dst[i] = src[i];
  for (; i + width <= n; i += width) stream_vector(dst + i, src + i);
  for (; i < n; ++i) dst[i] = src[i];
}

// Streaming stores are weakly ordered: fence before the data is read by another thread or
// after the call returns.
LOSSFN_INLINE void stream_fence() { _mm_sfence(); }

}  // namespace LOSSFN_ISA
}  // namespace lossfn
