// qtl::lloyd_max: the minimum-MSE scalar quantizer of a density or of weighted data
// (Lloyd 1957/1982, Max 1960). Alternates the two optimality conditions: each threshold
// halfway between its levels, each level the mean of its cell. On data this is weighted
// 1-D k-means. Designs the levels a scalar_codebook (scalar_codebook.hpp) then uses.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <limits>
#include <numbers>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/codebook/scalar_codebook.hpp"
#include "qtl/core/error.hpp"

namespace qtl::lloyd_max {

// A probability density the design integrates in closed form: moments(a, b) is
// {P(a < X < b), E[X; a < X < b], E[X^2; a < X < b]}, with a = -inf and b = +inf allowed.
template <class D>
concept density = requires(const D d, double a, double b) {
  { d.moments(a, b) } -> std::convertible_to<std::array<double, 3>>;
};

// N(0, 1). Masses from erfc on the side of the tail, so cells far out keep their digits.
struct gaussian {
  [[nodiscard]] static std::array<double, 3> moments(double a, double b) noexcept {
    const auto pdf = [](double x) { return std::isinf(x) ? 0.0 : std::exp(-x * x / 2) / std::sqrt(2 * std::numbers::pi); };
    const auto x_pdf = [&](double x) { return std::isinf(x) ? 0.0 : x * pdf(x); };
    const double r = std::numbers::sqrt2;
    const double mass = a >= 0 ? (std::erfc(a / r) - std::erfc(b / r)) / 2 : (std::erfc(-b / r) - std::erfc(-a / r)) / 2;
    return {mass, pdf(a) - pdf(b), mass + x_pdf(a) - x_pdf(b)};
  }
};

// The Laplace density of unit variance, exp(-sqrt(2) |x|) / sqrt(2).
struct laplace {
  [[nodiscard]] static std::array<double, 3> moments(double a, double b) noexcept {
    // On x >= 0 the tail above t holds mass e/2, first moment e (t + s) / 2 and second
    // e (t^2 + 2 s t + 2 s^2) / 2, with e = exp(-t / s) and s = 1 / sqrt(2).
    const auto tail = [](double t) -> std::array<double, 3> {
      if (std::isinf(t)) return {0, 0, 0};
      const double s = 1 / std::numbers::sqrt2, e = std::exp(-t / s) / 2;
      return {e, e * (t + s), e * (t * t + 2 * s * t + 2 * s * s)};
    };
    const auto upper = [&](double lo, double hi) {  // 0 <= lo <= hi
      const auto l = tail(lo), h = tail(hi);
      return std::array<double, 3>{l[0] - h[0], l[1] - h[1], l[2] - h[2]};
    };
    const auto mirror = [](std::array<double, 3> m) { return std::array<double, 3>{m[0], -m[1], m[2]}; };
    if (a >= 0) return upper(a, b);
    if (b <= 0) return mirror(upper(-b, -a));
    const auto l = mirror(upper(0, -a)), r = upper(0, b);
    return {l[0] + r[0], l[1] + r[1], l[2] + r[2]};
  }
};

struct options {
  int max_iterations = 100000;
  // A density design stops when no level moves by more than this; a data design when no
  // value changes cell (an exact fixed point).
  double tolerance = 1e-12;
};

struct result {
  std::vector<double> levels;      // increasing
  std::vector<double> thresholds;  // levels.size() - 1 cell boundaries
  double distortion = 0;           // mean squared error (per unit of weight on data)
  int iterations = 0;
  bool converged = false;

  // The levels rounded to float as a runtime format.
  [[nodiscard]] scalar_codebook codebook() const {
    return scalar_codebook(std::vector<float>(levels.begin(), levels.end()));
  }
};

namespace detail {

inline void check_levels(std::size_t levels, const char* what) {
  if (levels < 2 || levels > scalar_codebook::max_levels)
    throw error(errc::invalid_argument, std::string(what) + ": " + std::to_string(levels) + " levels, need 2..256");
}

inline void update_thresholds(result& r) {
  r.thresholds.resize(r.levels.size() - 1);
  for (std::size_t i = 0; i + 1 < r.levels.size(); ++i) r.thresholds[i] = (r.levels[i] + r.levels[i + 1]) / 2;
}

}  // namespace detail

// The optimal `levels`-level quantizer of density d (a local optimum; the only one for a
// log-concave density such as the Gaussian or Laplace). Starts from levels spread evenly
// over +-3 standard deviations' worth of the density's mass (the quantiles (i + 1/2) / n).
template <density D>
[[nodiscard]] result design(const D& d, std::size_t levels, options opt = {}) {
  detail::check_levels(levels, "lloyd_max::design");
  constexpr double inf = std::numeric_limits<double>::infinity();
  const auto quantile = [&](double p) {  // bisection on the distribution function
    double lo = -1e6, hi = 1e6;
    for (int i = 0; i < 200 && hi - lo > 1e-15 * std::max(1.0, std::abs(lo)); ++i) {
      const double mid = (lo + hi) / 2;
      (d.moments(-inf, mid)[0] < p ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
  };
  result r;
  r.levels.resize(levels);
  for (std::size_t i = 0; i < levels; ++i) r.levels[i] = quantile((static_cast<double>(i) + 0.5) / static_cast<double>(levels));
  const auto cell = [&](std::size_t i) {
    return d.moments(i == 0 ? -inf : r.thresholds[i - 1], i + 1 == levels ? inf : r.thresholds[i]);
  };
  while (r.iterations < opt.max_iterations && !r.converged) {
    detail::update_thresholds(r);
    double moved = 0;
    for (std::size_t i = 0; i < levels; ++i) {
      const auto m = cell(i);
      if (!(m[0] > 0)) continue;  // a cell with no mass keeps its level
      const double level = m[1] / m[0];
      moved = std::max(moved, std::abs(level - r.levels[i]));
      r.levels[i] = level;
    }
    ++r.iterations;
    r.converged = moved <= opt.tolerance;
  }
  detail::update_thresholds(r);
  for (std::size_t i = 0; i < levels; ++i) {
    const auto m = cell(i);
    r.distortion += m[2] - 2 * r.levels[i] * m[1] + r.levels[i] * r.levels[i] * m[0];
  }
  return r;
}

// Weighted 1-D k-means of `values` into `levels` levels (weights empty: all 1). Starts
// from the weighted quantiles (i + 1/2) / levels among the distinct values and iterates
// until no value changes cell. A value on a threshold goes to the lower level; an empty
// cell keeps its level. Deterministic.
// Errors: non-finite values or weights, negative weights, sizes that differ, fewer
// distinct values (of positive weight) than levels.
[[nodiscard]] inline result fit(std::span<const float> values, std::span<const float> weights, std::size_t levels,
                                options opt = {}) {
  detail::check_levels(levels, "lloyd_max::fit");
  if (!weights.empty() && weights.size() != values.size())
    throw error(errc::shape_mismatch, "lloyd_max::fit: " + std::to_string(values.size()) + " values, " +
                                          std::to_string(weights.size()) + " weights");
  // The distinct values, sorted, with their summed weights.
  std::vector<std::pair<double, double>> points;
  points.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double w = weights.empty() ? 1.0 : double{weights[i]};
    if (!std::isfinite(values[i]) || !std::isfinite(w))
      throw error(errc::non_finite, "lloyd_max::fit: value or weight " + std::to_string(i) + " is not finite");
    if (w < 0) throw error(errc::invalid_argument, "lloyd_max::fit: weight " + std::to_string(i) + " is negative");
    if (w > 0) points.emplace_back(values[i], w);
  }
  std::sort(points.begin(), points.end());
  std::size_t distinct = 0;
  for (const auto& p : points)
    if (distinct == 0 || points[distinct - 1].first != p.first) points[distinct++] = p;
    else points[distinct - 1].second += p.second;
  points.resize(distinct);
  if (distinct < levels)
    throw error(errc::invalid_argument, "lloyd_max::fit: " + std::to_string(levels) + " levels for " +
                                            std::to_string(distinct) + " distinct values of positive weight");

  // Prefix sums of w and w x: a cell's mean is two differences.
  const std::size_t n = points.size();
  std::vector<double> w_sum(n + 1, 0), wx_sum(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    w_sum[i + 1] = w_sum[i] + points[i].second;
    wx_sum[i + 1] = wx_sum[i] + points[i].second * points[i].first;
  }

  result r;
  r.levels.resize(levels);
  std::vector<std::size_t> start(levels + 1);  // start[i]: first point of cell i
  {
    // Quantile positions, then made strictly increasing so no two levels coincide.
    std::vector<std::size_t> at(levels);
    for (std::size_t i = 0; i < levels; ++i) {
      const double target = (static_cast<double>(i) + 0.5) / static_cast<double>(levels) * w_sum[n];
      at[i] = std::min<std::size_t>(
          static_cast<std::size_t>(std::lower_bound(w_sum.begin() + 1, w_sum.end(), target) - (w_sum.begin() + 1)), n - 1);
    }
    for (std::size_t i = 1; i < levels; ++i) at[i] = std::max(at[i], at[i - 1] + 1);
    at[levels - 1] = std::min(at[levels - 1], n - 1);
    for (std::size_t i = levels - 1; i-- > 0;) at[i] = std::min(at[i], at[i + 1] - 1);
    for (std::size_t i = 0; i < levels; ++i) r.levels[i] = points[at[i]].first;
  }
  std::vector<std::size_t> previous;
  while (r.iterations < opt.max_iterations) {
    detail::update_thresholds(r);
    start[0] = 0;
    start[levels] = n;
    for (std::size_t i = 0; i + 1 < levels; ++i)  // first point above threshold i
      start[i + 1] = static_cast<std::size_t>(
          std::upper_bound(points.begin(), points.end(), r.thresholds[i],
                           [](double t, const std::pair<double, double>& p) { return t < p.first; }) -
          points.begin());
    if (start == previous) {
      r.converged = true;
      break;
    }
    for (std::size_t i = 0; i < levels; ++i) {
      const double mass = w_sum[start[i + 1]] - w_sum[start[i]];
      if (mass > 0) r.levels[i] = (wx_sum[start[i + 1]] - wx_sum[start[i]]) / mass;
    }
    previous = start;
    ++r.iterations;
  }
  detail::update_thresholds(r);
  double total = 0;
  for (std::size_t i = 0, cell = 0; i < n; ++i) {
    while (cell + 1 < levels && points[i].first > r.thresholds[cell]) ++cell;
    const double e = points[i].first - r.levels[cell];
    total += points[i].second * e * e;
  }
  r.distortion = total / w_sum[n];
  return r;
}
[[nodiscard]] inline result fit(std::span<const float> values, std::size_t levels, options opt = {}) {
  return fit(values, {}, levels, opt);
}

}  // namespace qtl::lloyd_max
