// qtl::scalar_codebook: a scalar format whose 2..256 levels are chosen at run time (by
// lloyd_max.hpp from data or a density). Values encode to the index of the nearest level,
// one byte per code; decoding is a table read. Sits where a format does: values -> codes.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/threshold_table.hpp"

namespace qtl {

class scalar_codebook {
 public:
  using code_type = std::uint8_t;
  static constexpr std::size_t max_levels = 256;

  // levels: 2..256 finite floats, strictly increasing.
  explicit scalar_codebook(std::vector<float> levels) : levels_(std::move(levels)) {
    if (levels_.size() < 2 || levels_.size() > max_levels)
      throw error(errc::invalid_argument,
                  "scalar_codebook: " + std::to_string(levels_.size()) + " levels, need 2..256");
    for (std::size_t i = 0; i < levels_.size(); ++i) {
      if (!std::isfinite(levels_[i]))
        throw error(errc::non_finite, "scalar_codebook: level " + std::to_string(i) + " is not finite");
      if (i > 0 && !(levels_[i - 1] < levels_[i]))
        throw error(errc::invalid_argument,
                    "scalar_codebook: levels must increase strictly; level " + std::to_string(i) + " (" +
                        std::to_string(levels_[i]) + ") follows " + std::to_string(levels_[i - 1]));
    }
    std::vector<float> thresholds(levels_.size() - 1);
    for (std::size_t i = 0; i + 1 < levels_.size(); ++i) {
      // The largest float not above the midpoint taken in double: a float x lies above the
      // midpoint exactly when it lies above this threshold.
      const double midpoint = (double{levels_[i]} + double{levels_[i + 1]}) / 2;
      float t = static_cast<float>(midpoint);
      if (double{t} > midpoint) t = std::nextafter(t, -std::numeric_limits<float>::infinity());
      thresholds[i] = t;
    }
    cells_ = threshold_table(thresholds);
  }

  [[nodiscard]] std::size_t size() const noexcept { return levels_.size(); }
  // Bits a code needs: ceil(log2(size())).
  [[nodiscard]] int bits() const noexcept {
    int b = 1;
    while ((std::size_t{1} << b) < levels_.size()) ++b;
    return b;
  }
  [[nodiscard]] std::span<const float> levels() const noexcept { return levels_; }
  // The cell boundaries: thresholds()[i] is the midpoint (level i + level i+1) / 2, taken in
  // double, rounded down to float. A value codes past level i exactly when it is above it.
  [[nodiscard]] std::span<const float> thresholds() const noexcept { return cells_.thresholds(); }
  // The thresholds as a table with a batch count (core/threshold_table.hpp).
  [[nodiscard]] const threshold_table& cells() const noexcept { return cells_; }

  // The nearest level's index: the number of midpoints (level i + level i+1) / 2, taken in
  // double, that lie below x (the thresholds below x). A tie takes the lower level; a value
  // beyond the ends, the end one. NaN has no nearest level: the span overloads refuse it,
  // this one returns 0.
  [[nodiscard]] code_type encode(float x) const noexcept {
    return static_cast<code_type>(cells_.count_below(x));
  }
  [[nodiscard]] float decode(code_type code) const noexcept { return levels_[code < levels_.size() ? code : 0]; }

  void encode(std::span<const float> values, std::span<code_type> codes) const {
    if (codes.size() != values.size())
      throw error(errc::shape_mismatch, "scalar_codebook::encode: " + std::to_string(values.size()) + " values, " +
                                            std::to_string(codes.size()) + " codes");
    for (std::size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(values[i]))
        throw error(errc::non_finite, "scalar_codebook::encode: value " + std::to_string(i) + " is not finite");
    for (std::size_t i = 0; i < values.size(); ++i) codes[i] = encode(values[i]);
  }
  void decode(std::span<const code_type> codes, std::span<float> values) const {
    if (codes.size() != values.size())
      throw error(errc::shape_mismatch, "scalar_codebook::decode: " + std::to_string(codes.size()) + " codes, " +
                                            std::to_string(values.size()) + " values");
    for (std::size_t i = 0; i < codes.size(); ++i)
      if (codes[i] >= levels_.size())
        throw error(errc::out_of_range, "scalar_codebook::decode: code " + std::to_string(codes[i]) + " at index " +
                                            std::to_string(i) + " is past the " + std::to_string(levels_.size()) +
                                            " levels");
    for (std::size_t i = 0; i < codes.size(); ++i) values[i] = levels_[codes[i]];
  }
  [[nodiscard]] std::vector<code_type> encode(std::span<const float> values) const {
    std::vector<code_type> codes(values.size());
    encode(values, codes);
    return codes;
  }
  [[nodiscard]] std::vector<float> decode(std::span<const code_type> codes) const {
    std::vector<float> values(codes.size());
    decode(codes, values);
    return values;
  }

 private:
  std::vector<float> levels_;
  threshold_table cells_;
};

}  // namespace qtl
