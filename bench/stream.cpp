// STREAM-style bandwidth kernels for the benchmarks' memory-bound limit (not part of lossfn).
// Built by bench/_common.py with the system compiler (-O3 -march=native -fopenmp) and loaded
// with ctypes. copy: a[i] = b[i] (8 B per float32 element counted); triad: a[i] = b[i] + s c[i]
// (12 B). With mode bit 0 the stores are non-temporal: the output lines are written without
// being read first (otherwise each written line is also read, which STREAM does not count);
// with bit 1 the inputs are prefetched in software ahead of each chunk.
// Each function returns the median time in seconds of `reps` runs on `threads` threads, the
// elements split in equal static chunks.
#include <cstdio>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

template <class Body>
double median_time(int reps, Body body) {
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double t0 = omp_get_wtime();
    body();
    t.push_back(omp_get_wtime() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Stores v at a[i .. i + width) with a streaming store (a + i aligned to the vector width).
#if defined(__AVX512F__)
constexpr std::size_t kWidth = 16;
inline void stream_store(float* p, __m512 v) { _mm512_stream_ps(p, v); }
inline __m512 load(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 fma_(__m512 b, __m512 s, __m512 c) { return _mm512_fmadd_ps(s, c, b); }
inline __m512 splat(float s) { return _mm512_set1_ps(s); }
#elif defined(__AVX__)
constexpr std::size_t kWidth = 8;
inline void stream_store(float* p, __m256 v) { _mm256_stream_ps(p, v); }
inline __m256 load(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 fma_(__m256 b, __m256 s, __m256 c) { return _mm256_add_ps(b, _mm256_mul_ps(s, c)); }
inline __m256 splat(float s) { return _mm256_set1_ps(s); }
#else
constexpr std::size_t kWidth = 4;
inline void stream_store(float* p, __m128 v) { _mm_stream_ps(p, v); }
inline __m128 load(const float* p) { return _mm_loadu_ps(p); }
inline __m128 fma_(__m128 b, __m128 s, __m128 c) { return _mm_add_ps(b, _mm_mul_ps(s, c)); }
inline __m128 splat(float s) { return _mm_set1_ps(s); }
#endif

void chunk(std::size_t n, int threads, std::size_t& lo, std::size_t& hi) {
  const int t = omp_get_thread_num();
  const std::size_t per = (n + threads - 1) / threads;
  lo = std::min(n, per * t);
  hi = std::min(n, lo + per);
}

// With `prefetch`, the range goes in chunks of 512 bytes per stream, each input's lines
// 2048 bytes ahead requested before each chunk: the pattern lossfn's streamed kernels use,
// which on some machines moves more bytes per second than the hardware prefetchers alone.
constexpr std::size_t kChunk = 512 / sizeof(float), kAhead = 2048 / sizeof(float);

void triad_span(float* a, const float* b, const float* c, float s, std::size_t lo, std::size_t hi, bool nt) {
  if (!nt) {
#pragma omp simd
    for (std::size_t i = lo; i < hi; ++i) a[i] = b[i] + s * c[i];
    return;
  }
  std::size_t i = lo;
  for (; i < hi && (reinterpret_cast<std::uintptr_t>(a + i) % (kWidth * 4)) != 0; ++i) a[i] = b[i] + s * c[i];
  const auto vs = splat(s);
  for (; i + kWidth <= hi; i += kWidth) stream_store(a + i, fma_(load(b + i), vs, load(c + i)));
  for (; i < hi; ++i) a[i] = b[i] + s * c[i];
}

void copy_span(float* a, const float* b, std::size_t lo, std::size_t hi, bool nt) {
  if (!nt) {
#pragma omp simd
    for (std::size_t i = lo; i < hi; ++i) a[i] = b[i];
    return;
  }
  std::size_t i = lo;
  for (; i < hi && (reinterpret_cast<std::uintptr_t>(a + i) % (kWidth * 4)) != 0; ++i) a[i] = b[i];
  for (; i + kWidth <= hi; i += kWidth) stream_store(a + i, load(b + i));
  for (; i < hi; ++i) a[i] = b[i];
}

void prefetch_ahead(const float* x, std::size_t i, std::size_t hi) {
  if (i + kAhead + kChunk > hi) return;
  for (std::size_t k = 0; k < kChunk; k += 64 / sizeof(float)) __builtin_prefetch(x + i + kAhead + k, 0, 3);
}

void triad_range(float* a, const float* b, const float* c, float s, std::size_t lo, std::size_t hi, bool nt,
                 bool prefetch) {
  if (!prefetch) return triad_span(a, b, c, s, lo, hi, nt);
  for (std::size_t i = lo; i < hi; i += kChunk) {
    prefetch_ahead(b, i, hi);
    prefetch_ahead(c, i, hi);
    triad_span(a, b, c, s, i, std::min(hi, i + kChunk), nt);
  }
}

void copy_range(float* a, const float* b, std::size_t lo, std::size_t hi, bool nt, bool prefetch) {
  if (!prefetch) return copy_span(a, b, lo, hi, nt);
  for (std::size_t i = lo; i < hi; i += kChunk) {
    prefetch_ahead(b, i, hi);
    copy_span(a, b, i, std::min(hi, i + kChunk), nt);
  }
}

}  // namespace

extern "C" {

// mode: bit 0 non-temporal stores, bit 1 software prefetch.
double stream_copy(float* a, const float* b, std::size_t n, int mode, int threads, int reps) {
  return median_time(reps, [&] {
#pragma omp parallel num_threads(threads)
    {
      std::size_t lo, hi;
      chunk(n, threads, lo, hi);
      copy_range(a, b, lo, hi, mode & 1, mode & 2);
    }
    _mm_sfence();
  });
}

double stream_triad(float* a, const float* b, const float* c, std::size_t n, int mode, int threads, int reps) {
  return median_time(reps, [&] {
#pragma omp parallel num_threads(threads)
    {
      std::size_t lo, hi;
      chunk(n, threads, lo, hi);
      triad_range(a, b, c, 3.0f, lo, hi, mode & 1, mode & 2);
    }
    _mm_sfence();
  });
}

// Double-precision FMA peak: seconds of `iters` rounds of kFmaChains independent fused
// multiply-adds on vectors of the machine's register width (a wider generic vector carried
// from one iteration to the next is kept in memory by GCC), enough chains to cover the FMA
// latency on every pipe, on `threads` threads; flops = fma_flops_per_round() * iters * threads.
#if defined(__AVX512F__)
constexpr int kFmaLanes = 8, kFmaChains = 16;
#else
constexpr int kFmaLanes = 4, kFmaChains = 12;
#endif
double fma_flops_per_round() { return 2.0 * kFmaChains * kFmaLanes; }

double fma_peak_f64(long iters, int threads, int reps) {
  typedef double vec __attribute__((vector_size(kFmaLanes * sizeof(double))));
  return median_time(reps, [&] {
#pragma omp parallel num_threads(threads)
    {
      vec acc[kFmaChains];
      for (int k = 0; k < kFmaChains; ++k) acc[k] = vec{} + 0.001 * k;
      const vec m = vec{} + 0.999999, a = vec{} + 1e-7;
      for (long i = 0; i < iters; ++i)
        for (int k = 0; k < kFmaChains; ++k) acc[k] = acc[k] * m + a;
      double sink = 0;
      for (int k = 0; k < kFmaChains; ++k) sink += acc[k][0];
      if (sink == 12345.678) std::printf("%f", sink);  // keeps the chains alive
    }
  });
}

}  // extern "C"
