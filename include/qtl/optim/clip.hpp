// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_: the L2 norm over
// every gradient of the model, and the scale that brings it down to max_norm. The scale
// goes to optimizer::step(params, grads, scale) (bitsandbytes' gnorm_scale), so the
// gradients themselves are not rewritten.
#pragma once

#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>

#include "qtl/core/error.hpp"

namespace qtl::optim {

// √(Σ g²) over all the gradients, accumulated in double.
inline double global_norm(std::initializer_list<std::span<const float>> grads) noexcept {
  double sum = 0.0;
  for (const auto g : grads)
    for (const float v : g) sum += static_cast<double>(v) * static_cast<double>(v);
  return std::sqrt(sum);
}

// max_norm / (norm + 1e-6) when that is below 1, else 1 (torch's clip coefficient).
inline float clip_scale(double norm, double max_norm) {
  if (!(max_norm > 0.0) || !std::isfinite(max_norm))
    throw error(errc::invalid_argument, "clip_scale: max_norm " + std::to_string(max_norm) + " is not finite and > 0");
  if (!std::isfinite(norm))
    throw error(errc::non_finite, "clip_scale: the gradient norm is " + std::to_string(norm));
  const double coefficient = max_norm / (norm + 1e-6);
  return coefficient < 1.0 ? static_cast<float>(coefficient) : 1.0f;
}

}  // namespace qtl::optim
