// The GEMM engine of the pairwise shape (SPEC §3): Eigen's blocked matrix products, compiled once
// per ISA in la/gemm.cpp, the one translation unit that includes Eigen (its namespace renamed
// lossfn_eigen_<isa> there, so no symbol is shared between ISAs). Declarations only: this header
// is included by the per-ISA kernels, inside their own namespace.
//
// Every product runs on the calling thread (Eigen's threading is off); lossfn's OpenMP spreads
// fixed tiles over threads. Eigen's blocking (the depth of each partial sum, hence the order of
// every output element's additions) comes from the shape and the fixed cache sizes that
// use_fixed_cache_sizes() installs, never from the machine or the thread count.
#pragma once

#include <cstddef>

namespace lossfn {
namespace LOSSFN_ISA {
namespace la {

enum class Layout { row_major, col_major };

// A rows x cols matrix read in place: element (i, j) at data[i * ld + j] (row_major) or
// data[i + j * ld] (col_major).
template <class T>
struct MatrixView {
  const T* data;
  std::size_t rows, cols;
  std::ptrdiff_t ld;
  Layout layout;
};

// The transpose, the same memory read the other way.
template <class T>
inline MatrixView<T> transposed(const MatrixView<T>& a) {
  return {a.data, a.cols, a.rows, a.ld,
          a.layout == Layout::row_major ? Layout::col_major : Layout::row_major};
}

// c (a.rows x b.cols, row-major, leading dimension ldc) = alpha a b, or with accumulate
// c + alpha a b. a.cols == b.rows.
template <class T>
void gemm(T alpha, const MatrixView<T>& a, const MatrixView<T>& b, bool accumulate, T* c, std::ptrdiff_t ldc);

// c (a.rows x a.rows, row-major, ldc) = alpha a a^T, both triangles written (a symmetric
// rank-k update: half a product's multiplications).
template <class T>
void gram(T alpha, const MatrixView<T>& a, T* c, std::ptrdiff_t ldc);

// Installs the fixed cache sizes of the blocking (before any product; the kernel table's fill).
void use_fixed_cache_sizes();

}  // namespace la
}  // namespace LOSSFN_ISA
}  // namespace lossfn
