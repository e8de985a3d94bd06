// ggml's legacy 4/5-bit blocks quantized with importance weights, as llama-quantize's
// --imatrix path (ggml-quants.c, quantize_row_q4_0_impl ... quantize_row_q5_1_impl): value
// j weighs importance_j * sqrt(sigma2 + x_j^2), sigma2 the mean square of the whole row;
// Q4_0 and Q5_0 take the weighted symmetric search (make_qx_quants), Q4_1 and Q5_1 the
// weighted affine one (make_qkx3_quants). Every float operation in ggml's order.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/core/half.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/k_search.hpp"
#include "qtl/layout/ggml/legacy.hpp"
#include "qtl/layout/ggml/row.hpp"

namespace qtl::ggml {

QTL_STRICT_FP_BEGIN

template <class B>
concept legacy_block =
    std::same_as<B, block_q4_0> || std::same_as<B, block_q4_1> || std::same_as<B, block_q5_0> ||
    std::same_as<B, block_q5_1>;

// One block of a row whose mean square is row_mean_square (ggml::row_mean_square, row.hpp).
template <legacy_block B>
void quantize_block(const float* x, B& b, const float* importance, float row_mean_square) noexcept {
  constexpr int bits = detail::code_bits<B>;
  float weight[32];
  for (std::size_t j = 0; j < 32; ++j) weight[j] = importance[j] * std::sqrt(row_mean_square + x[j] * x[j]);
  std::uint8_t codes[32];
  if constexpr (detail::has_min<B>) {
    float neg_min = 0;
    const float d = detail::search_scale_min(x, weight, 32, (1 << bits) - 1, detail::weighted_k_search, codes, neg_min);
    b.d = float_to_half_bits(d);
    b.m = float_to_half_bits(-neg_min);
  } else {
    std::int8_t signed_codes[32];  // stored + 2^(bits-1): 0..2^bits - 1
    b.d = float_to_half_bits(detail::search_scale_symmetric(x, 32, 1 << (bits - 1), signed_codes, weight));
    for (std::size_t j = 0; j < 32; ++j) codes[j] = static_cast<std::uint8_t>(signed_codes[j]);
  }
  detail::pack_nibbles(codes, b.qs);
  if constexpr (bits == 5) detail::pack_high_bits(codes, b.qh);
}

QTL_STRICT_FP_END

}  // namespace qtl::ggml
