// qtl::ptq::low_rank: a quantized layer plus a low-rank correction, W ≈ Q(W) + A·B, with
// A [out, rank] and B [rank, in] from the truncated SVD of the quantization residual
// W - Q(W) (LQER, Zhang et al. 2024); weighted by the inputs' mean magnitude per feature
// when calibration statistics are given (L²QER), so the rank goes where the inputs are
// large. The factors are kept in float (or a wider format) and cost rank·(out + in) values.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/svd.hpp"
#include "qtl/core/view.hpp"
#include "qtl/ptq/layer_error.hpp"  // Eigen/Core, with the compiler workaround
#include "qtl/ptq/layer_inputs.hpp"

namespace qtl::ptq {

// The largest rank whose factors, at factor_bits bits per value, add at most
// extra_bits_per_weight bits to each of the out·in weights.
constexpr std::size_t low_rank_for_budget(std::size_t out, std::size_t in, double extra_bits_per_weight,
                                          unsigned factor_bits = 16) {
  if (out == 0 || in == 0 || factor_bits == 0 || !(extra_bits_per_weight > 0.0)) return 0;
  const double rank = extra_bits_per_weight * static_cast<double>(out) * static_cast<double>(in) /
                      (static_cast<double>(factor_bits) * static_cast<double>(out + in));
  return static_cast<std::size_t>(std::min(rank, static_cast<double>(std::min(out, in))));  // clamped before the cast
}

// a [rows, rank] and b [rank, cols], row-major: the layer computes x·(Q(W) + a·b)ᵀ.
// The error is ½·tr(ΔW H ΔWᵀ) with the inputs' Hessian when given, else |ΔW|²_F.
struct low_rank_result {
  std::size_t rows = 0, cols = 0, rank = 0;
  std::vector<float> a, b;
  double error_before = 0.0, error_after = 0.0;
};

// The rank-`rank` correction of quantized (Q(W), dequantized) towards w; inputs, when
// given, weight the residual's columns by E|x| and measure the error with their Hessian.
inline low_rank_result low_rank_correction(matrix_view<const float> w, matrix_view<const float> quantized, std::size_t rank,
                                           const layer_inputs* inputs = nullptr) {
  if (w.rows() != quantized.rows() || w.cols() != quantized.cols())
    throw error(errc::shape_mismatch, "low_rank_correction: weights " + std::to_string(w.rows()) + "x" +
                                          std::to_string(w.cols()) + " vs quantized " + std::to_string(quantized.rows()) +
                                          "x" + std::to_string(quantized.cols()));
  const Eigen::MatrixXd residual = detail::finite_weights(w, "low_rank_correction") -
                                   detail::finite_weights(quantized, "low_rank_correction");
  if (rank > std::min(w.rows(), w.cols()))
    throw error(errc::invalid_argument, "low_rank_correction: rank " + std::to_string(rank) + " exceeds min(" +
                                            std::to_string(w.rows()) + ", " + std::to_string(w.cols()) + ")");
  if (inputs != nullptr && inputs->features() != w.cols())
    throw error(errc::shape_mismatch, "low_rank_correction: inputs of " + std::to_string(inputs->features()) +
                                          " features for a layer of " + std::to_string(w.cols()));
  const auto n = residual.cols(), k = static_cast<Eigen::Index>(rank);

  // Column weights: E|x| scaled to a largest of 1, never below 1e-6 of it (dead inputs).
  Eigen::ArrayXd weight = Eigen::ArrayXd::Ones(n);
  Eigen::MatrixXd hessian;
  if (inputs != nullptr) {
    weight = inputs->mean_abs().array();
    const double largest = weight.maxCoeff();
    weight = largest > 0.0 ? (weight / largest).max(1e-6).eval() : Eigen::ArrayXd::Ones(n).eval();
    hessian = inputs->hessian();
  }
  const auto measure = [&](const Eigen::MatrixXd& delta) {
    return inputs != nullptr ? layer_error(delta, hessian) : delta.squaredNorm();
  };

  low_rank_result out{static_cast<std::size_t>(residual.rows()), static_cast<std::size_t>(n), rank, {}, {}, 0.0, 0.0};
  out.error_before = measure(residual);
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(residual.rows(), k), b = Eigen::MatrixXd::Zero(k, n);
  if (k > 0) {
    const svd_type svd = thin_svd(residual * weight.matrix().asDiagonal());
    a = svd.matrixU().leftCols(k) * svd.singularValues().head(k).asDiagonal();
    b = svd.matrixV().leftCols(k).transpose() * weight.inverse().matrix().asDiagonal();
  }
  out.error_after = measure(residual - a * b);
  out.a = detail::to_floats(a), out.b = detail::to_floats(b);
  return out;
}

}  // namespace qtl::ptq
