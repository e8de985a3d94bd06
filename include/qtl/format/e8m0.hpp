// qtl::e8m0: the unsigned 8-bit power-of-two scale of OCP MX v1.0. Code c is 2^(c - 127);
// 0xFF is NaN; there is no zero, sign, Inf or mantissa.
#pragma once

#include <cstdint>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/concepts.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/simd.hpp"

namespace qtl {

struct e8m0 {
  using code_type = std::uint8_t;
  static constexpr int bits = 8;
  static constexpr bool is_signed = false;
  static constexpr int min_code = 0;
  static constexpr int max_code = 255;
  static constexpr int levels = 256;
  static constexpr int bias = 127;
  static constexpr std::uint8_t nan_code = 0xFF;

  // 2^(c - 127): c = 0 is the float subnormal 2^-127, c = 1..254 are float normals.
  QTL_HOST_DEVICE static constexpr float decode(int code) noexcept {
    if (code == nan_code) return qtl::bit_cast<float>(0x7fc00000u);
    const std::uint32_t bits = code == 0 ? 0x00400000u : static_cast<std::uint32_t>(code) << 23;
    return qtl::bit_cast<float>(bits);
  }
#if QTL_HAS_SIMD
  template <class A>
  static simd::floats<A> decode(simd::ints<A> code) noexcept {
    return simd::lookup<e8m0, A>(code);
  }
#endif

  // The code of 2^e for an exponent in [-127, 127].
  QTL_HOST_DEVICE static constexpr std::uint8_t from_exponent(int e) noexcept {
    return static_cast<std::uint8_t>(e + bias);
  }

  // Nearest power of two, ties (x = 1.5 * 2^k) rounding up, as ml_dtypes' (>= 0.7.0)
  // float8_e8m0fnu cast; equal to it for all 2^32 float inputs. NaN, zero, negatives and
  // values from 1.5 * 2^127 up give NaN. The layout/mx.hpp block scales do not come from
  // here: OCP MX derives them by floor(log2(amax)) - emax (mx::shared_scale).
  QTL_HOST_DEVICE static constexpr std::uint8_t encode(float x) noexcept {
    const auto b = qtl::bit_cast<std::uint32_t>(x);
    if ((b >> 31) || b == 0 || b >= 0x7f800000u) return nan_code;
    std::uint32_t field = b >> 23;
    const std::uint32_t mantissa = b & 0x7fffffu;
    // Float subnormals lie below 2^-126 (code 1); 2^-127 (code 0) is their midpoint
    // mantissa 0x400000, so the tie with 2^-126 is at 1.5 * 2^-127, mantissa 0x600000.
    if (field == 0) return mantissa >= 0x600000u ? 1 : 0;
    if (mantissa >= 0x400000u) ++field;
    return field > 254 ? nan_code : static_cast<std::uint8_t>(field);
  }
};

static_assert(format<e8m0>);
static_assert(e8m0::decode(127) == 1.0f && e8m0::decode(0) == 0x1p-127f && e8m0::decode(254) == 0x1p127f);
static_assert(e8m0::encode(6.0f) == 130 && e8m0::encode(3.0f) == 129 && e8m0::encode(2.9f) == 128 && e8m0::encode(0.0f) == 0xFF);
static_assert(e8m0::encode(1.2f * 0x1p-127f) == 0 && e8m0::encode(1.5f * 0x1p-127f) == 1);

}  // namespace qtl
