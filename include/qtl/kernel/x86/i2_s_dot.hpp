// x86 step of kernel/i2_s_dot.hpp for AVX2 and AVX-512 VNNI: each 32-byte block holds
// values 32n + m at bits 6 - 2n of byte m, so four shift-and-masks give four 32-code
// vectors in value order. Codes 0..2 are unsigned: dot them with the activations
// (u8 x s8, -128 allowed), then take the row's sum of activations off once.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/i2_s_dot.hpp"
#include "qtl/kernel/x86/block_dot.hpp"

#if defined(QTL_KERNEL_AVX2)
#include <immintrin.h>

namespace qtl::kernel {

template <x86::simd_arch Arch>
struct i2_s_dot<Arch> {
  static int row(const std::uint8_t* w, const std::int8_t* a, std::size_t cols, int asum) noexcept {
    // One accumulator per shift: the four dots of a block do not wait on each other.
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    const __m256i three = _mm256_set1_epi8(3);
    for (std::size_t b = 0; b < cols / bitnet::i2_s::block; ++b) {
      const __m256i raw = x86::load32(w + b * bitnet::i2_s::block_bytes);
      const std::int8_t* ab = a + b * bitnet::i2_s::block;
      for (int n = 0; n < 4; ++n) {
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(raw, 6 - 2 * n), three);
        acc[n] = x86::dot_u8s8<Arch>(acc[n], q, x86::load32(ab + 32 * n));
      }
    }
    const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(acc[0], acc[1]), _mm256_add_epi32(acc[2], acc[3]));
    return x86::hsum(sum) - asum;
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_AVX2
