// qtl::ptq::bert_backward: the backward pass of one BERT encoder layer. From the trace of
// its forward (bert::encoder_layer with a bert_layer_trace) and a loss's gradient with
// respect to the layer's output, the gradient with respect to its six linear layers'
// weights and biases (added up over calls, so a batch is a loop) and to its input. The
// layer norms' scales and shifts are held fixed. Each linear layer's gradient is taken at
// the weights it computed with and at the inputs in the trace; for a quantized layer
// those are the quantized ones, which passes the gradient straight through the rounding
// (what ZeroQuant's distillation, ptq/zeroquant.hpp, trains with).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/ptq/bert.hpp"

namespace qtl::ptq {

// Summed gradients, in bert::linears() order within the layer: query, key, value,
// attention output, intermediate, output (weights [out, in] like bert_linear::weight).
struct bert_layer_gradient {
  std::array<row_matrix, 6> weights;
  std::array<Eigen::VectorXf, 6> biases;
};

namespace detail {

// y = LN(x): from ∂L/∂y, the normalized rows x̂ and each row's 1/σ, ∂L/∂x =
// (1/σ)·(g - mean(g) - x̂·mean(g∘x̂)) for g = ∂L/∂y∘γ.
inline row_matrix layer_norm_backward(const row_matrix& grad, const Eigen::VectorXf& scale, const row_matrix& normed,
                                      const Eigen::VectorXf& inverse_std) {
  row_matrix g = (grad.array().rowwise() * scale.transpose().array()).matrix();
  const auto n = static_cast<float>(g.cols());
  for (Eigen::Index t = 0; t < g.rows(); ++t) {
    const float mean = g.row(t).sum() / n, projection = g.row(t).dot(normed.row(t)) / n;
    g.row(t) = inverse_std(t) * (g.row(t).array() - mean - projection * normed.row(t).array()).matrix();
  }
  return g;
}

// y = x·Wᵀ + b: ∂L/∂W += (∂L/∂y)ᵀ·x, ∂L/∂b += Σ_tokens ∂L/∂y.
inline void add_linear_gradient(const row_matrix& grad_y, const row_matrix& x, row_matrix& weight, Eigen::VectorXf& bias) {
  if (weight.size() == 0) weight = row_matrix::Zero(grad_y.cols(), x.cols()), bias = Eigen::VectorXf::Zero(grad_y.cols());
  weight.noalias() += grad_y.transpose() * x;
  bias += grad_y.colwise().sum().transpose();
}

// d/du of the exact GELU u·Φ(u): Φ(u) + u·φ(u).
inline float gelu_derivative(float u) {
  constexpr float inv_sqrt2 = 0.70710678118654752f, inv_sqrt_2pi = 0.39894228040143268f;
  return 0.5f * (1.0f + std::erf(u * inv_sqrt2)) + u * inv_sqrt_2pi * std::exp(-0.5f * u * u);
}

}  // namespace detail

// Adds encoder layer l's weight and bias gradients for one sequence to `gradient` (empty
// matrices start at zero) and returns ∂L/∂(the layer's input). weights: the six weight
// matrices the forward computed with (the model's own, or the quantized ones).
inline row_matrix add_layer_gradient(const bert& model, std::size_t l, const bert_layer_trace& trace,
                                     const row_matrix& grad_output, const std::array<const row_matrix*, 6>& weights,
                                     bert_layer_gradient& gradient) {
  const auto& c = model.config();
  if (l >= c.layers) throw error(errc::out_of_range, "bert_backward: layer " + std::to_string(l) + " of " + std::to_string(c.layers));
  if (grad_output.rows() != trace.normed_output.rows() || grad_output.cols() != static_cast<Eigen::Index>(c.hidden) ||
      trace.probabilities.size() != c.heads)
    throw error(errc::shape_mismatch, "bert_backward: a gradient of " + std::to_string(grad_output.rows()) + "×" +
                                          std::to_string(grad_output.cols()) + " for a trace of " +
                                          std::to_string(trace.normed_output.rows()) + " tokens");
  for (std::size_t i = 0; i < 6; ++i)
    if (weights[i] == nullptr || weights[i]->rows() != model.linears()[6 * l + i].weight.rows() ||
        weights[i]->cols() != trace.inputs[i].cols())
      throw error(errc::shape_mismatch, "bert_backward: weights " + std::to_string(i) + " do not fit layer " + std::to_string(l));
  auto& gw = gradient.weights;
  auto& gb = gradient.biases;

  // The FFN: output = LN(h + GELU(h·W₄ᵀ + b₄)·W₅ᵀ + b₅).
  const row_matrix grad_sum2 = detail::layer_norm_backward(grad_output, model.norm_scale(l, 1), trace.normed_output,
                                                           trace.inverse_std_output);
  detail::add_linear_gradient(grad_sum2, trace.inputs[5], gw[5], gb[5]);
  row_matrix grad_up = grad_sum2 * *weights[5];
  grad_up.array() *= trace.up.unaryExpr(&detail::gelu_derivative).array();
  detail::add_linear_gradient(grad_up, trace.inputs[4], gw[4], gb[4]);
  const row_matrix grad_h = grad_sum2 + grad_up * *weights[4];

  // The attention: h = LN(x + context·W₃ᵀ + b₃), context = softmax(q·kᵀ/√d)·v per head.
  const row_matrix grad_sum1 = detail::layer_norm_backward(grad_h, model.norm_scale(l, 0), trace.normed_attention,
                                                           trace.inverse_std_attention);
  detail::add_linear_gradient(grad_sum1, trace.inputs[3], gw[3], gb[3]);
  const row_matrix grad_context = grad_sum1 * *weights[3];
  const Eigen::Index n = grad_output.rows(), d = static_cast<Eigen::Index>(c.hidden / c.heads);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  row_matrix grad_q(n, grad_output.cols()), grad_k(n, grad_output.cols()), grad_v(n, grad_output.cols());
  for (Eigen::Index h = 0; h < static_cast<Eigen::Index>(c.heads); ++h) {
    const row_matrix& p = trace.probabilities[static_cast<std::size_t>(h)];
    const auto grad_head = grad_context.middleCols(h * d, d);
    grad_v.middleCols(h * d, d).noalias() = p.transpose() * grad_head;
    const row_matrix grad_p = grad_head * trace.value.middleCols(h * d, d).transpose();
    // Softmax per row: ∂L/∂s = p∘(∂L/∂p - Σ_j p_j·∂L/∂p_j).
    const Eigen::VectorXf weighted = (grad_p.array() * p.array()).rowwise().sum();
    const row_matrix grad_scores = (p.array() * (grad_p.array().colwise() - weighted.array())).matrix() * scale;
    grad_q.middleCols(h * d, d).noalias() = grad_scores * trace.key.middleCols(h * d, d);
    grad_k.middleCols(h * d, d).noalias() = grad_scores.transpose() * trace.query.middleCols(h * d, d);
  }
  detail::add_linear_gradient(grad_q, trace.inputs[0], gw[0], gb[0]);
  detail::add_linear_gradient(grad_k, trace.inputs[1], gw[1], gb[1]);
  detail::add_linear_gradient(grad_v, trace.inputs[2], gw[2], gb[2]);
  return grad_sum1 + grad_q * *weights[0] + grad_k * *weights[1] + grad_v * *weights[2];
}

}  // namespace qtl::ptq
