// qtl::ptq::layer_inputs: what the weight-rounding algorithms know of a linear layer's
// calibration inputs, in bounded memory (features² doubles, however many tokens): the
// second moment (GPTQ's and AdaRound's Hessian), the mean (bias correction) and the mean
// magnitude per input feature (AWQ, activation-aware low rank).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/ptq/linear_reference.hpp"  // Eigen/Core, with the compiler workaround

namespace qtl::ptq {

class layer_inputs {
 public:
  explicit layer_inputs(std::size_t in_features)
      : square_(Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(in_features), static_cast<Eigen::Index>(in_features))),
        sum_(Eigen::VectorXd::Zero(static_cast<Eigen::Index>(in_features))),
        abs_sum_(Eigen::VectorXd::Zero(static_cast<Eigen::Index>(in_features))) {
    if (in_features == 0) throw error(errc::invalid_argument, "layer_inputs: no input features");
  }

  // Adds the tokens x [n, in_features] (one per row); NaN/Inf is an error and adds nothing.
  void add(matrix_view<const float> x) {
    if (x.cols() != features())
      throw error(errc::shape_mismatch, "layer_inputs: inputs of " + std::to_string(x.cols()) +
                                            " features for a layer of " + std::to_string(features()));
    Eigen::MatrixXd xd(static_cast<Eigen::Index>(x.rows()), static_cast<Eigen::Index>(x.cols()));
    for (std::size_t r = 0; r < x.rows(); ++r)
      for (std::size_t c = 0; c < x.cols(); ++c) {
        if (!std::isfinite(x(r, c)))
          throw error(errc::non_finite, "layer_inputs: input " + std::to_string(x(r, c)) + " at token " +
                                            std::to_string(r) + ", feature " + std::to_string(c));
        xd(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = x(r, c);
      }
    square_.selfadjointView<Eigen::Lower>().rankUpdate(xd.transpose());
    sum_ += xd.colwise().sum().transpose();
    abs_sum_ += xd.cwiseAbs().colwise().sum().transpose();
    tokens_ += x.rows();
  }

  [[nodiscard]] std::size_t features() const noexcept { return static_cast<std::size_t>(sum_.size()); }
  [[nodiscard]] std::size_t tokens() const noexcept { return tokens_; }

  // H = 2/N Σ xᵀx (both triangles): ½·tr(ΔW H ΔWᵀ) is the mean over tokens of |x·ΔWᵀ|².
  [[nodiscard]] Eigen::MatrixXd hessian() const {
    check_tokens("hessian");
    Eigen::MatrixXd h = square_.selfadjointView<Eigen::Lower>();
    return h * (2.0 / static_cast<double>(tokens_));
  }
  // E[x] and E[|x|] per input feature.
  [[nodiscard]] Eigen::VectorXd mean() const { return check_tokens("mean"), sum_ / static_cast<double>(tokens_); }
  [[nodiscard]] Eigen::VectorXd mean_abs() const {
    return check_tokens("mean_abs"), abs_sum_ / static_cast<double>(tokens_);
  }

 private:
  void check_tokens(const char* what) const {
    if (tokens_ == 0) throw error(errc::invalid_argument, std::string("layer_inputs::") + what + ": no calibration tokens");
  }

  Eigen::MatrixXd square_;  // lower triangle of Σ xᵀx
  Eigen::VectorXd sum_, abs_sum_;
  std::size_t tokens_ = 0;
};

}  // namespace qtl::ptq
