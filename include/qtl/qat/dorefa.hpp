// qtl::qat::dorefa_weights / dorefa_activations / dorefa_gradients: DoReFa-Net (Zhou et al. 2016),
// k-bit weights through a tanh normalisation, k-bit activations in [0, 1], k-bit stochastic gradients.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/qat/arguments.hpp"
#include "qtl/rounding.hpp"

namespace qtl::qat {

namespace detail {

inline float dorefa_levels(const char* what, int bits) {
  if (bits < 1 || bits > 16) throw error(errc::invalid_argument, std::string(what) + ": " + std::to_string(bits) + " bits");
  return static_cast<float>((1 << bits) - 1);
}

// quantize_k(r) = round(r · (2^k - 1)) / (2^k - 1), r in [0, 1].
inline float quantize_unit(float r, float levels) noexcept { return nearest_even{}(r * levels, 0) / levels; }

}  // namespace detail

// k >= 2: t = tanh(x), m = max|t|, y = 2 · quantize_k(t / m · 1/2 + 1/2) - 1, with the gradient
// of everything but the rounding (through tanh and through m, split evenly among ties as torch
// does). k = 1: y = sign(x) · mean|x| with the mean held constant, gradient passed straight through.
class dorefa_weights {
 public:
  explicit dorefa_weights(int bits) : bits_(bits), levels_(detail::dorefa_levels("dorefa_weights", bits)) {}

  void forward(matrix_view<const float> x, matrix_view<float> y) const {
    detail::require_batch("dorefa_weights::forward", x, y);
    if (bits_ == 1) {
      const float mean = static_cast<float>(detail::abs_sum(x) / static_cast<double>(x.size()));
      detail::for_each_element(x, [&](std::size_t r, std::size_t c) { y(r, c) = detail::binary_sign(x(r, c)) * mean; });
      return;
    }
    const float m = tanh_into(x, y).value;  // y holds tanh(x), then the output
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      y(r, c) = 2.0f * detail::quantize_unit(y(r, c) / m * 0.5f + 0.5f, levels_) - 1.0f;
    });
  }

  void backward(matrix_view<const float> x, matrix_view<const float> dy, matrix_view<float> dx) const {
    detail::require_batch("dorefa_weights::backward", x, dy, dx);
    detail::require_finite_gradient("dorefa_weights::backward", dy);
    if (bits_ == 1) {
      detail::for_each_element(x, [&](std::size_t r, std::size_t c) { dx(r, c) = dy(r, c); });
      return;
    }
    const absmax top = tanh_into(x, dx);  // dx holds tanh(x), then the gradient
    const float m = top.value;            // a plain name: clang 14 cannot capture a binding
    const std::size_t ties = top.ties;
    double dm = 0.0;  // dL/dm = -Σ dy · t / m²
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) { dm -= double(dy(r, c)) * dx(r, c); });
    const float share = static_cast<float>(dm / (double(m) * m) / static_cast<double>(ties));
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      const float t = dx(r, c);
      float dt = dy(r, c) / m;
      if (std::abs(t) == m) dt += detail::abs_derivative(t) * share;
      dx(r, c) = dt * (1.0f - t * t);
    });
  }

 private:
  struct absmax {
    float value;
    std::size_t ties;
  };
  // out = tanh(x), computed once per element; returns max|tanh x| and how many reach it.
  static absmax tanh_into(matrix_view<const float> x, matrix_view<float> out) {
    absmax a{0.0f, 0};
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      out(r, c) = std::tanh(x(r, c));
      const float t = std::abs(out(r, c));
      if (t > a.value) a = {t, 1};
      else if (t == a.value) ++a.ties;
    });
    if (a.value == 0.0f) throw error(errc::invalid_argument, "dorefa_weights: all weights are zero");
    return a;
  }

  int bits_;
  float levels_;
};

// y = quantize_k(clamp(x, 0, 1)); dx = dy inside [0, 1] (bounds included), 0 outside.
class dorefa_activations {
 public:
  explicit dorefa_activations(int bits) : levels_(detail::dorefa_levels("dorefa_activations", bits)) {}

  void forward(matrix_view<const float> x, matrix_view<float> y) const {
    detail::require_batch("dorefa_activations::forward", x, y);
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      y(r, c) = detail::quantize_unit(std::clamp(x(r, c), 0.0f, 1.0f), levels_);
    });
  }

  void backward(matrix_view<const float> x, matrix_view<const float> dy, matrix_view<float> dx) const {
    detail::require_batch("dorefa_activations::backward", x, dy, dx);
    detail::require_finite_gradient("dorefa_activations::backward", dy);
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      dx(r, c) = detail::inside(x(r, c), 0.0f, 1.0f) ? dy(r, c) : 0.0f;
    });
  }

 private:
  float levels_;
};

// The gradient of a layer's output, one row per sample, quantized to k bits without bias:
//   m = max|g| of the row, out = 2m · (quantize_k(clamp(g / m · 1/2 + 1/2 + u / (2^k - 1), 0, 1)) - 1/2),
// u uniform in [-1/2, 1/2): from a counter-based generator (seed, element index), or given.
class dorefa_gradients {
 public:
  explicit dorefa_gradients(int bits, std::uint64_t seed = 0)
      : levels_(detail::dorefa_levels("dorefa_gradients", bits)), seed_(seed) {}

  void quantize(matrix_view<const float> g, matrix_view<float> out) const {
    const stochastic<> draws{seed_};
    quantize_with(g, out, [&](std::size_t r, std::size_t c) {
      return static_cast<float>(draws.draw(r * g.cols() + c)) * 0x1p-24f - 0.5f;
    });
  }
  // With the noise given, u(r, c) in [-1/2, 1/2) (to reproduce another implementation's draws).
  void quantize(matrix_view<const float> g, matrix_view<const float> noise, matrix_view<float> out) const {
    detail::require_batch("dorefa_gradients::quantize", g, noise);
    quantize_with(g, out, [&](std::size_t r, std::size_t c) { return noise(r, c); });
  }

 private:
  template <class Noise>
  void quantize_with(matrix_view<const float> g, matrix_view<float> out, Noise&& noise) const {
    detail::require_batch("dorefa_gradients::quantize", g, out);
    detail::require_finite_gradient("dorefa_gradients::quantize", g);
    for (std::size_t r = 0; r < g.rows(); ++r) {
      float m = 0.0f;
      for (std::size_t c = 0; c < g.cols(); ++c) m = std::max(m, std::abs(g(r, c)));
      for (std::size_t c = 0; c < g.cols(); ++c) {
        if (m == 0.0f) {
          out(r, c) = 0.0f;
          continue;
        }
        const float v = std::clamp(g(r, c) / m * 0.5f + 0.5f + noise(r, c) / levels_, 0.0f, 1.0f);
        out(r, c) = (detail::quantize_unit(v, levels_) - 0.5f) * m * 2.0f;
      }
    }
  }

  float levels_;
  std::uint64_t seed_;
};

}  // namespace qtl::qat
