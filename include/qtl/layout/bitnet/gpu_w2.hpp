// The 2-bit weight layout of BitNet's W2A8 CUDA GEMV (gpu/ of microsoft/BitNet): ternary
// codes permuted in 16x32 tiles and interleaved within 32-bit words. Shared with .cuh code.
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

// gpu/pack_weight.py (convert_weight_int8_to_int2) on an M x K ternary matrix, said as
// where W(r, c) lands in the M * K / 4 output bytes:
//  - code = value + 2: -1, 0, +1 -> 1, 2, 3 (0 is never written); the kernel subtracts 2;
//  - tiles of 16 rows x 32 columns, stored tile-row by tile-row, 128 bytes each:
//    tile (r / 16, c / 32) starts at byte ((r / 16) * (K / 32) + c / 32) * 128;
//  - a tile is 32 little-endian 32-bit words of 16 codes; row rr = r % 16 and half
//    h = (c % 32) / 16 own word (rr / 8) * 16 + h * 8 + rr % 8 (the "16x32 block
//    permutation": it lets thread (x, y) of the kernel read row y, K-run x, with one load);
//  - inside the word, code t = c % 16 sits at byte t % 4, bits 2 * (t / 4): reading the
//    word's 2-bit slots from bit 0 gives codes 0, 4, 8, 12, 1, 5, 9, 13, 2, ... (interleave),
//    so (word >> 2i) & 0x03030303 holds codes 4i .. 4i + 3, one per byte.
// Shape rules: M % 16 == 0 and K % 32 == 0 (whole tiles). BitNet's GEMV kernel
// (ladder_int8xint2_kernel) further steps K by 128 (8 threads x 16 values): gemv_k_step.
struct gpu_w2 {
  static constexpr std::size_t tile_rows = 16;  // wmma_n
  static constexpr std::size_t tile_cols = 32;  // wmma_k
  static constexpr std::size_t tile_bytes = tile_rows * tile_cols / 4;
  static constexpr std::size_t word_codes = 16;
  static constexpr std::size_t gemv_k_step = 128;
  // The code in 2-bit slot `slot` (bits 2 * slot) of a word: BitNet's interleave.
  QTL_HOST_DEVICE static constexpr int interleave(int slot) noexcept { return (slot % 4) * 4 + slot / 4; }

  QTL_HOST_DEVICE static constexpr std::uint8_t encode(int ternary) noexcept { return static_cast<std::uint8_t>(ternary + 2); }
  QTL_HOST_DEVICE static constexpr int decode(std::uint8_t code) noexcept { return static_cast<int>(code) - 2; }

  // Word of a tile holding row rr (0..15), columns h * 16 .. h * 16 + 15 of the tile.
  QTL_HOST_DEVICE static constexpr std::size_t word_in_tile(std::size_t rr, std::size_t h) noexcept {
    return (rr / 8) * 16 + h * 8 + rr % 8;
  }
  QTL_HOST_DEVICE static constexpr std::size_t byte_of(std::size_t r, std::size_t c, std::size_t cols) noexcept {
    const std::size_t tile = (r / tile_rows) * (cols / tile_cols) + c / tile_cols;
    const std::size_t t = c % word_codes;
    return tile * tile_bytes + 4 * word_in_tile(r % tile_rows, (c % tile_cols) / word_codes) + t % 4;
  }
  QTL_HOST_DEVICE static constexpr int shift_of(std::size_t c) noexcept { return 2 * static_cast<int>((c % word_codes) / 4); }
  QTL_HOST_DEVICE static constexpr std::size_t byte_index(std::size_t r, std::size_t c, std::size_t cols) noexcept {
    return byte_of(r, c, cols);
  }
  static constexpr unsigned invalid_code = 0;

  static constexpr std::size_t bytes(std::size_t rows, std::size_t cols) noexcept { return rows * cols / 4; }
  static constexpr std::size_t code_bytes(std::size_t rows, std::size_t cols) noexcept { return bytes(rows, cols); }
  static constexpr bool gemv_accepts(std::size_t rows, std::size_t cols) noexcept {
    return rows % tile_rows == 0 && cols % gemv_k_step == 0;
  }
  static void check_shape(std::size_t rows, std::size_t cols, const char* what) {
    if (rows % tile_rows != 0 || cols % tile_cols != 0)
      throw error(errc::shape_mismatch, std::string(what) + ": the BitNet GPU W2 layout needs M % 16 == 0 and K % 32 == 0 " +
                                            "(whole 16x32 tiles); shape " + std::to_string(rows) + " x " +
                                            std::to_string(cols));
  }
};

// byte t % 4, bits 2 * (t / 4) is slot (t % 4) * 4 + t / 4: the table of BitNet's gpu/README.md.
static_assert([] {
  constexpr int table[gpu_w2::word_codes] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
  for (int slot = 0; slot < 16; ++slot) {
    const int t = gpu_w2::interleave(slot);
    if (t != table[slot] || (t % 4) * 4 + t / 4 != slot) return false;
  }
  return true;
}());
static_assert(gpu_w2::byte_of(0, 4, 32) == 0 && gpu_w2::shift_of(4) == 2 && gpu_w2::byte_of(8, 0, 32) == 64 &&
              gpu_w2::byte_of(0, 16, 32) == 32 && gpu_w2::byte_of(16, 0, 64) == 256);

// Packs ternary codes (each -1, 0 or 1) into out (at least gpu_w2::bytes()).
inline void pack_gpu_w2(matrix_view<const std::int8_t> codes, std::span<std::uint8_t> out) {
  detail::pack_ternary<gpu_w2>(codes, out, "pack_gpu_w2");
}

// Unpacks into codes (its shape says M x K). Throws, writing nothing, on a short buffer
// or a code 0 (which would decode to -2).
inline void unpack_gpu_w2(std::span<const std::uint8_t> in, matrix_view<std::int8_t> codes) {
  detail::unpack_ternary<gpu_w2>(in, codes, "unpack_gpu_w2");
}

}  // namespace qtl::bitnet
