// qtl::ptq::quantize_weights: one linear layer quantized by a chosen algorithm (round to
// nearest, GPTQ, AWQ, AdaRound) from its calibration inputs, optionally followed by an
// activation-aware low-rank correction and bias correction: the weights the layer then
// computes with, in float, and the error each step leaves. Drives the model-level passes
// (ptq/bert_ptq.hpp) and the comparisons in docs/ptq.md.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/ptq/adaround.hpp"
#include "qtl/ptq/awq.hpp"
#include "qtl/ptq/bias_correction.hpp"
#include "qtl/ptq/gptq.hpp"
#include "qtl/ptq/layer_error.hpp"
#include "qtl/ptq/layer_inputs.hpp"
#include "qtl/ptq/low_rank.hpp"

namespace qtl::ptq {

enum class weight_method { rtn, gptq, awq, adaround };

constexpr const char* name(weight_method m) noexcept {
  switch (m) {
    case weight_method::rtn: return "rtn";
    case weight_method::gptq: return "gptq";
    case weight_method::awq: return "awq";
    case weight_method::adaround: return "adaround";
  }
  return "?";
}

struct weight_ptq_config {
  weight_method method = weight_method::rtn;
  std::size_t group_size = 128;  // for every method (their own configs' group_size is ignored); 0: per row
  std::size_t low_rank = 0;      // rank of the activation-aware correction Q(W) + A·B (0: none)
  bool bias_correction = false;  // shift the bias by (W - Ŵ)·E[x]
  gptq_config gptq{.act_order = true};
  awq_config awq{};
  adaround_config adaround{};
};

// What the layer computes with: y = x·weightsᵀ + bias + bias_shift (weights [out, in]
// row-major, dequantized, the low-rank term included; bias_shift empty without bias
// correction). The errors are ½·tr(ΔW H ΔWᵀ) over the calibration inputs (the mean over
// tokens of the squared output error, for the final one with the shift): round to nearest,
// the method, and after the low-rank and bias corrections.
struct quantized_weights {
  std::vector<float> weights;
  std::vector<float> bias_shift;
  double rtn_error = 0.0, method_error = 0.0, error = 0.0;
  std::string note;
};

template <format F, scheme<F> S>
quantized_weights quantize_weights(matrix_view<const float> w, const layer_inputs& inputs, const weight_ptq_config& cfg,
                                   S scheme_policy = S{}) {
  if (inputs.features() != w.cols())
    throw error(errc::shape_mismatch, "quantize_weights: inputs of " + std::to_string(inputs.features()) +
                                          " features for a layer of " + std::to_string(w.cols()));
  const Eigen::MatrixXd H = inputs.hessian();
  quantized_weights out;
  switch (cfg.method) {
    case weight_method::rtn: {
      const Eigen::MatrixXd W = detail::finite_weights(w, "quantize_weights");
      const Eigen::MatrixXd q = round_to_nearest<F>(W, detail::checked_group(cfg.group_size, w.cols(), "rtn"), scheme_policy);
      out.weights = detail::to_floats(q);
      out.rtn_error = out.method_error = out.error = layer_error(W - q, H);
      break;
    }
    case weight_method::gptq: {
      auto c = cfg.gptq;
      c.group_size = cfg.group_size;
      auto r = gptq<F>(w, H, c, scheme_policy);
      out = {std::move(r.dequantized), {}, r.rtn_error, r.error, r.error, std::move(r.note)};
      break;
    }
    case weight_method::awq: {
      auto c = cfg.awq;
      c.group_size = cfg.group_size;
      auto r = awq<F>(w, inputs, c, scheme_policy);
      auto& layer = r.layers.front();
      out = {std::move(layer.dequantized), {}, layer.rtn_error, layer.error, layer.error,
             "alpha " + std::to_string(r.alpha)};
      break;
    }
    case weight_method::adaround: {
      if constexpr (requires { requires S::mid_tread; }) {
        auto c = cfg.adaround;
        c.group_size = cfg.group_size;
        auto r = adaround<F>(w, H, c, scheme_policy);
        out = {std::move(r.dequantized), {}, r.rtn_error, r.error, r.error,
               std::to_string(r.flipped) + " rounded away from nearest" + (r.note.empty() ? "" : "; " + r.note)};
      } else {
        throw error(errc::unsupported, "quantize_weights: AdaRound needs evenly spaced levels, not a codebook format");
      }
      break;
    }
  }
  const matrix_view<const float> q(out.weights.data(), w.rows(), w.cols());
  if (cfg.low_rank > 0) {
    const auto r = low_rank_correction(w, q, cfg.low_rank, &inputs);
    const auto a = detail::as_eigen(matrix_view<const float>(r.a.data(), r.rows, r.rank));
    const auto b = detail::as_eigen(matrix_view<const float>(r.b.data(), r.rank, r.cols));
    detail::as_eigen(matrix_view<float>(out.weights.data(), w.rows(), w.cols())) += a * b;
    out.error = layer_error(detail::finite_weights(w, "quantize_weights") - detail::finite_weights(q, "quantize_weights"), H);
  }
  if (cfg.bias_correction) {
    out.bias_shift = corrected_bias(w, q, {}, inputs);
    // E|x·Δᵀ - c|² = E|x·Δᵀ|² - |c|² for c = E[x]·Δᵀ.
    for (const float c : out.bias_shift) out.error -= static_cast<double>(c) * c;
  }
  return out;
}

}  // namespace qtl::ptq
