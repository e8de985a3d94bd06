// qtl::ptq::adam: Adam (Kingma & Ba 2015) on one Eigen matrix of parameters, the optimizer
// of the PTQ passes that learn (AdaRound's rounding, ZeroQuant's layer-wise distillation).
#pragma once

#include <cmath>
#include <cstddef>

#include <Eigen/Core>

namespace qtl::ptq {

template <typename Matrix>
class adam {
 public:
  adam(Eigen::Index rows, Eigen::Index cols, double learning_rate)
      : m1_(Matrix::Zero(rows, cols)), m2_(Matrix::Zero(rows, cols)), learning_rate_(static_cast<float>(learning_rate)) {}

  // One step against the gradient: params -= lr·m̂ / (√v̂ + ε), with the bias-corrected
  // running means of the gradient (m̂) and of its square (v̂).
  template <typename Gradient>
  void step(Matrix& params, const Gradient& gradient) {
    m1_.array() = beta1 * m1_.array() + (1.0f - beta1) * gradient.array();
    m2_.array() = beta2 * m2_.array() + (1.0f - beta2) * gradient.array().square();
    const auto k = static_cast<float>(++steps_);
    const float correction1 = 1.0f - std::pow(beta1, k), correction2 = 1.0f - std::pow(beta2, k);
    params.array() -= learning_rate_ * (m1_.array() / correction1) / ((m2_.array() / correction2).sqrt() + epsilon);
  }

 private:
  static constexpr float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  Matrix m1_, m2_;
  float learning_rate_;
  std::size_t steps_ = 0;
};

}  // namespace qtl::ptq
