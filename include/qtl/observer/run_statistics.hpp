// qtl::run_statistics: the statistics of one run of contiguous values (one row's part of a
// group), in the one order every path follows, and its batch form over xsimd batches.
// min and max do not depend on the order, but for which zero (+0 or -0) a group keeps: the
// batch form leaves runs whose min or max is zero to the scalar step. abs_sum does depend
// on it, so the order is part of the definition: element k of a run adds its magnitude into
// partial sum k % 8, in double, and the eight partials add pairwise at the end. Eight
// independent sums are also what lets the compiler keep them in vector registers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "qtl/core/config.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/core/tensor_stats.hpp"

namespace qtl {

namespace detail {

// The eight partial sums of magnitudes of a run.
struct abs_partials {
  static constexpr std::size_t count = 8;
  double part[count] = {};

  QTL_FORCEINLINE void add(std::size_t k, float v) noexcept { part[k % count] += std::fabs(static_cast<double>(v)); }
  [[nodiscard]] double total() const noexcept {
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  }
};

// min and max as tensor_stats::add keeps them, element by element.
QTL_FORCEINLINE constexpr void add_extremes(tensor_stats& s, float v) noexcept {
  s.min = std::min(s.min, v);
  s.max = std::max(s.max, v);
}

}  // namespace detail

// The statistics of x[0, n), the columns [c0, c0 + n) of row r of a matrix with cols
// columns (for the error message): non-finite values follow policy (skipped, or thrown).
template <class T>
tensor_stats run_statistics(const T* x, std::size_t n, nonfinite_policy policy, std::size_t r, std::size_t c0,
                            std::size_t cols) {
  tensor_stats s;
  detail::abs_partials sum;
  for (std::size_t k = 0; k < n; ++k) {
    const float v = static_cast<float>(x[k]);
    if (!detail::check_finite(v, policy, r, c0 + k, cols)) continue;
    detail::add_extremes(s, v);
    sum.add(k, v);
    ++s.count;
  }
  s.abs_sum = sum.total();
  return s;
}

#if QTL_HAS_SIMD
// run_statistics for xsimd arch A into out, equal to it on finite runs; false when a value
// is not finite (out is then unspecified: the caller takes the scalar step, which skips or
// throws as its policy says). AbsSum false leaves abs_sum 0 (schemes that do not read it).
template <class A, bool AbsSum = true>
bool batch_run_statistics(const float* x, std::size_t n, tensor_stats& out) noexcept {
  using floats = simd::floats<A>;
  constexpr std::size_t lanes = floats::size;
  constexpr std::size_t block = 2048;  // both passes over a block while it is in L1
  static_assert(block % detail::abs_partials::count == 0);
  const floats inf(std::numeric_limits<float>::infinity());
  floats lo = inf, hi = -inf;
  tensor_stats s;  // min and max of the tails
  detail::abs_partials sum;
  for (std::size_t b = 0; b < n; b += block) {
    const std::size_t end = std::min(n, b + block);
    floats bad(0.0f);
    std::size_t i = b;
    for (; i + lanes <= end; i += lanes) {
      const floats v = floats::load_unaligned(x + i);
      lo = xsimd::min(lo, v);
      hi = xsimd::max(hi, v);
      bad = bad + (v - v);  // NaN once any value is NaN or Inf
    }
    if (!(xsimd::reduce_add(bad) == 0.0f)) return false;
    for (; i < end; ++i) {
      if (!std::isfinite(x[i])) return false;
      detail::add_extremes(s, x[i]);
    }
    if constexpr (AbsSum) {  // eight independent sums: the compiler keeps them in double lanes
      constexpr std::size_t parts = detail::abs_partials::count;
      std::size_t k = b;
      for (; k + parts <= end; k += parts)
        for (std::size_t j = 0; j < parts; ++j) sum.part[j] += std::fabs(static_cast<double>(x[k + j]));
      for (; k < end; ++k) sum.add(k, x[k]);
    }
  }
  s.min = std::min(s.min, xsimd::reduce_min(lo));
  s.max = std::max(s.max, xsimd::reduce_max(hi));
  if (s.min == 0.0f || s.max == 0.0f) {  // which zero the element order keeps
    s = tensor_stats{};
    for (std::size_t k = 0; k < n; ++k) detail::add_extremes(s, x[k]);
  }
  s.count = n;
  if constexpr (AbsSum) s.abs_sum = sum.total();
  out = s;
  return true;
}
#endif

}  // namespace qtl
