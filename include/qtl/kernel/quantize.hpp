// Quantizing through a kernel table: float activations into ggml's Q8_0, Q8_1 and Q8_K
// blocks (what kernel/gemv.hpp multiplies the weights with) and BitNet's per-token int8
// codes (what kernel/gemv_i2_s.hpp takes); weights into ggml's Q4_0, Q4_1, TQ2_0 and
// IQ4_NL, bitsandbytes' NF4 and FP4, BitNet's ternary codes and I2_S, and FP8 element
// codes. Same arguments, checks and bytes as the scalar quantizers (ggml::quantize in
// layout/ggml/row.hpp, bitnet::quantize_activations, bitnet::quantize_weights,
// bitnet::pack_i2_s, bnb::quantize_4bit), on the table's arch.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/core/view.hpp"
#include "qtl/format/minifloat.hpp"
#include "qtl/kernel/kernel_table.hpp"
#include "qtl/layout/bitnet/i2_s.hpp"
#include "qtl/layout/bitnet/quantize.hpp"
#include "qtl/layout/bitsandbytes.hpp"
#include "qtl/layout/ggml/row.hpp"

namespace qtl::kernel {

// The table entry that quantizes into blocks of type B.
template <class B>
struct quantize_traits;
template <>
struct quantize_traits<ggml::block_q8_0> {
  static auto fn(const kernel_table& k) noexcept { return k.quantize_q8_0; }
};
template <>
struct quantize_traits<ggml::block_q8_1> {
  static auto fn(const kernel_table& k) noexcept { return k.quantize_q8_1; }
};
template <>
struct quantize_traits<ggml::block_q8_k> {
  static auto fn(const kernel_table& k) noexcept { return k.quantize_q8_k; }
};
template <>
struct quantize_traits<ggml::block_q4_0> {
  static auto fn(const kernel_table& k) noexcept { return k.quantize_q4_0; }
};
template <>
struct quantize_traits<ggml::block_q4_1> {
  static auto fn(const kernel_table& k) noexcept { return k.quantize_q4_1; }
};
template <>
struct quantize_traits<ggml::block_tq2_0> {
  static auto fn(const kernel_table& k) noexcept { return k.quantize_tq2_0; }
};
template <>  // iq4_nl_search::best_scale without importance weights (ggml::quantize's)
struct quantize_traits<ggml::block_iq4_nl> {
  static auto fn(const kernel_table& k) noexcept { return k.quantize_iq4_nl; }
};

template <class B>
concept table_quantized_block = ggml::block<B> && requires(const kernel_table& k) { quantize_traits<B>::fn(k); };

// x: row-major rows of row_length values (0: one row), a multiple of B's block; out: at
// least x.size() / B::elements blocks. Throws (before any write) on sizes that do not fit
// and on NaN or Inf, naming the first, like ggml::quantize.
template <table_quantized_block B>
void quantize(const kernel_table& k, std::span<const float> x, std::span<B> out, std::size_t row_length = 0) {
  const std::size_t blocks = ggml::detail::checked_blocks<B>(x.size(), row_length, "kernel::quantize");
  check_room(out.size(), blocks, "kernel::quantize", "output", "blocks");
  if (!k.all_finite(x.data(), x.size())) ggml::detail::check_all_finite(x, row_length);
  quantize_traits<B>::fn(k)(x.data(), out.data(), blocks);
}

// BitNet's activation_quant, one token per row, as bitnet::quantize_activations: int8
// codes (same shape as x) and each row's multiplier s into scales[row]. Nothing is
// written unless all shapes and values are valid.
inline void quantize_activations(const kernel_table& k, matrix_view<const float> x, matrix_view<std::int8_t> codes,
                                 std::span<float> scales) {
  bitnet::detail::check_same_shape(x, codes, "kernel::quantize_activations");
  if (scales.size() < x.rows())
    throw error(errc::shape_mismatch, "kernel::quantize_activations: " + std::to_string(scales.size()) +
                                          " scales for " + std::to_string(x.rows()) + " tokens");
  bitnet::detail::check_not_empty(x, "kernel::quantize_activations");
  for (std::size_t r = 0; r < x.rows(); ++r)
    if (!k.all_finite(x.data() + r * x.row_stride(), x.cols()))
      bitnet::detail::check_finite(x, "kernel::quantize_activations");
  k.quantize_i8_per_token(x.data(), x.rows(), x.cols(), x.row_stride(), codes.data(), codes.row_stride(),
                          scales.data());
}

// bnb::quantize_4bit for float32 input on the table's arch: the same checks and errors
// (all before the first write), packed bytes and absmax values. A tensor holding NaN or
// Inf under nonfinite_policy::propagate goes through bnb::quantize_4bit itself; half and
// bfloat16 input too (call it directly).
inline void quantize_4bit(const kernel_table& k, std::span<const float> x, bnb::quant_type type,
                          std::int64_t blocksize, std::span<std::uint8_t> packed, std::span<float> absmax,
                          nonfinite_policy nonfinite = nonfinite_policy::error) {
  bnb::detail::check_blocksize(blocksize, "kernel::quantize_4bit");
  check_room(packed.size(), bnb::packed_4bit_size(x.size()), "kernel::quantize_4bit", "packed", "bytes");
  check_room(absmax.size(), bnb::block_count(x.size(), blocksize), "kernel::quantize_4bit", "absmax", "values");
  if (!k.all_finite(x.data(), x.size())) {
    bnb::detail::check_finite(x, nonfinite);  // throws under nonfinite_policy::error, naming the first
    return bnb::quantize_4bit(x, type, blocksize, packed, absmax, nonfinite);
  }
  const auto fn = type == bnb::quant_type::nf4 ? k.quantize_nf4 : k.quantize_fp4;
  fn(x.data(), x.size(), static_cast<std::size_t>(blocksize), packed.data(), absmax.data());
}

// BitNet's weight_quant as bitnet::quantize_weights: the scale is its scalar torch-order
// sum, the codes clamp(round half even (w * s), -1, 1) run on the table's arch. Nothing is
// written unless w and codes are valid.
inline bitnet::weight_scale quantize_weights(const kernel_table& k, matrix_view<const float> w,
                                             matrix_view<std::int8_t> codes, int torch_threads = 1) {
  bitnet::detail::check_same_shape(w, codes, "kernel::quantize_weights");
  const bitnet::weight_scale ws = bitnet::absmean_weight_scale(w, torch_threads);
  for (std::size_t r = 0; r < w.rows(); ++r)
    k.quantize_ternary(w.data() + r * w.row_stride(), w.cols(), ws.s, codes.data() + r * codes.row_stride());
  return ws;
}

// bitnet::pack_i2_s for the x86 layout (blocks of 128) on the table's arch: same bytes,
// checks and errors (all before the first write).
inline void pack_i2_s(const kernel_table& k, matrix_view<const std::int8_t> codes, float scale,
                      std::span<std::uint8_t> out) {
  using L = bitnet::i2_s;
  const std::size_t rows = codes.rows(), cols = codes.cols();
  L::check_shape(rows, cols, "kernel::pack_i2_s");
  check_room(out.size(), L::bytes(rows, cols), "kernel::pack_i2_s");
  for (std::size_t r = 0; r < rows; ++r)
    if (!k.all_ternary(codes.data() + r * codes.row_stride(), cols))
      return bitnet::pack_i2_s<L>(codes, scale, out);  // throws, naming the first bad code
  k.pack_i2_s(codes.data(), rows, cols, codes.row_stride(), out.data());
  for (std::size_t b = L::code_bytes(rows, cols); b < L::bytes(rows, cols); ++b) out[b] = 0;
  bitnet::detail::write_scale<L>(scale, rows, cols, out);
}

// The table entry that encodes minifloat format F.
template <class F>
struct encode_traits;
template <>
struct encode_traits<fp8_e4m3> {
  static auto fn(const kernel_table& k) noexcept { return k.encode_fp8_e4m3; }
};
template <>
struct encode_traits<fp8_e5m2> {
  static auto fn(const kernel_table& k) noexcept { return k.encode_fp8_e5m2; }
};

// qtl::minifloat_encode (format/minifloat.hpp) for FP8 E4M3 and E5M2 on the table's arch:
// the same codes, checks and errors (all before the first write).
template <minifloat_format F>
  requires requires(const kernel_table& k) { encode_traits<F>::fn(k); }
void minifloat_encode(const kernel_table& k, std::span<const float> x, std::span<std::uint8_t> codes,
                      minifloat_overflow overflow = minifloat_overflow::non_saturating,
                      nonfinite_policy nonfinite = nonfinite_policy::error) {
  if (codes.size() < x.size())
    throw error(errc::shape_mismatch, "kernel::minifloat_encode: " + std::to_string(codes.size()) + " codes for " +
                                          std::to_string(x.size()) + " values");
  if (overflow == minifloat_overflow::error || (nonfinite == nonfinite_policy::error && !k.all_finite(x.data(), x.size())))
    for (std::size_t i = 0; i < x.size(); ++i) {  // the scalar checks, to name the first culprit
      qtl::detail::check_finite(x[i], nonfinite, 0, i, x.size());
      if (overflow == minifloat_overflow::error && std::isfinite(x[i]) && F::overflows(x[i]))
        throw error(errc::out_of_range, qtl::detail::where(0, i, x.size()) + " = " + std::to_string(x[i]) +
                                            " is beyond the format's largest value " + std::to_string(F::max_value()));
    }
  encode_traits<F>::fn(k)(x.data(), codes.data(), x.size(), overflow == minifloat_overflow::saturate);
}

}  // namespace qtl::kernel
