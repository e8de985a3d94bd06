// Quantizing through a kernel table: float activations into ggml's Q8_0, Q8_1 and Q8_K
// blocks (what kernel/gemv.hpp multiplies the weights with) and BitNet's per-token int8
// codes (what kernel/gemv_i2_s.hpp takes); weights into ggml's Q4_0, Q4_1 and TQ2_0, and
// FP8 element codes. Same arguments, checks and bytes as the scalar
// quantizers (ggml::quantize in layout/ggml/row.hpp, bitnet::quantize_activations), on
// the table's arch.
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
#include "qtl/layout/bitnet/quantize.hpp"
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
