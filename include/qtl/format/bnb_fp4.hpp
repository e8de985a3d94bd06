// qtl::bnb_fp4: bitsandbytes' 4-bit float (1 sign, 2 exponent, 1 mantissa bit, values
// divided by 12 so the largest is 1), as the float32 values bitsandbytes uses. Not OCP's
// E2M1 (format/minifloat.hpp): other levels, other bit patterns. Scaled by layout/bitsandbytes.hpp.
#pragma once

#include <array>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/format/nf4.hpp"

namespace qtl {

struct bnb_fp4 {
  using code_type = std::uint8_t;
  static constexpr int bits = 4;
  static constexpr bool is_signed = false;  // codes are bit patterns 0..15, bit 3 the sign
  static constexpr int min_code = 0;
  static constexpr int max_code = 15;
  static constexpr int levels = 16;

  // bitsandbytes get_4bit_type("fp4"): {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12 in float32, then
  // the same negated. Code 8 decodes to +0.0 there (the Python list holds the integer -0),
  // so qtl decodes it to +0.0 too; see docs/formats.md for bnb's scalar C++ path.
  QTL_HOST_DEVICE static constexpr float decode(int code) noexcept {
    constexpr float table[16] = {
        0.0f,  0x1.555556p-8f,  0x1.555556p-1f,  0x1p0f,  0x1.555556p-2f,  0x1p-1f,  0x1.555556p-3f,  0x1p-2f,
        0.0f, -0x1.555556p-8f, -0x1.555556p-1f, -0x1p0f, -0x1.555556p-2f, -0x1p-1f, -0x1.555556p-3f, -0x1p-2f,
    };
    return table[code & 15];
  }
#if QTL_HAS_SIMD
  template <class A>
  static simd::floats<A> decode(simd::ints<A> code) noexcept {
    return simd::lookup<bnb_fp4, A>(code);
  }
#endif

  // Codes in increasing order of value: torch.argsort of the table, which puts code 0
  // before code 8 (both zero). bitsandbytes' quantize_4bit buckets by this order.
  QTL_HOST_DEVICE static constexpr std::uint8_t sorted_code(int rank) noexcept {
    constexpr std::uint8_t order[16] = {11, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3};
    return order[rank & 15];
  }

  // The nearest level to x (x already divided by its block's absmax); on an exact midpoint
  // the lower level. The two zeros' midpoint is 0, so 0 and tiny negatives give code 0 and
  // tiny positives (0 < x <= 1/384) give code 8, as bitsandbytes does.
  QTL_HOST_DEVICE static constexpr std::uint8_t encode(float x) noexcept {
    return sorted_code(detail::bucketize_16(x, [](int rank) { return decode(sorted_code(rank)); }));
  }
#if QTL_HAS_SIMD
  template <class A>
  static simd::ints<A> encode(simd::floats<A> x) noexcept {
    return sorted_code_of(detail::bucketize_16(x, [](int rank) { return decode(sorted_code(rank)); }));
  }
#endif

  // sorted_code as arithmetic, for an int or an int32 batch (shifts, masks and products,
  // no table): rank 8 + k -> P(k) and rank 7 - k -> P(k) | 8, except that rank 8 (the +0
  // level torch.argsort puts second) is code 8 and rank 7 code 0; P(k) = k ^ (k & 2) << 1.
  template <class I>
  static constexpr I sorted_code_of(I rank) noexcept {
    const I positive = rank >> 3;
    const I k = (rank & I(7)) ^ (I(7) * (I(1) - positive));
    const I zero = ((k - I(1)) >> 31) & I(1);  // k == 0
    return (k ^ ((k & I(2)) << 1)) | ((positive ^ zero ^ I(1)) << 3);
  }
};

inline constexpr std::array<float, 16> bnb_fp4_values = [] {
  std::array<float, 16> v{};
  for (int i = 0; i < 16; ++i) v[static_cast<std::size_t>(i)] = bnb_fp4::decode(i);
  return v;
}();

static_assert([] {
  for (int r = 0; r < 15; ++r)
    if (bnb_fp4::decode(bnb_fp4::sorted_code(r)) > bnb_fp4::decode(bnb_fp4::sorted_code(r + 1))) return false;
  return true;
}(), "sorted_code lists the FP4 codes by value");
static_assert([] {
  for (int r = 0; r < 16; ++r)
    if (bnb_fp4::sorted_code_of(r) != bnb_fp4::sorted_code(r)) return false;
  return true;
}(), "sorted_code_of is sorted_code");
static_assert(bnb_fp4::encode(1.0f) == 3 && bnb_fp4::encode(-1.0f) == 11 && bnb_fp4::encode(0.0f) == 0 &&
              bnb_fp4::encode(0.001f) == 8);

}  // namespace qtl
