// qtl::lut_codebook: the Scheme that codes values with a scalar_codebook's levels, chosen
// at run time (lloyd_max.hpp fits them to data or a density), in any quantizer<>:
//   quantizer<index_format<10>, lut_codebook, per_group<64>> q{lut_codebook{book}};
// A value x codes to the index of the level nearest x / s, as scalar_codebook::encode
// picks it; code c dequantizes to level c times s. The scale s is per group: the group's
// absmax over the largest level magnitude (the levels are a shape, as NF4's are), or 1
// (lut_scaling::unit: the levels are in the data's units). The Rounding has no say.
// The levels are run-time state, so they live in the scheme (shared, immutable), and the
// format only says how many codes there are: exactly one per level, from 0.
// Batch steps give the scalar step's codes: the count of the thresholds below x
// (core/threshold_table.hpp), and the level by a register lookup up to 16 levels, by a
// gather past.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
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
    return table_->book.cells().count_below(x * simd::floats<A>(p.inv_scale));
  }
  template <format F, class A>
  [[nodiscard]] simd::floats<A> dequantize(simd::ints<A> code, const quant_params& p) const noexcept {
    return simd::lookup<A>(table_->levels.data(), table_->book.size(), code) * simd::floats<A>(p.scale);
  }
#endif

 private:
  struct table {
    table(scalar_codebook b, lut_scaling s) : book(std::move(b)), scaling(s) {
      const auto l = book.levels();
      largest = std::max(std::abs(l.front()), std::abs(l.back()));
      levels.fill(l.back());
      std::copy(l.begin(), l.end(), levels.begin());
    }
    scalar_codebook book;
    lut_scaling scaling;
    float largest = 0.0f;  // the largest level magnitude
    std::array<float, 256> levels{};  // padded with the last level
  };
  std::shared_ptr<const table> table_;
};

}  // namespace qtl
