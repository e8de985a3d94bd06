// qtl::ptq::zeroquant_bert: ZeroQuant (Yao et al. 2022) on a BERT. Every linear layer's
// weights are quantized in groups along the input (format F, scheme S, round to nearest)
// and its inputs token-wise (int8, symmetric, one scale per token computed at run time:
// the composed kernels' W·A8 product), optionally followed by layer-by-layer knowledge
// distillation (LKD): each encoder layer, quantized, learns to reproduce the float
// layer's output from the float model's hidden states (its own teacher, so no layer's
// error reaches the next one's training), by Adam on the mean squared error with the
// rounding passed straight through (ptq/bert_backward.hpp). The linear layers' weights and
// biases train; the layer norms stay. Memory: the calibration hidden states twice and
// one layer's weights, gradients and Adam moments.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/granularity.hpp"
#include "qtl/ptq/adam.hpp"
#include "qtl/ptq/bert.hpp"
#include "qtl/ptq/bert_backward.hpp"
#include "qtl/ptq/layer_error.hpp"
#include "qtl/ptq/weight_ptq.hpp"
#include "qtl/quantizer.hpp"
#include "qtl/rounding.hpp"
#include "qtl/scheme.hpp"

namespace qtl::ptq {

struct zeroquant_config {
  std::size_t group_size = 128;       // weights sharing a scale along the input; 0: per row
  bool quantize_activations = true;   // token-wise int8 inputs; false: weight-only
  std::size_t distill_steps = 0;      // LKD's Adam steps per encoder layer; 0: no distillation
  std::size_t batch = 8;              // calibration sentences per step (taken in turn)
  double learning_rate = 3e-5;        // Adam's, on the weights and biases
};

// linears: in bert::linears() order, each layer's final weights (dequantized), codes and
// parameters, and bias_shift = the trained bias minus the float one (empty without LKD);
// their Hessian errors are not computed (0). Per encoder layer, the mean squared error of
// its output to the float layer's on the float hidden states of the calibration text:
// quantized by round to nearest (before) and at the end (after: LKD's, or before's again
// where distillation did not lower it, then that layer keeps round to nearest).
struct zeroquant_result {
  std::vector<quantized_weights> linears;
  std::vector<double> error_before, error_after;
};

namespace detail {

// x's rows quantized to int8 with one symmetric scale each, and back.
inline void quantize_tokens(row_matrix& x) {
  const quantizer<int8, symmetric, per_token> q;
  const matrix_view<float> view(x.data(), static_cast<std::size_t>(x.rows()), static_cast<std::size_t>(x.cols()));
  q.dequantize(q.quantize(matrix_view<const float>(view)), view);
}

// One encoder layer's linear layers as the quantized model computes them: weights
// quantized from the trained float ones, biases shifted by the training.
template <format F, scheme<F> S>
struct zeroquant_layer {
  S scheme_policy;
  std::size_t group_size;
  bool quantize_activations;
  std::array<row_matrix, 6> trained, quantized;
  std::array<Eigen::VectorXf, 6> bias, bias_shift;  // trained biases; minus the model's

  zeroquant_layer(const bert& model, std::size_t l, const zeroquant_config& cfg, S scheme)
      : scheme_policy(scheme), group_size(cfg.group_size), quantize_activations(cfg.quantize_activations) {
    for (std::size_t i = 0; i < 6; ++i) {
      const bert_linear& linear = model.linears()[6 * l + i];
      (void)finite_weights(linear.weight_view(), "zeroquant_bert");
      (void)checked_group(group_size, linear.weight_view().cols(), "zeroquant_bert");
      trained[i] = linear.weight, bias[i] = linear.bias;
    }
    requantize(model, l);
  }

  // The round-to-nearest codes of trained[i].
  [[nodiscard]] quantized_tensor<F> codes(std::size_t i) const {
    const auto rows = static_cast<std::size_t>(trained[i].rows()), cols = static_cast<std::size_t>(trained[i].cols());
    return weight_quantizer(cols).quantize(matrix_view<const float>(trained[i].data(), rows, cols));
  }

  void requantize(const bert& model, std::size_t l) {
    for (std::size_t i = 0; i < 6; ++i) {
      quantized[i].resize(trained[i].rows(), trained[i].cols());
      weight_quantizer(static_cast<std::size_t>(trained[i].cols()))
          .dequantize(codes(i), matrix_view<float>(quantized[i].data(), static_cast<std::size_t>(quantized[i].rows()),
                                                   static_cast<std::size_t>(quantized[i].cols())));
      bias_shift[i] = bias[i] - model.linears()[6 * l + i].bias;
    }
  }

  [[nodiscard]] quantizer<F, S, per_group<>, nearest_even> weight_quantizer(std::size_t cols) const {
    return quantizer<F, S, per_group<>, nearest_even>(scheme_policy, per_group<>{group_size == 0 ? cols : group_size});
  }
};

// Layer l's linear layers compute from `layer` (which the kernels keep alive).
template <format F, scheme<F> S>
void install(bert& model, std::size_t l, const std::shared_ptr<const zeroquant_layer<F, S>>& layer) {
  for (std::size_t i = 0; i < 6; ++i)
    model.linears()[6 * l + i].kernel = [layer, i](matrix_view<const float> x, matrix_view<float> y) {
      row_matrix input = as_eigen(x);
      if (layer->quantize_activations) quantize_tokens(input);
      as_eigen(y).noalias() = input * layer->quantized[i].transpose();
      as_eigen(y).rowwise() += layer->bias_shift[i].transpose();
    };
}

}  // namespace detail

template <format F, scheme<F> S>
zeroquant_result zeroquant_bert(bert& model, std::span<const std::string> calibration, const zeroquant_config& cfg = {},
                                S scheme_policy = S{}) {
  if (calibration.empty()) throw error(errc::invalid_argument, "zeroquant_bert: no calibration text");
  if (cfg.distill_steps > 0 && (cfg.batch == 0 || !(cfg.learning_rate > 0.0)))
    throw error(errc::invalid_argument, "zeroquant_bert: distillation needs a batch of at least 1 and a positive learning rate");
  std::vector<row_matrix> states;  // the float model's hidden states: the teacher's inputs
  for (const auto& text : calibration) {
    const auto ids = model.tokenizer().encode(text, model.max_tokens());
    states.push_back(model.embeddings(std::span<const std::int32_t>(ids)));
  }
  model.restore_linears();
  zeroquant_result out;
  try {
    for (std::size_t l = 0; l < model.config().layers; ++l) {
      std::vector<row_matrix> teacher = states;
      for (auto& x : teacher) model.encoder_layer(l, x);
      const auto shared = std::make_shared<detail::zeroquant_layer<F, S>>(model, l, cfg, scheme_policy);
      auto& layer = *shared;  // trained here, read by the kernels
      detail::install<F, S>(model, l, shared);
      const auto error = [&] {
        double sum = 0.0, count = 0.0;
        for (std::size_t s = 0; s < states.size(); ++s) {
          row_matrix y = states[s];
          model.encoder_layer(l, y);
          sum += static_cast<double>((y - teacher[s]).squaredNorm()), count += static_cast<double>(y.size());
        }
        return sum / count;
      };
      const double before = error();
      double after = before;
      if (cfg.distill_steps > 0) {
        std::vector<adam<row_matrix>> weight_optimizers;
        std::vector<adam<Eigen::VectorXf>> bias_optimizers;
        for (std::size_t i = 0; i < 6; ++i) {
          weight_optimizers.emplace_back(layer.trained[i].rows(), layer.trained[i].cols(), cfg.learning_rate);
          bias_optimizers.emplace_back(layer.bias[i].rows(), 1, cfg.learning_rate);
        }
        const std::array<const row_matrix*, 6> weights = {&layer.quantized[0], &layer.quantized[1], &layer.quantized[2],
                                                          &layer.quantized[3], &layer.quantized[4], &layer.quantized[5]};
        for (std::size_t step = 0; step < cfg.distill_steps; ++step) {
          const std::size_t batch = std::min(cfg.batch, states.size());
          double elements = 0.0;
          for (std::size_t j = 0; j < batch; ++j) elements += static_cast<double>(states[(step * batch + j) % states.size()].size());
          bert_layer_gradient gradient;
          for (std::size_t j = 0; j < batch; ++j) {
            const std::size_t s = (step * batch + j) % states.size();
            row_matrix y = states[s];
            bert_layer_trace trace;
            model.encoder_layer(l, y, &trace);
            if (cfg.quantize_activations)
              for (auto& input : trace.inputs) detail::quantize_tokens(input);
            const row_matrix grad = (y - teacher[s]) * static_cast<float>(2.0 / elements);
            (void)add_layer_gradient(model, l, trace, grad, weights, gradient);
          }
          for (std::size_t i = 0; i < 6; ++i) {
            weight_optimizers[i].step(layer.trained[i], gradient.weights[i]);
            bias_optimizers[i].step(layer.bias[i], gradient.biases[i]);
          }
          layer.requantize(model, l);
        }
        after = error();
        if (!(after < before)) {  // distillation did not help: back to round to nearest
          for (std::size_t i = 0; i < 6; ++i) layer.trained[i] = model.linears()[6 * l + i].weight, layer.bias[i] = model.linears()[6 * l + i].bias;
          layer.requantize(model, l);
          after = before;
        }
      }
      out.error_before.push_back(before), out.error_after.push_back(after);
      for (std::size_t i = 0; i < 6; ++i) {
        quantized_weights q;
        q.weights.assign(layer.quantized[i].data(), layer.quantized[i].data() + layer.quantized[i].size());
        if (cfg.distill_steps > 0 && layer.bias_shift[i].cwiseAbs().maxCoeff() > 0.0f)
          q.bias_shift.assign(layer.bias_shift[i].data(), layer.bias_shift[i].data() + layer.bias_shift[i].size());
        q.note = cfg.quantize_activations ? "token-wise int8 inputs" : "float inputs";
        detail::store_codes(q, layer.codes(i));
        out.linears.push_back(std::move(q));
      }
      states = std::move(teacher);
    }
  } catch (...) {
    model.restore_linears();
    throw;
  }
  return out;
}

}  // namespace qtl::ptq
