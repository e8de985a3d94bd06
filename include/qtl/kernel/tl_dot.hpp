// BitNet b1.58 GEMV by table lookup (the T-MAC idea of bitnet.cpp's TL kernels) over
// qtl's TL weight layout (layout/bitnet/tl.hpp): for each group of two activations a
// table of the 16 sums c0 * a0 + c1 * a1 a 4-bit weight index can name is built once per
// token (tl_lut), and the kernel looks sums up instead of multiplying. The sums (-256..256)
// are kept exact as int16, stored as a low-byte and a high-byte table, so the row's
// integer sum, and y = float(isum) / a_scale * w_scale, equal the I2_S kernel's bit for bit.
// Only a tile's lookups are per arch: the primary template below is the scalar reference;
// the SIMD shape (tl_simd_tile) is shared, and x86/tl_dot.hpp and arm/tl_dot.hpp give it
// their byte shuffle (shuffle_epi8, vqtbl1q) and their widening.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "qtl/kernel/arch.hpp"
#include "qtl/layout/bitnet/tl.hpp"

namespace qtl::kernel {

// One group's table: 16 low bytes, then 16 high bytes of the int16 sums, entry i for the
// index whose low 2 bits are the first weight's code and high 2 bits the second's.
inline constexpr std::size_t tl_table_bytes = 32;
inline constexpr std::size_t tl_table_entries = 16;

// Bytes of one token's tables: one per group of bitnet::tl::group values.
constexpr std::size_t tl_lut_bytes(std::size_t cols) noexcept { return cols / bitnet::tl::group * tl_table_bytes; }

// The weight each 2-bit code stands for; the code that is never written looks up 0.
inline constexpr std::array<int, 4> tl_code_weight = {bitnet::tl::decode(0), bitnet::tl::decode(1), 0,
                                                      bitnet::tl::decode(3)};

// lut (tl_lut_bytes(cols)) = the tables of the cols activations a (cols even).
inline void tl_lut(const std::int8_t* a, std::size_t cols, std::uint8_t* lut) noexcept {
  for (std::size_t g = 0; g < cols / bitnet::tl::group; ++g) {
    std::uint8_t* table = lut + g * tl_table_bytes;
    for (std::size_t i = 0; i < tl_table_entries; ++i) {
      const int sum = tl_code_weight[i & 3] * a[2 * g] + tl_code_weight[i >> 2] * a[2 * g + 1];
      table[i] = static_cast<std::uint8_t>(sum & 0xFF);
      table[tl_table_entries + i] = static_cast<std::uint8_t>((sum >> 8) & 0xFF);
    }
  }
}

// Entry i of one group's table, as the int16 it was built from.
inline int tl_lookup(const std::uint8_t* table, unsigned i) noexcept {
  return static_cast<std::int16_t>(static_cast<std::uint16_t>(table[i] | table[tl_table_entries + i] << 8));
}

// sums[m] = the integer dot of row m of one tile (bitnet::tl::tile_rows rows, `pairs` bytes
// of 4 values each per row) with the token whose tables are lut: what every arch must
// reproduce exactly.
template <class Arch>
struct tl_dot {
  static void tile(const std::uint8_t* tile, const std::uint8_t* lut, std::size_t pairs, std::int32_t* sums) noexcept {
    constexpr std::size_t rows = bitnet::tl::tile_rows;
    for (std::size_t m = 0; m < rows; ++m) {
      int sum = 0;
      for (std::size_t p = 0; p < pairs; ++p) {
        const unsigned byte = tile[p * rows + m];
        const std::uint8_t* tables = lut + 2 * p * tl_table_bytes;
        sum += tl_lookup(tables, byte & 15) + tl_lookup(tables + tl_table_bytes, byte >> 4);
      }
      sums[m] = sum;
    }
  }
};

// The SIMD shape. A register of V holds one byte per row (V::rows rows): a pair of groups
// is one load of each register's bytes; each nibble indexes its group's two tables with
// V::lookup. The looked-up bytes are summed as they come, never interleaved: low bytes in
// 16-bit lanes (two rows per lane) and, shifted down, the odd rows' alone; high bytes in
// 8-bit lanes. Every flush_pairs pairs of groups the rows' int16 sums are taken apart from
// those three, exactly (all mod 2^16, and |sum| <= 63 * 2 * 256 fits), and V::widen_add
// adds them to the int32 sums: the scalar path's sums.
template <class V>
concept tl_simd_step = requires(typename V::u8 b, typename V::u16 h, const std::uint8_t* p, std::int32_t* sums) {
  { V::rows } -> std::convertible_to<std::size_t>;
  { V::table(p) } -> std::same_as<typename V::u8>;  // a group's 16 table bytes, where lookup wants them
  { V::lookup(b, b) } -> std::same_as<typename V::u8>;  // table[index] per byte
  V::widen_add(h, h, sums);  // sums[0..rows) += rows 2i (even, lane i) and 2i + 1 (odd)
};

template <tl_simd_step V>
struct tl_simd_tile {
  using u8 = typename V::u8;
  using u16 = typename V::u16;
  static constexpr std::size_t registers = bitnet::tl::tile_rows / V::rows;
  static constexpr std::size_t max_group_sum = 256;  // |c0 a0 + c1 a1| with a = -128
  static constexpr std::size_t flush_pairs = 32767 / (2 * max_group_sum);

  struct byte_sums {
    u16 low = u16(0), low_odd = u16(0);
    u8 high = u8(0);
    void add(u8 lo_table, u8 hi_table, u8 index) noexcept {
      const u16 lo = xsimd::bitwise_cast<std::uint16_t>(V::lookup(lo_table, index));
      low += lo;
      low_odd += lo >> 8;
      high += V::lookup(hi_table, index);
    }
    // Row 2i: its low bytes are low's minus 256 times row 2i + 1's, its high bytes the
    // low byte of high's 16-bit lane i; row 2i + 1: the rest.
    void widen_add(std::int32_t* sums) const noexcept {
      const u16 h = xsimd::bitwise_cast<std::uint16_t>(high);
      V::widen_add(low - (low_odd << 8) + (h << 8), low_odd + (h & u16(0xFF00)), sums);
    }
  };

  static void tile(const std::uint8_t* tile, const std::uint8_t* lut, std::size_t pairs, std::int32_t* sums) noexcept {
    const u8 nibble(0x0F);
    for (std::size_t m = 0; m < bitnet::tl::tile_rows; ++m) sums[m] = 0;
    for (std::size_t p0 = 0; p0 < pairs; p0 += flush_pairs) {
      byte_sums acc[registers];
      for (std::size_t p = p0; p < std::min(pairs, p0 + flush_pairs); ++p) {
        const std::uint8_t* tables = lut + 2 * p * tl_table_bytes;  // groups 2p, 2p + 1
        const u8 lo[2] = {V::table(tables), V::table(tables + tl_table_bytes)};
        const u8 hi[2] = {V::table(tables + tl_table_entries), V::table(tables + tl_table_bytes + tl_table_entries)};
        for (std::size_t c = 0; c < registers; ++c) {
          const u8 raw = u8::load_unaligned(tile + p * bitnet::tl::tile_rows + c * V::rows);
          acc[c].add(lo[0], hi[0], raw & nibble);
          // Shifted as 16-bit lanes: xsimd's 8-bit shifts are emulated on some archs.
          const u8 high_nibbles = xsimd::bitwise_cast<std::uint8_t>(xsimd::bitwise_cast<std::uint16_t>(raw) >> 4);
          acc[c].add(lo[1], hi[1], high_nibbles & nibble);
        }
      }
      for (std::size_t c = 0; c < registers; ++c) acc[c].widen_add(sums + c * V::rows);
    }
  }
};

// Rows [begin, end) of y = W a: w the TL code bytes of a rows x cols matrix with scale
// w_scale; lut the tables of `batch` activation rows (tl_lut_bytes(cols) each) with their
// multipliers a_scales; y `batch` rows of `rows` values. A tile's rows outside [begin, end)
// are computed and not written: split ranges on tiles to waste nothing.
template <class Arch>
void tl_gemv_rows(const std::uint8_t* w, float w_scale, std::size_t rows, std::size_t cols, const std::uint8_t* lut,
                  const float* a_scales, std::size_t batch, float* y, std::size_t begin, std::size_t end) noexcept {
  using layout = bitnet::tl;
  const std::size_t pairs = cols / layout::pair_cols;
  for (std::size_t t = begin / layout::tile_rows; t * layout::tile_rows < end; ++t) {
    const std::size_t first = t * layout::tile_rows;
    const std::size_t from = std::max(begin, first), to = std::min(end, first + layout::tile_rows);
    for (std::size_t n = 0; n < batch; ++n) {  // the tile's bytes stay in cache for every token
      std::int32_t sums[layout::tile_rows];
      tl_dot<Arch>::tile(w + t * layout::tile_bytes(cols), lut + n * tl_lut_bytes(cols), pairs, sums);
      for (std::size_t r = from; r < to; ++r)
        y[n * rows + r] = static_cast<float>(sums[r - first]) / a_scales[n] * w_scale;
    }
  }
}

}  // namespace qtl::kernel
