// The GEMMs a margin loss cannot avoid, timed with lossfn's GEMM engine (Eigen 3.4 with the same
// fixed cache sizes, its threading off, compiled -O3 -march=native): the benchmarks' yardstick for
// the pairwise shape (not part of lossfn). Built by bench/_common.py and loaded with ctypes.
//
// three_gemms_f32(N, D, C, threads, reps): the median seconds of, for embeddings E (N x D), class
// weights W (C x D) and coefficients G (N x C), the products S = E W^T, dE = G W and dW = G^T E, the
// classes split in equal chunks over `threads` OpenMP threads (each thread's dE chunk added after,
// N x D per thread: negligible at the benchmarked shapes). 2 N D C flops each.
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <vector>

namespace {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

extern "C" double three_gemms_f32(long N, long D, long C, int threads, int reps) {
  Eigen::setCpuCacheSizes(32 * 1024, 512 * 1024, 4 * 1024 * 1024);  // lossfn's la::use_fixed_cache_sizes
  Matrix E = Matrix::Random(N, D), W = Matrix::Random(C, D), G = Matrix::Random(N, C), S(N, C), dW(C, D);
  std::vector<Matrix> dE(std::size_t(threads), Matrix::Zero(N, D));
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      const long chunk = (C + threads - 1) / threads, c0 = std::min(C, t * chunk), nc = std::min(C, c0 + chunk) - c0;
      if (nc > 0) {
        S.middleCols(c0, nc).noalias() = E * W.middleRows(c0, nc).transpose();
        dE[std::size_t(t)].noalias() = G.middleCols(c0, nc) * W.middleRows(c0, nc);
        dW.middleRows(c0, nc).noalias() = G.middleCols(c0, nc).transpose() * E;
      }
    }
    for (int t = 1; t < threads; ++t) dE[0] += dE[std::size_t(t)];
    times.push_back(omp_get_wtime() - t0);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}
