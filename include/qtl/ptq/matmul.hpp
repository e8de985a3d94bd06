// The int8 product of the PTQ layers: int8 x int8 codes with int32 accumulation,
// rescaled per row and column, and the shape check every linear product shares. The fp32
// reference product is in ptq/linear_reference.hpp (Eigen).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"

namespace qtl::ptq {

// x [tokens, in], w [out, in], y [tokens, out], or a shape_mismatch error naming them.
inline void check_linear_shapes(std::size_t x_rows, std::size_t x_cols, std::size_t w_rows, std::size_t w_cols,
                                std::size_t y_rows, std::size_t y_cols, const char* what) {
  if (x_cols != w_cols || y_rows != x_rows || y_cols != w_rows)
    throw error(errc::shape_mismatch, std::string(what) + ": x " + std::to_string(x_rows) + "x" +
                                          std::to_string(x_cols) + ", w " + std::to_string(w_rows) + "x" +
                                          std::to_string(w_cols) + ", y " + std::to_string(y_rows) + "x" +
                                          std::to_string(y_cols) + " (need x [m, k], w [n, k], y [m, n])");
}

// Longest reduction whose int32 sum cannot overflow: 2^31 / (128 * 128).
inline constexpr std::size_t max_int8_reduction = std::size_t{1} << 17;

// acc = a·bᵀ over int8 codes, summed exactly in int32: a [m, k], b [n, k], acc [m, n].
inline void matmul_s8(matrix_view<const std::int8_t> a, matrix_view<const std::int8_t> b,
                      matrix_view<std::int32_t> acc) {
  check_linear_shapes(a.rows(), a.cols(), b.rows(), b.cols(), acc.rows(), acc.cols(), "matmul_s8");
  if (a.cols() > max_int8_reduction)
    throw error(errc::invalid_argument, "matmul_s8: reduction length " + std::to_string(a.cols()) +
                                            " could overflow int32 (at most " + std::to_string(max_int8_reduction) +
                                            ")");
  // Codes widened to int16 first: compilers turn an int16 dot into pmaddwd / vpdpwssd,
  // an int8 one into far slower widening multiplies. x once, each weight row once.
  const std::size_t k = a.cols();
  std::vector<std::int16_t> x(a.rows() * k), w(k);
  for (std::size_t m = 0; m < a.rows(); ++m)
    for (std::size_t i = 0; i < k; ++i) x[m * k + i] = a(m, i);
  const auto dot = [k](const std::int16_t* p, const std::int16_t* q) {
    std::int32_t sum = 0;
    for (std::size_t i = 0; i < k; ++i) sum += p[i] * q[i];
    return sum;
  };
  for (std::size_t n = 0; n < b.rows(); ++n) {  // one weight row stays in L1 for every token
    for (std::size_t i = 0; i < k; ++i) w[i] = b(n, i);
    const std::int16_t* wn = w.data();
    std::size_t m = 0;
    for (; m + 4 <= a.rows(); m += 4) {  // four tokens per pass over the weight row
      const std::int16_t *x0 = &x[m * k], *x1 = x0 + k, *x2 = x1 + k, *x3 = x2 + k;
      std::int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (std::size_t i = 0; i < k; ++i) {
        s0 += x0[i] * wn[i];
        s1 += x1[i] * wn[i];
        s2 += x2[i] * wn[i];
        s3 += x3[i] * wn[i];
      }
      acc(m, n) = s0;
      acc(m + 1, n) = s1;
      acc(m + 2, n) = s2;
      acc(m + 3, n) = s3;
    }
    for (; m < a.rows(); ++m) acc(m, n) = dot(&x[m * k], wn);
  }
}

// y(m, n) = acc(m, n) * (row_scale[m] * col_scale[n]) * factor: the int32 product back in
// real units (bitsandbytes' int8_mm_dequant order, with factor 1 / 127² for absmax stats).
inline void rescale_accumulators(matrix_view<const std::int32_t> acc, std::span<const float> row_scale,
                                 std::span<const float> col_scale, float factor, matrix_view<float> y) {
  require_same_shape(acc, y, "rescale_accumulators: accumulators vs output");
  if (row_scale.size() != acc.rows() || col_scale.size() != acc.cols())
    throw error(errc::shape_mismatch, "rescale_accumulators: " + std::to_string(row_scale.size()) + " row and " +
                                          std::to_string(col_scale.size()) + " column scales for a " +
                                          std::to_string(acc.rows()) + "x" + std::to_string(acc.cols()) + " product");
  for (std::size_t m = 0; m < acc.rows(); ++m)
    for (std::size_t n = 0; n < acc.cols(); ++n)
      y(m, n) = static_cast<float>(acc(m, n)) * (row_scale[m] * col_scale[n]) * factor;
}

}  // namespace qtl::ptq
