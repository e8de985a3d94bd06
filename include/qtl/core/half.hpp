// qtl::half: IEEE 754 binary16 storage type with bit-exact round-to-nearest-even
// conversions from and to float (NaN, Inf and subnormals included), host and device.
#pragma once

#include <cstdint>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/float16_storage.hpp"

namespace qtl {

// float -> binary16 bits, round to nearest, ties to even; NaN stays a (quiet) NaN.
QTL_HOST_DEVICE constexpr std::uint16_t float_to_half_bits(float value) noexcept {
  const std::uint32_t x = bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  std::uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u)  // NaN: keep the top payload bits, force the quiet bit
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  if (abs >= 0x477ff000u)  // >= 65520 (the tie above 65504) rounds to Inf
    return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (abs >= 0x38800000u) {  // normal binary16: |x| >= 2^-14
    abs += 0xfffu + ((abs >> 13) & 1u);  // round the 13 dropped bits to even
    abs -= 0x38000000u;                  // exponent bias 127 -> 15
    return static_cast<std::uint16_t>(sign | (abs >> 13));
  }
  if (abs <= 0x33000000u) return sign;  // |x| <= 2^-25 ties or falls to zero
  // Subnormal binary16: units of 2^-24.
  const std::uint32_t exponent = abs >> 23;  // 102..112
  const std::uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126u - exponent;  // 14..24
  std::uint32_t q = mantissa >> shift;
  const std::uint32_t rest = mantissa & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1u);
  if (rest > halfway || (rest == halfway && (q & 1u))) ++q;  // may carry into the smallest normal
  return static_cast<std::uint16_t>(sign | q);
}

// binary16 bits -> float, exact.
QTL_HOST_DEVICE constexpr float half_bits_to_float(std::uint16_t bits) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1fu) return bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  if (mantissa == 0) return bit_cast<float>(sign);
  std::uint32_t e = 113u;  // normalise a subnormal: 2^-14 has biased float exponent 113
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    --e;
  }
  return bit_cast<float>(sign | (e << 23) | ((mantissa & 0x3ffu) << 13));
}

struct half_codec {
  QTL_HOST_DEVICE static constexpr std::uint16_t encode(float value) noexcept { return float_to_half_bits(value); }
  QTL_HOST_DEVICE static constexpr float decode(std::uint16_t bits) noexcept { return half_bits_to_float(bits); }
};
using half = float16_storage<half_codec>;

static_assert(sizeof(half) == 2);

}  // namespace qtl
