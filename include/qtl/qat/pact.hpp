// qtl::qat::pact: PArameterized Clipping acTivation (Choi et al. 2018): activations clipped to
// [0, α] with a learned α, then quantized to b unsigned bits (step α / (2^b - 1)).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/qat/arguments.hpp"
#include "qtl/rounding.hpp"

namespace qtl::qat {

// y = round(clamp(x, 0, α) / s) · s, s = α / (2^b - 1).
// Backward (the paper's straight-through estimator):
//   dx = dy for 0 <= x < α, else 0;   dα = Σ dy over x >= α.
class pact {
 public:
  pact(int bits, float alpha) : levels_(static_cast<float>((1 << checked(bits)) - 1)) { set_alpha(alpha); }

  void forward(matrix_view<const float> x, matrix_view<float> y) const {
    detail::require_batch("pact::forward", x, y);
    const float step = alpha_ / levels_;
    for (std::size_t r = 0; r < x.rows(); ++r)
      for (std::size_t c = 0; c < x.cols(); ++c) y(r, c) = nearest_even{}(clipped(x(r, c)) / step, 0) * step;
  }

  // Returns dα.
  float backward(matrix_view<const float> x, matrix_view<const float> dy, matrix_view<float> dx) const {
    detail::require_batch("pact::backward", x, dy, dx);
    detail::require_finite_gradient("pact::backward", dy);
    double alpha = 0.0;
    for (std::size_t r = 0; r < x.rows(); ++r)
      for (std::size_t c = 0; c < x.cols(); ++c) {
        const float v = x(r, c), g = dy(r, c);
        dx(r, c) = v >= 0.0f && v < alpha_ ? g : 0.0f;
        if (v >= alpha_) alpha += g;
      }
    return static_cast<float>(alpha);
  }

  // After an optimizer step (PACT also puts an L2 penalty on α: the caller's loss).
  void set_alpha(float alpha) {
    if (!(alpha > 0.0f) || !std::isfinite(alpha))
      throw error(errc::invalid_argument, "pact: clipping level " + std::to_string(alpha) + " must be positive and finite");
    alpha_ = alpha;
  }
  [[nodiscard]] float alpha() const noexcept { return alpha_; }

 private:
  static int checked(int bits) {
    if (bits < 1 || bits > 16) throw error(errc::invalid_argument, "pact: " + std::to_string(bits) + " bits");
    return bits;
  }
  float clipped(float x) const noexcept { return x < 0.0f ? 0.0f : (x >= alpha_ ? alpha_ : x); }

  float levels_;
  float alpha_ = 1.0f;
};

}  // namespace qtl::qat
