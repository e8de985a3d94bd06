// qtl::qat::binary_connect / xnor / abc_net: binary networks' weight (and activation)
// quantizers for training: BinaryConnect, XNOR-Net's scaled sign, ABC-Net's several binary bases.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/qat/arguments.hpp"
#include "qtl/rounding.hpp"

namespace qtl::qat {

// BinaryConnect (Courbariaux et al. 2015): y = sign(x) (+1 at 0), or stochastically +1 with
// probability hard_sigmoid(x) = clamp((x + 1) / 2, 0, 1). The gradient passes unchanged; the
// real-valued weights are kept in [-1, 1] after each update (clip).
class binary_connect {
 public:
  enum class mode { deterministic, stochastic };

  explicit binary_connect(mode m = mode::deterministic, std::uint64_t seed = 0) : mode_(m), draws_{seed} {}

  // Each stochastic forward draws afresh: the counter runs on across calls (deterministic per seed).
  void forward(matrix_view<const float> x, matrix_view<float> y) {
    detail::require_batch("binary_connect::forward", x, y);
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      if (mode_ == mode::deterministic) {
        y(r, c) = detail::binary_sign(x(r, c));
        return;
      }
      const float u = static_cast<float>(draws_.draw(drawn_ + r * x.cols() + c)) * 0x1p-24f;
      y(r, c) = u < std::clamp((x(r, c) + 1.0f) * 0.5f, 0.0f, 1.0f) ? 1.0f : -1.0f;
    });
    drawn_ += x.size();
  }

  static void backward(matrix_view<const float> dy, matrix_view<float> dx) {
    detail::require_batch("binary_connect::backward", dy, dx);
    detail::require_finite_gradient("binary_connect::backward", dy);
    detail::for_each_element(dy, [&](std::size_t r, std::size_t c) { dx(r, c) = dy(r, c); });
  }

  // The weights' update is followed by w = clamp(w, -1, 1).
  static void clip(matrix_view<float> w) {
    detail::for_each_element(w, [&](std::size_t r, std::size_t c) { w(r, c) = std::clamp(w(r, c), -1.0f, 1.0f); });
  }

 private:
  mode mode_;
  stochastic<> draws_;
  std::uint64_t drawn_ = 0;
};

// XNOR-Net (Rastegari et al. 2016): each row (an output channel's weights, or a token's
// activations) becomes β · sign(x), β = mean|x| of the row. Backward is the exact gradient
// of that with sign's straight-through estimator clipped to |x| <= 1:
//   dx_i = dy_i · β · [|x_i| <= 1] + sign(x_i) / n · Σ_j dy_j · sign(x_j).
class xnor {
 public:
  static void forward(matrix_view<const float> x, matrix_view<float> y) {
    detail::require_batch("xnor::forward", x, y);
    for (std::size_t r = 0; r < x.rows(); ++r) {
      const float beta = row_mean_abs(x, r);
      for (std::size_t c = 0; c < x.cols(); ++c) y(r, c) = beta * detail::binary_sign(x(r, c));
    }
  }

  static void backward(matrix_view<const float> x, matrix_view<const float> dy, matrix_view<float> dx) {
    detail::require_batch("xnor::backward", x, dy, dx);
    detail::require_finite_gradient("xnor::backward", dy);
    for (std::size_t r = 0; r < x.rows(); ++r) {
      const float beta = row_mean_abs(x, r);
      double signed_sum = 0.0;
      for (std::size_t c = 0; c < x.cols(); ++c) signed_sum += dy(r, c) * detail::binary_sign(x(r, c));
      const float through_beta = static_cast<float>(signed_sum / static_cast<double>(x.cols()));
      for (std::size_t c = 0; c < x.cols(); ++c) {
        const float v = x(r, c);
        dx(r, c) = (detail::inside(v, -1.0f, 1.0f) ? dy(r, c) * beta : 0.0f) + detail::abs_derivative(v) * through_beta;
      }
    }
  }

 private:
  static float row_mean_abs(matrix_view<const float> x, std::size_t r) {
    return static_cast<float>(detail::abs_sum(matrix_view<const float>(&x(r, 0), 1, x.cols())) /
                              static_cast<double>(x.cols()));
  }
};

// ABC-Net's weights (Lin et al. 2017): W ≈ Σ_i α_i B_i with B_i = sign(W - mean W + u_i · std W),
// u_i spread evenly over [-1, 1] (0 for one base), α the least-squares fit (held constant in
// backward). The gradient passes straight through each base: dx = dy · Σ α_i.
class abc_net {
 public:
  explicit abc_net(int bases) : bases_(bases) {
    if (bases < 1 || bases > 16) throw error(errc::invalid_argument, "abc_net: " + std::to_string(bases) + " bases");
  }

  void forward(matrix_view<const float> x, matrix_view<float> y) {
    detail::require_batch("abc_net::forward", x, y);
    const std::size_t m = static_cast<std::size_t>(bases_);
    double sum = 0.0, squares = 0.0;
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) { sum += x(r, c), squares += double(x(r, c)) * x(r, c); });
    const double count = static_cast<double>(x.size());
    mean_ = static_cast<float>(sum / count);
    deviation_ = static_cast<float>(std::sqrt(std::max(0.0, squares / count - (sum / count) * (sum / count))));
    // Normal equations of the fit: (BᵀB) α = Bᵀx, gathered in one pass over x.
    std::vector<double> gram(m * m, 0.0), rhs(m, 0.0);
    std::vector<float> b(m);
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      signs(x(r, c), b);
      for (std::size_t i = 0; i < m; ++i) {
        rhs[i] += b[i] * double(x(r, c));
        for (std::size_t j = 0; j < m; ++j) gram[i * m + j] += b[i] * b[j];
      }
    });
    alphas_ = solve(gram, rhs);
    detail::for_each_element(x, [&](std::size_t r, std::size_t c) {
      signs(x(r, c), b);
      double v = 0.0;
      for (std::size_t i = 0; i < m; ++i) v += alphas_[i] * b[i];
      y(r, c) = static_cast<float>(v);
    });
  }

  void backward(matrix_view<const float> dy, matrix_view<float> dx) const {
    detail::require_batch("abc_net::backward", dy, dx);
    detail::require_finite_gradient("abc_net::backward", dy);
    if (alphas_.empty()) throw error(errc::invalid_argument, "abc_net::backward: no forward came first");
    double total = 0.0;
    for (const double a : alphas_) total += a;
    const auto scale = static_cast<float>(total);
    detail::for_each_element(dy, [&](std::size_t r, std::size_t c) { dx(r, c) = dy(r, c) * scale; });
  }

  // The last forward's fit, base by base (u_i ascending).
  [[nodiscard]] const std::vector<double>& alphas() const noexcept { return alphas_; }

 private:
  void signs(float x, std::vector<float>& b) const {
    for (std::size_t i = 0; i < b.size(); ++i) {
      const float u = bases_ == 1 ? 0.0f : -1.0f + 2.0f * static_cast<float>(i) / static_cast<float>(bases_ - 1);
      b[i] = detail::binary_sign(x - mean_ + u * deviation_);
    }
  }

  // Gauss-Jordan elimination with partial pivoting. A base that repeats others (a singular
  // system: a constant or tiny tensor) gets α = 0; the others still fit.
  static std::vector<double> solve(std::vector<double> a, std::vector<double> b) {
    const std::size_t m = b.size();
    const double negligible = 1e-9 * a[0];  // the diagonal holds the element count
    std::vector<std::size_t> pivot_of(m, m);
    std::vector<bool> used(m, false);
    for (std::size_t col = 0; col < m; ++col) {
      std::size_t pivot = m;
      for (std::size_t row = 0; row < m; ++row)
        if (!used[row] && (pivot == m || std::abs(a[row * m + col]) > std::abs(a[pivot * m + col]))) pivot = row;
      if (pivot == m || std::abs(a[pivot * m + col]) <= negligible) continue;
      used[pivot] = true, pivot_of[col] = pivot;
      for (std::size_t row = 0; row < m; ++row) {
        if (row == pivot) continue;
        const double f = a[row * m + col] / a[pivot * m + col];
        for (std::size_t k = 0; k < m; ++k) a[row * m + k] -= f * a[pivot * m + k];
        b[row] -= f * b[pivot];
      }
    }
    std::vector<double> alpha(m, 0.0);
    for (std::size_t col = 0; col < m; ++col)
      if (pivot_of[col] < m) alpha[col] = b[pivot_of[col]] / a[pivot_of[col] * m + col];
    return alpha;
  }

  int bases_;
  float mean_ = 0.0f, deviation_ = 0.0f;
  std::vector<double> alphas_;
};

}  // namespace qtl::qat
