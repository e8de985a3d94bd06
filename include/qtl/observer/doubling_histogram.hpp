// qtl::doubling_histogram: a fixed number of equal bins whose range grows by doubling the
// bin width (merging neighbours, so counts stay exact) when data falls outside it. The
// streaming state of streaming_percentile and kl.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"

namespace qtl {

class doubling_histogram {
 public:
  // bins: even, at least 2.
  explicit doubling_histogram(std::size_t bins = 2048) : counts_((check_bins(bins), bins), 0) {}

  // Throws unless bins is a valid bin count (even, at least 2).
  static void check_bins(std::size_t bins) {
    if (bins < 2 || bins % 2 != 0)
      throw error(errc::invalid_argument, "doubling_histogram: " + std::to_string(bins) + " bins (need an even number >= 2)");
  }

  [[nodiscard]] bool empty() const noexcept { return width_ == 0.0; }
  [[nodiscard]] std::size_t bins() const noexcept { return counts_.size(); }
  [[nodiscard]] double lower() const noexcept { return lower_; }
  [[nodiscard]] double width() const noexcept { return width_; }
  [[nodiscard]] double upper() const noexcept { return lower_ + width_ * static_cast<double>(bins()); }
  [[nodiscard]] std::span<const std::uint64_t> counts() const noexcept { return counts_; }
  [[nodiscard]] std::uint64_t total() const noexcept { return total_; }

  // Makes [lo, hi] (finite, lo <= hi) fall inside the bins, [lower(), upper()). The first
  // call sets lower() = lo and the width so that hi lies in the last bin; later ones double
  // the bin width towards the side that is short, so a bin's values never straddle bins.
  void cover(float lo, float hi) {
    if (empty()) {
      lower_ = lo;
      const double span = static_cast<double>(hi) - static_cast<double>(lo);
      // a single value: a width far below its magnitude, grown when data spreads
      width_ = span > 0.0 ? span / static_cast<double>(bins() - 1)  // hi falls inside the last bin
                          : std::max(std::fabs(static_cast<double>(lo)), 1e-30) * 0x1p-20;
      return;
    }
    const std::size_t half_bins = bins() / 2;
    while (lo < lower_) {  // old bins become the upper half
      for (std::size_t j = half_bins; j-- > 0;) counts_[half_bins + j] = counts_[2 * j] + counts_[2 * j + 1];  // top down
      std::fill(counts_.begin(), counts_.begin() + static_cast<std::ptrdiff_t>(half_bins), 0);
      lower_ -= width_ * static_cast<double>(bins());
      width_ *= 2.0;
    }
    while (hi >= upper()) {  // old bins become the lower half (upper() itself is outside)
      for (std::size_t j = 0; j < half_bins; ++j) counts_[j] = counts_[2 * j] + counts_[2 * j + 1];  // bottom up
      std::fill(counts_.begin() + static_cast<std::ptrdiff_t>(half_bins), counts_.end(), 0);
      width_ *= 2.0;
    }
  }

  // Counts v, which must lie in [lower(), upper()) (after cover).
  void add(float v) noexcept {
    const double k = std::floor((static_cast<double>(v) - lower_) / width_);
    ++counts_[static_cast<std::size_t>(std::clamp(k, 0.0, static_cast<double>(bins() - 1)))];
    ++total_;
  }

  // Estimate of the k-th smallest value counted (0-based, k < total()): the position
  // of rank k inside its bin, taking the bin's values as evenly spread. It lies in the
  // same bin as the true value, so the error is at most width().
  [[nodiscard]] double order_statistic(std::uint64_t k) const noexcept {
    std::uint64_t before = 0;
    std::size_t b = 0;
    while (b + 1 < bins() && before + counts_[b] <= k) before += counts_[b++];
    const double inside = (static_cast<double>(k - before) + 0.5) / static_cast<double>(std::max<std::uint64_t>(counts_[b], 1));
    return lower_ + width_ * (static_cast<double>(b) + inside);
  }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  double lower_ = 0.0;
  double width_ = 0.0;  // 0 until the first cover()
};

}  // namespace qtl
