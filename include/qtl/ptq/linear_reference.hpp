// y = x·Wᵀ in fp32 through Eigen: the reference every quantized PTQ mode is measured by.
// It includes Eigen (as does ptq/bert.hpp through it), so both stay out of the umbrella qtl/qtl.hpp.
#pragma once

#include "qtl/core/eigen_view.hpp"
#include "qtl/core/view.hpp"
#include "qtl/ptq/matmul.hpp"

namespace qtl::ptq {

// y = x·wᵀ in fp32: the reference every quantized mode is compared with.
inline void linear_reference(matrix_view<const float> x, matrix_view<const float> w, matrix_view<float> y) {
  check_linear_shapes(x.rows(), x.cols(), w.rows(), w.cols(), y.rows(), y.cols(), "linear_reference");
  if (y.empty()) return;
  as_eigen(y).noalias() = as_eigen(x) * as_eigen(w).transpose();
}

}  // namespace qtl::ptq
