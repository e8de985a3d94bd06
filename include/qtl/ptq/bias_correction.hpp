// qtl::ptq::bias_correction: quantizing W shifts the layer's mean output by (W - Ŵ)·E[x];
// adding that shift to the bias removes it (Nagel et al. 2019). E[x] is measured on
// calibration inputs (empirical) or, without data for this layer, computed from the
// statistics of the layer before it and its activation, with the pre-activations taken as
// Gaussian per feature (analytic; the paper reads them from batch norm, a transformer
// has none, so they come from the previous layer's input mean and covariance).
#pragma once

#include <cmath>
#include <cstddef>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/ptq/layer_error.hpp"
#include "qtl/ptq/layer_inputs.hpp"

namespace qtl::ptq {

// The bias of a layer with quantized (dequantized) weights whose mean output over inputs
// of mean input_mean equals the float layer's: bias + (w - quantized)·input_mean. An empty
// bias is zero.
inline std::vector<float> corrected_bias(matrix_view<const float> w, matrix_view<const float> quantized,
                                         std::span<const float> bias, const Eigen::VectorXd& input_mean) {
  if (w.rows() != quantized.rows() || w.cols() != quantized.cols())
    throw error(errc::shape_mismatch, "corrected_bias: weights and quantized weights differ in shape");
  if (static_cast<std::size_t>(input_mean.size()) != w.cols())
    throw error(errc::shape_mismatch, "corrected_bias: an input mean of " + std::to_string(input_mean.size()) +
                                          " features for a layer of " + std::to_string(w.cols()));
  if (!bias.empty() && bias.size() != w.rows())
    throw error(errc::shape_mismatch, "corrected_bias: a bias of " + std::to_string(bias.size()) + " for " +
                                          std::to_string(w.rows()) + " outputs");
  if (!input_mean.allFinite()) throw error(errc::non_finite, "corrected_bias: the input mean is not finite");
  const Eigen::VectorXd shift = (detail::finite_weights(w, "corrected_bias") - detail::finite_weights(quantized, "corrected_bias")) * input_mean;
  std::vector<float> out(w.rows());
  for (std::size_t r = 0; r < w.rows(); ++r)
    out[r] = static_cast<float>((bias.empty() ? 0.0 : static_cast<double>(bias[r])) + shift(static_cast<Eigen::Index>(r)));
  return out;
}

// Empirical: E[x] measured on the layer's calibration inputs.
inline std::vector<float> corrected_bias(matrix_view<const float> w, matrix_view<const float> quantized,
                                         std::span<const float> bias, const layer_inputs& inputs) {
  return corrected_bias(w, quantized, bias, inputs.mean());
}

enum class activation { relu, gelu };  // gelu: the exact x·Φ(x)

// E[act(z)] for z ~ N(mean, stddev²).
inline double expected_activation(double mean, double stddev, activation act) {
  const auto phi = [](double t) { return std::exp(-0.5 * t * t) / std::sqrt(2.0 * std::numbers::pi); };
  const auto Phi = [](double t) { return 0.5 * std::erfc(-t / std::numbers::sqrt2); };
  if (act == activation::relu)
    return stddev > 0.0 ? mean * Phi(mean / stddev) + stddev * phi(mean / stddev) : std::max(mean, 0.0);
  // E[zΦ(z)] = m·E[Φ(z)] + σ²·E[φ(z)] (Stein), both Gaussian integrals in closed form.
  const double spread = std::sqrt(1.0 + stddev * stddev), t = mean / spread;
  return mean * Phi(t) + stddev * stddev * phi(t) / spread;
}

// Analytic E[x] of a layer whose input is act(z), z = previous_w·y + previous_bias, from
// the mean and covariance of the previous layer's inputs y; z Gaussian per feature.
inline Eigen::VectorXd expected_input(matrix_view<const float> previous_w, std::span<const float> previous_bias,
                                      const layer_inputs& previous_inputs, activation act) {
  if (previous_w.cols() != previous_inputs.features())
    throw error(errc::shape_mismatch, "expected_input: a layer of " + std::to_string(previous_w.cols()) +
                                          " inputs with statistics of " + std::to_string(previous_inputs.features()));
  if (!previous_bias.empty() && previous_bias.size() != previous_w.rows())
    throw error(errc::shape_mismatch, "expected_input: a bias of " + std::to_string(previous_bias.size()) + " for " +
                                          std::to_string(previous_w.rows()) + " outputs");
  const Eigen::MatrixXd w = detail::finite_weights(previous_w, "expected_input");
  const Eigen::VectorXd mu = previous_inputs.mean();
  const Eigen::MatrixXd covariance = previous_inputs.hessian() / 2.0 - mu * mu.transpose();
  Eigen::VectorXd out(w.rows());
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    const double mean = w.row(r).dot(mu) + (previous_bias.empty() ? 0.0 : previous_bias[static_cast<std::size_t>(r)]);
    const double variance = w.row(r) * covariance * w.row(r).transpose();
    out(r) = expected_activation(mean, std::sqrt(std::max(variance, 0.0)), act);
  }
  return out;
}

}  // namespace qtl::ptq
