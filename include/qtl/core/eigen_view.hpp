// qtl::as_eigen: a matrix_view seen by Eigen as a row-major map, without a copy, for the
// areas that hand products and factorizations to Eigen (ptq/, vq/).
#pragma once

// g++ 12 reports a false -Wmaybe-uninitialized from its own avx512fintrin.h (the
// self-initialised _mm512_undefined_ps, GCC bug 105593) wherever Eigen's AVX-512 GEMM is
// inlined: silenced for Eigen's headers only, and only on that compiler.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#else
#include <Eigen/Core>
#endif
#include <type_traits>

#include "qtl/core/view.hpp"

namespace qtl {

template <class T>
using eigen_rows = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class T>
auto as_eigen(matrix_view<T> m) {
  using M = std::conditional_t<std::is_const_v<T>, const eigen_rows<std::remove_const_t<T>>, eigen_rows<T>>;
  return Eigen::Map<M, Eigen::Unaligned, Eigen::OuterStride<>>(
      m.data(), static_cast<Eigen::Index>(m.rows()), static_cast<Eigen::Index>(m.cols()),
      Eigen::OuterStride<>(static_cast<Eigen::Index>(m.rows() > 1 ? m.row_stride() : m.cols())));
}

}  // namespace qtl
