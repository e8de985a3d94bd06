// qtl::ptq::quantize_bert: every linear layer of a BERT model quantized by one weight
// algorithm (ptq/weight_ptq.hpp), in order, each from the inputs it gets on calibration
// text when the layers before it are already quantized (GPTQModel's and llm-compressor's
// sequential pass), so later layers correct for the earlier ones' error. Memory: the
// calibration hidden states (tokens × hidden floats) and one layer's statistics.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/ptq/bert.hpp"
#include "qtl/ptq/layer_inputs.hpp"
#include "qtl/ptq/weight_ptq.hpp"

namespace qtl::ptq {

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
  // The linear layers of one encoder layer that read the same input: query, key and value;
  // the attention output; the intermediate; the output.
  constexpr std::size_t first[] = {0, 3, 4, 5}, count[] = {3, 1, 1, 1};
  // An error midway (bad configuration, NaN activations) leaves the model in float: no
  // kernel may outlive the statistics it writes to.
  try {
    for (std::size_t l = 0; l < model.config().layers; ++l) {
      for (std::size_t part = 0; part < 4; ++part) {
        bert_linear& reader = linears[6 * l + first[part]];
        layer_inputs inputs(static_cast<std::size_t>(reader.weight.cols()));
        const auto w = reader.weight_view();
        reader.kernel = [&inputs, w](matrix_view<const float> x, matrix_view<float> y) {
          inputs.add(x);
          linear_reference(x, w, y);
        };
        for (const auto& x : states) {
          row_matrix copy = x;
          model.encoder_layer(l, copy);
        }
        for (std::size_t k = 0; k < count[part]; ++k) {
          const std::size_t i = 6 * l + first[part] + k;
          auto q = std::make_shared<const quantized_weights>(quantize_weights<F>(linears[i].weight_view(), inputs, cfg, scheme_policy));
          out[i] = *q;
          const matrix_view<const float> weights(q->weights.data(), static_cast<std::size_t>(linears[i].weight.rows()),
                                                 static_cast<std::size_t>(linears[i].weight.cols()));
          linears[i].kernel = [q, weights](matrix_view<const float> x, matrix_view<float> y) {
            linear_reference(x, weights, y);
            if (!q->bias_shift.empty())
              detail::as_eigen(y).rowwise() += Eigen::Map<const Eigen::RowVectorXf>(q->bias_shift.data(),
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
