// qtl::compander<Bits, Curve>: a format whose levels are uniform after a compressing curve,
// the continuous μ-law and A-law of any width (G.711's 8-bit piecewise-linear codecs are
// format/g711.hpp). With K = 2^(Bits-1) - 1, code ±k is ±expand(k / K): code 0 is 0,
// code ±K is ±1 (a group's absmax, the codebook scheme), and the levels crowd toward zero
// as the curve prescribes. encode(x) rounds in the compressed domain, as a compander does:
// code ±k for expand((k - 1/2) / K) < |x| <= expand((k + 1/2) / K), |x| beyond 1 the
// largest; NaN 0.
//
// The levels and the K cell boundaries are computed once in double (std::log1p, expm1,
// exp, log) and rounded to float; encode counts the boundaries below |x|. The batch steps
// count them the same way (core/threshold_table.hpp) and look the levels up, so the
// composed SIMD path gives the scalar codes without evaluating the curve.
#pragma once

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "qtl/core/concepts.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/core/threshold_table.hpp"
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
  static constexpr float max_magnitude = 1.0f;  // code ±K is ±1 exactly (codebook's scale)

  static float decode(int code) noexcept {
    const float level = tables().level[static_cast<std::size_t>(code < 0 ? -code : code)];
    return code < 0 ? -level : level;
  }

  // k: the number of cell boundaries below |x| (a value on a boundary stays in the lower
  // cell; NaN is below none).
  static int encode(float x) noexcept {
    const int k = tables().cells.count_below(std::fabs(x));
    return x < 0 ? -k : k;
  }
#if QTL_HAS_SIMD
  template <class A>
  static simd::ints<A> encode(simd::floats<A> x) noexcept {
    const simd::ints<A> k = tables().cells.count_below(xsimd::abs(x));
    return xsimd::select(xsimd::batch_bool_cast<std::int32_t>(x < simd::floats<A>(0.0f)), -k, k);
  }
  template <class A>
  static simd::floats<A> decode(simd::ints<A> code) noexcept {
    const simd::floats<A> level = simd::lookup<A>(tables().level.data(), top + 1, xsimd::abs(code));
    return xsimd::select(xsimd::batch_bool_cast<float>(code < simd::ints<A>(0)), -level, level);
  }
#endif

 private:
  struct table_set {
    std::array<float, (top + 1 < 16 ? 16 : top + 1)> level{};  // level[k] = expand(k / K), padded for lookups
    threshold_table cells;  // upper[k] = expand((k + 1/2) / K), the top of cell k
  };
  static const table_set& tables() noexcept {
    static const table_set t = [] {
      table_set s;
      for (int k = 0; k <= top; ++k) s.level[static_cast<std::size_t>(k)] = static_cast<float>(Curve::expand(double(k) / top));
      s.level[0] = 0.0f, s.level[top] = 1.0f;  // exactly, whatever the curve's rounding
      std::array<float, top> upper{};
      for (int k = 0; k < top; ++k)
        upper[static_cast<std::size_t>(k)] = static_cast<float>(Curve::expand((double(k) + 0.5) / top));
      s.cells = threshold_table(upper);
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
