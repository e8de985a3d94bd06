// A synthetic linear layer for the weight-rounding tests: inputs with correlated
// features of very different scales, as a transformer's activations have.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "qtl/core/view.hpp"
#include "qtl/ptq/layer_inputs.hpp"

namespace qtl_test {

using qtl::matrix_view;

struct layer {
  std::size_t tokens, in, out;
  std::vector<float> x, w;
};

// Inputs with correlated features (a few shared factors plus noise, feature scales 0.1-10)
// as a transformer's activations have, and normal weights.
inline layer correlated(std::size_t tokens, std::size_t in, std::size_t out, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  layer l{tokens, in, out, std::vector<float>(tokens * in), std::vector<float>(out * in)};
  std::vector<float> mix(4 * in), scale(in);
  for (auto& m : mix) m = normal(rng);
  for (auto& s : scale) s = std::exp(normal(rng) * 1.2f);
  for (std::size_t t = 0; t < tokens; ++t) {
    float f[4];
    for (auto& v : f) v = normal(rng);
    for (std::size_t c = 0; c < in; ++c)
      l.x[t * in + c] = scale[c] * (f[0] * mix[c] + f[1] * mix[in + c] + f[2] * mix[2 * in + c] +
                                    f[3] * mix[3 * in + c] + 0.3f * normal(rng));
  }
  for (auto& v : l.w) v = normal(rng) * 0.05f;
  return l;
}

inline qtl::ptq::layer_inputs inputs_of(const layer& l) {
  qtl::ptq::layer_inputs h(l.in);
  h.add(matrix_view<const float>(l.x.data(), l.tokens / 2, l.in));  // in two batches
  h.add(matrix_view<const float>(l.x.data() + l.tokens / 2 * l.in, l.tokens - l.tokens / 2, l.in));
  return h;
}

inline Eigen::MatrixXd hessian_of(const layer& l) { return inputs_of(l).hessian(); }

// mean over tokens of |x·(W - Ŵ)ᵀ|², directly.
inline double direct_error(const layer& l, const std::vector<float>& q) {
  double sum = 0.0;
  for (std::size_t t = 0; t < l.tokens; ++t)
    for (std::size_t o = 0; o < l.out; ++o) {
      double y = 0.0;
      for (std::size_t c = 0; c < l.in; ++c) y += double(l.x[t * l.in + c]) * (double(l.w[o * l.in + c]) - q[o * l.in + c]);
      sum += y * y;
    }
  return sum / static_cast<double>(l.tokens);
}

}  // namespace qtl_test
