// qtl::ptq::adaround: learned rounding (Nagel et al. 2020). With the round-to-nearest
// parameters fixed, each weight may round down or up: w̃ = lo + h(V)·(hi - lo), with the
// rectified sigmoid h(V) = clamp(σ(V)·(ζ - γ) + γ, 0, 1), ζ = 1.1, γ = -0.1. V is learned
// by Adam on the layer's reconstruction error ½·tr(ΔW H ΔWᵀ) (the mean over calibration
// tokens of |x·ΔWᵀ|², as BRECQ's implementation sums it) plus
// λ·Σ(1 - |2h - 1|^β), β annealed from beta_start to beta_end after a warm-up without it,
// which drives every h to 0 or 1. Schemes whose codes are evenly spaced (mid-tread).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/ptq/adam.hpp"
#include "qtl/ptq/layer_error.hpp"
#include "qtl/ptq/layer_inputs.hpp"
#include "qtl/quantized_tensor.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/rounding.hpp"

namespace qtl::ptq {

struct adaround_config {
  std::size_t group_size = 128;  // inputs sharing a scale per output row; 0: the whole row
  std::size_t iterations = 1000;
  double learning_rate = 1e-2;   // Adam's, on V
  double regularization = 0.01;  // λ
  double beta_start = 20.0, beta_end = 2.0;  // beta_end >= 1
  double warmup = 0.2;  // the first fraction of the iterations without the regularizer
};

// The weights with the learned rounding (round-to-nearest's parameters), dequantized, and
// the layer error of AdaRound and of round-to-nearest; `flipped` counts the weights
// rounded the other way than nearest. Never worse than round-to-nearest on the objective:
// where the learned rounding would be, the result is round-to-nearest and `note` says so.
template <format F>
struct adaround_result {
  quantized_tensor<F> weights;
  std::vector<float> dequantized;
  double error = 0.0, rtn_error = 0.0;
  std::size_t flipped = 0;
  std::string note;
};

template <format F, scheme<F> S>
  requires(S::mid_tread)
adaround_result<F> adaround(matrix_view<const float> w, const Eigen::MatrixXd& hessian, const adaround_config& cfg = {},
                            S scheme_policy = S{}) {
  const std::size_t rows = w.rows(), cols = w.cols();
  const Eigen::MatrixXd W = detail::finite_weights(w, "adaround");
  detail::check_hessian(hessian, cols, "adaround");
  const std::size_t group = detail::checked_group(cfg.group_size, cols, "adaround");
  if (cfg.iterations == 0) throw error(errc::invalid_argument, "adaround: 0 iterations");
  if (!(cfg.learning_rate > 0.0) || !(cfg.regularization >= 0.0) || !(cfg.warmup >= 0.0 && cfg.warmup < 1.0) ||
      !(cfg.beta_end >= 1.0 && cfg.beta_start >= cfg.beta_end))  // β < 1: an infinite gradient at h = ½
    throw error(errc::invalid_argument, "adaround: learning rate, regularization, warm-up or β out of range");

  const quantizer<F, S, per_group<>, nearest_even> nearest(scheme_policy, per_group<>{group});
  adaround_result<F> out{nearest.quantize(w), std::vector<float>(w.size()), 0.0, 0.0, 0, {}};
  const auto& p = out.weights;  // round-to-nearest's codes and parameters

  // Per weight: the levels below and above it, the step between them, and V where h(V)
  // is the weight's position between them (AdaRound's initialization).
  constexpr float zeta = 1.1f, gamma = -0.1f;
  const auto n = static_cast<Eigen::Index>(rows), m = static_cast<Eigen::Index>(cols);
  Eigen::MatrixXf lo(n, m), step(n, m), V(n, m);
  std::vector<int> down(w.size()), up(w.size());
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const auto& q = p.params_at(r, c);
      const std::size_t i = r * cols + c;
      down[i] = scheme_policy.template quantize<F>(w(r, c), q, qtl::floor{}, i);
      up[i] = scheme_policy.template quantize<F>(w(r, c), q, qtl::ceil{}, i);
      const float low = scheme_policy.template dequantize<F>(down[i], q), high = scheme_policy.template dequantize<F>(up[i], q);
      const auto ri = static_cast<Eigen::Index>(r), ci = static_cast<Eigen::Index>(c);
      lo(ri, ci) = low, step(ri, ci) = high - low;
      const float position = high > low ? std::clamp((w(r, c) - low) / (high - low), 0.0f, 1.0f) : 0.0f;
      V(ri, ci) = -std::log((zeta - gamma) / (position - gamma) - 1.0f);
    }

  const Eigen::MatrixXf Wf = W.cast<float>(), Hf = hessian.cast<float>();
  adam<Eigen::MatrixXf> optimizer(n, m, cfg.learning_rate);
  const auto warm = static_cast<std::size_t>(cfg.warmup * static_cast<double>(cfg.iterations));
  for (std::size_t t = 0; t < cfg.iterations; ++t) {
    const Eigen::ArrayXXf sigma = (1.0f + (-V.array()).exp()).inverse();
    const Eigen::ArrayXXf raw = sigma * (zeta - gamma) + gamma, h = raw.max(0.0f).min(1.0f);
    const Eigen::MatrixXf delta = (lo.array() + h * step.array()).matrix() - Wf;
    Eigen::ArrayXXf grad_h = (delta * Hf).array() * step.array();
    if (t >= warm) {
      const double progress = static_cast<double>(t - warm) / static_cast<double>(cfg.iterations - warm);
      const auto beta = static_cast<float>(cfg.beta_end + (cfg.beta_start - cfg.beta_end) * (1.0 - progress));
      const Eigen::ArrayXXf centered = 2.0f * h - 1.0f;
      grad_h -= static_cast<float>(cfg.regularization) * 2.0f * beta * centered.abs().pow(beta - 1.0f) * centered.sign();
    }
    const Eigen::ArrayXXf inside = ((raw > 0.0f) && (raw < 1.0f)).cast<float>();
    const Eigen::ArrayXXf grad = grad_h * sigma * (1.0f - sigma) * (zeta - gamma) * inside;
    optimizer.step(V, grad);
  }

  // Hard rounding: up where h(V) ≥ ½.
  const Eigen::ArrayXXf h_final = ((1.0f + (-V.array()).exp()).inverse() * (zeta - gamma) + gamma).max(0.0f).min(1.0f);
  adaround_result<F> learned = out;
  Eigen::MatrixXd learned_values(n, m), nearest_values(n, m);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const std::size_t i = r * cols + c;
      const auto ri = static_cast<Eigen::Index>(r), ci = static_cast<Eigen::Index>(c);
      const int code = h_final(ri, ci) >= 0.5f ? up[i] : down[i];
      learned.weights.codes[i] = static_cast<typename quantized_tensor<F>::code_type>(code);
      learned.flipped += code != static_cast<int>(out.weights.codes[i]);
      learned_values(ri, ci) = scheme_policy.template dequantize<F>(code, p.params_at(r, c));
      nearest_values(ri, ci) = scheme_policy.template dequantize<F>(static_cast<int>(out.weights.codes[i]), p.params_at(r, c));
    }
  const double learned_error = layer_error(W - learned_values, hessian), rtn_error = layer_error(W - nearest_values, hessian);
  adaround_result<F>& chosen = learned_error <= rtn_error ? learned : out;
  const Eigen::MatrixXd& values = learned_error <= rtn_error ? learned_values : nearest_values;
  chosen.dequantized = detail::to_floats(values);
  chosen.error = std::min(learned_error, rtn_error), chosen.rtn_error = rtn_error;
  if (learned_error > rtn_error)
    chosen.note = "the learned rounding's error " + std::to_string(learned_error) + " exceeds round-to-nearest's " +
                  std::to_string(rtn_error) + ": round-to-nearest kept";
  return std::move(chosen);
}

}  // namespace qtl::ptq
