// qtl::ptq::equalize: cross-layer equalization (Nagel et al. 2019) of two linear layers
// around an activation, y = W2·act(W1·x + b1): channel i of W1's output is divided by
// s_i and W2's input i multiplied by it, with s_i = sqrt(r1_i / r2_i) (r1_i: the largest
// |w| of W1's row i, r2_i: of W2's column i), so both ranges become sqrt(r1_i·r2_i) and a
// per-tensor quantizer wastes fewer levels on channels with a small range.
// Exact for a positively homogeneous activation (ReLU, leaky ReLU: act(x/s) = act(x)/s for
// s > 0). GELU is not: GELU(x/s)·s differs from GELU(x) near zero, so after equalization a
// GELU network computes a slightly different function even in float; measure it.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"

namespace qtl::ptq {

// Equalizes w1 [hidden, in] (with its bias b1, [hidden] or empty) and w2 [out, hidden] in
// place; returns s [hidden]. Channels where either range is zero keep s = 1.
inline std::vector<float> equalize(matrix_view<float> w1, std::span<float> b1, matrix_view<float> w2) {
  const std::size_t hidden = w1.rows();
  if (w2.cols() != hidden)
    throw error(errc::shape_mismatch, "equalize: the first layer has " + std::to_string(hidden) +
                                          " outputs, the second " + std::to_string(w2.cols()) + " inputs");
  if (!b1.empty() && b1.size() != hidden)
    throw error(errc::shape_mismatch, "equalize: a bias of " + std::to_string(b1.size()) + " for " +
                                          std::to_string(hidden) + " outputs");
  std::vector<float> r1(hidden, 0.0f), r2(hidden, 0.0f), s(hidden, 1.0f);
  for (std::size_t i = 0; i < hidden; ++i) {
    bool finite = true;
    for (std::size_t c = 0; c < w1.cols(); ++c) r1[i] = std::max(r1[i], std::abs(w1(i, c))), finite &= std::isfinite(w1(i, c));
    for (std::size_t r = 0; r < w2.rows(); ++r) r2[i] = std::max(r2[i], std::abs(w2(r, i))), finite &= std::isfinite(w2(r, i));
    if (!finite)
      throw error(errc::non_finite, "equalize: channel " + std::to_string(i) + " has a weight that is not finite");
  }
  for (std::size_t i = 0; i < hidden; ++i) {
    if (r1[i] == 0.0f || r2[i] == 0.0f) continue;
    s[i] = std::sqrt(r1[i] / r2[i]);
    for (std::size_t c = 0; c < w1.cols(); ++c) w1(i, c) /= s[i];
    if (!b1.empty()) b1[i] /= s[i];
    for (std::size_t r = 0; r < w2.rows(); ++r) w2(r, i) *= s[i];
  }
  return s;
}

}  // namespace qtl::ptq
