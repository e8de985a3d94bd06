// SmoothQuant: moves activation outliers into the weights with per-input-channel scales
// s_j = max|X_j|^α / max|W_j|^(1−α); X·diag(s)⁻¹ is folded into the previous op (a norm's
// gamma/beta or a linear's output rows) and diag(s)·W into the weights' columns.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/core/view.hpp"

namespace qtl::ptq {

// SmoothQuant's floor on both max|W_j| and s_j.
inline constexpr float smooth_min_scale = 1e-5f;

namespace detail {

inline void check_scales(std::size_t have, std::size_t need, const char* what) {
  if (have != need)
    throw error(errc::shape_mismatch, std::string(what) + ": " + std::to_string(have) + " smoothing scales for " +
                                          std::to_string(need) + " channels");
}

}  // namespace detail

// max|X_j| of every input channel, from an observer of activations that keeps one group
// per column (minmax<per_channel<1>>, or any per-column observer).
template <observer O>
std::vector<float> channel_absmax(const O& obs) {
  std::vector<float> a;
  for (const tensor_stats& s : obs.stats()) a.push_back(s.absmax());
  return a;
}

// s_j = clamp(max|X_j|^α / clamp(max_i |W_ij|, 1e-5)^(1−α), 1e-5), the max over W taken
// across every linear that reads the same input (q, k, v share one s), as smooth.py does.
inline std::vector<float> smoothing_scales(std::span<const float> activation_absmax,
                                           std::span<const matrix_view<const float>> weights, float alpha = 0.5f) {
  if (!(alpha >= 0.0f && alpha <= 1.0f))
    throw error(errc::invalid_argument, "smoothing_scales: alpha " + std::to_string(alpha) + " is outside [0, 1]");
  if (weights.empty()) throw error(errc::invalid_argument, "smoothing_scales: no weights");
  const std::size_t k = activation_absmax.size();
  for (const auto& w : weights)
    if (w.cols() != k)
      throw error(errc::shape_mismatch, "smoothing_scales: weight with " + std::to_string(w.cols()) +
                                            " input channels for " + std::to_string(k) + " activation channels");
  for (std::size_t j = 0; j < k; ++j)
    if (!(activation_absmax[j] >= 0.0f) || !std::isfinite(activation_absmax[j]))
      throw error(errc::invalid_argument, "smoothing_scales: activation absmax of channel " + std::to_string(j) +
                                              " is " + std::to_string(activation_absmax[j]));
  std::vector<float> wmax(k, 0.0f);
  for (const auto& w : weights)
    for (std::size_t r = 0; r < w.rows(); ++r)
      for (std::size_t j = 0; j < k; ++j) {
        const float v = std::fabs(w(r, j));
        if (!std::isfinite(v))
          throw error(errc::non_finite, "smoothing_scales: weight " + qtl::detail::where(r, j, k) + " is not finite");
        wmax[j] = std::max(wmax[j], v);
      }
  std::vector<float> s(k);
  for (std::size_t j = 0; j < k; ++j)
    s[j] = std::max(std::pow(activation_absmax[j], alpha) / std::pow(std::max(wmax[j], smooth_min_scale), 1.0f - alpha),
                    smooth_min_scale);
  return s;
}
inline std::vector<float> smoothing_scales(std::span<const float> activation_absmax, matrix_view<const float> w,
                                           float alpha = 0.5f) {
  return smoothing_scales(activation_absmax, std::span<const matrix_view<const float>>(&w, 1), alpha);
}

// W[:, j] *= s_j for a weight [out, in] (diag(s)·W in the paper's x·W notation).
inline void scale_weight_columns(matrix_view<float> w, std::span<const float> s) {
  detail::check_scales(s.size(), w.cols(), "scale_weight_columns");
  for (std::size_t r = 0; r < w.rows(); ++r)
    for (std::size_t j = 0; j < w.cols(); ++j) w(r, j) *= s[j];
}

// X[:, j] /= s_j: the activation side, where no previous op can absorb it.
inline void divide_columns(matrix_view<float> x, std::span<const float> s) {
  detail::check_scales(s.size(), x.cols(), "divide_columns");
  for (std::size_t r = 0; r < x.rows(); ++r)
    for (std::size_t j = 0; j < x.cols(); ++j) x(r, j) /= s[j];
}

// Folds diag(s)⁻¹ into a LayerNorm (gamma and beta) or RMSNorm (gamma; beta empty).
inline void fold_into_norm(std::span<float> gamma, std::span<float> beta, std::span<const float> s) {
  detail::check_scales(s.size(), gamma.size(), "fold_into_norm: gamma");
  if (!beta.empty()) detail::check_scales(s.size(), beta.size(), "fold_into_norm: beta");
  for (std::size_t j = 0; j < s.size(); ++j) {
    gamma[j] /= s[j];
    if (!beta.empty()) beta[j] /= s[j];
  }
}

// Folds diag(s)⁻¹ into the linear that produces X: its output rows (and bias) / s.
inline void fold_into_linear(matrix_view<float> w_prev, std::span<float> bias_prev, std::span<const float> s) {
  detail::check_scales(s.size(), w_prev.rows(), "fold_into_linear: rows");
  if (!bias_prev.empty()) detail::check_scales(s.size(), bias_prev.size(), "fold_into_linear: bias");
  for (std::size_t j = 0; j < s.size(); ++j) {
    for (std::size_t c = 0; c < w_prev.cols(); ++c) w_prev(j, c) /= s[j];
    if (!bias_prev.empty()) bias_prev[j] /= s[j];
  }
}

}  // namespace qtl::ptq
