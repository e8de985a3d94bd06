// x86 steps of kernel/group_dot.hpp for AVX2 and AVX-512 VNNI. A row group's chunk j (a
// 32-byte load; 4-bit types: nibble half j / 4) holds in 32-bit lane r row r's values 4j..4j+3, so
// with the activation's values 4j..4j+3 broadcast to every lane, one dot-of-4 per chunk
// puts the 8 rows' integer sums in the 8 lanes; one FMA per block column then adds them,
// times each row's scale, into the row's float lane. Integer sums are exact; each row's
// float chain is the scalar path's order with one rounding per block fewer.
// Codes enter u8 x s8 as unsigned bytes where they fit (Q4_0's nibble, code + 8; on
// VNNI IQ4_NL's level + 128 and Q8_0's code + 128) and offset * sum(a) comes off once per
// block; AVX2's maddubs would saturate on code + 128, so there IQ4_NL and Q8_0 take the
// sign trick.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/group_dot.hpp"
#include "qtl/kernel/x86/block_dot.hpp"

#if defined(QTL_KERNEL_AVX2)
#include <immintrin.h>

#include <cstring>

namespace qtl::kernel {

namespace x86 {
inline namespace QTL_KERNEL_ISA {  // see kernel/arch.hpp

// Activation values 4j..4j+3 in every 32-bit lane.
inline __m256i activation_word(const ggml::block_q8_0& a, std::size_t j) noexcept {
  std::int32_t word;
  std::memcpy(&word, a.qs + 4 * j, sizeof word);
  return _mm256_set1_epi32(word);
}

// IQ4_NL's 16 levels plus 128, as unsigned bytes 1..241 (shuffle_epi8's table, both lanes).
struct iq4_nl_unsigned_table {
  alignas(16) std::uint8_t bytes[16];
};
inline constexpr iq4_nl_unsigned_table iq4_nl_unsigned = [] {
  iq4_nl_unsigned_table t{};
  for (std::size_t i = 0; i < 16; ++i) t.bytes[i] = static_cast<std::uint8_t>(ggml::iq4_nl_levels[i] + 128);
  return t;
}();

}  // namespace QTL_KERNEL_ISA
}  // namespace x86

template <x86::simd_arch Arch, groupable B>
struct group_dot<Arch, B> {
  using acc_type = __m256;  // lane r: row r

  // Unsigned codes (code + offset, u8 x s8 as is) or signed ones (the sign trick).
  static constexpr bool unsigned_codes = std::same_as<B, ggml::block_q4_0> || std::same_as<Arch, avx512_vnni>;
  static constexpr std::int32_t offset = std::same_as<B, ggml::block_q4_0> ? 8 : 128;

  struct decoded {
    __m256i codes[8];  // chunk j: the 8 rows' values 4j..4j+3
    __m256 d;          // the 8 rows' scales
  };

  static acc_type zero() noexcept { return _mm256_setzero_ps(); }

  static decoded decode(const row_group<B>& g) noexcept {
    decoded out;
    if constexpr (std::same_as<B, ggml::block_q8_0>) {
      for (std::size_t c = 0; c < 8; ++c) out.codes[c] = map(x86::load32(g.qs + 32 * c));
    } else {
      const __m256i low = _mm256_set1_epi8(0x0F);
      for (std::size_t c = 0; c < 4; ++c) {
        const __m256i raw = x86::load32(g.qs + 32 * c);
        out.codes[c] = map(_mm256_and_si256(raw, low));
        out.codes[c + 4] = map(_mm256_and_si256(_mm256_srli_epi16(raw, 4), low));
      }
    }
    out.d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.d)));
    return out;
  }

  static void accumulate(acc_type& acc, const decoded& w, const ggml::block_q8_0& a, std::int32_t a_sum) noexcept {
    __m256i isum = isums(w.codes, a);
    if constexpr (unsigned_codes) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(offset * a_sum));
    const __m256 scale = _mm256_mul_ps(w.d, _mm256_set1_ps(x86::half_to_float(a.d)));  // d_w * d_a, per row
    acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(isum), acc);
  }

  static void finish(acc_type acc, float* out) noexcept { _mm256_storeu_ps(out, acc); }

 private:
  // Stored codes (Q8_0's bytes, 4-bit types' nibbles) into the codes the dot takes.
  static __m256i map(__m256i stored) noexcept {
    if constexpr (std::same_as<B, ggml::block_q4_0> || (std::same_as<B, ggml::block_q8_0> && !unsigned_codes))
      return stored;
    else if constexpr (std::same_as<B, ggml::block_q8_0>) return _mm256_xor_si256(stored, _mm256_set1_epi8(-128));
    else return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(table()), stored);
  }
  static __m128i table() noexcept {
    const void* t = unsigned_codes ? static_cast<const void*>(x86::iq4_nl_unsigned.bytes) : ggml::iq4_nl_levels;
    return _mm_loadu_si128(static_cast<const __m128i*>(t));
  }

  // The 8 rows' sums of code * a (two chains: one of eight would wait on its latency).
  static __m256i isums(const __m256i* codes, const ggml::block_q8_0& a) noexcept {
    if constexpr (unsigned_codes && std::same_as<Arch, avx2>) {
      // Q4_0 on AVX2: maddubs' pair sums are at most 2 * 15 * 127 = 3810, and each int16
      // lane adds eight of them (at most 30480): exact in int16, widened once.
      __m256i even = _mm256_maddubs_epi16(codes[0], x86::activation_word(a, 0));
      __m256i odd = _mm256_maddubs_epi16(codes[1], x86::activation_word(a, 1));
      for (std::size_t j = 2; j < 8; j += 2) {
        even = _mm256_add_epi16(even, _mm256_maddubs_epi16(codes[j], x86::activation_word(a, j)));
        odd = _mm256_add_epi16(odd, _mm256_maddubs_epi16(codes[j + 1], x86::activation_word(a, j + 1)));
      }
      return _mm256_madd_epi16(_mm256_add_epi16(even, odd), _mm256_set1_epi16(1));
    } else {
      __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
      for (std::size_t j = 0; j < 8; j += 2) {
        even = step(even, codes[j], x86::activation_word(a, j));
        odd = step(odd, codes[j + 1], x86::activation_word(a, j + 1));
      }
      return _mm256_add_epi32(even, odd);
    }
  }
  static __m256i step(__m256i acc, __m256i codes, __m256i a) noexcept {
    if constexpr (unsigned_codes) return x86::dot_u8s8<Arch>(acc, codes, a);
    else return x86::dot_s8<Arch>(acc, codes, a);
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_AVX2
