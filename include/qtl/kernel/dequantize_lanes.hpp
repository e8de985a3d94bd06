// The float half of the SIMD dequantize steps (kernel/dequantize_step.hpp), written once
// over xsimd batches for every SIMD arch; x86/dequantize.hpp and arm/dequantize.hpp only
// turn bytes into batches of codes or levels. Each op is the scalar reference's, in the
// same order. Q4_1's q * d + m rounds twice in the reference, but q * d is exact (a 4-bit
// code times a half's 11-bit significand), so an FMA contraction gives the same bits.
#pragma once

#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "qtl/core/config.hpp"
#include "qtl/format/minifloat.hpp"

namespace qtl::kernel {

template <class Arch>
struct dequantize_lanes {
  using floats = xsimd::batch<float, Arch>;
  using ints = xsimd::batch<std::int32_t, Arch>;
  using uints = xsimd::batch<std::uint32_t, Arch>;
  static constexpr std::size_t size = floats::size;

  // y = float(q) * d (Q8_0, Q4_0, IQ4_NL, TQ2_0, I2_S: integer codes or levels).
  QTL_FORCEINLINE static void scaled(float* y, ints q, float d) noexcept {
    (xsimd::batch_cast<float>(q) * floats(d)).store_unaligned(y);
  }
  // y = float(q) * d + m (Q4_1): two roundings.
  QTL_FORCEINLINE static void scaled(float* y, ints q, float d, float m) noexcept {
    (xsimd::batch_cast<float>(q) * floats(d) + floats(m)).store_unaligned(y);
  }
  // y = level * s (NF4, FP4: float levels times the block's absmax).
  QTL_FORCEINLINE static void scaled(float* y, floats level, float s) noexcept { (level * floats(s)).store_unaligned(y); }

  // F::decode of codes 0..255, exactly: normal codes by moving the exponent and mantissa
  // into a float's bits and rebiasing (an integer add), subnormal ones as mantissa *
  // 2^(min_exponent - M) (both factors normal floats: no denormal operand, DAZ-proof),
  // then Inf / NaN as F has them (NaN the quiet 0x7fc00000), then the sign bit.
  template <minifloat_format F>
  QTL_FORCEINLINE static floats decode(uints code) noexcept {
    constexpr int M = F::mantissa_bits;
    const uints magnitude = code & uints(F::sign_bit - 1);
    const uints normal = (magnitude << (23 - M)) + uints(static_cast<std::uint32_t>(127 - F::bias) << 23);
    const floats subnormal = xsimd::batch_cast<float>(xsimd::bitwise_cast<std::int32_t>(magnitude)) *
                             floats(qtl::detail::exp2i(F::min_exponent - M));
    floats v = xsimd::select(to_floats((magnitude >> M) == uints(0)), subnormal, xsimd::bitwise_cast<float>(normal));
    if constexpr (F::has_inf)
      v = xsimd::select(to_floats(magnitude == uints(F::inf_code)), xsimd::bitwise_cast<float>(uints(0x7f800000u)), v);
    if constexpr (F::specials == minifloat_specials::ieee)
      v = xsimd::select(to_floats(magnitude > uints(F::inf_code)), xsimd::bitwise_cast<float>(uints(0x7fc00000u)), v);
    else if constexpr (F::specials == minifloat_specials::nan_only)
      v = xsimd::select(to_floats(magnitude == uints(F::nan_code)), xsimd::bitwise_cast<float>(uints(0x7fc00000u)), v);
    const uints sign = (code & uints(F::sign_bit)) << (31 - F::exponent_bits - M);
    return xsimd::bitwise_cast<float>(xsimd::bitwise_cast<std::uint32_t>(v) | sign);
  }

 private:
  static xsimd::batch_bool<float, Arch> to_floats(xsimd::batch_bool<std::uint32_t, Arch> b) noexcept {
    return xsimd::batch_bool_cast<float>(b);
  }
};

}  // namespace qtl::kernel
