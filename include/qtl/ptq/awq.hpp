// qtl::ptq::awq: activation-aware weight quantization (Lin et al. 2023, as AutoAWQ and
// llm-compressor run it): input channel j of the layers that read the same input is
// scaled by s_j = E|x_j|^α / (w̄_j)^(1-α) before rounding (w̄_j: the mean over output rows
// of |w| relative to its group's largest), α searched on a grid for the least output
// error; then each (row, group) clipped to the range that rounds with the least error.
// The layer then computes (x / s)·Q(W·diag(s))ᵀ: fold 1/s into the operation before it
// where that operation feeds only these layers, or scale the input at run time.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/ptq/layer_error.hpp"
#include "qtl/ptq/layer_inputs.hpp"
#include "qtl/quantized_tensor.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/rounding.hpp"

namespace qtl::ptq {

struct awq_config {
  std::size_t group_size = 128;  // inputs sharing a scale per output row; 0: the whole row
  std::size_t grid = 20;         // α tried at 0, 1/grid, …, (grid-1)/grid; clipping at 1 - i/grid
  bool duo_scaling = true;       // divide by w̄^(1-α) (AutoAWQ's default); false: s = E|x|^α
  bool search_scales = true;     // false: s = 1, the clipping search alone (AutoAWQ's for layers
                                 // whose input no preceding operation can absorb s into)
  bool clip = true;              // search each (row, group)'s clipping range
  double max_shrink = 0.5;       // the clipping range shrinks at most to 1 - max_shrink of |w|'s max
};

// One layer's result: its scaled weights W·diag(s) quantized, the weights it effectively
// computes with in W's frame (Q(W·diag(s))·diag(1/s), for measuring), and the layer error
// ½·tr(ΔW H ΔWᵀ) of AWQ and of round-to-nearest with the same groups.
template <format F>
struct awq_layer {
  quantized_tensor<F> weights;
  std::vector<float> dequantized;
  double error = 0.0, rtn_error = 0.0;
};

template <format F>
struct awq_result {
  std::vector<float> scales;  // s per input feature
  double alpha = 0.0;         // the exponent chosen
  std::vector<awq_layer<F>> layers;
};

namespace detail {
// w̄: per input, |w| over its (row, group)'s largest magnitude (+ 1e-6, as AutoAWQ and
// llm-compressor divide), averaged over every output row of the layers.
inline Eigen::ArrayXd awq_weight_mean(const std::vector<Eigen::MatrixXd>& layers, std::size_t group) {
  const Eigen::Index n = layers.front().cols(), g = static_cast<Eigen::Index>(group);
  Eigen::ArrayXd mean = Eigen::ArrayXd::Zero(n);
  Eigen::Index rows = 0;
  for (const auto& m : layers) {
    for (Eigen::Index r = 0; r < m.rows(); ++r)
      for (Eigen::Index first = 0; first < n; first += g) {
        const auto part = m.row(r).segment(first, g).array().abs();
        mean.segment(first, g) += part / (part.maxCoeff() + 1e-6);
      }
    rows += m.rows();
  }
  return mean / static_cast<double>(rows);
}

// s = E|x|^α / (w̄^(1-α) + 1e-4) (duo scaling) or E|x|^α, each at least 1e-4, over sqrt(max s · min s).
inline Eigen::ArrayXd awq_scales(const Eigen::ArrayXd& x_mean, const Eigen::ArrayXd& w_mean, double alpha, bool duo_scaling) {
  Eigen::ArrayXd s = duo_scaling ? (x_mean.pow(alpha) / (w_mean.pow(1.0 - alpha) + 1e-4)).max(1e-4).eval()
                                 : x_mean.pow(alpha).max(1e-4).eval();
  return s / std::sqrt(s.maxCoeff() * s.minCoeff());
}
}  // namespace detail

// The scales AWQ tries at exponent alpha for the layers `weights` that read `inputs`
// (what awq's search evaluates at each point of its grid).
inline std::vector<float> awq_scales(std::span<const matrix_view<const float>> weights, const layer_inputs& inputs,
                                     std::size_t group_size, double alpha, bool duo_scaling = true) {
  if (weights.empty()) throw error(errc::invalid_argument, "awq_scales: no layers");
  std::vector<Eigen::MatrixXd> W;
  for (const auto& w : weights) {
    if (w.cols() != inputs.features())
      throw error(errc::shape_mismatch, "awq_scales: a layer of " + std::to_string(w.cols()) + " inputs for inputs of " +
                                            std::to_string(inputs.features()) + " features");
    W.push_back(detail::finite_weights(w, "awq_scales"));
  }
  const auto s = detail::awq_scales(inputs.mean_abs().array(),
                                    detail::awq_weight_mean(W, detail::checked_group(group_size, inputs.features(), "awq_scales")),
                                    alpha, duo_scaling);
  return {s.begin(), s.end()};
}

// AWQ of the layers `weights` (each [out_i, in]) that read the same inputs.
template <format F, scheme<F> S, rounding R = nearest_even>
awq_result<F> awq(std::span<const matrix_view<const float>> weights, const layer_inputs& inputs, const awq_config& cfg = {},
                  S scheme_policy = S{}, R round = R{}) {
  if (weights.empty()) throw error(errc::invalid_argument, "awq: no layers");
  if (cfg.grid == 0) throw error(errc::invalid_argument, "awq: grid 0");
  if (!(cfg.max_shrink >= 0.0 && cfg.max_shrink < 1.0))
    throw error(errc::invalid_argument, "awq: max_shrink " + std::to_string(cfg.max_shrink) + " is outside [0, 1)");
  const std::size_t cols = inputs.features();
  std::vector<Eigen::MatrixXd> W;
  for (const auto& w : weights) {
    if (w.cols() != cols)
      throw error(errc::shape_mismatch, "awq: a layer of " + std::to_string(w.cols()) + " inputs for inputs of " +
                                            std::to_string(cols) + " features");
    W.push_back(detail::finite_weights(w, "awq"));
  }
  const std::size_t group = detail::checked_group(cfg.group_size, cols, "awq");
  const Eigen::MatrixXd H = inputs.hessian();
  const Eigen::ArrayXd x_mean = inputs.mean_abs().array();
  const auto n = static_cast<Eigen::Index>(cols), g = static_cast<Eigen::Index>(group);

  const Eigen::ArrayXd w_mean = detail::awq_weight_mean(W, group);

  // The weights each layer computes with when scaled by s (clipped to ±clip per (row, group) if given).
  const auto effective = [&](const Eigen::MatrixXd& m, const Eigen::ArrayXd& s, const Eigen::MatrixXd* clip) {
    Eigen::MatrixXd scaled = m * s.matrix().asDiagonal();
    if (clip != nullptr)
      for (Eigen::Index r = 0; r < m.rows(); ++r)
        for (Eigen::Index c = 0; c < n; ++c) {
          const double limit = (*clip)(r, c / g);
          scaled(r, c) = std::clamp(scaled(r, c), -limit, limit);
        }
    return scaled;
  };
  const auto total_error = [&](const Eigen::ArrayXd& s) {
    double sum = 0.0;
    for (const auto& m : W)
      sum += layer_error(m - round_to_nearest<F>(effective(m, s, nullptr), group, scheme_policy, round) *
                                 s.inverse().matrix().asDiagonal(),
                         H);
    return sum;
  };

  awq_result<F> out;
  Eigen::ArrayXd best_scales = Eigen::ArrayXd::Ones(n);
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; cfg.search_scales && i < cfg.grid; ++i) {
    const double alpha = static_cast<double>(i) / static_cast<double>(cfg.grid);
    const Eigen::ArrayXd s = detail::awq_scales(x_mean, w_mean, alpha, cfg.duo_scaling);
    const double e = total_error(s);
    if (e < best) best = e, best_scales = s, out.alpha = alpha;
  }
  out.scales.assign(best_scales.begin(), best_scales.end());

  // Clipping: per (row, group), the range ±(1 - i/grid)·max|w| with the least error on the
  // group's own inputs (the group's diagonal block of the Hessian, scaled by 1/s).
  const Eigen::MatrixXd Hs = best_scales.inverse().matrix().asDiagonal() * H * best_scales.inverse().matrix().asDiagonal();
  for (const auto& m : W) {
    const Eigen::MatrixXd scaled = effective(m, best_scales, nullptr);
    Eigen::MatrixXd clip(m.rows(), n / g);
    for (Eigen::Index r = 0; r < m.rows(); ++r)
      for (Eigen::Index k = 0; k < n / g; ++k) clip(r, k) = scaled.row(r).segment(k * g, g).cwiseAbs().maxCoeff();
    if (cfg.clip) {
      const Eigen::MatrixXd largest = clip;
      Eigen::MatrixXd best_error = Eigen::MatrixXd::Constant(m.rows(), n / g, std::numeric_limits<double>::infinity());
      const auto steps = static_cast<std::size_t>(cfg.max_shrink * static_cast<double>(cfg.grid));
      for (std::size_t i = 0; i <= steps && i < cfg.grid; ++i) {
        const Eigen::MatrixXd limit = largest * (1.0 - static_cast<double>(i) / static_cast<double>(cfg.grid));
        const Eigen::MatrixXd delta = scaled - round_to_nearest<F>(effective(m, best_scales, &limit), group,
                                                                  scheme_policy, round);
        for (Eigen::Index k = 0; k < n / g; ++k) {
          const Eigen::MatrixXd d = delta.middleCols(k * g, g);
          const Eigen::VectorXd e = (d * Hs.block(k * g, k * g, g, g)).cwiseProduct(d).rowwise().sum();
          for (Eigen::Index r = 0; r < m.rows(); ++r)
            if (e(r) < best_error(r, k)) best_error(r, k) = e(r), clip(r, k) = limit(r, k);
        }
      }
    }
    const std::vector<float> stored = detail::to_floats(effective(m, best_scales, &clip));
    const matrix_view<const float> stored_view(stored.data(), static_cast<std::size_t>(m.rows()), cols);
    const quantizer<F, S, per_group<>, R> q(scheme_policy, per_group<>{group}, round);
    awq_layer<F> layer{q.quantize(stored_view), std::vector<float>(stored.size()), 0.0, 0.0};
    q.dequantize(layer.weights, matrix_view<float>(layer.dequantized.data(), static_cast<std::size_t>(m.rows()), cols));
    Eigen::MatrixXd computed(m.rows(), n);
    for (Eigen::Index r = 0; r < m.rows(); ++r)
      for (Eigen::Index c = 0; c < n; ++c) {
        float& v = layer.dequantized[static_cast<std::size_t>(r * n + c)];
        v /= out.scales[static_cast<std::size_t>(c)];
        computed(r, c) = v;
      }
    layer.error = layer_error(m - computed, H);
    layer.rtn_error = layer_error(m - round_to_nearest<F>(m, group, scheme_policy, round), H);
    out.layers.push_back(std::move(layer));
  }
  return out;
}

// AWQ of one layer.
template <format F, scheme<F> S, rounding R = nearest_even>
awq_result<F> awq(matrix_view<const float> weights, const layer_inputs& inputs, const awq_config& cfg = {},
                  S scheme_policy = S{}, R round = R{}) {
  return awq<F>(std::span<const matrix_view<const float>>(&weights, 1), inputs, cfg, scheme_policy, round);
}

}  // namespace qtl::ptq
