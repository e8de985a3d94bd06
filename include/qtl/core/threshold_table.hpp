// qtl::threshold_table: up to 255 sorted float thresholds and the count of them below a
// value, the encode step of every format and scheme that codes a value by its cell
// (codebook/lut_codebook.hpp's run-time levels, format/compander.hpp's curves). The scalar
// count is a binary search; the batch count takes 15 pivot thresholds in registers (which
// block of codes), then a binary search inside the block by gathers: none up to 16 cells,
// 4 for 256. Both give the same count for every float, NaN included (0).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "qtl/core/simd.hpp"

namespace qtl {

class threshold_table {
 public:
  static constexpr std::size_t max_size = 255;

  threshold_table() = default;
  // t: at most 255 thresholds, non-decreasing (the caller's invariant).
  explicit threshold_table(std::span<const float> t) : size_(std::min(t.size(), max_size)) {
    bounds_.fill(std::numeric_limits<float>::infinity());
    std::copy_n(t.begin(), size_, bounds_.begin());
    // Cells come in 16 blocks of `stride_` codes; a pivot is the last threshold of a block,
    // so the pivots below x count whole blocks. Up to 16 cells a block is one cell and the
    // pivots are the thresholds themselves.
    int bits = 0;
    while ((std::size_t{1} << bits) < size_ + 1) ++bits;
    stride_ = std::int32_t{1} << std::max(bits - 4, 0);
    pivot_count_ = stride_ == 1 ? size_ : pivots_.size();
    for (std::size_t j = 0; j < pivots_.size(); ++j) pivots_[j] = bounds_[(j + 1) * static_cast<std::size_t>(stride_) - 1];
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::span<const float> thresholds() const noexcept { return {bounds_.data(), size_}; }

  // How many thresholds lie below x (a value on a threshold does not count it).
  [[nodiscard]] int count_below(float x) const noexcept {
    return static_cast<int>(std::lower_bound(bounds_.begin(), bounds_.begin() + static_cast<std::ptrdiff_t>(size_), x) -
                            bounds_.begin());
  }
#if QTL_HAS_SIMD
  template <class A>
  [[nodiscard]] simd::ints<A> count_below(simd::floats<A> x) const noexcept {
    using floats = simd::floats<A>;
    using ints = simd::ints<A>;
    ints count(0);
    for (std::size_t j = 0; j < pivot_count_; ++j)
      count += xsimd::select(xsimd::batch_bool_cast<std::int32_t>(x > floats(pivots_[j])), ints(stride_), ints(0));
    for (std::int32_t step = stride_ / 2; step > 0; step >>= 1) {
      const floats bound = floats::gather(bounds_.data(), count + ints(step - 1));
      count += xsimd::select(xsimd::batch_bool_cast<std::int32_t>(x > bound), ints(step), ints(0));
    }
    return count;
  }
#endif

 private:
  std::array<float, max_size + 1> bounds_{};  // padded with +inf
  std::array<float, 15> pivots_{};
  std::size_t size_ = 0;
  std::size_t pivot_count_ = 0;
  std::int32_t stride_ = 1;
};

}  // namespace qtl
