// y = x·Wᵀ in fp32 through Eigen: the reference every quantized PTQ mode is measured by.
// It includes Eigen (as does ptq/bert.hpp through it), so both stay out of the umbrella qtl/qtl.hpp.
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
#include "qtl/ptq/matmul.hpp"

namespace qtl::ptq {

namespace detail {

template <class T>
using eigen_rows = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A matrix_view seen by Eigen, without a copy.
template <class T>
auto as_eigen(matrix_view<T> m) {
  using M = std::conditional_t<std::is_const_v<T>, const eigen_rows<std::remove_const_t<T>>, eigen_rows<T>>;
  return Eigen::Map<M, Eigen::Unaligned, Eigen::OuterStride<>>(
      m.data(), static_cast<Eigen::Index>(m.rows()), static_cast<Eigen::Index>(m.cols()),
      Eigen::OuterStride<>(static_cast<Eigen::Index>(m.rows() > 1 ? m.row_stride() : m.cols())));
}

}  // namespace detail

// y = x·wᵀ in fp32: the reference every quantized mode is compared with.
inline void linear_reference(matrix_view<const float> x, matrix_view<const float> w, matrix_view<float> y) {
  check_linear_shapes(x.rows(), x.cols(), w.rows(), w.cols(), y.rows(), y.cols(), "linear_reference");
  if (y.empty()) return;
  detail::as_eigen(y).noalias() = detail::as_eigen(x) * detail::as_eigen(w).transpose();
}

}  // namespace qtl::ptq
