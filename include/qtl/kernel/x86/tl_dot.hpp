// x86 step of kernel/tl_dot.hpp (tl_simd_tile) for AVX2 and AVX-512 VNNI: 32 rows per
// 256-bit register; a group's table sits in both 128-bit lanes, since shuffle_epi8 looks
// up within each lane. AVX-512 VNNI runs the same 256-bit step (with its 32 registers):
// 512-bit shuffles measured slower on the AVX-512 machine this was tuned on
// (docs/kernels.md). Compiled only where the translation unit's flags enable the arch.
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/tl_dot.hpp"
#include "qtl/kernel/x86/block_dot.hpp"

#if defined(QTL_KERNEL_AVX2)
#include <immintrin.h>

namespace qtl::kernel {

namespace x86 {

// A template over Arch only so that each arch's translation unit keeps its own code.
template <class Arch>
struct tl_step {
  using u8 = xsimd::batch<std::uint8_t, avx2>;
  using u16 = xsimd::batch<std::uint16_t, avx2>;
  static constexpr std::size_t rows = 32;

  static u8 table(const std::uint8_t* p) noexcept {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static u8 lookup(u8 table, u8 index) noexcept { return _mm256_shuffle_epi8(table, index); }
  static void widen_add(u16 even, u16 odd, std::int32_t* sums) noexcept {
    // unpack: rows 0-7 | 16-23 and 8-15 | 24-31; permute: rows 0-15 and 16-31.
    const __m256i a = _mm256_unpacklo_epi16(even, odd), b = _mm256_unpackhi_epi16(even, odd);
    const __m256i halves[2] = {_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31)};
    for (int k = 0; k < 2; ++k)
      for (int q = 0; q < 2; ++q) {
        auto* s = reinterpret_cast<__m256i*>(sums + 16 * k + 8 * q);
        const __m128i part = q == 0 ? _mm256_castsi256_si128(halves[k]) : _mm256_extracti128_si256(halves[k], 1);
        _mm256_storeu_si256(s, _mm256_add_epi32(_mm256_loadu_si256(s), _mm256_cvtepi16_epi32(part)));
      }
  }
};

}  // namespace x86

template <x86::simd_arch Arch>
struct tl_dot<Arch> : tl_simd_tile<x86::tl_step<Arch>> {};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_AVX2
