// BitNet weights into I2_S (the x86 layout, bitnet::i2_s: blocks of 128) on the table's
// arch: the ternary codes of bitnet::quantize_weights (clamp(round half even (w * s), -1, 1);
// the scale itself stays the scalar torch-order sum) and their packing (bitnet::pack_i2_s),
// plus the check that codes are ternary. Each primary template is the scalar reference;
// the SIMD specializations (one xsimd template for AVX2, AVX-512, NEON) give the same bytes:
// the codes are one IEEE product rounded to even as the scalar's, the packing is integer.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "qtl/core/config.hpp"
#include "qtl/kernel/simd_block_quantize.hpp"
#include "qtl/layout/bitnet/i2_s.hpp"
#include "qtl/layout/bitnet/quantize.hpp"

namespace qtl::kernel {

// One I2_S block: 128 codes (-1..1) into 32 bytes, value j at byte j % 32, bits 6 - 2 (j / 32).
template <class Arch>
struct i2_s_pack_step {
  static void run(const std::int8_t* codes, std::uint8_t* out) noexcept {
    using L = bitnet::i2_s;
    for (std::size_t m = 0; m < L::block_bytes; ++m) out[m] = 0;
    for (std::size_t j = 0; j < L::block; ++j)
      out[L::byte_of(j)] |= static_cast<std::uint8_t>(L::encode(codes[j]) << L::shift_of(j));
  }
};

// Whether x[0, n) holds only -1, 0 and 1 (the checked entry point's pre-pass).
template <class Arch>
struct ternary_scan {
  static bool run(const std::int8_t* x, std::size_t n) noexcept {
    bool ok = true;
    for (std::size_t j = 0; j < n; ++j) ok = ok && x[j] >= -1 && x[j] <= 1;
    return ok;
  }
};

QTL_STRICT_FP_BEGIN

// codes[j] = clamp(round half even (w[j] * s), -1, 1), as bitnet::quantize_weight.
template <class Arch>
struct ternary_weight_step {
  static void run(const float* w, std::size_t n, float s, std::int8_t* codes) noexcept {
    for (std::size_t j = 0; j < n; ++j) codes[j] = bitnet::quantize_weight(w[j], s);
  }
};

// The bytes of a block's planes (32 bytes each): AVX-512 takes the 256-bit half.
template <class Arch>
using plane_bytes = xsimd::batch<std::uint8_t, std::conditional_t<(xsimd::batch<std::uint8_t, Arch>::size > 32), xsimd::avx2, Arch>>;

// Four planes of 32 codes c0..c3: the byte (c0 + 1) << 6 | (c1 + 1) << 4 | (c2 + 1) << 2 |
// (c3 + 1) is, the fields being disjoint, ((c0 * 4 + c1) * 4 + c2) * 4 + c3 + 0x55 modulo
// 256, which byte adds compute as they stand (x86 has no byte shift).
template <simd_quantize_arch Arch>
struct i2_s_pack_step<Arch> {
  static void run(const std::int8_t* codes, std::uint8_t* out) noexcept {
    using bytes = plane_bytes<Arch>;
    const auto* c = reinterpret_cast<const std::uint8_t*>(codes);
    for (std::size_t m = 0; m < 32; m += bytes::size) {
      bytes packed = bytes::load_unaligned(c + m);
      for (std::size_t p = 1; p < 4; ++p) {
        packed += packed;
        packed += packed;
        packed += bytes::load_unaligned(c + 32 * p + m);
      }
      (packed + bytes(0x55)).store_unaligned(out + m);
    }
  }
};

// As bytes, c + 1 is 0..2 exactly for the codes -1..1: one unsigned max per vector.
template <simd_quantize_arch Arch>
struct ternary_scan<Arch> {
  static bool run(const std::int8_t* x, std::size_t n) noexcept {
    using bytes = xsimd::batch<std::uint8_t, Arch>;
    const auto* u = reinterpret_cast<const std::uint8_t*>(x);
    const std::size_t whole = n - n % bytes::size;
    bytes m(0);
    for (std::size_t i = 0; i < whole; i += bytes::size) m = xsimd::max(m, bytes::load_unaligned(u + i) + bytes(1));
    bool ok = xsimd::reduce_max(m) <= 2;
    for (std::size_t j = whole; j < n; ++j) ok = ok && x[j] >= -1 && x[j] <= 1;
    return ok;
  }
};

template <simd_quantize_arch Arch>
struct ternary_weight_step<Arch> {
  static void run(const float* w, std::size_t n, float s, std::int8_t* codes) noexcept {
    using floats = block_lanes::floats<Arch>;
    const std::size_t body = n - n % 32;
    for (std::size_t c = 0; c < body; c += 32) {
      block_lanes::ints<Arch> q[block_lanes::per32<Arch>];
      for (std::size_t i = 0; i < block_lanes::per32<Arch>; ++i) {
        const floats r = quantize_ops<Arch>::round_even(floats::load_unaligned(w + c + i * floats::size) * floats(s));
        q[i] = xsimd::batch_cast<std::int32_t>(xsimd::min(xsimd::max(r, floats(-1.0f)), floats(1.0f)));
      }
      quantize_ops<Arch>::store32(q, codes + c);
    }
    for (std::size_t j = body; j < n; ++j) codes[j] = bitnet::quantize_weight(w[j], s);
  }
};

QTL_STRICT_FP_END

// rows x cols codes (cols a multiple of 128, rows `stride` apart) into the rows * cols / 4
// code bytes of I2_S (not the tail).
template <class Arch>
void pack_i2_s_rows(const std::int8_t* codes, std::size_t rows, std::size_t cols, std::size_t stride,
                    std::uint8_t* out) noexcept {
  using L = bitnet::i2_s;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t b = 0; b < cols / L::block; ++b)
      i2_s_pack_step<Arch>::run(codes + r * stride + b * L::block, out + r * (cols / 4) + b * L::block_bytes);
}

template <class Arch>
bool all_ternary(const std::int8_t* x, std::size_t n) noexcept {
  return ternary_scan<Arch>::run(x, n);
}

template <class Arch>
void ternary_weight_codes(const float* w, std::size_t n, float s, std::int8_t* codes) noexcept {
  ternary_weight_step<Arch>::run(w, n, s, codes);
}

}  // namespace qtl::kernel
