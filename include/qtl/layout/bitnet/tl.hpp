// qtl's lookup-table (TL) layout of BitNet ternary weights: two weights per 4-bit table
// index, the indices of 64 rows side by side so one byte shuffle looks up 64 rows at once
// (kernel/tl_dot.hpp). Sits after bitnet/quantize.hpp (codes, scale), like i2_s.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "qtl/core/config.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/layout/bitnet/ternary_layout.hpp"

namespace qtl::bitnet {

// An M x K ternary matrix (K a multiple of 4) as 2 bits per weight:
//  - code = the weight's two's-complement low 2 bits: 0 -> 00, +1 -> 01, -1 -> 11 (10 is
//    never written), so zero bytes are zero weights;
//  - rows are cut into tiles of 64 (the last one padded with zero rows); tile t starts at
//    byte t * 16 * K; inside it, the 4 values c = 4p .. 4p + 3 of tile row m share byte
//    64 p + m, value c at bits 2 (c % 4):
//
//        byte 64p + m:  bit 7   6 | 5   4 | 3   2 | 1   0
//                       W(m,4p+3) W(m,4p+2) W(m,4p+1) W(m,4p)
//                       '-- index of group 2p+1 -'-- index of group 2p --'
//
//    so a nibble is the table index of one group of two values (first value in the low
//    2 bits), and 64 consecutive bytes hold one pair of groups for all 64 rows of the tile;
//  - after the code bytes, I2_S's 32-byte tail: the float32 scale, then zeros.
struct tl {
  static constexpr std::size_t tile_rows = 64;
  static constexpr std::size_t group = 2;      // values per table index (a nibble)
  static constexpr std::size_t pair_cols = 4;  // values per byte: the two groups of a nibble pair
  static constexpr std::size_t tail_bytes = 32;
  static constexpr unsigned invalid_code = 2;

  QTL_HOST_DEVICE static constexpr std::uint8_t encode(int ternary) noexcept { return static_cast<std::uint8_t>(ternary & 3); }
  QTL_HOST_DEVICE static constexpr int decode(std::uint8_t code) noexcept { return code == 3 ? -1 : static_cast<int>(code); }

  static constexpr std::size_t padded_rows(std::size_t rows) noexcept {
    return (rows + tile_rows - 1) / tile_rows * tile_rows;
  }
  static constexpr std::size_t tile_bytes(std::size_t cols) noexcept { return tile_rows * cols / pair_cols; }
  QTL_HOST_DEVICE static constexpr std::size_t byte_index(std::size_t r, std::size_t c, std::size_t cols) noexcept {
    return (r / tile_rows) * (tile_rows * cols / pair_cols) + (c / pair_cols) * tile_rows + r % tile_rows;
  }
  QTL_HOST_DEVICE static constexpr int shift_of(std::size_t c) noexcept { return 2 * static_cast<int>(c % pair_cols); }

  static constexpr std::size_t code_bytes(std::size_t rows, std::size_t cols) noexcept {
    return padded_rows(rows) * cols / pair_cols;
  }
  static constexpr std::size_t bytes(std::size_t rows, std::size_t cols) noexcept {
    return code_bytes(rows, cols) + tail_bytes;
  }
  static void check_shape(std::size_t rows, std::size_t cols, const char* what) {
    if (cols % pair_cols != 0)
      throw error(errc::group_size, std::string(what) + ": the TL layout needs rows (K = " + std::to_string(cols) +
                                        ") that are a multiple of " + std::to_string(pair_cols) + " values; shape " +
                                        std::to_string(rows) + " x " + std::to_string(cols));
  }
};

static_assert(tl::decode(tl::encode(-1)) == -1 && tl::decode(tl::encode(0)) == 0 && tl::decode(tl::encode(1)) == 1);
static_assert(tl::encode(0) == 0 && tl::encode(-1) != tl::invalid_code && tl::encode(1) != tl::invalid_code);
// Row 1, column 6: tile 0, pair 1, byte 64 + 1, bits 4-5; row 65 of K = 8 starts tile 1.
static_assert(tl::byte_index(1, 6, 8) == 65 && tl::shift_of(6) == 4 && tl::byte_index(65, 0, 8) == 129 &&
              tl::code_bytes(65, 8) == 256);

// Packs ternary codes (each -1, 0 or 1) and the scale into out (at least tl::bytes()).
inline void pack_tl(matrix_view<const std::int8_t> codes, float scale, std::span<std::uint8_t> out) {
  detail::pack_ternary<tl>(codes, out, "pack_tl");
  detail::write_scale<tl>(scale, codes.rows(), codes.cols(), out);
}

// The scale in the tail of a rows x cols TL tensor. Throws on a short buffer.
inline float tl_scale(std::span<const std::uint8_t> in, std::size_t rows, std::size_t cols) {
  return detail::read_scale<tl>(in, rows, cols, "tl_scale");
}

// Unpacks a TL tensor of codes' shape into codes; returns its scale. Throws, writing
// nothing, on a short buffer or a code 10.
inline float unpack_tl(std::span<const std::uint8_t> in, matrix_view<std::int8_t> codes) {
  detail::unpack_ternary<tl>(in, codes, "unpack_tl");
  return tl_scale(in, codes.rows(), codes.cols());
}

}  // namespace qtl::bitnet
