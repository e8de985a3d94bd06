// The dot product of a row of weight blocks with a row of activation blocks, the inner
// loop of every GEMV. One shape for all: acc = zero(); accumulate(acc, w[i], a[i]) per
// block; finish(acc). Only the step is per arch: the primary template below is the
// scalar reference (ggml's vec_dot order: sum += float(isum) * d_w * d_a, block by block,
// plus m_w * s_a inside the same term for pairs with an offset, Q4_1 x Q8_1);
// x86/ and arm/ specialize it where the arch has an int8 dot instruction.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#include "qtl/core/config.hpp"
#include "qtl/core/half.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/iq4_nl.hpp"
#include "qtl/layout/ggml/k_quants.hpp"
#include "qtl/layout/ggml/legacy.hpp"

namespace qtl::kernel {

// The integer dot product of one weight block with its activation block: what every arch
// must reproduce exactly.
inline int block_isum(const ggml::block_q8_0& w, const ggml::block_q8_0& a) noexcept {
  int sum = 0;
  for (std::size_t j = 0; j < 32; ++j) sum += w.qs[j] * a.qs[j];
  return sum;
}
inline int block_isum(const ggml::block_q4_0& w, const ggml::block_q8_0& a) noexcept {
  int sum = 0;
  for (std::size_t j = 0; j < 32; ++j) sum += (ggml::detail::nibble(w.qs, j) - 8) * a.qs[j];
  return sum;
}
inline int block_isum(const ggml::block_q4_1& w, const ggml::block_q8_1& a) noexcept {
  int sum = 0;  // unsigned codes 0..15: the min is the offset term's
  for (std::size_t j = 0; j < 32; ++j) sum += ggml::detail::nibble(w.qs, j) * a.qs[j];
  return sum;
}
// Q5's 5-bit code of value j: the nibble, and bit j of qh as bit 4.
inline int q5_code(const std::uint8_t* qs, const std::uint8_t* qh, std::size_t j) noexcept {
  return ggml::detail::nibble(qs, j) | ggml::detail::high_bit(qh, j) << 4;
}
inline int block_isum(const ggml::block_q5_0& w, const ggml::block_q8_0& a) noexcept {
  int sum = 0;
  for (std::size_t j = 0; j < 32; ++j) sum += (q5_code(w.qs, w.qh, j) - 16) * a.qs[j];
  return sum;
}
inline int block_isum(const ggml::block_q5_1& w, const ggml::block_q8_1& a) noexcept {
  int sum = 0;  // unsigned codes 0..31: the min is the offset term's
  for (std::size_t j = 0; j < 32; ++j) sum += q5_code(w.qs, w.qh, j) * a.qs[j];
  return sum;
}
inline int block_isum(const ggml::block_iq4_nl& w, const ggml::block_q8_0& a) noexcept {
  int sum = 0;
  for (std::size_t j = 0; j < 32; ++j) sum += ggml::iq4_nl_levels[ggml::detail::nibble(w.qs, j)] * a.qs[j];
  return sum;
}
inline int block_isum(const ggml::block_tq2_0& w, const ggml::block_q8_k& a) noexcept {
  int sum = 0;  // TQ2_0 split order: value 128c + 32n + m is bits 2n of byte 32c + m
  for (std::size_t j = 0; j < ggml::qk_k; ++j) {
    const int q = (w.qs[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3;
    sum += (q - 1) * a.qs[j];
  }
  return sum;
}

// The K-quants (Q2_K..Q6_K) x Q8_K: sub-block j of S values (16 or 32) with an integer
// scale sc_j, and for Q2_K/Q4_K/Q5_K a min m_j (layout/ggml/k_quants.hpp). The integer
// part is sum_j sc_j sum (q - offset) a; the mins are the offset term's, through Q8_K's
// bsums (the activation sums of 16 values).
template <ggml::k_quant W>
int block_isum(const W& w, const ggml::block_q8_k& a) noexcept {
  constexpr std::size_t S = ggml::k_quant_traits<W>::sub_block;
  int sum = 0;
  for (std::size_t j = 0; j < ggml::qk_k / S; ++j) {
    int sub = 0;
    for (std::size_t l = 0; l < S; ++l)
      sub += (ggml::code(w, S * j + l) - ggml::k_quant_traits<W>::offset) * a.qs[S * j + l];
    sum += ggml::sub_scale(w, j) * sub;
  }
  return sum;
}
template <ggml::k_quant W>
  requires ggml::k_quant_traits<W>::has_min
int k_min_sum(const W& w, const ggml::block_q8_k& a) noexcept {
  constexpr std::size_t S = ggml::k_quant_traits<W>::sub_block;
  int sum = 0;  // sum_j m_j (sum of sub-block j's activations)
  for (std::size_t j = 0; j < ggml::qk_k / S; ++j) {
    int sub = 0;
    for (std::size_t g = S / 16 * j; g < S / 16 * (j + 1); ++g) sub += a.bsums[g];
    sum += ggml::sub_min(w, j) * sub;
  }
  return sum;
}

inline float block_scale(const ggml::block_q8_0& w, const ggml::block_q8_0& a) noexcept {
  return half_bits_to_float(w.d) * half_bits_to_float(a.d);
}
inline float block_scale(const ggml::block_q4_0& w, const ggml::block_q8_0& a) noexcept {
  return half_bits_to_float(w.d) * half_bits_to_float(a.d);
}
inline float block_scale(const ggml::block_q4_1& w, const ggml::block_q8_1& a) noexcept {
  return half_bits_to_float(w.d) * half_bits_to_float(a.d);
}
inline float block_scale(const ggml::block_q5_0& w, const ggml::block_q8_0& a) noexcept {
  return half_bits_to_float(w.d) * half_bits_to_float(a.d);
}
inline float block_scale(const ggml::block_q5_1& w, const ggml::block_q8_1& a) noexcept {
  return half_bits_to_float(w.d) * half_bits_to_float(a.d);
}
inline float block_scale(const ggml::block_iq4_nl& w, const ggml::block_q8_0& a) noexcept {
  return half_bits_to_float(w.d) * half_bits_to_float(a.d);  // ggml: d_a * d_w, the same product
}
inline float block_scale(const ggml::block_tq2_0& w, const ggml::block_q8_k& a) noexcept {
  return a.d * half_bits_to_float(w.d);
}
template <ggml::k_quant W>
float block_scale(const W& w, const ggml::block_q8_k& a) noexcept {
  return a.d * half_bits_to_float(w.d);  // ggml: y.d * fp16(x.d)
}

// Q4_1's (and Q5_1's) min: sum_j (d_w q_j + m_w) d_a a_j = d_w d_a isum + m_w (d_a sum_j a_j), and
// Q8_1's s is that d_a sum_j a_j (as a half), so the min costs one product per block.
inline float block_offset(const ggml::block_q4_1& w, const ggml::block_q8_1& a) noexcept {
  return half_bits_to_float(w.m) * half_bits_to_float(a.s);
}
inline float block_offset(const ggml::block_q5_1& w, const ggml::block_q8_1& a) noexcept {  // Q5_1: the same
  return half_bits_to_float(w.m) * half_bits_to_float(a.s);
}
// The K-quant mins: -(dmin d_a) sum_j m_j (sum of sub-block j's activations), ggml's factors.
template <ggml::k_quant W>
  requires ggml::k_quant_traits<W>::has_min
float block_offset(const W& w, const ggml::block_q8_k& a) noexcept {
  return -(half_bits_to_float(w.dmin) * a.d) * static_cast<float>(k_min_sum(w, a));
}

// Q4_K's 12 scale bytes unpacked at once on 32-bit words (scale_k4 and min_k4 for every j): the
// words' bytes are the 8 scales, then the 8 mins (little-endian). A template so that each
// arch's translation unit has its own copy (kernel/arch.hpp); words, not bytes, so that a
// SIMD step puts them in a register without a narrow-store-to-wide-load stall.
template <class Arch>
std::array<std::uint32_t, 4> q4_k_scales_mins(const std::uint8_t* packed) noexcept {
  std::uint32_t w[3];
  std::memcpy(w, packed, sizeof w);
  constexpr std::uint32_t low6 = 0x3F3F3F3F, low4 = 0x0F0F0F0F, top2 = 0x03030303;
  return {w[0] & low6, (w[2] & low4) | ((w[0] >> 6) & top2) << 4, w[1] & low6,
          ((w[2] >> 4) & low4) | ((w[1] >> 6) & top2) << 4};
}

// Q3_K's 16 six-bit scales (scale_k3 for every j) as bytes sc_j + 32 (0..63) on 32-bit
// words: low nibbles from bytes 0..7, the 2 high bits from bytes 8..11.
template <class Arch>
std::array<std::uint32_t, 4> q3_k_scales(const std::uint8_t* packed) noexcept {
  std::uint32_t w[3];
  std::memcpy(w, packed, sizeof w);
  constexpr std::uint32_t low4 = 0x0F0F0F0F, top2 = 0x03030303;
  return {(w[0] & low4) | (w[2] & top2) << 4, (w[1] & low4) | ((w[2] >> 2) & top2) << 4,
          ((w[0] >> 4) & low4) | ((w[2] >> 4) & top2) << 4, ((w[1] >> 4) & low4) | ((w[2] >> 6) & top2) << 4};
}

template <class W, class A>
concept dot_pair = requires(const W& w, const A& a) {
  { block_isum(w, a) } -> std::same_as<int>;
  { block_scale(w, a) } -> std::same_as<float>;
};

// A pair whose block term has an additive float part besides float(isum) * scale.
template <class W, class A>
concept offset_pair = dot_pair<W, A> && requires(const W& w, const A& a) {
  { block_offset(w, a) } -> std::same_as<float>;
};

// The scalar reference never fuses a block's product with the sum (whatever the build's
// FMA flags): every path that claims its order gets the same bits.
QTL_STRICT_FP_BEGIN

// One block's term in ggml's order: float(isum) * scale [+ offset], then added to the sum.
template <class W, class A>
  requires dot_pair<W, A>
float block_term(const W& w, const A& a) noexcept {
  if constexpr (offset_pair<W, A>)
    return static_cast<float>(block_isum(w, a)) * block_scale(w, a) + block_offset(w, a);
  else return static_cast<float>(block_isum(w, a)) * block_scale(w, a);
}

// Primary template: the scalar reference step, instantiated per Arch so that a SIMD
// translation unit never shares (and never overrides) the scalar one's code.
template <class Arch, class W, class A>
  requires dot_pair<W, A>
struct block_dot {
  using acc_type = float;
  static acc_type zero() noexcept { return 0.0f; }
  static void accumulate(acc_type& acc, const W& w, const A& a) noexcept {
    acc += block_term(w, a);
  }
  static float finish(acc_type acc) noexcept { return acc; }
};

QTL_STRICT_FP_END

// A step whose accumulators can be merged runs two independent chains (even and odd
// blocks), so the FMA latency of one block does not wait for the previous one.
template <class D>
concept mergeable = requires(typename D::acc_type x) {
  { D::merge(x, x) } -> std::same_as<typename D::acc_type>;
};

// A step that splits a weight block's decoding (unpacking, lookups, its scale) from the
// dot with an activation block: the small-batch GEMM decodes each weight block once for
// all its activation rows.
template <class D, class W, class A>
concept split_step = requires(const W& w, const A& a, typename D::acc_type& acc) {
  D::accumulate(acc, D::decode(w), a);
};

template <class D, class W, class A>
QTL_FORCEINLINE void accumulate_block(typename D::acc_type& acc, const W& w, const A& a) noexcept {
  if constexpr (split_step<D, W, A>) D::accumulate(acc, D::decode(w), a);
  else D::accumulate(acc, w, a);
}

// One row: n weight blocks against n activation blocks.
template <class Arch, class W, class A>
float dot_row(const W* w, const A* a, std::size_t n) noexcept {
  using D = block_dot<Arch, W, A>;
  typename D::acc_type acc = D::zero();
  std::size_t i = 0;
  if constexpr (mergeable<D>) {
    typename D::acc_type odd = D::zero();
    for (; i + 1 < n; i += 2) {
      accumulate_block<D>(acc, w[i], a[i]);
      accumulate_block<D>(odd, w[i + 1], a[i + 1]);
    }
    acc = D::merge(acc, odd);
  }
  for (; i < n; ++i) accumulate_block<D>(acc, w[i], a[i]);
  return D::finish(acc);
}

// One weight row against N activation rows (a + k * n, k < N), each a chain of its own
// in block order; out[k * out_stride] = the k-th dot. Splittable steps decode once.
template <class Arch, class W, class A, std::size_t N>
void dot_rows(const W* w, const A* a, std::size_t n, float* out, std::size_t out_stride) noexcept {
  using D = block_dot<Arch, W, A>;
  typename D::acc_type acc[N];
  for (auto& x : acc) x = D::zero();
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (split_step<D, W, A>) {
      const auto decoded = D::decode(w[i]);
      for (std::size_t k = 0; k < N; ++k) D::accumulate(acc[k], decoded, a[k * n + i]);
    } else {
      for (std::size_t k = 0; k < N; ++k) D::accumulate(acc[k], w[i], a[k * n + i]);
    }
  }
  for (std::size_t k = 0; k < N; ++k) out[k * out_stride] = D::finish(acc[k]);
}

inline constexpr std::size_t max_batch_step = 8;  // activation rows one weight pass serves

// Rows [begin, end) of y = W a for exactly N activation rows.
template <class Arch, class W, class A, std::size_t N>
void gemv_rows_n(const W* w, std::size_t rows, std::size_t blocks_per_row, const A* a, float* y, std::size_t begin,
                 std::size_t end) noexcept {
  for (std::size_t r = begin; r < end; ++r) {
    if constexpr (N == 1) y[r] = dot_row<Arch>(w + r * blocks_per_row, a, blocks_per_row);
    else dot_rows<Arch, W, A, N>(w + r * blocks_per_row, a, blocks_per_row, y + r, rows);
  }
}

// Calls step.template operator()<N>(n) for the chunks [n, n + N) of `batch` activation
// rows, N <= max_batch_step: one weight pass per chunk, with its row count compiled in.
template <class Step>
void for_batch_chunks(std::size_t batch, Step&& step) {
  for (std::size_t n = 0; n < batch; n += max_batch_step) {
    const std::size_t size = batch - n < max_batch_step ? batch - n : max_batch_step;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((size == I + 1 ? step.template operator()<I + 1>(n) : void()), ...);
    }(std::make_index_sequence<max_batch_step>{});
  }
}

// Rows [begin, end) of y = W a, W row-major with blocks_per_row blocks per row; a holds
// `batch` activation rows of blocks_per_row blocks each, y `batch` rows of `rows` values
// (small-batch GEMM: each weight row is read, and decoded, once per 8 activation rows).
template <class Arch, class W, class A>
void gemv_rows(const W* w, std::size_t rows, std::size_t blocks_per_row, const A* a, std::size_t batch, float* y,
               std::size_t begin, std::size_t end) noexcept {
  for_batch_chunks(batch, [&]<std::size_t N>(std::size_t n) {
    gemv_rows_n<Arch, W, A, N>(w, rows, blocks_per_row, a + n * blocks_per_row, y + n * rows, begin, end);
  });
}

}  // namespace qtl::kernel
