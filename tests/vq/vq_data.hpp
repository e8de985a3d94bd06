// Data and a measure that several vq tests share.
#pragma once

#include <random>

#include "qtl/vq/kmeans.hpp"

namespace qtl::test {

// n independent normal rows of d values; column j's standard deviation is 1 / (1 + j % 3).
inline vq::matrix gaussian(Eigen::Index n, Eigen::Index d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  vq::matrix x(n, d);
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    for (Eigen::Index j = 0; j < d; ++j) x(i, j) = normal(rng) / static_cast<float>(1 + j % 3);
  return x;
}

// The mean over rows of |x_i - y_i|^2.
inline double mse(const vq::matrix& x, const vq::matrix& y) { return (x - y).rowwise().squaredNorm().mean(); }

}  // namespace qtl::test
