// bitnet.cpp's I2_S tensor layout: ternary codes at 2 bits in blocks of QK_I2_S values,
// then one float32 scale in a 32-byte tail. Sits after bitnet/quantize.hpp (codes, scale).
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

// I2_S (src/ggml-bitnet-mad.cpp, quantize_i2_s, the default ACT_PARALLEL build) of an
// M x K tensor, row-major, K a multiple of Block:
//  - codes 0, 1, 2 stand for -1, 0, +1 (3 is never written);
//  - each block of Block consecutive values fills Block / 4 bytes; value j of a block goes
//    to byte j % (Block / 4), bits 7-6 for j < Block / 4, then 5-4, 3-2, 1-0;
//  - after the M * K / 4 code bytes, a 32-byte tail: the float32 scale (little-endian) in
//    its first 4 bytes, zeros after (what BitNet's Python converter writes).
// Block is QK_I2_S: 128 where bitnet.cpp is built for x86 (AVX/AVX2/AVX-512/SSSE3; the
// published GGUF files), 64 where it is built for ARM NEON: the two files differ.
template <std::size_t Block>
struct i2_s_layout {
  static_assert(Block % 4 == 0 && Block > 0);
  static constexpr std::size_t block = Block;
  static constexpr std::size_t block_bytes = Block / 4;
  static constexpr std::size_t tail_bytes = 32;

  QTL_HOST_DEVICE static constexpr std::size_t byte_of(std::size_t i) noexcept {
    return (i / Block) * block_bytes + i % block_bytes;
  }
  QTL_HOST_DEVICE static constexpr int shift_of(std::size_t i) noexcept {
    return 6 - 2 * static_cast<int>((i % Block) / block_bytes);
  }
  QTL_HOST_DEVICE static constexpr std::size_t byte_index(std::size_t r, std::size_t c, std::size_t cols) noexcept {
    return r * (cols / 4) + byte_of(c);
  }
  static constexpr unsigned invalid_code = 3;
  QTL_HOST_DEVICE static constexpr std::uint8_t encode(int ternary) noexcept { return static_cast<std::uint8_t>(ternary + 1); }
  QTL_HOST_DEVICE static constexpr int decode(std::uint8_t code) noexcept { return static_cast<int>(code) - 1; }

  static constexpr std::size_t code_bytes(std::size_t rows, std::size_t cols) noexcept { return rows * cols / 4; }
  static constexpr std::size_t bytes(std::size_t rows, std::size_t cols) noexcept {
    return code_bytes(rows, cols) + tail_bytes;
  }
  // Rows must be whole blocks: bitnet.cpp's dot product walks a row block by block.
  static void check_shape(std::size_t rows, std::size_t cols, const char* what) {
    if (cols % Block != 0)
      throw error(errc::group_size, std::string(what) + ": I2_S needs rows (K = " + std::to_string(cols) +
                                        ") that are a multiple of its block of " + std::to_string(Block) +
                                        " values; shape " + std::to_string(rows) + " x " + std::to_string(cols));
  }
};

using i2_s = i2_s_layout<128>;      // x86 builds
using i2_s_arm = i2_s_layout<64>;  // ARM NEON builds

static_assert(i2_s::byte_of(33) == 1 && i2_s::shift_of(33) == 4 && i2_s::byte_of(128) == 32 && i2_s::shift_of(127) == 0);

// Packs ternary codes (each -1, 0 or 1) and the scale into out (at least Layout::bytes()).
template <class Layout = i2_s>
void pack_i2_s(matrix_view<const std::int8_t> codes, float scale, std::span<std::uint8_t> out) {
  detail::pack_ternary<Layout>(codes, out, "pack_i2_s");
  detail::write_scale<Layout>(scale, codes.rows(), codes.cols(), out);
}

// The scale in the tail of a rows x cols I2_S tensor. Throws on a short buffer.
template <class Layout = i2_s>
float i2_s_scale(std::span<const std::uint8_t> in, std::size_t rows, std::size_t cols) {
  return detail::read_scale<Layout>(in, rows, cols, "i2_s_scale");
}

// Unpacks an I2_S tensor of codes' shape into codes; returns its scale. Throws, writing
// nothing, on a short buffer or a code 3.
template <class Layout = i2_s>
float unpack_i2_s(std::span<const std::uint8_t> in, matrix_view<std::int8_t> codes) {
  detail::unpack_ternary<Layout>(in, codes, "unpack_i2_s");
  return i2_s_scale<Layout>(in, codes.rows(), codes.cols());
}

}  // namespace qtl::bitnet
