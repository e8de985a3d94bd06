// qtl::qat::lsq: Learned Step size Quantization (Esser et al. 2020) and LSQ+ (Bhalgat et al.
// 2020), uniform fake quantization whose step s (and offset β, for LSQ+) train with the weights.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/qat/arguments.hpp"
#include "qtl/rounding.hpp"

namespace qtl::qat {

struct lsq_gradients {
  float step = 0.0f;
  float offset = 0.0f;  // LSQ+ only; LSQ keeps its offset at 0 and ignores this
};

// y = clamp(round((x - β) / s), n, p) · s + β over the whole tensor, codes n..p.
// Backward, with the straight-through estimator on round:
//   dx = dy inside [n, p] (bounds included), 0 outside;
//   ds = g · Σ dy · (round(v) - v inside, n or p outside), v = (x - β) / s;
//   dβ = g · Σ dy outside (LSQ+);
// g = 1 / sqrt(features · p), the paper's gradient scale (features: the tensor's size unless set).
class lsq {
 public:
  // Signed b-bit codes -2^(b-1) .. 2^(b-1)-1 (weights) or unsigned 0 .. 2^b-1 (activations).
  static lsq signed_bits(int bits, float step) {
    const int half = 1 << (checked(bits) - 1);
    return lsq(-half, half - 1, step);
  }
  static lsq unsigned_bits(int bits, float step, float offset = 0.0f) {
    const int levels = 1 << checked(bits);
    return lsq(0, levels - 1, step, offset);
  }

  lsq(int lowest, int highest, float step, float offset = 0.0f) : n_(lowest), p_(highest) {
    if (!(lowest < highest) || highest <= 0)
      throw error(errc::invalid_argument, "lsq: codes " + std::to_string(lowest) + ".." + std::to_string(highest) +
                                              " are not a range with a positive end");
    set(step, offset);
  }

  // LSQ's initial step: 2 · mean|x| / sqrt(p).
  [[nodiscard]] static float initial_step(matrix_view<const float> x, int highest) {
    detail::require_batch("lsq::initial_step", x);
    return static_cast<float>(2.0 * detail::abs_sum(x) / static_cast<double>(x.size()) / std::sqrt(static_cast<double>(highest)));
  }

  // LSQ+'s initialisation for asymmetric activations: the range [min x, max x] onto n..p.
  void initialize_min_max(matrix_view<const float> x) {
    detail::require_batch("lsq::initialize_min_max", x);
    float lo = x(0, 0), hi = x(0, 0);
    for (std::size_t r = 0; r < x.rows(); ++r)
      for (std::size_t c = 0; c < x.cols(); ++c) lo = std::min(lo, x(r, c)), hi = std::max(hi, x(r, c));
    const float s = (hi - lo) / static_cast<float>(p_ - n_);
    set(s, lo - static_cast<float>(n_) * s);
  }

  // LSQ+'s initialisation for weights: s = max(|μ - 3σ|, |μ + 3σ|) / 2^(b-1), β unchanged.
  void initialize_moments(matrix_view<const float> x) {
    detail::require_batch("lsq::initialize_moments", x);
    double sum = 0.0, squares = 0.0;
    for (std::size_t r = 0; r < x.rows(); ++r)
      for (std::size_t c = 0; c < x.cols(); ++c) sum += x(r, c), squares += double(x(r, c)) * x(r, c);
    const double count = static_cast<double>(x.size()), mean = sum / count;
    const double sigma = std::sqrt(std::max(0.0, squares / count - mean * mean));
    const double half_range = static_cast<double>(p_ - n_ + 1) / 2.0;
    set(static_cast<float>(std::max(std::abs(mean - 3 * sigma), std::abs(mean + 3 * sigma)) / half_range), beta_);
  }

  void forward(matrix_view<const float> x, matrix_view<float> y) const {
    detail::require_batch("lsq::forward", x, y);
    const float s = step_, beta = beta_, lo = static_cast<float>(n_), hi = static_cast<float>(p_);  // locals: y may alias *this
    for (std::size_t r = 0; r < x.rows(); ++r) {
      const float* in = &x(r, 0);
      float* out = &y(r, 0);
      for (std::size_t c = 0; c < x.cols(); ++c) out[c] = nearest_even{}(std::clamp((in[c] - beta) / s, lo, hi), 0) * s + beta;
    }
  }

  lsq_gradients backward(matrix_view<const float> x, matrix_view<const float> dy, matrix_view<float> dx) const {
    detail::require_batch("lsq::backward", x, dy, dx);
    detail::require_finite_gradient("lsq::backward", dy);
    const float s = step_, beta = beta_, lo = static_cast<float>(n_), hi = static_cast<float>(p_);  // dx may alias *this
    double step = 0.0, offset = 0.0;
    for (std::size_t r = 0; r < x.rows(); ++r) {
      const float *xr = &x(r, 0), *dyr = &dy(r, 0);
      float* dxr = &dx(r, 0);
      float step_row = 0.0f, offset_row = 0.0f;
      for (std::size_t c = 0; c < x.cols(); ++c) {
        const float v = (xr[c] - beta) / s, g = dyr[c];
        const bool in = detail::inside(v, lo, hi);
        dxr[c] = in ? g : 0.0f;
        step_row += g * (in ? nearest_even{}(v, 0) - v : (v < lo ? lo : hi));
        offset_row += in ? 0.0f : g;
      }
      step += step_row, offset += offset_row;
    }
    const std::size_t n = features ? features : x.size();
    const double scale = 1.0 / std::sqrt(static_cast<double>(n) * p_);
    return {static_cast<float>(step * scale), static_cast<float>(offset * scale)};
  }

  // After an optimizer step. A step that is not positive and finite is an error.
  void set(float step, float offset = 0.0f) {
    if (!(step > 0.0f) || !std::isfinite(step) || !std::isfinite(offset))
      throw error(errc::invalid_argument, "lsq: step " + std::to_string(step) + " and offset " +
                                              std::to_string(offset) + " must be finite, the step positive");
    step_ = step, beta_ = offset;
  }

  [[nodiscard]] float step() const noexcept { return step_; }
  [[nodiscard]] float offset() const noexcept { return beta_; }
  [[nodiscard]] int lowest() const noexcept { return n_; }
  [[nodiscard]] int highest() const noexcept { return p_; }

  std::size_t features = 0;  // N of the gradient scale; 0: the size of the tensor passed

 private:
  static int checked(int bits) {
    if (bits < 1 || bits > 16) throw error(errc::invalid_argument, "lsq: " + std::to_string(bits) + " bits");
    return bits;
  }

  int n_, p_;
  float step_ = 1.0f, beta_ = 0.0f;
};

}  // namespace qtl::qat
