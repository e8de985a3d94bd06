// qtl::ptq::quantized_linear: a linear layer y = x·Wᵀ quantized after training in one of
// the three PTQ modes (static or dynamic int8 activations x int8 weights, or weight-only).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/view.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/granularity.hpp"
#include "qtl/kernel/composed_gemv.hpp"
#include "qtl/kernel/simd_quantizer.hpp"
#include "qtl/observer/minmax.hpp"
#include "qtl/pack/packed_tensor.hpp"
#include "qtl/ptq/calibrate.hpp"
#include "qtl/ptq/matmul.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/scheme.hpp"

namespace qtl::ptq {

enum class ptq_mode {
  static_activations,   // int8 activations with one scale calibrated beforehand (calibrate())
  dynamic_activations,  // int8 activations with scales computed from each input at run time
  weight_only,          // quantized weights, float activations and float products
};

// Which activation elements share a dynamic scale.
enum class activation_scale {
  per_token,   // one per row of x
  per_tensor,  // one per call (per batch)
};

struct ptq_config {
  ptq_mode mode = ptq_mode::dynamic_activations;
  activation_scale activations = activation_scale::per_token;  // dynamic mode only
  int weight_bits = 8;                                         // 8, or 4 in weight-only mode
  std::size_t weight_group = 0;  // weight-only: 0 = one scale per output channel, else groups along the input
  float clip_ratio = 1.0f;       // activation range kept, as a fraction of the observed absmax: (0, 1]
};

namespace detail {

inline void check_clip_ratio(float ratio, const char* what) {
  if (!(ratio > 0.0f && ratio <= 1.0f))
    throw error(errc::invalid_argument,
                std::string(what) + ": clip ratio " + std::to_string(ratio) + " is outside (0, 1]");
}

// Weight-only mode: W's codes packed as the composed GEMV reads them, symmetric per group
// along the input (a group of the whole row: one scale per output channel).
template <format F>
struct packed_weights {
  using weight_quantizer = quantizer<F, symmetric, per_group<>>;
  weight_quantizer q;
  packed_tensor<F> codes;

  packed_weights(matrix_view<const float> w, std::size_t group)
      : q(symmetric{}, per_group<>{group == 0 ? w.cols() : group}),
        codes(kernel::simd_quantizer<weight_quantizer>(q).quantize_packed(w)) {}

  void dequantize(matrix_view<float> out) const { kernel::simd_quantizer<weight_quantizer>(q).dequantize(codes.view(), out); }

  // y = x·Wᵀ, up to max_gemv_batch tokens a pass: each pass decodes W once in registers.
  void forward(matrix_view<const float> x, matrix_view<float> y) const {
    const kernel::composed_gemv<weight_quantizer> mm(q);
    std::vector<float> xs, ys;
    for (std::size_t t = 0; t < x.rows(); t += kernel::max_gemv_batch) {
      const std::size_t n = std::min(kernel::max_gemv_batch, x.rows() - t);
      xs.resize(n * x.cols());
      ys.resize(n * y.cols());
      for (std::size_t i = 0; i < n; ++i) std::copy_n(&x(t + i, 0), x.cols(), &xs[i * x.cols()]);
      mm.gemv(codes, std::span<const float>(xs), std::span<float>(ys));
      for (std::size_t i = 0; i < n; ++i) std::copy_n(&ys[i * y.cols()], y.cols(), &y(t + i, 0));
    }
  }
};

}  // namespace detail

// Symmetric params whose range is ratio (in (0, 1]) times p's: values beyond it saturate.
inline quant_params clipped(const quant_params& p, float ratio) {
  detail::check_clip_ratio(ratio, "clipped");
  return qtl::detail::from_scale(p.scale * ratio);
}

class quantized_linear {
 public:
  // Quantizes w [out, in] for cfg's mode; checks cfg first.
  explicit quantized_linear(matrix_view<const float> w, ptq_config cfg = {})
      : cfg_(cfg), rows_(w.rows()), cols_(w.cols()) {
    detail::check_clip_ratio(cfg.clip_ratio, "quantized_linear");
    if (cfg.weight_bits != 8 && cfg.weight_bits != 4)
      throw error(errc::unsupported, "quantized_linear: " + std::to_string(cfg.weight_bits) +
                                         "-bit weights (8, or 4 in weight-only mode)");
    if (cfg.mode != ptq_mode::weight_only && (cfg.weight_bits != 8 || cfg.weight_group != 0))
      throw error(errc::unsupported,
                  "quantized_linear: int8 activations need int8 weights with one scale per output channel");
    if (w.empty()) throw error(errc::invalid_argument, "quantized_linear: empty weight matrix");
    weights_.resize(w.size());
    const matrix_view<float> dequantized(weights_.data(), rows_, cols_);
    if (cfg.mode == ptq_mode::weight_only) {
      if (cfg.weight_bits == 8) packed_.emplace<detail::packed_weights<int8>>(w, cfg.weight_group);
      else packed_.emplace<detail::packed_weights<int4>>(w, cfg.weight_group);
      std::visit([&](const auto& p) { if constexpr (has_codes<decltype(p)>) p.dequantize(dequantized); }, packed_);
      return;
    }
    const kernel::simd_quantizer<weight_quantizer> q;
    const auto t = q.quantize(w);
    codes_ = t.codes;
    scales_.reserve(rows_);
    q.dequantize(t, dequantized);
    for (const quant_params& p : t.params) scales_.push_back(p.scale);
  }

  [[nodiscard]] const ptq_config& config() const noexcept { return cfg_; }
  [[nodiscard]] std::size_t out_features() const noexcept { return rows_; }
  [[nodiscard]] std::size_t in_features() const noexcept { return cols_; }
  // The weights every mode multiplies by, dequantized [out, in].
  [[nodiscard]] matrix_view<const float> dequantized_weights() const noexcept {
    return {weights_.data(), rows_, cols_};
  }

  // Static mode: the activation scale from a per-tensor observer (minmax by default)
  // over a dataset of inputs, narrowed by the clip ratio.
  template <batch_range R>
  void calibrate(R&& batches) {
    calibrate(std::forward<R>(batches), minmax<>{});
  }
  template <batch_range R, class O>
  requires observer<std::remove_cvref_t<O>>
  void calibrate(R&& batches, O&& obs) {
    const auto p = ptq::calibrate(activation_quantizer<per_tensor>{}.reference(), obs, std::forward<R>(batches));
    if (p.size() != 1)
      throw error(errc::shape_mismatch, "quantized_linear: static activations need a per-tensor observer, got " +
                                            std::to_string(p.size()) + " groups");
    set_activation_params(clipped(p[0], cfg_.clip_ratio));
  }
  // Static mode: a scale found elsewhere (symmetric, zero point 0), used as given.
  void set_activation_params(const quant_params& p) {
    qtl::detail::check_params(std::span<const quant_params>(&p, 1), 1, -int8::max_code, int8::max_code);
    if (p.zero_point != 0) throw error(errc::invalid_argument, "quantized_linear: activation zero point must be 0");
    static_params_ = p;
  }
  [[nodiscard]] std::optional<quant_params> activation_params() const noexcept { return static_params_; }

  // y [tokens, out] = x [tokens, in]·Wᵀ in the configured mode.
  void forward(matrix_view<const float> x, matrix_view<float> y) const {
    check_linear_shapes(x.rows(), x.cols(), rows_, cols_, y.rows(), y.cols(), "quantized_linear");
    if (x.rows() == 0) return;
    if (cfg_.mode == ptq_mode::weight_only)
      return std::visit([&](const auto& p) { if constexpr (has_codes<decltype(p)>) p.forward(x, y); }, packed_);
    if (cfg_.mode == ptq_mode::static_activations && !static_params_)
      throw error(errc::invalid_argument, "quantized_linear: static mode needs calibrate() before forward()");
    std::vector<quant_params> p = activation_params_for(x);
    std::vector<std::int8_t> codes(x.size());
    activation_quantizer<per_token>{}.quantize_into(x, p, matrix_view<std::int8_t>(codes.data(), x.rows(), x.cols()));
    std::vector<std::int32_t> acc(x.rows() * rows_);
    const matrix_view<std::int32_t> a(acc.data(), x.rows(), rows_);
    matmul_s8({codes.data(), x.rows(), x.cols()}, {codes_.data(), rows_, cols_}, a);
    std::vector<float> row_scale(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) row_scale[i] = p[i].scale;
    rescale_accumulators(a, row_scale, scales_, 1.0f, y);
  }

 private:
  using weight_quantizer = quantizer<int8, symmetric, per_channel<0>>;
  template <class G>
  using activation_quantizer = kernel::simd_quantizer<quantizer<int8, symmetric, G>>;  // this build's arch

  // One symmetric int8 scale per row of x.
  std::vector<quant_params> activation_params_for(matrix_view<const float> x) const {
    if (cfg_.mode == ptq_mode::static_activations) return std::vector<quant_params>(x.rows(), *static_params_);
    std::vector<quant_params> p =
        cfg_.activations == activation_scale::per_token
            ? activation_quantizer<per_token>{}.params(x)
            : std::vector<quant_params>(x.rows(), activation_quantizer<per_tensor>{}.params(x)[0]);
    for (quant_params& q : p) q = clipped(q, cfg_.clip_ratio);
    return p;
  }

  template <class P>
  static constexpr bool has_codes = !std::same_as<std::remove_cvref_t<P>, std::monostate>;

  ptq_config cfg_;
  std::size_t rows_ = 0, cols_ = 0;
  std::vector<std::int8_t> codes_;  // int8 modes: W's codes, -127..127
  std::vector<float> scales_;       // int8 modes: one per output channel
  std::vector<float> weights_;      // dequantized W
  std::variant<std::monostate, detail::packed_weights<int8>, detail::packed_weights<int4>> packed_;  // weight-only
  std::optional<quant_params> static_params_;
};

}  // namespace qtl::ptq
