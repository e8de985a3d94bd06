// qtl::ptq::quantize_weights: one linear layer quantized by a chosen algorithm (round to
// nearest, GPTQ, AWQ, AdaRound) from its calibration inputs, optionally followed by an
// activation-aware low-rank correction and bias correction: the weights the layer then
// computes with, in float, and the error each step leaves. Drives the model-level passes
// (ptq/bert_ptq.hpp) and the comparisons in docs/ptq.md.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"
#include "qtl/ptq/adaround.hpp"
#include "qtl/ptq/awq.hpp"
#include "qtl/ptq/bias_correction.hpp"
#include "qtl/ptq/gptq.hpp"
#include "qtl/ptq/layer_error.hpp"
#include "qtl/ptq/layer_inputs.hpp"
#include "qtl/ptq/low_rank.hpp"
#include "qtl/quantized_tensor.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/rounding.hpp"

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
// What to store: codes [out, in] in W's column order, decoded with
// params[r * groups + group_of[c]] by the scheme, of diag(1/output_scales)·W·diag(input_scales)
// before the low-rank term. input_scales: AWQ's, to be folded into what feeds the layer;
// output_scales: scales folded into this layer's outputs (value's, when quantize_bert folds
// AWQ's; its bias_shift divides the bias too); empty: none. group_of is c / group_size
// except for GPTQ's act-order without static groups (its g_idx).
struct quantized_weights {
  std::vector<float> weights;
  std::vector<float> bias_shift;
  double rtn_error = 0.0, method_error = 0.0, error = 0.0;
  std::string note;
  std::size_t groups = 0;
  std::vector<int> codes;
  std::vector<quant_params> params;
  std::vector<std::size_t> group_of;
  std::vector<float> input_scales, output_scales;
};

namespace detail {
// A per_group<> tensor's codes and parameters as quantized_weights holds them.
template <format F>
void store_codes(quantized_weights& out, const quantized_tensor<F>& t) {
  out.codes.assign(t.codes.begin(), t.codes.end());
  out.params = t.params;
  out.groups = t.grid.cols;
  out.group_of.resize(t.cols);
  for (std::size_t c = 0; c < t.cols; ++c) out.group_of[c] = c / t.grid.group.cols;
}
}  // namespace detail

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
      const quantizer<F, S, per_group<>, nearest_even> q(scheme_policy,
                                                         per_group<>{detail::checked_group(cfg.group_size, w.cols(), "rtn")});
      const auto t = q.quantize(w);
      out.weights.resize(w.size());
      q.dequantize(t, matrix_view<float>(out.weights.data(), w.rows(), w.cols()));
      out.rtn_error = out.method_error = out.error =
          layer_error(W - detail::finite_weights(matrix_view<const float>(out.weights.data(), w.rows(), w.cols()), "rtn"), H);
      detail::store_codes(out, t);
      break;
    }
    case weight_method::gptq: {
      auto c = cfg.gptq;
      c.group_size = cfg.group_size;
      auto r = gptq<F>(w, H, c, scheme_policy);
      out.weights = std::move(r.dequantized), out.note = std::move(r.note);
      out.rtn_error = r.rtn_error, out.method_error = out.error = r.error;
      out.groups = r.groups, out.codes = std::move(r.codes), out.params = std::move(r.params), out.group_of = std::move(r.group_of);
      break;
    }
    case weight_method::awq: {
      auto c = cfg.awq;
      c.group_size = cfg.group_size;
      auto r = awq<F>(w, inputs, c, scheme_policy);
      auto& layer = r.layers.front();
      out.weights = std::move(layer.dequantized), out.note = "alpha " + std::to_string(r.alpha);
      out.rtn_error = layer.rtn_error, out.method_error = out.error = layer.error;
      detail::store_codes(out, layer.weights);
      if (std::any_of(r.scales.begin(), r.scales.end(), [](float v) { return v != 1.0f; }))
        out.input_scales = std::move(r.scales);
      break;
    }
    case weight_method::adaround: {
      if constexpr (requires { requires S::mid_tread; }) {
        auto c = cfg.adaround;
        c.group_size = cfg.group_size;
        auto r = adaround<F>(w, H, c, scheme_policy);
        out.weights = std::move(r.dequantized);
        out.note = std::to_string(r.flipped) + " rounded away from nearest" + (r.note.empty() ? "" : "; " + r.note);
        out.rtn_error = r.rtn_error, out.method_error = out.error = r.error;
        detail::store_codes(out, r.weights);
      } else {
        throw error(errc::unsupported, "quantize_weights: AdaRound needs evenly spaced levels, not a codebook format");
      }
      break;
    }
  }
  const matrix_view<const float> q(out.weights.data(), w.rows(), w.cols());
  if (cfg.low_rank > 0) {
    const auto r = low_rank_correction(w, q, cfg.low_rank, &inputs);
    const auto a = as_eigen(matrix_view<const float>(r.a.data(), r.rows, r.rank));
    const auto b = as_eigen(matrix_view<const float>(r.b.data(), r.rank, r.cols));
    as_eigen(matrix_view<float>(out.weights.data(), w.rows(), w.cols())) += a * b;
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
