// Non-temporal (streaming) stores for outputs larger than the caches. An ordinary store first
// reads the output's cache line from memory (write-allocate), so writing an array costs a
// read and a write of it; a streaming store writes the line without reading it. The kernels
// compute a chunk into a small buffer that stays in L1 (their loops stay compiler-vectorized)
// and StreamedOutput moves it out. Per-ISA code: the intrinsics are inline and the functions live
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

// One output written chunk after chunk with streaming stores, whatever its alignment: each
// chunk is computed into slot() (an L1 buffer behind the elements not yet written), then
// put() writes every whole aligned vector and keeps the rest (fewer than a vector) for the
// next chunk; ordinary stores only up to the first aligned address and for what finish()
// leaves. Every element is written once, with the value computed.
template <class T, std::size_t ChunkElements>
struct StreamedOutput {
  static constexpr std::size_t width = kStreamAlign / sizeof(T);
  alignas(64) T buf[ChunkElements + width];
  T* dst = nullptr;  // the first output element not yet written
  std::size_t carry = 0;

  LOSSFN_INLINE void begin(T* out) {
    dst = out;
    carry = 0;
  }
  LOSSFN_INLINE T* slot() { return buf + carry; }
  __attribute__((noinline)) void put(std::size_t computed) {
    const std::size_t have = carry + computed;
    std::size_t i = 0;
    for (; i < have && (reinterpret_cast<std::uintptr_t>(dst) % kStreamAlign) != 0; ++i) *dst++ = buf[i];
    for (; i + width <= have; i += width, dst += width) stream_vector(dst, buf + i);
    carry = have - i;
    for (std::size_t k = 0; k < carry; ++k) buf[k] = buf[i + k];
  }
  __attribute__((noinline)) void finish() {
    for (std::size_t k = 0; k < carry; ++k) *dst++ = buf[k];
    carry = 0;
  }
};

// Streaming stores are weakly ordered: fence before the data is read by another thread or
// after the call returns.
LOSSFN_INLINE void stream_fence() { _mm_sfence(); }

}  // namespace LOSSFN_ISA
}  // namespace lossfn
