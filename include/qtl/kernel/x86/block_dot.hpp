// x86 steps of kernel/block_dot.hpp for AVX2 and AVX-512 VNNI. The block's int8 products
// are summed in 8 int32 lanes (AVX2: maddubs + madd; VNNI: one dpbusd), then converted
// and added, times the block's scale, into 8 float lanes with one FMA: integer sums are
// exact, only the float accumulation order differs from the scalar path.
// Compiled only where the translation unit's flags enable the arch (kernel/arch.hpp).
#pragma once

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/block_dot.hpp"

#if defined(QTL_KERNEL_AVX2)
#include <immintrin.h>

#include <cstring>

namespace qtl::kernel {

namespace x86 {
inline namespace QTL_KERNEL_ISA {  // see kernel/arch.hpp

template <class Arch>
concept simd_arch = std::same_as<Arch, avx2> || std::same_as<Arch, avx512_vnni>;

// acc += sum of 4 adjacent u8 * s8 products per int32 lane.
template <class Arch>
inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) noexcept {
#if defined(QTL_KERNEL_AVX512_VNNI)
  if constexpr (std::same_as<Arch, avx512_vnni>) return _mm256_dpbusd_epi32(acc, u, s);
#endif
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}

// acc += w . a for 32 int8 pairs, w and a in -127..127 (|w| as the unsigned operand; the
// sign moves onto a; -128 would overflow that).
template <class Arch>
inline __m256i dot_s8(__m256i acc, __m256i w, __m256i a) noexcept {
  return dot_u8s8<Arch>(acc, _mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

inline __m256i load32(const void* p) noexcept { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// The sum of the 8 int32 lanes.
inline int hsum(__m256i v) noexcept {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// The 4-bit blocks' 16 bytes as 32 codes 0..15 in value order (low nibbles, then high).
inline __m256i nibbles(const std::uint8_t* qs) noexcept {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
}

// Q5's bit 4 of the 32 values (bit j of qh for value j) as bytes 0x10 or 0, in value order:
// byte j of qh to bytes 8j..8j+7 (shuffle_epi8 within each 128-bit lane, which holds all
// four), then each byte's own bit tested.
inline __m256i q5_high_bits(const std::uint8_t* qh) noexcept {
  std::int32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(bits), _mm256_setr_epi64x(0, 0x0101010101010101,
                                                                                          0x0202020202020202,
                                                                                          0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<std::int64_t>(0x8040201008040201));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// Q5's 5-bit codes 0..31 in value order.
inline __m256i q5_codes(const std::uint8_t* qs, const std::uint8_t* qh) noexcept {
  return _mm256_or_si256(nibbles(qs), q5_high_bits(qh));
}

// Q4_0's codes as signed values: nibble - 8.
inline __m256i q4_0_codes(const std::uint8_t* qs) noexcept { return _mm256_sub_epi8(nibbles(qs), _mm256_set1_epi8(8)); }

// IQ4_NL's codes through its 16 levels: shuffle_epi8 looks up within each 128-bit lane,
// so the table sits in both. Levels are -127..113: dot_s8's sign trick holds.
inline __m256i iq4_nl_codes(const std::uint8_t* qs) noexcept {
  const __m128i levels = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::iq4_nl_levels));
  return _mm256_shuffle_epi8(_mm256_set_m128i(levels, levels), nibbles(qs));
}

// Half scales through F16C where compiled in (every AVX2 CPU has it): the software
// conversion of the scalar path costs more than the block's whole int8 dot.
inline float half_to_float(std::uint16_t bits) noexcept {
#if defined(__F16C__)
  return _cvtsh_ss(bits);
#else
  return half_bits_to_float(bits);
#endif
}

// Shared by every pair: 8 float lanes, one FMA per block.
struct float_lanes {
  using acc_type = __m256;
  static acc_type zero() noexcept { return _mm256_setzero_ps(); }
  static void add(acc_type& acc, __m256i isum, float scale) noexcept {
    acc = _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(isum), acc);
  }
  // A block's offset (Q4_1's m_w * s_a) rides in lane 0 of the addend, off the acc chain.
  static void add(acc_type& acc, __m256i isum, float scale, float offset) noexcept {
    acc = _mm256_add_ps(acc, _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(isum),
                                             _mm256_setr_ps(offset, 0, 0, 0, 0, 0, 0, 0)));
  }
  static acc_type merge(acc_type x, acc_type y) noexcept { return _mm256_add_ps(x, y); }
  static float finish(acc_type acc) noexcept {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace QTL_KERNEL_ISA
}  // namespace x86

// The signed-code pairs share one step: decode gives the block's 32 codes (-127..127,
// for dot_s8's sign trick: Q8_0's, Q4_0's nibble - 8, Q5_0's code - 16, IQ4_NL's levels)
// and its scale; only the decoding is per type.
template <class Arch, class W, class A>
struct signed_block_dot : x86::float_lanes {
  struct decoded {
    __m256i codes, magnitudes;
    float d;
  };
  static decoded decode(const W& w) noexcept {
    const __m256i c = codes_of(w);
    return {c, _mm256_sign_epi8(c, c), x86::half_to_float(w.d)};
  }
  static void accumulate(acc_type& acc, const decoded& w, const A& a) noexcept {
    add(acc, x86::dot_u8s8<Arch>(_mm256_setzero_si256(), w.magnitudes, _mm256_sign_epi8(x86::load32(a.qs), w.codes)),
        w.d * x86::half_to_float(a.d));
  }

 private:
  static __m256i codes_of(const W& w) noexcept {
    if constexpr (std::same_as<W, ggml::block_q8_0>) return x86::load32(w.qs);
    else if constexpr (std::same_as<W, ggml::block_q4_0>) return x86::q4_0_codes(w.qs);
    else if constexpr (std::same_as<W, ggml::block_q5_0>)
      return _mm256_sub_epi8(x86::q5_codes(w.qs, w.qh), _mm256_set1_epi8(16));
    else return x86::iq4_nl_codes(w.qs);
  }
};

template <x86::simd_arch Arch>
struct block_dot<Arch, ggml::block_q8_0, ggml::block_q8_0> : signed_block_dot<Arch, ggml::block_q8_0, ggml::block_q8_0> {};
template <x86::simd_arch Arch>
struct block_dot<Arch, ggml::block_q4_0, ggml::block_q8_0> : signed_block_dot<Arch, ggml::block_q4_0, ggml::block_q8_0> {};
template <x86::simd_arch Arch>
struct block_dot<Arch, ggml::block_iq4_nl, ggml::block_q8_0>
    : signed_block_dot<Arch, ggml::block_iq4_nl, ggml::block_q8_0> {};
template <x86::simd_arch Arch>
struct block_dot<Arch, ggml::block_q5_0, ggml::block_q8_0> : signed_block_dot<Arch, ggml::block_q5_0, ggml::block_q8_0> {};

// The pairs with a min (Q4_1, Q5_1 x Q8_1): codes 0..15 or 0..31 are already unsigned, so
// no sign trick, straight into u8 x s8.
template <class Arch, class W>
struct min_block_dot : x86::float_lanes {
  struct decoded {
    __m256i codes;
    float d, m;
  };
  static decoded decode(const W& w) noexcept {
    if constexpr (std::same_as<W, ggml::block_q5_1>)
      return {x86::q5_codes(w.qs, w.qh), x86::half_to_float(w.d), x86::half_to_float(w.m)};
    else return {x86::nibbles(w.qs), x86::half_to_float(w.d), x86::half_to_float(w.m)};
  }
  static void accumulate(acc_type& acc, const decoded& w, const ggml::block_q8_1& a) noexcept {
    add(acc, x86::dot_u8s8<Arch>(_mm256_setzero_si256(), w.codes, x86::load32(a.qs)), w.d * x86::half_to_float(a.d),
        w.m * x86::half_to_float(a.s));
  }
};
template <x86::simd_arch Arch>
struct block_dot<Arch, ggml::block_q4_1, ggml::block_q8_1> : min_block_dot<Arch, ggml::block_q4_1> {};
template <x86::simd_arch Arch>
struct block_dot<Arch, ggml::block_q5_1, ggml::block_q8_1> : min_block_dot<Arch, ggml::block_q5_1> {};

template <x86::simd_arch Arch>
struct block_dot<Arch, ggml::block_tq2_0, ggml::block_q8_k> : x86::float_lanes {
  // Codes 0..2 are already unsigned: sum q * a in int32 lanes and take sum a (Q8_K's 16
  // bsums) off; the block's 8 lanes then go into the float lanes without a horizontal sum
  // (ggml's x86 order). The lanes' two terms cover different values (sum a comes in
  // 16-value groups), so each lane can be several times the block's sum and the float
  // error is bounded by the values' magnitudes, not the block sums' (tests/kernel/gemv_test.cpp).
  struct decoded {
    __m256i q[8];  // values 32n + m, n < 8
    float d;
  };
  static decoded decode(const ggml::block_tq2_0& w) noexcept {
    decoded out;
    const __m256i three = _mm256_set1_epi8(3);
    for (std::size_t c = 0; c < 2; ++c) {
      const __m256i raw = x86::load32(w.qs + 32 * c);
      for (int n = 0; n < 4; ++n) out.q[4 * c + n] = _mm256_and_si256(_mm256_srli_epi16(raw, 2 * n), three);
    }
    out.d = x86::half_to_float(w.d);
    return out;
  }
  static void accumulate(acc_type& acc, const decoded& w, const ggml::block_q8_k& a) noexcept {
    const __m256i sum_a = _mm256_madd_epi16(x86::load32(a.bsums), _mm256_set1_epi16(1));
    add(acc, _mm256_sub_epi32(codes_dot(w.q, a.qs), sum_a), a.d * w.d);
  }

 private:
  // sum q * a over the block's 256 values, 8 int32 lanes.
  static __m256i codes_dot(const __m256i* q, const std::int8_t* a) noexcept {
    if constexpr (std::same_as<Arch, avx512_vnni>) {
      // Two chains of four dpbusd: one chain of eight would wait on its latency.
      __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
      for (std::size_t n = 0; n < 8; n += 2) {
        even = x86::dot_u8s8<Arch>(even, q[n], x86::load32(a + 32 * n));
        odd = x86::dot_u8s8<Arch>(odd, q[n + 1], x86::load32(a + 32 * (n + 1)));
      }
      return _mm256_add_epi32(even, odd);
    } else {
      // maddubs' pair sums are at most 2 * 2 * 128 = 512, and each int16 lane adds eight
      // of them (at most 4096): exact in int16, widened once.
      __m256i sum16 = _mm256_maddubs_epi16(q[0], x86::load32(a));
      for (std::size_t n = 1; n < 8; ++n)
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(q[n], x86::load32(a + 32 * n)));
      return _mm256_madd_epi16(sum16, _mm256_set1_epi16(1));
    }
  }
};

template <x86::simd_arch Arch>
struct block_dot<Arch, ggml::block_q4_k, ggml::block_q8_k> : x86::float_lanes {
  // Per sub-block j: maddubs of the 32 codes 0..15 (unsigned) with the activations into
  // int16 pairs (at most 2 * 15 * 127), times sc_j and pairwise added into the int32
  // lanes (madd; VNNI dpwssd); the mins' sum from Q8_K's bsums in one madd. The lanes go
  // into the float lanes, the mins' term in lane 0 of the addend (as Q4_1's).
  struct decoded {
    __m256i q[8];     // sub-block j's 32 codes
    __m256i mins;     // m_j at int16 lanes 2j and 2j + 1 (bsums' 16-value groups)
    __m256i sc;       // the 8 scales as int16, in both 128-bit lanes
    float d, dmin;
  };
  // Forced inline: a decoded block (10 registers) returned through memory costs more than the step.
  QTL_FORCEINLINE static decoded decode(const ggml::block_q4_k& w) noexcept {
    decoded out;
    const __m256i low = _mm256_set1_epi8(0x0F);
    for (std::size_t c = 0; c < 4; ++c) {
      const __m256i raw = x86::load32(w.qs + 32 * c);
      out.q[2 * c] = _mm256_and_si256(raw, low);
      out.q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
    }
    const auto words = q4_k_scales_mins<Arch>(w.scales);
    const __m128i bytes = _mm_setr_epi32(static_cast<int>(words[0]), static_cast<int>(words[1]),
                                         static_cast<int>(words[2]), static_cast<int>(words[3]));
    out.sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(bytes));
    const __m128i mins = _mm_srli_si128(bytes, 8);
    out.mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mins, mins));
    out.d = x86::half_to_float(w.d);
    out.dmin = x86::half_to_float(w.dmin);
    return out;
  }
  QTL_FORCEINLINE static void accumulate(acc_type& acc, const decoded& w, const ggml::block_q8_k& a) noexcept {
    __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
    for (std::size_t j = 0; j < 8; j += 2) {
      even = scaled(even, _mm256_maddubs_epi16(w.q[j], x86::load32(a.qs + 32 * j)), w.sc, j);
      odd = scaled(odd, _mm256_maddubs_epi16(w.q[j + 1], x86::load32(a.qs + 32 * (j + 1))), w.sc, j + 1);
    }
    const int min_sum = x86::hsum(_mm256_madd_epi16(x86::load32(a.bsums), w.mins));
    add(acc, _mm256_add_epi32(even, odd), a.d * w.d, -(w.dmin * a.d) * static_cast<float>(min_sum));
  }

 private:
  // acc += pairs * sc_j, pairwise added into int32 lanes; sc_j in every int16 lane by one
  // shuffle of the scales (bytes 2j, 2j + 1).
  static __m256i scaled(__m256i acc, __m256i pairs, __m256i sc, std::size_t j) noexcept {
    const __m256i scale = _mm256_shuffle_epi8(sc, _mm256_set1_epi16(static_cast<std::int16_t>(0x0100 + 0x0202 * j)));
#if defined(QTL_KERNEL_AVX512_VNNI)
    if constexpr (std::same_as<Arch, avx512_vnni>) return _mm256_dpwssd_epi32(acc, pairs, scale);
#endif
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, scale));
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_AVX2
