// Synthetic data for the PTQ tests: LLM-style activations (normal features plus a few
// systematic outlier columns, as LLM.int8 measured in OPT) and small normal weights.
#pragma once

#include <cmath>
#include <cstddef>
#include <qtl/core/view.hpp>
#include <random>
#include <vector>

namespace ptq_test {

struct matrix {
  std::size_t rows = 0, cols = 0;
  std::vector<float> data;

  [[nodiscard]] qtl::matrix_view<const float> view() const { return {data.data(), rows, cols}; }
  [[nodiscard]] qtl::matrix_view<float> view() { return {data.data(), rows, cols}; }
  float& operator()(std::size_t r, std::size_t c) { return data[r * cols + c]; }
  float operator()(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
};

inline matrix normal(std::size_t rows, std::size_t cols, float sigma, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  matrix m{rows, cols, std::vector<float>(rows * cols)};
  for (auto& v : m.data) v = dist(rng);
  return m;
}

// Every row of the listed columns scaled by 20..60 (one factor per column).
inline matrix with_outlier_columns(matrix x, const std::vector<std::size_t>& columns, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> factor(20.0f, 60.0f);
  for (std::size_t c : columns) {
    const float f = factor(rng);
    for (std::size_t r = 0; r < x.rows; ++r) x(r, c) *= f;
  }
  return x;
}

// Row r scaled by 10^u, u uniform in [-2, 1]: tokens of very different magnitude.
inline matrix with_row_scales(matrix x, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> exponent(-2.0f, 1.0f);
  for (std::size_t r = 0; r < x.rows; ++r) {
    const float f = std::pow(10.0f, exponent(rng));
    for (std::size_t c = 0; c < x.cols; ++c) x(r, c) *= f;
  }
  return x;
}

inline const std::vector<std::size_t> planted_columns{3, 100, 517, 900};

// x [16, 1024] with planted_columns as outliers, w [256, 1024] normal(0, 0.02).
inline matrix outlier_activations() { return with_outlier_columns(normal(16, 1024, 1.0f, 11), planted_columns, 12); }
inline matrix small_weights() { return normal(256, 1024, 0.02f, 13); }

// Row-major x·wᵀ in double, the exact reference the bounds are stated against.
inline std::vector<double> exact_linear(const matrix& x, const matrix& w) {
  std::vector<double> y(x.rows * w.rows, 0.0);
  for (std::size_t m = 0; m < x.rows; ++m)
    for (std::size_t n = 0; n < w.rows; ++n) {
      double s = 0.0;
      for (std::size_t k = 0; k < x.cols; ++k) s += static_cast<double>(x(m, k)) * w(n, k);
      y[m * w.rows + n] = s;
    }
  return y;
}

}  // namespace ptq_test
