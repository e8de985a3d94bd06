// qtl::dpcm::fit_predictor: the linear predictor a dpcm::coder (dpcm.hpp) should use for a
// signal, by least squares over the signal itself. Apart from dpcm.hpp because it needs Eigen.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"

namespace qtl::dpcm {

// The order-`order` predictor that minimises sum over n >= order of
// (x[n] - sum_k a[k] x[n-1-k])^2 (the covariance method): the normal equations, solved
// by LDLT. Errors: order outside 1..32, non-finite samples, a signal too short or too
// regular to determine the coefficients (a singular system).
inline std::vector<double> fit_predictor(std::span<const float> x, std::size_t order) {
  if (order < 1 || order > 32)
    throw error(errc::invalid_argument, "dpcm::fit_predictor: order " + std::to_string(order) + ", need 1..32");
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]))
      throw error(errc::non_finite, "dpcm::fit_predictor: sample " + std::to_string(i) + " is not finite");
  if (x.size() <= 2 * order)
    throw error(errc::invalid_argument, "dpcm::fit_predictor: " + std::to_string(x.size()) +
                                            " samples are too few for order " + std::to_string(order));
  const auto p = static_cast<Eigen::Index>(order);
  Eigen::MatrixXd normal = Eigen::MatrixXd::Zero(p, p);
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(p);
  Eigen::VectorXd past(p);
  for (std::size_t n = order; n < x.size(); ++n) {
    for (Eigen::Index k = 0; k < p; ++k) past[k] = x[n - 1 - static_cast<std::size_t>(k)];
    normal.selfadjointView<Eigen::Lower>().rankUpdate(past);
    rhs += double{x[n]} * past;
  }
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(normal.selfadjointView<Eigen::Lower>());
  const Eigen::VectorXd d = ldlt.vectorD();
  if (ldlt.info() != Eigen::Success || !(d.minCoeff() > 1e-12 * std::max(d.maxCoeff(), 0.0)))
    throw error(errc::invalid_argument, "dpcm::fit_predictor: the signal does not determine an order-" +
                                            std::to_string(order) + " predictor (its normal equations are singular)");
  const Eigen::VectorXd a = ldlt.solve(rhs);
  return {a.data(), a.data() + a.size()};
}

}  // namespace qtl::dpcm
