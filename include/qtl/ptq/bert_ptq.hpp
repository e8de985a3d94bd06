// qtl::ptq::quantize_bert: every linear layer of a BERT model quantized by one weight
// algorithm (ptq/weight_ptq.hpp), in order, each from the inputs it gets on calibration
// text when the layers before it are already quantized (GPTQModel's and llm-compressor's
// sequential pass), so later layers correct for the earlier ones' error. Memory: the
// calibration hidden states (tokens × hidden floats) and one layer's statistics.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/ptq/bert.hpp"
#include "qtl/ptq/layer_inputs.hpp"
#include "qtl/ptq/awq.hpp"
#include "qtl/ptq/weight_ptq.hpp"

namespace qtl::ptq {

namespace detail {
// One side of AWQ's scales s folded between value and the attention output: value's output
// rows and bias divided by s (`rows`; its bias through bias_shift), or the attention
// output's input columns multiplied by s, which then reads value's x / s. Errors in the
// frame of the weights quantized (value's outputs are divided by s).
template <format F, scheme<F> S>
quantized_weights quantize_folded(const bert_linear& layer, const layer_inputs& inputs, std::span<const float> scales,
                                  bool rows, const weight_ptq_config& cfg, S scheme_policy) {
  const Eigen::Map<const Eigen::VectorXf> s(scales.data(), static_cast<Eigen::Index>(scales.size()));
  const row_matrix w = rows ? row_matrix(s.cwiseInverse().asDiagonal() * layer.weight)
                            : row_matrix(layer.weight * s.asDiagonal());
  auto q = quantize_weights<F>(matrix_view<const float>(w.data(), static_cast<std::size_t>(w.rows()),
                                                        static_cast<std::size_t>(w.cols())),
                               inputs, cfg, scheme_policy);
  if (!rows) {
    q.input_scales.assign(scales.begin(), scales.end());
    return q;
  }
  q.output_scales.assign(scales.begin(), scales.end());
  q.bias_shift.resize(scales.size(), 0.0f);
  for (std::size_t o = 0; o < scales.size(); ++o) {
    const float b = layer.bias[static_cast<Eigen::Index>(o)];
    q.bias_shift[o] += b / scales[o] - b;
  }
  return q;
}
}  // namespace detail

// Quantizes model's linear layers; each then computes with its quantized_weights (the
// model's kernels are replaced; restore_linears() goes back to float). Returns them in
// linears() order.
template <format F, scheme<F> S>
std::vector<quantized_weights> quantize_bert(bert& model, std::span<const std::string> calibration,
                                             const weight_ptq_config& cfg, S scheme_policy = S{}) {
  if (calibration.empty()) throw error(errc::invalid_argument, "quantize_bert: no calibration text");
  if constexpr (!requires { requires S::mid_tread; })
    if (cfg.method == weight_method::adaround)
      throw error(errc::unsupported, "quantize_bert: AdaRound needs evenly spaced levels, not a codebook format");
  std::vector<row_matrix> states;
  for (const auto& text : calibration) {
    const auto ids = model.tokenizer().encode(text, model.max_tokens());
    states.push_back(model.embeddings(std::span<const std::int32_t>(ids)));
  }
  model.restore_linears();
  auto linears = model.linears();
  std::vector<quantized_weights> out(linears.size());
  // AWQ's scales go where a BERT can fold them: the attention output reads the
  // attention-weighted rows of value, so 1/s goes into value's rows and bias. The layer
  // norms before q/k/v and the intermediate also feed the residual, and a GELU feeds the
  // output: those layers get AWQ's clipping search alone.
  const bool fold = cfg.method == weight_method::awq && cfg.awq.search_scales;
  weight_ptq_config unscaled = cfg;
  unscaled.awq.search_scales = false;
  // The linear layers of one encoder layer that read the same input: query, key and value;
  // the attention output; the intermediate; the output.
  constexpr std::size_t first[] = {0, 3, 4, 5}, count[] = {3, 1, 1, 1};
  // An error midway (bad configuration, NaN activations) leaves the model in float: no
  // kernel may outlive the statistics it writes to.
  try {
    for (std::size_t l = 0; l < model.config().layers; ++l) {
      std::vector<float> scales;  // AWQ's, of the attention output's input (empty: none)
      for (std::size_t part = 0; part < 4; ++part) {
        layer_inputs inputs(static_cast<std::size_t>(linears[6 * l + first[part]].weight.cols()));
        std::optional<layer_inputs> attended;  // the attention output's inputs, for AWQ's search
        const auto gather = [&](std::size_t i, layer_inputs& into) {
          const auto w = linears[i].weight_view();
          linears[i].kernel = [&into, w](matrix_view<const float> x, matrix_view<float> y) {
            into.add(x);
            linear_reference(x, w, y);
          };
        };
        gather(6 * l + first[part], inputs);
        if (fold && part == 0)  // the float value's output
          gather(6 * l + 3, attended.emplace(static_cast<std::size_t>(linears[6 * l + 3].weight.cols())));
        for (const auto& x : states) {
          row_matrix copy = x;
          model.encoder_layer(l, copy);
        }
        if (fold && part == 0) {
          linears[6 * l + 3].kernel = {};
          auto c = cfg.awq;
          c.group_size = cfg.group_size, c.clip = false;
          scales = awq<F>(linears[6 * l + 3].weight_view(), *attended, c, scheme_policy).scales;
        }
        for (std::size_t k = 0; k < count[part]; ++k) {
          const std::size_t i = 6 * l + first[part] + k;
          auto q = std::make_shared<const quantized_weights>(
              scales.empty() || (i % 6 != 2 && i % 6 != 3)
                  ? quantize_weights<F>(linears[i].weight_view(), inputs, unscaled, scheme_policy)
                  : detail::quantize_folded<F>(linears[i], inputs, scales, i % 6 == 2, unscaled, scheme_policy));
          out[i] = *q;
          const matrix_view<const float> weights(q->weights.data(), static_cast<std::size_t>(linears[i].weight.rows()),
                                                 static_cast<std::size_t>(linears[i].weight.cols()));
          linears[i].kernel = [q, weights](matrix_view<const float> x, matrix_view<float> y) {
            linear_reference(x, weights, y);
            if (!q->bias_shift.empty())
              as_eigen(y).rowwise() += Eigen::Map<const Eigen::RowVectorXf>(q->bias_shift.data(),
                                                                                     static_cast<Eigen::Index>(q->bias_shift.size()));
          };
        }
      }
      for (auto& x : states) model.encoder_layer(l, x);
    }
  } catch (...) {
    model.restore_linears();
    throw;
  }
  return out;
}

}  // namespace qtl::ptq
