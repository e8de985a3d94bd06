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
#include "qtl/kernel/for_each_index.hpp"
#include "qtl/kernel/group_dot.hpp"
#include "qtl/kernel/x86/block_dot.hpp"

#if defined(QTL_KERNEL_AVX2)
#include <immintrin.h>

#include <cstring>

namespace qtl::kernel {

namespace x86 {
inline namespace QTL_KERNEL_ISA {  // see kernel/arch.hpp

// The 4 activation values at p in every 32-bit lane.
inline __m256i activation_word(const std::int8_t* p) noexcept {
  std::int32_t word;
  std::memcpy(&word, p, sizeof word);
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

template <x86::simd_arch Arch, groupable_32 B>
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
      __m256i even = _mm256_maddubs_epi16(codes[0], x86::activation_word(a.qs));
      __m256i odd = _mm256_maddubs_epi16(codes[1], x86::activation_word(a.qs + 4));
      for (std::size_t j = 2; j < 8; j += 2) {
        even = _mm256_add_epi16(even, _mm256_maddubs_epi16(codes[j], x86::activation_word(a.qs + 4 * j)));
        odd = _mm256_add_epi16(odd, _mm256_maddubs_epi16(codes[j + 1], x86::activation_word(a.qs + 4 * j + 4)));
      }
      return _mm256_madd_epi16(_mm256_add_epi16(even, odd), _mm256_set1_epi16(1));
    } else {
      __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
      for (std::size_t j = 0; j < 8; j += 2) {
        even = step(even, codes[j], x86::activation_word(a.qs + 4 * j));
        odd = step(odd, codes[j + 1], x86::activation_word(a.qs + 4 * j + 4));
      }
      return _mm256_add_epi32(even, odd);
    }
  }
  static __m256i step(__m256i acc, __m256i codes, __m256i a) noexcept {
    if constexpr (unsigned_codes) return x86::dot_u8s8<Arch>(acc, codes, a);
    else return x86::dot_s8<Arch>(acc, codes, a);
  }
};

// Q4_K: per 64 values (4 x 8 chunks), the low nibbles (sub-block 2k) and the high ones
// (2k + 1) dotted with the broadcast activation words into each row's lane (VNNI dpbusd;
// AVX2 maddubs summed in int16, at most 16 * 15 * 127 = 30480, widened once per sub-block),
// times each row's 6-bit scale (mullo: the scalar's exact sum_j sc_j sum q a); the mins by
// one madd per sub-block pair with the activation's sub-block sums (from bsums). Each row's
// two terms go into its float lane with one add on the chain.
template <x86::simd_arch Arch>
struct group_dot<Arch, ggml::block_q4_k> {
  using acc_type = __m256;
  using group = row_group<ggml::block_q4_k>;

  static acc_type zero() noexcept { return _mm256_setzero_ps(); }
  // The block column 8 ahead (9 KiB) is fetched into L2 by hand: out of cache, the
  // hardware prefetcher alone kept this step at 13 GB/s where the row kernel streams at 21;
  // 2 ahead into L1 gave 18-20, 8 ahead into L2 25 (a timing program, 32000 x 4096, Zen 4;
  // 4 ahead 23, 16 ahead 20), at a 3 % cost in cache.
  static const group& decode(const group& g) noexcept {
    const char* ahead = reinterpret_cast<const char*>(&g + 8);
    for (std::size_t off = 0; off < sizeof(group); off += 64) _mm_prefetch(ahead + off, _MM_HINT_T1);
    return g;
  }

  static void accumulate(acc_type& acc, const group& g, const ggml::block_q8_k& a, std::int32_t) noexcept {
    // Sub-block j's sums in sub[j]: eight chains, unrolled so that they overlap.
    __m256i sub[8];
    for (auto& v : sub) v = _mm256_setzero_si256();
    for_each_index<4>([&](auto k) QTL_LAMBDA_FORCEINLINE {  // in address order, for the prefetcher
      for_each_index<8>([&](auto c) QTL_LAMBDA_FORCEINLINE {
        const __m256i raw = x86::load32(g.qs + 32 * (8 * k + c));
        const std::int8_t* values = a.qs + 64 * k + 4 * c;
        sub[2 * k] = dot(sub[2 * k], _mm256_and_si256(raw, _mm256_set1_epi8(0x0F)), x86::activation_word(values));
        sub[2 * k + 1] = dot(sub[2 * k + 1], x86::bits_at(raw, 4, 0, 0x0F), x86::activation_word(values + 32));
      });
    });
    __m256i isum = _mm256_setzero_si256();
    for_each_index<8>([&](auto j) QTL_LAMBDA_FORCEINLINE { isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(widen(sub[j]), scales(g, j))); });
    // Sub-block j's activation sum S_j = bsums[2j] + bsums[2j + 1], as int16 pairs (S_2p, S_2p+1).
    const __m256i sub_sums = _mm256_madd_epi16(x86::load32(a.bsums), _mm256_set1_epi16(1));
    const __m128i pairs = _mm_packs_epi32(_mm256_castsi256_si128(sub_sums), _mm256_extracti128_si256(sub_sums, 1));
    __m256i min_sum = min_pair<0>(g, pairs);
    min_sum = _mm256_add_epi32(min_sum, min_pair<1>(g, pairs));
    min_sum = _mm256_add_epi32(min_sum, min_pair<2>(g, pairs));
    min_sum = _mm256_add_epi32(min_sum, min_pair<3>(g, pairs));
    const __m256 d_a = _mm256_set1_ps(a.d);
    const __m256 d = _mm256_mul_ps(halves(g.d), d_a), dmin = _mm256_mul_ps(halves(g.dmin), d_a);
    acc = _mm256_add_ps(acc, _mm256_fnmadd_ps(dmin, _mm256_cvtepi32_ps(min_sum),
                                              _mm256_mul_ps(d, _mm256_cvtepi32_ps(isum))));
  }

  static void finish(acc_type acc, float* out) noexcept { _mm256_storeu_ps(out, acc); }

 private:
  static __m256i dot(__m256i acc, __m256i codes, __m256i a) noexcept {
    if constexpr (std::same_as<Arch, avx512_vnni>) return x86::dot_u8s8<Arch>(acc, codes, a);
    else return _mm256_add_epi16(acc, _mm256_maddubs_epi16(codes, a));
  }
  static __m256i widen(__m256i sums) noexcept {  // AVX2's int16 pairs to each row's int32
    if constexpr (std::same_as<Arch, avx512_vnni>) return sums;
    else return _mm256_madd_epi16(sums, _mm256_set1_epi16(1));
  }
  static __m256i scales(const group& g, std::size_t j) noexcept {  // the 8 rows' sc_j as int32
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g.scales + 8 * j)));
  }
  static __m256 halves(const std::uint16_t* h) noexcept {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
  }
  // The 8 rows' m_2p * S_2p + m_2p+1 * S_2p+1.
  template <int p>
  static __m256i min_pair(const group& g, __m128i pairs) noexcept {
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.mins + 16 * p)));
    return _mm256_madd_epi16(mins, _mm256_set1_epi32(_mm_extract_epi32(pairs, p)));
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_AVX2
