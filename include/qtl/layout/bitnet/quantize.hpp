// BitNet b1.58's quantizers with the reference's exact numerics: absmean ternary weights
// (per tensor) and absmax int8 activations (per token). Feeds layout/bitnet/{i2_s,gpu_w2}.hpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "qtl/core/config.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/layout/torch_sum.hpp"
#include "qtl/rounding.hpp"

namespace qtl::bitnet {

// Both references clamp their statistic with clamp_(min=1e-5), a float32 1e-5 on float32 data.
inline constexpr float min_statistic = 1e-5f;

// BitNet's per-tensor weight scale, as torch evaluates
//   s = 1.0 / W.abs().mean().clamp_(min=1e-5)
// in float32: mean = (sum in torch's order) / n, and 1.0 / t is t.reciprocal().
struct weight_scale {
  float s;      // the multiplier: codes = clamp(round(W * s), -1, 1)
  float scale;  // 1 / s: the dequantization scale (I2_S stores it; the GPU checkpoint its bf16)
};

QTL_STRICT_FP_BEGIN

QTL_HOST_DEVICE inline float inverse_of_statistic(float m) noexcept { return 1.0f / (m < min_statistic ? min_statistic : m); }

// (w * s).round().clamp(-1, 1): ties to even, so |w * s| == 0.5 gives 0.
QTL_HOST_DEVICE inline std::int8_t quantize_weight(float w, float s) noexcept {
  const float q = nearest_even{}(w * s);
  return static_cast<std::int8_t>(q < -1.0f ? -1.0f : (q > 1.0f ? 1.0f : q));
}

// s = 127 / max|x|.clamp_(min=1e-5), which torch evaluates as reciprocal() * 127: two
// roundings, not one (the two differ for some maxima, e.g. ones the golden file holds).
QTL_HOST_DEVICE inline float activation_scale(float absmax) noexcept { return inverse_of_statistic(absmax) * 127.0f; }

// (x * s).round().clamp(-128, 127)
QTL_HOST_DEVICE inline std::int8_t quantize_activation(float x, float s) noexcept {
  const float q = nearest_even{}(x * s);
  return static_cast<std::int8_t>(q < -128.0f ? -128.0f : (q > 127.0f ? 127.0f : q));
}

QTL_STRICT_FP_END

namespace detail {

inline void check_finite(matrix_view<const float> x, const char* what) {
  for (std::size_t r = 0; r < x.rows(); ++r)
    for (std::size_t c = 0; c < x.cols(); ++c)
      if (!std::isfinite(x(r, c)))
        throw error(errc::non_finite, std::string(what) + ": value " + std::to_string(x(r, c)) + " at (" +
                                          std::to_string(r) + ", " + std::to_string(c) + ")");
}

inline void check_not_empty(matrix_view<const float> x, const char* what) {
  if (x.empty())
    throw error(errc::invalid_argument, std::string(what) + ": empty " + std::to_string(x.rows()) + " x " +
                                            std::to_string(x.cols()) + " input (the reference's mean / max is undefined)");
}

template <class T>
void check_same_shape(matrix_view<const float> x, matrix_view<T> codes, const char* what) {
  if (codes.rows() != x.rows() || codes.cols() != x.cols())
    throw error(errc::shape_mismatch, std::string(what) + ": codes are " + std::to_string(codes.rows()) + " x " +
                                          std::to_string(codes.cols()) + ", input is " + std::to_string(x.rows()) +
                                          " x " + std::to_string(x.cols()));
}

}  // namespace detail

// The absmean scale of w (row-major order, as torch flattens a contiguous tensor).
// torch_threads: torch.get_num_threads() of the run to match; it matters only from
// 32768 values on (torch_sum.hpp). Throws on an empty or non-finite w.
inline weight_scale absmean_weight_scale(matrix_view<const float> w, int torch_threads = 1) {
  detail::check_not_empty(w, "bitnet weight scale");
  detail::check_finite(w, "bitnet weight scale");
  const std::size_t cols = w.cols();
  const float sum =
      torch_float32_sum(w.size(), [&](std::size_t i) { return std::fabs(w(i / cols, i % cols)); }, torch_threads);
  const float mean = sum / static_cast<float>(w.size());
  const float s = inverse_of_statistic(mean);
  return {s, 1.0f / s};
}

// BitNet's weight_quant: ternary codes of w into `codes` (same shape) and the scale.
// Nothing is written unless w and codes are valid.
inline weight_scale quantize_weights(matrix_view<const float> w, matrix_view<std::int8_t> codes, int torch_threads = 1) {
  detail::check_same_shape(w, codes, "bitnet quantize_weights");
  const weight_scale ws = absmean_weight_scale(w, torch_threads);
  for (std::size_t r = 0; r < w.rows(); ++r)
    for (std::size_t c = 0; c < w.cols(); ++c) codes(r, c) = quantize_weight(w(r, c), ws.s);
  return ws;
}

// BitNet's activation_quant, one token per row: int8 codes and each row's multiplier s
// (x ~= code / s) into scales[row]. Nothing is written unless all shapes and values are valid.
inline void quantize_activations(matrix_view<const float> x, matrix_view<std::int8_t> codes, std::span<float> scales) {
  detail::check_same_shape(x, codes, "bitnet quantize_activations");
  if (scales.size() < x.rows())
    throw error(errc::shape_mismatch, "bitnet quantize_activations: " + std::to_string(scales.size()) +
                                          " scales for " + std::to_string(x.rows()) + " tokens");
  detail::check_not_empty(x, "bitnet quantize_activations");
  detail::check_finite(x, "bitnet quantize_activations");
  for (std::size_t r = 0; r < x.rows(); ++r) {
    float absmax = 0.0f;
    for (std::size_t c = 0; c < x.cols(); ++c) absmax = std::fmax(absmax, std::fabs(x(r, c)));
    const float s = activation_scale(absmax);
    for (std::size_t c = 0; c < x.cols(); ++c) codes(r, c) = quantize_activation(x(r, c), s);
    scales[r] = s;
  }
}

}  // namespace qtl::bitnet
