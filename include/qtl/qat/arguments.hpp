// The argument checks every QAT forward and backward shares (qtl/qat/): shapes that agree,
// a non-empty batch, finite gradients. A failed check throws qtl::error before anything is written.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"

namespace qtl::qat::detail {

// x is non-empty and every other view has its shape; `what` names the call in the message.
template <class... Views>
void require_batch(const char* what, matrix_view<const float> x, const Views&... others) {
  if (x.empty()) throw error(errc::invalid_argument, std::string(what) + ": empty tensor (nothing to train on)");
  (require_same_shape(x, matrix_view<const float>(others), what), ...);
}

// A NaN or Inf gradient would poison the learned parameters: refuse it, naming the element.
inline void require_finite_gradient(const char* what, matrix_view<const float> dy) {
  for (std::size_t r = 0; r < dy.rows(); ++r) {
    const float* row = &dy(r, 0);
    int bad = 0;  // a branch-free scan of the row (it vectorizes); the search only on failure
    for (std::size_t c = 0; c < dy.cols(); ++c) bad |= !(std::abs(row[c]) <= std::numeric_limits<float>::max());
    if (!bad) continue;
    for (std::size_t c = 0; c < dy.cols(); ++c)
      if (!std::isfinite(row[c]))
        throw error(errc::non_finite, std::string(what) + ": gradient (" + std::to_string(r) + ", " +
                                          std::to_string(c) + ") is not finite");
  }
}

// fn(row, col) for every element, row by row.
template <class Fn>
void for_each_element(matrix_view<const float> x, Fn&& fn) {
  for (std::size_t r = 0; r < x.rows(); ++r)
    for (std::size_t c = 0; c < x.cols(); ++c) fn(r, c);
}

// Σ|x| in double.
inline double abs_sum(matrix_view<const float> x) {
  double sum = 0.0;
  for_each_element(x, [&](std::size_t r, std::size_t c) { sum += std::abs(x(r, c)); });
  return sum;
}

// Elements outside [lo, hi] get no gradient; the bounds themselves do (torch.clamp's convention).
constexpr bool inside(float x, float lo, float hi) noexcept { return x >= lo && x <= hi; }

// +1, -1 or 0: the derivative of |x| as autograd takes it (0 at 0).
constexpr float abs_derivative(float x) noexcept { return static_cast<float>((x > 0.0f) - (x < 0.0f)); }

// The binary networks' sign: never 0, so every weight is one of two values.
constexpr float binary_sign(float x) noexcept { return x >= 0.0f ? 1.0f : -1.0f; }

}  // namespace qtl::qat::detail
