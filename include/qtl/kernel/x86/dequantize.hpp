// x86 steps of kernel/dequantize_step.hpp for AVX2 and AVX-512 VNNI: bytes become 32
// int8 codes in value order (the unpack helpers of x86/block_dot.hpp), sign-extended into
// int32 batches of 8 or 16 lanes; the float part is kernel/dequantize_lanes.hpp's. NF4/FP4
// look their 16 float levels up in registers (AVX-512: one permutexvar; AVX2: two
// permutevar8x32 and a blend on bit 3 of the code).
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/core/config.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/dequantize_lanes.hpp"
#include "qtl/kernel/dequantize_step.hpp"
#include "qtl/kernel/x86/block_dot.hpp"

#if defined(QTL_KERNEL_AVX2)
#include <immintrin.h>

#include <array>

namespace qtl::kernel {

namespace x86 {

// The 32 int8 codes of `codes`, sign-extended into int32 batches in value order:
// f(batch, index of its first value).
template <class Arch, class F>
QTL_FORCEINLINE void for_each_int32(__m256i codes, F&& f) noexcept {
  using ints = typename dequantize_lanes<Arch>::ints;
  const __m128i lo = _mm256_castsi256_si128(codes), hi = _mm256_extracti128_si256(codes, 1);
#if defined(QTL_KERNEL_AVX512_VNNI)
  if constexpr (std::same_as<Arch, avx512_vnni>) {
    f(ints(_mm512_cvtepi8_epi32(lo)), 0);
    f(ints(_mm512_cvtepi8_epi32(hi)), 16);
  } else
#endif
  {
    f(ints(_mm256_cvtepi8_epi32(lo)), 0);
    f(ints(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(lo, lo))), 8);
    f(ints(_mm256_cvtepi8_epi32(hi)), 16);
    f(ints(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(hi, hi))), 24);
  }
}

// y[0, 32) = float(code) * scale... (the scale, or Q4_1's d and m).
template <class Arch, class... Scale>
QTL_FORCEINLINE void scaled_codes(__m256i codes, float* y, Scale... scale) noexcept {
  for_each_int32<Arch>(codes, [&](auto q, std::size_t k) { dequantize_lanes<Arch>::scaled(y + k, q, scale...); });
}

// The 2-bit field at `shift` of 32 bytes, as a ternary value code - 1 (TQ2_0, I2_S).
QTL_FORCEINLINE __m256i ternary_codes(__m256i raw, int shift) noexcept {
  return _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(raw, shift), _mm256_set1_epi8(3)), _mm256_set1_epi8(1));
}

// levels[idx] for indices 0..15 in int32 lanes.
template <class Arch>
inline typename dequantize_lanes<Arch>::floats lookup16(typename dequantize_lanes<Arch>::ints idx,
                                                        const float* levels) noexcept {
#if defined(QTL_KERNEL_AVX512_VNNI)
  if constexpr (std::same_as<Arch, avx512_vnni>) return _mm512_permutexvar_ps(idx, _mm512_loadu_ps(levels));
  else
#endif
  {
    const __m256 low = _mm256_permutevar8x32_ps(_mm256_loadu_ps(levels), idx);
    const __m256 high = _mm256_permutevar8x32_ps(_mm256_loadu_ps(levels + 8), idx);
    return _mm256_blendv_ps(low, high, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));  // bit 3 -> sign
  }
}

}  // namespace x86

template <x86::simd_arch Arch>
struct dequantize_block_step<Arch, ggml::block_q8_0> {
  QTL_FORCEINLINE static void run(const ggml::block_q8_0& b, float* y) noexcept {
    x86::scaled_codes<Arch>(x86::load32(b.qs), y, x86::half_to_float(b.d));
  }
};

template <x86::simd_arch Arch>
struct dequantize_block_step<Arch, ggml::block_q4_0> {
  QTL_FORCEINLINE static void run(const ggml::block_q4_0& b, float* y) noexcept {
    x86::scaled_codes<Arch>(x86::q4_0_codes(b.qs), y, x86::half_to_float(b.d));
  }
};

template <x86::simd_arch Arch>
struct dequantize_block_step<Arch, ggml::block_q4_1> {
  QTL_FORCEINLINE static void run(const ggml::block_q4_1& b, float* y) noexcept {
    x86::scaled_codes<Arch>(x86::nibbles(b.qs), y, x86::half_to_float(b.d), x86::half_to_float(b.m));
  }
};

template <x86::simd_arch Arch>
struct dequantize_block_step<Arch, ggml::block_iq4_nl> {
  QTL_FORCEINLINE static void run(const ggml::block_iq4_nl& b, float* y) noexcept {
    x86::scaled_codes<Arch>(x86::iq4_nl_codes(b.qs), y, x86::half_to_float(b.d));
  }
};

template <x86::simd_arch Arch>
struct dequantize_block_step<Arch, ggml::block_tq2_0> {
  QTL_FORCEINLINE static void run(const ggml::block_tq2_0& b, float* y) noexcept {
    const float d = x86::half_to_float(b.d);
    for (std::size_t c = 0; c < 2; ++c) {
      const __m256i raw = x86::load32(b.qs + 32 * c);
      for (int n = 0; n < 4; ++n)  // values 128c + 32n + m: bits 2n of byte 32c + m
        x86::scaled_codes<Arch>(x86::ternary_codes(raw, 2 * n), y + 128 * c + 32 * n, d);
    }
  }
};

template <x86::simd_arch Arch>
struct i2_s_block_step<Arch> {
  QTL_FORCEINLINE static void run(const std::uint8_t* bytes, float scale, float* y) noexcept {
    const __m256i raw = x86::load32(bytes);
    for (int n = 0; n < 4; ++n)  // values 32n + m: bits 6 - 2n of byte m
      x86::scaled_codes<Arch>(x86::ternary_codes(raw, 6 - 2 * n), y + 32 * n, scale);
  }
};

template <x86::simd_arch Arch, class Format>
struct dequantize_4bit_step<Arch, Format> {
  static constexpr std::size_t width = 32;
  static constexpr std::array<float, 16> levels = levels_of<Format>();
  QTL_FORCEINLINE static void run(const std::uint8_t* packed, float absmax, float* y) noexcept {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F));
    const __m128i low = _mm_and_si128(raw, _mm_set1_epi8(0x0F));
    const __m256i codes = _mm256_set_m128i(_mm_unpackhi_epi8(high, low), _mm_unpacklo_epi8(high, low));
    x86::for_each_int32<Arch>(codes, [&](auto idx, std::size_t k) {
      dequantize_lanes<Arch>::scaled(y + k, x86::lookup16<Arch>(idx, levels.data()), absmax);
    });
  }
};

template <x86::simd_arch Arch, minifloat_format F>
struct minifloat_decode_step<Arch, F> {
  static constexpr std::size_t width = 32;
  QTL_FORCEINLINE static void run(const std::uint8_t* codes, float* y) noexcept {
    // Sign-extending the bytes keeps bits 0..7 (all that decode reads).
    x86::for_each_int32<Arch>(x86::load32(codes), [&](auto c, std::size_t k) {
      dequantize_lanes<Arch>::template decode<F>(xsimd::bitwise_cast<std::uint32_t>(c)).store_unaligned(y + k);
    });
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_AVX2
