// The GEMM engine (la/gemm.hpp): Eigen's products over lossfn's matrix views. CMake compiles
// this file once per ISA with -DEigen=lossfn_eigen_<isa> (every Eigen token, qualified or not,
// renamed: Eigen's internal templates and inline functions would otherwise be weak symbols of
// one name compiled for several ISAs, of which the linker keeps one), EIGEN_DONT_PARALLELIZE and
// fixed cache sizes; tools/check_isolation.py proves that no symbol is defined for two ISAs and
// that no Eigen:: symbol is left un-renamed.
#include "la/gemm.hpp"

#include "dispatch/kernel_abi.hpp"

#include <Eigen/Core>

namespace lossfn {
namespace LOSSFN_ISA {
namespace la {
namespace {

// Cache sizes of the blocking: a 32 KiB L1 and 512 KiB L2 per core and 4 MiB of L3 (the EPYC and
// Xeon cores lossfn runs on have at least these), fixed so that the depth of each partial product
// never depends on what the CPU reports.
constexpr std::ptrdiff_t kL1Bytes = 32 * 1024, kL2Bytes = 512 * 1024, kL3Bytes = 4 * 1024 * 1024;

template <class T, int Order>
using Mapped = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>, 0, Eigen::OuterStride<>>;
template <class T>
using Output = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;

// Calls f with the view mapped as an Eigen matrix of its storage order.
template <class T, class F>
void with_mapped(const MatrixView<T>& a, F&& f) {
  const auto rows = Eigen::Index(a.rows), cols = Eigen::Index(a.cols);
  if (a.layout == Layout::row_major)
    f(Mapped<T, Eigen::RowMajor>(a.data, rows, cols, Eigen::OuterStride<>(a.ld)));
  else
    f(Mapped<T, Eigen::ColMajor>(a.data, rows, cols, Eigen::OuterStride<>(a.ld)));
}

}  // namespace

template <class T>
void gemm(T alpha, const MatrixView<T>& a, const MatrixView<T>& b, bool accumulate, T* c, std::ptrdiff_t ldc) {
  Output<T> out(c, Eigen::Index(a.rows), Eigen::Index(b.cols), Eigen::OuterStride<>(ldc));
  if (a.rows == 0 || b.cols == 0) return;
  if (a.cols == 0) {
    if (!accumulate) out.setZero();
    return;
  }
  with_mapped(a, [&](const auto& ma) {
    with_mapped(b, [&](const auto& mb) {
      if (accumulate)
        out.noalias() += alpha * ma * mb;
      else
        out.noalias() = alpha * ma * mb;
    });
  });
}

template <class T>
void gram(T alpha, const MatrixView<T>& a, T* c, std::ptrdiff_t ldc) {
  Output<T> out(c, Eigen::Index(a.rows), Eigen::Index(a.rows), Eigen::OuterStride<>(ldc));
  out.setZero();
  if (a.rows == 0 || a.cols == 0) return;
  with_mapped(a, [&](const auto& ma) { out.template selfadjointView<Eigen::Lower>().rankUpdate(ma, alpha); });
  for (Eigen::Index i = 0; i < out.rows(); ++i)
    for (Eigen::Index j = i + 1; j < out.cols(); ++j) out(i, j) = out(j, i);
}

void use_fixed_cache_sizes() { Eigen::setCpuCacheSizes(kL1Bytes, kL2Bytes, kL3Bytes); }

template void gemm<float>(float, const MatrixView<float>&, const MatrixView<float>&, bool, float*, std::ptrdiff_t);
template void gemm<double>(double, const MatrixView<double>&, const MatrixView<double>&, bool, double*,
                           std::ptrdiff_t);
template void gram<float>(float, const MatrixView<float>&, float*, std::ptrdiff_t);
template void gram<double>(double, const MatrixView<double>&, double*, std::ptrdiff_t);

}  // namespace la

// The table holds no product (the kernels call la:: directly); filling it fixes the cache sizes
// before any kernel runs.
void fill_la(detail::KernelTable&) { la::use_fixed_cache_sizes(); }

}  // namespace LOSSFN_ISA
}  // namespace lossfn
