// qtl::ptq::layer_inputs: what the weight-rounding algorithms know of a linear layer's
// calibration inputs, in bounded memory (features² doubles, however many tokens): the
// second moment (GPTQ's and AdaRound's Hessian), the mean (bias correction) and the mean
// magnitude per input feature (AWQ, activation-aware low rank).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/kernel/executor.hpp"
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
  // The second moment, in² work per token, runs in column strips on exec's threads.
  void add(matrix_view<const float> x, const kernel::executor& exec = kernel::executor(1)) {
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
    add_square(xd, exec);
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
  // Σ xᵀx's lower triangle in strips of columns of equal work (a strip from column j has
  // n - j rows), so that contiguous ranges of strips balance across threads.
  void add_square(const Eigen::MatrixXd& xd, const kernel::executor& exec) {
    const auto n = static_cast<std::size_t>(xd.cols());
    const std::size_t strips = std::min<std::size_t>(n, 64);
    std::vector<std::size_t> bounds{0};
    const double total = 0.5 * static_cast<double>(n) * static_cast<double>(n + 1);
    double area = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
      area += static_cast<double>(n - j);
      if (area >= total * static_cast<double>(bounds.size()) / static_cast<double>(strips) && j + 1 < n)
        bounds.push_back(j + 1);
    }
    bounds.push_back(n);
    exec(bounds.size() - 1, [&](std::size_t first, std::size_t last) {
      for (std::size_t s = first; s < last; ++s) {
        const auto j0 = static_cast<Eigen::Index>(bounds[s]), width = static_cast<Eigen::Index>(bounds[s + 1] - bounds[s]);
        const auto tail = static_cast<Eigen::Index>(n) - j0;
        square_.block(j0, j0, tail, width).noalias() += xd.rightCols(tail).transpose() * xd.middleCols(j0, width);
      }
    });
  }

  void check_tokens(const char* what) const {
    if (tokens_ == 0) throw error(errc::invalid_argument, std::string("layer_inputs::") + what + ": no calibration tokens");
  }

  Eigen::MatrixXd square_;  // lower triangle of Σ xᵀx
  Eigen::VectorXd sum_, abs_sum_;
  std::size_t tokens_ = 0;
};

}  // namespace qtl::ptq
