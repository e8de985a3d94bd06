// qtl's prepared weight layout: 8 rows' blocks of the same block column interleaved, so
// that a GEMV kernel reads one activation block once for 8 rows and holds the 8 rows'
// integer sums in one register's lanes (kernel/group_dot.hpp). Built once, at load, from
// ggml's row-major blocks; prepared::blocks() gives back exactly those bytes.
//
// One row_group is the block column i of rows 8g..8g+7: their 8 half scales, then the
// code bytes of each row (16 for Q4_0/IQ4_NL, 32 for Q8_0) in 4-byte chunks, chunk-major:
// bytes 4c..4c+3 of row r sit at qs[32c + 4r]. A 32-byte load of chunk c holds, in 32-bit
// lane r, row r's values 4c..4c+3 (Q8_0; 4-bit types: those in the low nibbles, values
// 16+4c..16+4c+3 in the high ones): one dot-of-4 instruction per chunk (and nibble half)
// covers all 8 rows. Rows past the matrix's last one (when rows is not a multiple of 8)
// are zero blocks that no kernel writes out.
//
// Q4_K's row_group (256 values per block column): the 8 rows' d and dmin, their 6-bit
// sub-block scales and mins unpacked (scales[8j + r]; mins as pairs, mins[16p + 2r + h] =
// sub-block 2p + h's), then the 128 code bytes of each row in the same 4-byte chunks: chunk
// c (0..31) holds in lane r row r's values 64(c/8) + 4(c%8)..+3 in the low nibbles and the
// 32 after them in the high ones. The unpacking is a bijection of the 12 packed bytes, so
// blocks() still gives back ggml's bytes.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/k_quants.hpp"

namespace qtl::kernel {

inline constexpr std::size_t group_rows = 8;  // rows interleaved in one row_group

// The 32-value ggml blocks of one half scale and codes alone: Q8_0's int8 codes and the
// 4-bit ones in ggml's split nibble order; and Q4_K.
template <class B>
concept groupable_32 =
    std::same_as<B, ggml::block_q8_0> || std::same_as<B, ggml::block_q4_0> || std::same_as<B, ggml::block_iq4_nl>;
template <class B>
concept groupable = groupable_32<B> || std::same_as<B, ggml::block_q4_k>;

// The activation blocks a prepared type is multiplied with.
template <groupable B>
using group_activation = std::conditional_t<groupable_32<B>, ggml::block_q8_0, ggml::block_q8_k>;

template <groupable B>
struct row_group {
  static constexpr std::size_t chunks = sizeof(B::qs) / 4;  // 4-byte chunks of a block's codes
  std::uint16_t d[group_rows];
  std::uint8_t qs[chunks * 4 * group_rows];

  // Row r's block, in ggml's bytes.
  B block(std::size_t r) const noexcept {
    B b{};
    b.d = d[r];
    for (std::size_t c = 0; c < chunks; ++c) std::memcpy(b.qs + 4 * c, qs + 32 * c + 4 * r, 4);
    return b;
  }
  void set_block(std::size_t r, const B& b) noexcept {
    d[r] = b.d;
    for (std::size_t c = 0; c < chunks; ++c) std::memcpy(qs + 32 * c + 4 * r, b.qs + 4 * c, 4);
  }
};
template <>
struct row_group<ggml::block_q4_k> {
  std::uint16_t d[group_rows], dmin[group_rows];
  std::uint8_t scales[8 * group_rows];  // sub-block j, row r at 8j + r
  std::uint8_t mins[8 * group_rows];    // sub-block 2p + h, row r at 16p + 2r + h
  std::uint8_t qs[128 * group_rows];    // chunk c (0..31), row r at 32c + 4r

  ggml::block_q4_k block(std::size_t r) const noexcept {
    ggml::block_q4_k b{};
    b.d = d[r];
    b.dmin = dmin[r];
    for (std::size_t j = 0; j < 8; ++j)
      ggml::detail::set_scale_min_k4(j, scales[8 * j + r], mins[16 * (j / 2) + 2 * r + j % 2], b.scales);
    for (std::size_t c = 0; c < 32; ++c) std::memcpy(b.qs + 4 * c, qs + 32 * c + 4 * r, 4);
    return b;
  }
  void set_block(std::size_t r, const ggml::block_q4_k& b) noexcept {
    d[r] = b.d;
    dmin[r] = b.dmin;
    for (std::size_t j = 0; j < 8; ++j) {
      scales[8 * j + r] = static_cast<std::uint8_t>(ggml::sub_scale(b, j));
      mins[16 * (j / 2) + 2 * r + j % 2] = static_cast<std::uint8_t>(ggml::sub_min(b, j));
    }
    for (std::size_t c = 0; c < 32; ++c) std::memcpy(qs + 32 * c + 4 * r, b.qs + 4 * c, 4);
  }
};

static_assert(sizeof(row_group<ggml::block_q4_0>) == group_rows * sizeof(ggml::block_q4_0), "no padding");
static_assert(sizeof(row_group<ggml::block_q8_0>) == group_rows * sizeof(ggml::block_q8_0), "no padding");

// A rows x cols weight matrix in row groups: group g's block column i at g * blocks_per_row + i.
template <groupable B>
class prepared {
 public:
  // w: rows x cols values as rows of cols / B::elements ggml blocks. Throws qtl::error before any
  // work on a cols that is not a multiple of the block or too few blocks.
  prepared(std::span<const B> w, std::size_t rows, std::size_t cols) : rows_(rows), cols_(cols) {
    if (cols == 0 || cols % B::elements != 0)
      throw error(errc::group_size, "prepare: " + std::string(B::name) + " rows must be a positive multiple of " +
                                        std::to_string(B::elements) + " values; got " + std::to_string(cols));
    if (rows == 0 || w.size() < rows * blocks_per_row())
      throw error(errc::shape_mismatch, "prepare: " + std::to_string(w.size()) + " " + std::string(B::name) +
                                            " blocks are too few for a " + std::to_string(rows) + " x " +
                                            std::to_string(cols) + " matrix");
    groups_.resize(group_count() * blocks_per_row(), row_group<B>{});
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t i = 0; i < blocks_per_row(); ++i)
        groups_[r / group_rows * blocks_per_row() + i].set_block(r % group_rows, w[r * blocks_per_row() + i]);
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  std::size_t blocks_per_row() const noexcept { return cols_ / B::elements; }
  std::size_t group_count() const noexcept { return (rows_ + group_rows - 1) / group_rows; }
  std::span<const row_group<B>> groups() const noexcept { return groups_; }

  // The exact inverse: the row-major ggml blocks this was prepared from.
  std::vector<B> blocks() const {
    std::vector<B> out(rows_ * blocks_per_row());
    for (std::size_t r = 0; r < rows_; ++r)
      for (std::size_t i = 0; i < blocks_per_row(); ++i)
        out[r * blocks_per_row() + i] = groups_[r / group_rows * blocks_per_row() + i].block(r % group_rows);
    return out;
  }

 private:
  std::size_t rows_, cols_;
  std::vector<row_group<B>> groups_;
};

}  // namespace qtl::kernel
