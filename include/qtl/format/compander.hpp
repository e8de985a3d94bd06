// qtl::compander<Bits, Curve>: a format whose levels are uniform after a compressing curve,
// the continuous μ-law and A-law of any width (G.711's 8-bit piecewise-linear codecs are
// format/g711.hpp). With K = 2^(Bits-1) - 1, code ±k is ±expand(k / K): code 0 is 0,
// code ±K is ±1 (a group's absmax, the codebook scheme), and the levels crowd toward zero
// as the curve prescribes. encode(x) rounds in the compressed domain, as a compander does:
// code ±k for expand((k - 1/2) / K) < |x| <= expand((k + 1/2) / K), |x| beyond 1 the
// largest; NaN 0.
//
// The levels and the K cell boundaries are computed once in double (std::log1p, expm1,
// exp, log) and rounded to float; encode searches the boundaries. There is no batch step:
// the composed SIMD path runs encode and decode lane by lane (same codes).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "qtl/core/concepts.hpp"
#include "qtl/format/symmetric_codes.hpp"

namespace qtl {

// A compressing curve: compress maps [0, 1] onto [0, 1] increasing, expand is its inverse.
template <class C>
concept compander_curve = requires(double v) {
  { C::compress(v) } -> std::same_as<double>;
  { C::expand(v) } -> std::same_as<double>;
};

// μ-law: compress(a) = ln(1 + μa) / ln(1 + μ) (μ = 255 in North American telephony).
template <int Mu = 255>
  requires(Mu > 0)
struct mu_law_curve {
  static double compress(double a) { return std::log1p(Mu * a) / std::log1p(double{Mu}); }
  static double expand(double y) { return std::expm1(y * std::log1p(double{Mu})) / Mu; }
};

// A-law with A = 87.6 (European telephony): linear below 1/A, logarithmic above.
struct a_law_curve {
  static constexpr double A = 87.6;
  static double compress(double a) {
    const double d = 1.0 + std::log(A);
    return a < 1.0 / A ? A * a / d : (1.0 + std::log(A * a)) / d;
  }
  static double expand(double y) {
    const double d = 1.0 + std::log(A);
    return y < 1.0 / d ? y * d / A : std::exp(y * d - 1.0) / A;
  }
};

template <int Bits, compander_curve Curve>
  requires(Bits >= 2 && Bits <= 8)
struct compander : symmetric_codes<Bits> {
  using curve_type = Curve;
  using symmetric_codes<Bits>::top;

  static float decode(int code) noexcept {
    const float level = tables().level[static_cast<std::size_t>(code < 0 ? -code : code)];
    return code < 0 ? -level : level;
  }

  static int encode(float x) noexcept {
    if (x != x) return 0;
    const auto& upper = tables().upper;
    const float a = std::fabs(x);
    // k: the number of cell boundaries below |x| (a value on a boundary stays in the lower cell)
    const int k = static_cast<int>(std::lower_bound(upper.begin(), upper.end(), a) - upper.begin());
    return x < 0 ? -k : k;
  }

 private:
  struct table_set {
    std::array<float, top + 1> level{};  // level[k] = expand(k / K)
    std::array<float, top> upper{};      // upper[k] = expand((k + 1/2) / K), the top of cell k
  };
  static const table_set& tables() noexcept {
    static const table_set t = [] {
      table_set s;
      for (int k = 0; k <= top; ++k) s.level[static_cast<std::size_t>(k)] = static_cast<float>(Curve::expand(double(k) / top));
      s.level[0] = 0.0f, s.level[top] = 1.0f;  // exactly, whatever the curve's rounding
      for (int k = 0; k < top; ++k)
        s.upper[static_cast<std::size_t>(k)] = static_cast<float>(Curve::expand((double(k) + 0.5) / top));
      return s;
    }();
    return t;
  }
};

template <int Bits, int Mu = 255>
using mu_law = compander<Bits, mu_law_curve<Mu>>;
template <int Bits>
using a_law = compander<Bits, a_law_curve>;

static_assert(format<mu_law<8>> && encodable_format<a_law<4>>);

}  // namespace qtl
