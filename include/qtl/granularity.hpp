// Granularity policies: which elements share one quant_params. Each tiles a rows x cols
// matrix into equal rectangles (group_shape); parameters are stored row-major per tile.
#pragma once

#include <cstddef>
#include <string>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"

namespace qtl {

// One set of parameters for the whole tensor.
struct per_tensor {
  constexpr group_shape group(std::size_t rows, std::size_t cols) const noexcept { return {rows, cols}; }
};

// One set per row (Axis 0: output channels of a [out, in] weight) or per column (Axis 1).
template <int Axis>
  requires(Axis == 0 || Axis == 1)
struct per_channel {
  static constexpr int axis = Axis;
  constexpr group_shape group(std::size_t rows, std::size_t cols) const noexcept {
    return Axis == 0 ? group_shape{1, cols} : group_shape{rows, 1};
  }
};

// One set per row of an activation matrix [tokens, features].
struct per_token {
  constexpr group_shape group(std::size_t, std::size_t cols) const noexcept { return {1, cols}; }
};

inline constexpr std::size_t dynamic_group = 0;

// Groups of G consecutive elements along a row (the reduction axis). G must divide the
// row length. per_group<> takes the size at run time: per_group<>{64}.
template <std::size_t G = dynamic_group>
struct per_group {
  std::size_t size = G;

  constexpr per_group() noexcept
    requires(G != dynamic_group)
  = default;
  constexpr explicit per_group(std::size_t group_size)
    requires(G == dynamic_group)
      : size(group_size) {
    if (group_size == 0) throw error(errc::group_size, "per_group: group size must be positive");
  }

  constexpr group_shape group(std::size_t, std::size_t cols) const {
    if (cols % size != 0)
      throw error(errc::group_size, "group size " + std::to_string(size) + " does not divide the row length " +
                                        std::to_string(cols));
    return {1, size};
  }
};

// Number of tiles of a granularity over a rows x cols matrix (0 for an empty one).
struct group_grid {
  std::size_t rows = 0;  // tiles down
  std::size_t cols = 0;  // tiles across
  group_shape group;

  constexpr std::size_t size() const noexcept { return rows * cols; }
  constexpr std::size_t index(std::size_t r, std::size_t c) const noexcept {
    return (r / group.rows) * cols + c / group.cols;
  }
  // Calls fn(row, first col, end col, group index) for every run of a row that lies in
  // one group, row by row.
  template <class Fn>
  constexpr void for_each_run(Fn&& fn) const {
    for (std::size_t r = 0; r < rows * group.rows; ++r) {
      const std::size_t first = (r / group.rows) * cols;
      for (std::size_t g = 0; g < cols; ++g) fn(r, g * group.cols, (g + 1) * group.cols, first + g);
    }
  }
  // Calls fn(row, col, group index) for every element, row by row.
  template <class Fn>
  constexpr void for_each(Fn&& fn) const {
    for_each_run([&](std::size_t r, std::size_t begin, std::size_t end, std::size_t g) {
      for (std::size_t c = begin; c < end; ++c) fn(r, c, g);
    });
  }
};

template <granularity G>
constexpr group_grid make_grid(const G& g, std::size_t rows, std::size_t cols) {
  if (rows == 0 || cols == 0) return {0, 0, {1, 1}};
  const group_shape s = g.group(rows, cols);
  if (s.rows == 0 || s.cols == 0 || rows % s.rows != 0 || cols % s.cols != 0)
    throw error(errc::group_size, "groups of " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                                      " do not tile a " + std::to_string(rows) + "x" + std::to_string(cols) + " matrix");
  return {rows / s.rows, cols / s.cols, s};
}

}  // namespace qtl
