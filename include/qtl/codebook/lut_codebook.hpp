// qtl::lut_codebook: the Scheme that codes values with a scalar_codebook's levels, chosen
// at run time (lloyd_max.hpp fits them to data or a density), in any quantizer<>:
//   quantizer<index_format<10>, lut_codebook, per_group<64>> q{lut_codebook{book}};
// A value x codes to the index of the level nearest x / s, as scalar_codebook::encode
// picks it; code c dequantizes to level c times s. The scale s is per group: the group's
// absmax over the largest level magnitude (the levels are a shape, as NF4's are), or 1
// (lut_scaling::unit: the levels are in the data's units). The Rounding has no say.
// The levels are run-time state, so they live in the scheme (shared, immutable), and the
// format only says how many codes there are: exactly one per level, from 0.
// Batch steps give the scalar step's codes: up to 16 levels, a count of the thresholds
// below x and a register lookup of the level; more, a count of 15 pivot thresholds (which
// block of codes) and a binary search inside the block by gathers (4 for 256 levels).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "qtl/codebook/scalar_codebook.hpp"
#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/core/tensor_stats.hpp"
#include "qtl/scheme.hpp"

namespace qtl {

// How a group's values meet the levels: scaled so that the group's absmax lands on the
// largest level magnitude, or as they are.
enum class lut_scaling { absmax, unit };

class lut_codebook {
 public:
  static constexpr bool needs_abs_sum = false;

  explicit lut_codebook(scalar_codebook book, lut_scaling scaling = lut_scaling::absmax)
      : table_(std::make_shared<const table>(std::move(book), scaling)) {}

  [[nodiscard]] const scalar_codebook& book() const noexcept { return table_->book; }
  [[nodiscard]] lut_scaling scaling() const noexcept { return table_->scaling; }

  // quantizer's constructor asks: F must have one code per level, 0 .. size() - 1.
  template <format F>
  void check_format() const {
    const std::size_t n = table_->book.size();
    if (F::min_code != 0 || static_cast<std::size_t>(F::levels) != n)
      throw error(errc::invalid_argument,
                  "lut_codebook: a codebook of " + std::to_string(n) + " levels needs the codes 0.." +
                      std::to_string(n - 1) + " (index_format<" + std::to_string(n) + ">); the format has " +
                      std::to_string(F::min_code) + ".." + std::to_string(F::max_code));
  }

  template <format F>
  [[nodiscard]] quant_params params(const tensor_stats& s) const noexcept {
    if (table_->scaling == lut_scaling::unit) return {1.0f, 1.0f, 0};
    return detail::from_scale(s.absmax() / table_->largest);
  }
  template <format F, class Rounding>
  [[nodiscard]] int quantize(float x, const quant_params& p, const Rounding&, std::uint64_t) const noexcept {
    return table_->book.encode(x * p.inv_scale);
  }
  template <format F>
  [[nodiscard]] float dequantize(int code, const quant_params& p) const noexcept {
    return table_->levels[static_cast<std::size_t>(code)] * p.scale;
  }
#if QTL_HAS_SIMD
  template <format F, class A, class Rounding>
  [[nodiscard]] simd::ints<A> quantize(simd::floats<A> x, const quant_params& p, const Rounding&,
                                       std::uint64_t) const noexcept {
    using floats = simd::floats<A>;
    using ints = simd::ints<A>;
    const floats y = x * floats(p.inv_scale);
    const table& t = *table_;
    // The count of thresholds below y: first the pivots in registers (which block of
    // `stride` codes), then a binary search inside the block by gathers.
    ints code(0);
    for (std::size_t j = 0; j < t.pivot_count; ++j)
      code += xsimd::select(xsimd::batch_bool_cast<std::int32_t>(y > floats(t.pivots[j])), ints(t.stride), ints(0));
    for (std::int32_t step = t.stride / 2; step > 0; step >>= 1) {
      const floats bound = floats::gather(t.bounds.data(), code + ints(step - 1));
      code += xsimd::select(xsimd::batch_bool_cast<std::int32_t>(y > bound), ints(step), ints(0));
    }
    return code;
  }
  template <format F, class A>
  [[nodiscard]] simd::floats<A> dequantize(simd::ints<A> code, const quant_params& p) const noexcept {
    using floats = simd::floats<A>;
    const floats level = table_->book.size() <= 16
                             ? simd::lookup16<A>(table_->levels.data(), xsimd::bitwise_cast<std::uint32_t>(code))
                             : floats::gather(table_->levels.data(), code);
    return level * floats(p.scale);
  }
#endif

 private:
  struct table {
    table(scalar_codebook b, lut_scaling s) : book(std::move(b)), scaling(s) {
      const auto l = book.levels();
      const auto th = book.thresholds();
      largest = std::max(std::abs(l.front()), std::abs(l.back()));
      levels.fill(l.back());
      bounds.fill(std::numeric_limits<float>::infinity());
      std::copy(l.begin(), l.end(), levels.begin());
      std::copy(th.begin(), th.end(), bounds.begin());
      // Codes come in 16 blocks of `stride`; a pivot is the last threshold of a block, so
      // the pivots below y count whole blocks. Up to 16 levels a block is one code and the
      // pivots are the thresholds themselves.
      stride = std::int32_t{1} << std::max(book.bits() - 4, 0);
      pivot_count = stride == 1 ? th.size() : pivots.size();
      for (std::size_t j = 0; j < pivots.size(); ++j) pivots[j] = bounds[(j + 1) * static_cast<std::size_t>(stride) - 1];
    }
    scalar_codebook book;
    lut_scaling scaling;
    float largest = 0.0f;  // the largest level magnitude
    std::array<float, 256> levels{};  // padded with the last level
    std::array<float, 256> bounds{};  // the thresholds, padded with +inf
    std::array<float, 15> pivots{};
    std::size_t pivot_count = 0;
    std::int32_t stride = 1;
  };
  std::shared_ptr<const table> table_;
};

}  // namespace qtl
