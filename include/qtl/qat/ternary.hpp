// qtl::qat::twn / ttq: ternary weights for training, Ternary Weight Networks' threshold
// (Li et al. 2016) and Trained Ternary Quantization's learned scales (Zhu et al. 2017).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/qat/arguments.hpp"

namespace qtl::qat {

// TWN over the whole tensor: Δ = 0.7 · mean|x|, α = mean|x| over |x| > Δ,
// y = α · sign(x) where |x| > Δ, else 0. The gradient passes unchanged.
class twn {
 public:
  void forward(matrix_view<const float> x, matrix_view<float> y) {
    detail::require_batch("twn::forward", x, y);
    threshold_ = static_cast<float>(0.7 * detail::abs_sum(x) / static_cast<double>(x.size()));
    double kept = 0.0;
    std::size_t count = 0;
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      if (std::abs(x(r, c)) > threshold_) kept += std::abs(x(r, c)), ++count;
    });
    scale_ = count ? static_cast<float>(kept / static_cast<double>(count)) : 0.0f;
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      const float v = x(r, c);
      y(r, c) = v > threshold_ ? scale_ : (v < -threshold_ ? -scale_ : 0.0f);
    });
  }

  static void backward(matrix_view<const float> dy, matrix_view<float> dx) {
    detail::require_batch("twn::backward", dy, dx);
    detail::require_finite_gradient("twn::backward", dy);
    detail::for_each_element(dy, [&](std::size_t r, std::size_t c) { dx(r, c) = dy(r, c); });
  }

  [[nodiscard]] float threshold() const noexcept { return threshold_; }  // the last forward's Δ
  [[nodiscard]] float scale() const noexcept { return scale_; }          // and α

 private:
  float threshold_ = 0.0f, scale_ = 0.0f;
};

struct ttq_gradients {
  float positive = 0.0f;  // dL/dWp
  float negative = 0.0f;  // dL/dWn
};

// TTQ: Δ = t · max|x|; y = Wp where x > Δ, -Wn where x < -Δ, else 0, with Wp, Wn learned.
// Backward: dWp = Σ dy over x > Δ, dWn = -Σ dy over x < -Δ, and the latent weights'
// gradient scaled by Wp, 1 or Wn in the three regions.
class ttq {
 public:
  explicit ttq(float positive = 1.0f, float negative = 1.0f, float threshold = 0.05f) : t_(threshold) {
    if (!(threshold >= 0.0f && threshold < 1.0f))
      throw error(errc::invalid_argument, "ttq: threshold factor " + std::to_string(threshold) + " is not in [0, 1)");
    set_scales(positive, negative);
  }

  void forward(matrix_view<const float> x, matrix_view<float> y) const {
    detail::require_batch("ttq::forward", x, y);
    const float delta = threshold(x);
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      const float v = x(r, c);
      y(r, c) = v > delta ? wp_ : (v < -delta ? -wn_ : 0.0f);
    });
  }

  ttq_gradients backward(matrix_view<const float> x, matrix_view<const float> dy, matrix_view<float> dx) const {
    detail::require_batch("ttq::backward", x, dy, dx);
    detail::require_finite_gradient("ttq::backward", dy);
    const float delta = threshold(x);
    double positive = 0.0, negative = 0.0;
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      const float v = x(r, c), g = dy(r, c);
      if (v > delta) positive += g, dx(r, c) = wp_ * g;
      else if (v < -delta) negative -= g, dx(r, c) = wn_ * g;
      else dx(r, c) = g;
    });
    return {static_cast<float>(positive), static_cast<float>(negative)};
  }

  // After an optimizer step: both scales positive and finite.
  void set_scales(float positive, float negative) {
    if (!(positive > 0.0f) || !(negative > 0.0f) || !std::isfinite(positive) || !std::isfinite(negative))
      throw error(errc::invalid_argument, "ttq: scales " + std::to_string(positive) + ", " + std::to_string(negative) +
                                              " must be positive and finite");
    wp_ = positive, wn_ = negative;
  }
  [[nodiscard]] float positive() const noexcept { return wp_; }
  [[nodiscard]] float negative() const noexcept { return wn_; }

 private:
  float threshold(matrix_view<const float> x) const {
    float m = 0.0f;
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) { m = std::max(m, std::abs(x(r, c))); });
    return t_ * m;
  }

  float t_;
  float wp_ = 1.0f, wn_ = 1.0f;
};

}  // namespace qtl::qat
