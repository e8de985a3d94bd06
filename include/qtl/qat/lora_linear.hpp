// qtl::qat::lora_linear<Q>: LoRA adapters on a frozen quantized base weight (QLoRA's idea):
// y = x·Ŵᵀ + b + (α/r)·(x·Aᵀ)·Bᵀ, Ŵ dequantized from the base's codes by Q on every forward.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/qat/arguments.hpp"
#include "qtl/quantized_tensor.hpp"
#include "qtl/rounding.hpp"

namespace qtl::qat {

struct lora_config {
  std::size_t rank = 8;
  float alpha = 16.0f;     // the update is scaled by alpha / rank, as PEFT's lora_alpha
  std::uint64_t seed = 0;  // A's initial draws
};

// Q rebuilds the base: q.dequantize(base, matrix_view<float>) (a qtl::quantizer with its
// quantized_tensor, or a kernel::simd_quantizer with a packed_tensor, which keeps 4-bit
// weights at half a byte each). A [rank, in] starts as PEFT's (kaiming-uniform with a = √5:
// uniform in ±1/√in), B [out, rank] at zero, so training starts from the quantized layer.
template <class Q, class Base = quantized_tensor<typename Q::format_type>>
  requires requires(const Q q, const Base base, matrix_view<float> out) { q.dequantize(base, out); }
class lora_linear {
 public:
  using matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  lora_linear(Q quantizer, Base base, std::size_t out, std::size_t in, std::vector<float> bias, lora_config config)
      : q_(std::move(quantizer)), base_(std::move(base)), bias_(std::move(bias)), out_(out), in_(in),
        scaling_(config.alpha / static_cast<float>(config.rank)) {
    if (config.rank == 0 || config.rank > std::min(out, in))
      throw error(errc::invalid_argument, "lora_linear: rank " + std::to_string(config.rank) + " for a " +
                                              std::to_string(out) + "x" + std::to_string(in) + " layer");
    if (!bias_.empty() && bias_.size() != out)
      throw error(errc::shape_mismatch, "lora_linear: " + std::to_string(bias_.size()) + " biases for " +
                                            std::to_string(out) + " outputs");
    if (!(config.alpha > 0.0f) || !std::isfinite(config.alpha))
      throw error(errc::invalid_argument, "lora_linear: alpha " + std::to_string(config.alpha));
    dequantized_.resize(static_cast<Eigen::Index>(out), static_cast<Eigen::Index>(in));
    q_.dequantize(base_, matrix_view<float>(dequantized_.data(), out, in));  // checks the base's shape
    const auto rank = static_cast<Eigen::Index>(config.rank);
    a_.resize(rank, static_cast<Eigen::Index>(in));
    const stochastic<> draws{config.seed};
    const float bound = 1.0f / std::sqrt(static_cast<float>(in));
    for (Eigen::Index i = 0; i < a_.size(); ++i)
      a_.data()[i] = (static_cast<float>(draws.draw(static_cast<std::uint64_t>(i))) * 0x1p-24f * 2.0f - 1.0f) * bound;
    b_ = matrix::Zero(static_cast<Eigen::Index>(out), rank);
  }

  // y [tokens, out] from x [tokens, in]; keeps x·Aᵀ for backward.
  void forward(matrix_view<const float> x, matrix_view<float> y) {
    detail::require_batch("lora_linear::forward", x);
    if (x.cols() != in_ || y.rows() != x.rows() || y.cols() != out_)
      throw error(errc::shape_mismatch, "lora_linear::forward: x " + std::to_string(x.rows()) + "x" +
                                            std::to_string(x.cols()) + ", y " + std::to_string(y.rows()) + "x" +
                                            std::to_string(y.cols()) + " for a " + std::to_string(out_) + "x" +
                                            std::to_string(in_) + " layer");
    q_.dequantize(base_, matrix_view<float>(dequantized_.data(), out_, in_));  // the frozen base, on the fly
    const auto xs = map(x);
    xa_ = xs * a_.transpose();
    auto ys = map(y);
    ys.noalias() = xs * dequantized_.transpose();
    ys.noalias() += scaling_ * (xa_ * b_.transpose());
    if (!bias_.empty()) ys.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias_.data(), static_cast<Eigen::Index>(out_));
  }

  // The gradients of A and B (grad_a, grad_b) from dy, and dx when it is not empty (the
  // layer before needs it). The base and the bias are frozen.
  void backward(matrix_view<const float> x, matrix_view<const float> dy, matrix_view<float> dx) {
    detail::require_batch("lora_linear::backward", dy);
    detail::require_finite_gradient("lora_linear::backward", dy);
    if (dy.cols() != out_ || x.rows() != dy.rows() || x.cols() != in_ || xa_.rows() != static_cast<Eigen::Index>(x.rows()))
      throw error(errc::shape_mismatch, "lora_linear::backward: shapes differ from the last forward's");
    const auto xs = map(x);
    const auto dys = map(dy);
    grad_b_.noalias() = scaling_ * (dys.transpose() * xa_);
    const matrix dxa = scaling_ * (dys * b_);
    grad_a_.noalias() = dxa.transpose() * xs;
    if (dx.empty()) return;
    require_same_shape(x, matrix_view<const float>(dx), "lora_linear::backward: x vs dx");
    auto dxs = map(dx);
    dxs.noalias() = dys * dequantized_;
    dxs.noalias() += dxa * a_;
  }

  // Ŵ + (α/r)·B·A, [out, in] row-major: the merged weight, to requantize or to save.
  [[nodiscard]] matrix merged() const {
    matrix w(static_cast<Eigen::Index>(out_), static_cast<Eigen::Index>(in_));
    q_.dequantize(base_, matrix_view<float>(w.data(), out_, in_));
    w.noalias() += scaling_ * (b_ * a_);
    return w;
  }

  // The adapters (to step with an optimizer) and their last gradients; PEFT's lora_A / lora_B.
  [[nodiscard]] matrix& a() noexcept { return a_; }
  [[nodiscard]] matrix& b() noexcept { return b_; }
  [[nodiscard]] const matrix& a() const noexcept { return a_; }
  [[nodiscard]] const matrix& b() const noexcept { return b_; }
  [[nodiscard]] const matrix& grad_a() const noexcept { return grad_a_; }
  [[nodiscard]] const matrix& grad_b() const noexcept { return grad_b_; }
  [[nodiscard]] float scaling() const noexcept { return scaling_; }
  [[nodiscard]] const Base& base() const noexcept { return base_; }

 private:
  template <class T>
  static auto map(matrix_view<T> m) {
    using mapped = std::conditional_t<std::is_const_v<T>, const matrix, matrix>;
    return Eigen::Map<mapped, 0, Eigen::OuterStride<>>(m.data(), static_cast<Eigen::Index>(m.rows()),
                                                       static_cast<Eigen::Index>(m.cols()),
                                                       Eigen::OuterStride<>(static_cast<Eigen::Index>(m.row_stride())));
  }

  Q q_;
  Base base_;
  std::vector<float> bias_;
  std::size_t out_, in_;
  float scaling_;
  matrix dequantized_, a_, b_, grad_a_, grad_b_, xa_;
};

}  // namespace qtl::qat
