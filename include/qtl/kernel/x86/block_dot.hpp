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

#include <array>
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

// The K-quants' codes, unsigned, 32 values per register: q[n] holds values 32n..32n+31
// (Q4_K/Q5_K: sub-block n; Q2_K/Q3_K/Q6_K: sub-blocks 2n and 2n + 1).
QTL_FORCEINLINE __m256i bits_at(__m256i v, int from, int to, std::uint8_t mask) noexcept {  // (v >> from) << to, masked
  const __m256i moved = from >= to ? _mm256_srli_epi16(v, from - to) : _mm256_slli_epi16(v, to - from);
  return _mm256_and_si256(moved, _mm256_set1_epi8(static_cast<char>(mask)));
}
QTL_FORCEINLINE void k_codes_2bit(const std::uint8_t* qs, __m256i* q) noexcept {
  for (int h = 0; h < 2; ++h) {  // byte 32h + l, bits 2k: value 128h + 32k + l
    const __m256i raw = load32(qs + 32 * h);
    for (int k = 0; k < 4; ++k) q[4 * h + k] = bits_at(raw, 2 * k, 0, 0x03);
  }
}
QTL_FORCEINLINE void k_codes(const ggml::block_q2_k& w, __m256i* q) noexcept { k_codes_2bit(w.qs, q); }
QTL_FORCEINLINE void k_codes(const ggml::block_q3_k& w, __m256i* q) noexcept {
  k_codes_2bit(w.qs, q);
  const __m256i high = load32(w.hmask);  // bit n of byte l: bit 2 of value 32n + l
  for (int n = 0; n < 8; ++n) q[n] = _mm256_or_si256(q[n], bits_at(high, n, 2, 0x04));
}
QTL_FORCEINLINE void k_codes_4bit(const std::uint8_t* qs, __m256i* q) noexcept {  // Q4_K's nibbles
  for (int c = 0; c < 4; ++c) {
    const __m256i raw = load32(qs + 32 * c);
    q[2 * c] = _mm256_and_si256(raw, _mm256_set1_epi8(0x0F));
    q[2 * c + 1] = bits_at(raw, 4, 0, 0x0F);
  }
}
QTL_FORCEINLINE void k_codes(const ggml::block_q4_k& w, __m256i* q) noexcept { k_codes_4bit(w.qs, q); }
QTL_FORCEINLINE void k_codes(const ggml::block_q5_k& w, __m256i* q) noexcept {
  k_codes_4bit(w.qs, q);
  const __m256i high = load32(w.qh);  // bit n of byte l: bit 4 of value 32n + l
  for (int n = 0; n < 8; ++n) q[n] = _mm256_or_si256(q[n], bits_at(high, n, 4, 0x10));
}
QTL_FORCEINLINE void k_codes(const ggml::block_q6_k& w, __m256i* q) noexcept {
  for (int h = 0; h < 2; ++h) {  // value 128h + 32k + l: nibble k / 2 of ql[64h + 32(k % 2) + l], bits 2k of qh[32h + l]
    const __m256i low[2] = {load32(w.ql + 64 * h), load32(w.ql + 64 * h + 32)};
    const __m256i high = load32(w.qh + 32 * h);
    for (int k = 0; k < 4; ++k)
      q[4 * h + k] = _mm256_or_si256(bits_at(low[k % 2], 4 * (k / 2), 0, 0x0F), bits_at(high, 2 * k, 4, 0x30));
  }
}

// The K-quants' scales as int16 lanes: `sc` has chunk n's scale one shuffle away, in
// int16 lane n of each 128-bit lane (Q4_K/Q5_K: the 8 sub-block scales in both lanes;
// the 16-value types: the even sub-blocks' in the low lane, the odd ones' in the high);
// `offsets` are the factors of Q8_K's 16 bsums: the mins (Q2_K, Q4_K, Q5_K: a float term
// with dmin) or offset * sc (Q3_K, Q6_K: taken off the integer lanes).
struct k_scales {
  __m256i sc, offsets;
};
QTL_FORCEINLINE __m256i even_odd_int16(__m128i bytes) noexcept {  // 16 int8 -> int16: evens, then odds
  return _mm256_cvtepi8_epi16(
      _mm_shuffle_epi8(bytes, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15)));
}
QTL_FORCEINLINE __m128i words128(const std::array<std::uint32_t, 4>& w) noexcept {
  return _mm_setr_epi32(static_cast<int>(w[0]), static_cast<int>(w[1]), static_cast<int>(w[2]), static_cast<int>(w[3]));
}
template <class Arch>
QTL_FORCEINLINE k_scales k_scales_of(const ggml::block_q2_k& w) noexcept {  // scale | min << 4
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales));
  const __m128i low4 = _mm_set1_epi8(0x0F);
  return {even_odd_int16(_mm_and_si128(raw, low4)), _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), low4))};
}
template <class Arch>
QTL_FORCEINLINE k_scales k_scales_of(const ggml::block_q3_k& w) noexcept {
  const __m128i sc = _mm_sub_epi8(words128(q3_k_scales<Arch>(w.scales)), _mm_set1_epi8(32));
  return {even_odd_int16(sc), _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 2)};
}
template <class Arch, class W>
  requires std::same_as<W, ggml::block_q4_k> || std::same_as<W, ggml::block_q5_k>
QTL_FORCEINLINE k_scales k_scales_of(const W& w) noexcept {  // the 8 scales, then the 8 mins, as bytes
  const __m128i bytes = words128(q4_k_scales_mins<Arch>(w.scales));
  const __m128i mins = _mm_srli_si128(bytes, 8);
  return {_mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(bytes)), _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mins, mins))};
}
template <class Arch>
QTL_FORCEINLINE k_scales k_scales_of(const ggml::block_q6_k& w) noexcept {
  const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales));
  return {even_odd_int16(sc), _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 5)};
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
  // Two integer lane sets with their scales (the K-quants' codes and mins), one add on the chain.
  static void add(acc_type& acc, __m256i isum, float scale, __m256i isum2, float scale2) noexcept {
    acc = _mm256_add_ps(acc, _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(isum),
                                             _mm256_mul_ps(_mm256_set1_ps(scale2), _mm256_cvtepi32_ps(isum2))));
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

template <x86::simd_arch Arch, ggml::k_quant W>
struct block_dot<Arch, W, ggml::block_q8_k> : x86::float_lanes {
  // Per 32 values (chunk n): maddubs of the unsigned codes with the activations into int16
  // pairs (at most 2 * 63 * 128, Q6_K), times the chunk's scales and pairwise added into
  // the int32 lanes (madd; VNNI dpwssd). Q8_K's bsums, in one madd with the offsets, give
  // the mins' lanes (their own float scale, added in the same step: no horizontal sum) or
  // offset * sum sc a, taken off the lanes (Q3_K, Q6_K: at most 16 * 2032 * 4096, exact).
  using traits = ggml::k_quant_traits<W>;
  struct decoded {
    __m256i q[8];
    x86::k_scales scales;
    float d, dmin;
  };
  // Forced inline: a decoded block (10 registers) returned through memory costs more than the step.
  QTL_FORCEINLINE static decoded decode(const W& w) noexcept {
    decoded out;
    x86::k_codes(w, out.q);
    out.scales = x86::k_scales_of<Arch>(w);
    out.d = x86::half_to_float(w.d);
    if constexpr (traits::has_min) out.dmin = x86::half_to_float(w.dmin);
    else out.dmin = 0.0f;
    return out;
  }
  QTL_FORCEINLINE static void accumulate(acc_type& acc, const decoded& w, const ggml::block_q8_k& a) noexcept {
    __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
    for (std::size_t n = 0; n < 8; n += 2) {
      even = scaled(even, _mm256_maddubs_epi16(w.q[n], x86::load32(a.qs + 32 * n)), w.scales.sc, n);
      odd = scaled(odd, _mm256_maddubs_epi16(w.q[n + 1], x86::load32(a.qs + 32 * (n + 1))), w.scales.sc, n + 1);
    }
    const __m256i sum = _mm256_add_epi32(even, odd);
    const __m256i by_bsums = _mm256_madd_epi16(x86::load32(a.bsums), w.scales.offsets);
    if constexpr (traits::has_min) add(acc, sum, a.d * w.d, by_bsums, -(w.dmin * a.d));
    else add(acc, _mm256_sub_epi32(sum, by_bsums), a.d * w.d);
  }

 private:
  // acc += pairs * scale, pairwise added into int32 lanes; chunk n's scale in every int16
  // lane by one shuffle of sc (bytes 2n, 2n + 1 of each 128-bit lane).
  static __m256i scaled(__m256i acc, __m256i pairs, __m256i sc, std::size_t n) noexcept {
    const __m256i scale = _mm256_shuffle_epi8(sc, _mm256_set1_epi16(static_cast<std::int16_t>(0x0100 + 0x0202 * n)));
#if defined(QTL_KERNEL_AVX512_VNNI)
    if constexpr (std::same_as<Arch, avx512_vnni>) return _mm256_dpwssd_epi32(acc, pairs, scale);
#endif
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, scale));
  }
};

}  // namespace qtl::kernel

#endif  // QTL_KERNEL_AVX2
