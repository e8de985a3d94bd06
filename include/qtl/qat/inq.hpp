// qtl::qat::inq: Incremental Network Quantization (Zhou et al. 2017): weights become powers of
// two (or 0) a portion at a time, largest magnitudes first; the frozen ones get no gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/qat/arguments.hpp"

namespace qtl::qat {

// Levels {0, ±2^n2, ..., ±2^n1}: n1 = floor(log2(4s/3)) with s = max|W| at the first step,
// n2 = n1 + 1 - 2^(b-1)/2 (b bits, one of them for zero). |w| rounds to β = 2^n when
// 3β/4 <= |w| < 3β/2 (β/2 <= |w| for the smallest β), else to 0.
class inq {
 public:
  explicit inq(int bits) : bits_(bits) {
    if (bits < 2 || bits > 8) throw error(errc::invalid_argument, "inq: " + std::to_string(bits) + " bits (2..8)");
  }

  // Freezes the largest-magnitude free weights of w (in place, as powers of two) until
  // `portion` of all of them are frozen; portions must not decrease. Returns how many froze now.
  std::size_t quantize_portion(matrix_view<float> w, double portion) {
    if (w.empty()) throw error(errc::invalid_argument, "inq::quantize_portion: empty tensor");
    if (!(portion >= portion_ && portion <= 1.0))
      throw error(errc::invalid_argument, "inq::quantize_portion: portion " + std::to_string(portion) +
                                              " is not in [" + std::to_string(portion_) + ", 1]");
    if (frozen_.empty()) start(w);
    else if (frozen_.size() != w.size())
      throw error(errc::shape_mismatch, "inq::quantize_portion: the weights changed size between steps");
    const auto at = [&](std::size_t i) -> float& { return w(i / w.cols(), i % w.cols()); };
    std::vector<std::size_t> free;
    for (std::size_t i = 0; i < frozen_.size(); ++i)
      if (!frozen_[i]) free.push_back(i);
    const auto target = static_cast<std::size_t>(std::llround(portion * static_cast<double>(w.size())));
    const std::size_t now = std::min(free.size(), target - std::min(target, w.size() - free.size()));
    std::stable_sort(free.begin(), free.end(), [&](std::size_t a, std::size_t b) { return std::abs(at(a)) > std::abs(at(b)); });
    for (std::size_t k = 0; k < now; ++k) {
      at(free[k]) = power_of_two(at(free[k]));
      frozen_[free[k]] = 1;
    }
    portion_ = portion;
    return now;
  }

  // dx = dy for the free weights, 0 for the frozen ones.
  void backward(matrix_view<const float> dy, matrix_view<float> dx) const {
    detail::require_batch("inq::backward", dy, dx);
    detail::require_finite_gradient("inq::backward", dy);
    if (frozen_.size() != dy.size()) throw error(errc::shape_mismatch, "inq::backward: not the quantized tensor's shape");
    detail::for_each_element(dy, [&](std::size_t r, std::size_t c) {
      dx(r, c) = frozen_[r * dy.cols() + c] ? 0.0f : dy(r, c);
    });
  }

  // The level a weight rounds to.
  [[nodiscard]] float power_of_two(float v) const noexcept {
    const float a = std::abs(v);
    for (int n = n1_; n >= n2_; --n)
      if (a >= std::ldexp(3.0f, n - 2)) return std::copysign(std::ldexp(1.0f, n), v);
    return a >= std::ldexp(1.0f, n2_ - 1) ? std::copysign(std::ldexp(1.0f, n2_), v) : 0.0f;
  }

  [[nodiscard]] const std::vector<unsigned char>& frozen() const noexcept { return frozen_; }  // row-major
  [[nodiscard]] int largest_exponent() const noexcept { return n1_; }
  [[nodiscard]] int smallest_exponent() const noexcept { return n2_; }

 private:
  void start(matrix_view<const float> w) {
    float s = 0.0f;
    detail::for_each_element(w, [&](std::size_t r, std::size_t c) {
      if (!std::isfinite(w(r, c))) throw error(errc::non_finite, "inq: weight (" + std::to_string(r) + ", " +
                                                                     std::to_string(c) + ") is not finite");
      s = std::max(s, std::abs(w(r, c)));
    });
    if (s == 0.0f) throw error(errc::invalid_argument, "inq: all weights are zero");
    n1_ = std::ilogb(s) + 1;  // the largest n with 3 · 2^(n-2) <= s
    while (std::ldexp(3.0f, n1_ - 2) > s) --n1_;
    n2_ = n1_ + 1 - (1 << (bits_ - 1)) / 2;
    frozen_.assign(w.size(), 0);
  }

  int bits_;
  int n1_ = 0, n2_ = 0;
  double portion_ = 0.0;
  std::vector<unsigned char> frozen_;
};

}  // namespace qtl::qat
