// Rows of ggml blocks: quantize float rows into blocks (typed or raw bytes, as a GGUF
// tensor stores them) and dequantize them back. Every block type of layout/ggml/ plugs
// in through two overloads found by argument-dependent lookup:
//   void quantize_block(const float* x, Block& b);   // x: Block::elements values
//   void dequantize_block(const Block& b, float* y);
// and, for the types llama-quantize feeds an importance matrix, one of
//   void quantize_block(const float* x, Block& b, const float* importance);  // K-quants, IQ4_NL
//   void quantize_block(const float* x, Block& b, const float* importance,
//                       float row_mean_square);                              // Q4_0 ... Q5_1
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "qtl/core/config.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/nonfinite_policy.hpp"
#include "qtl/layout/ggml/blocks.hpp"

namespace qtl::ggml {

template <class B>
concept block = std::is_trivially_copyable_v<B> && std::is_standard_layout_v<B> &&
                requires(const float* x, B& b, const B& cb, float* y) {
                  { B::elements } -> std::convertible_to<std::size_t>;
                  { B::type } -> std::convertible_to<type_id>;
                  { B::name } -> std::convertible_to<std::string_view>;
                  quantize_block(x, b);
                  dequantize_block(cb, y);
                };

template <class B>
concept importance_block =
    block<B> && (requires(const float* x, B& b, const float* w) { quantize_block(x, b, w); } ||
                 requires(const float* x, B& b, const float* w, float s) { quantize_block(x, b, w, s); });

// sigma2 of ggml's legacy *_impl quantizers: the row's sum of squares, in order, over its
// length (the legacy blocks' importance weights need it).
QTL_STRICT_FP_BEGIN
inline float row_mean_square(const float* x, std::size_t n) noexcept {
  float sum = 0;
  for (std::size_t j = 0; j < n; ++j) sum += x[j] * x[j];
  return sum / static_cast<float>(n);
}
QTL_STRICT_FP_END

namespace detail {

template <block B>
std::size_t checked_blocks(std::size_t n, std::size_t row_length, const char* what) {
  const std::size_t row = row_length == 0 ? n : row_length;
  if (row % B::elements != 0 || (row != 0 && n % row != 0))
    throw error(errc::group_size, std::string(what) + ": " + std::string(B::name) + " needs rows that are a multiple of " +
                                      std::to_string(B::elements) + " values; got a row of " + std::to_string(row) +
                                      (n % row ? " in " + std::to_string(n) + " values" : std::string()));
  return n / B::elements;
}

// ggml blocks have no NaN or Inf: refuse them (naming the first) before writing anything.
inline void check_all_finite(std::span<const float> x, std::size_t row_length) {
  const std::size_t cols = row_length == 0 ? x.size() : row_length;
  for (std::size_t i = 0; i < x.size(); ++i)
    qtl::detail::check_finite(x[i], nonfinite_policy::error, i / cols, i % cols, cols);
}

// An importance row (one weight per column, llama-quantize's imatrix entry for the
// tensor) must have the row's length and be finite and >= 0.
inline void check_importance(std::span<const float> importance, std::size_t n, std::size_t row_length) {
  const std::size_t row = row_length == 0 ? n : row_length;
  if (importance.size() != row)
    throw error(errc::shape_mismatch, "ggml::quantize: " + std::to_string(importance.size()) +
                                          " importance weights for rows of " + std::to_string(row) + " values");
  for (std::size_t i = 0; i < importance.size(); ++i)
    if (!(importance[i] >= 0.0f) || !std::isfinite(importance[i]))
      throw error(errc::invalid_argument, "ggml::quantize: importance weight " + std::to_string(i) + " is " +
                                              std::to_string(importance[i]) + " (must be finite and >= 0)");
}

// quantize_with's step for importance weights: the block's slice of the importance row
// and, for the types that need it, the row's mean square (taken at each row's first block:
// blocks come in order).
template <importance_block B>
auto importance_step(const float* x, std::span<const float> importance) {
  return [x, importance, mean_square = 0.0f](const float* v, B& b) mutable {
    const std::size_t at = static_cast<std::size_t>(v - x) % importance.size();
    if constexpr (requires(const float* w) { quantize_block(v, b, w); }) {
      quantize_block(v, b, importance.data() + at);
    } else {
      if (at == 0) mean_square = row_mean_square(v, importance.size());
      quantize_block(v, b, importance.data() + at, mean_square);
    }
  };
}

}  // namespace detail

// Bytes of a row of n values (n a multiple of the block size).
template <block B>
std::size_t row_size(std::size_t n) {
  return detail::checked_blocks<B>(n, n, "ggml::row_size") * sizeof(B);
}

// Quantizes x, row-major rows of row_length values (0: one row), with quantize_one
// (default: the block's quantize_block). Sizes and values are checked before any write.
template <block B, class QuantizeOne>
void quantize_with(std::span<const float> x, std::span<B> out, std::size_t row_length, QuantizeOne&& quantize_one) {
  const std::size_t blocks = detail::checked_blocks<B>(x.size(), row_length, "ggml::quantize");
  check_room(out.size(), blocks, "ggml::quantize", "output", "blocks");
  detail::check_all_finite(x, row_length);
  for (std::size_t i = 0; i < blocks; ++i) quantize_one(x.data() + i * B::elements, out[i]);
}

// The same into raw bytes (blocks packed back to back, as in a GGUF tensor).
template <block B, class QuantizeOne>
void quantize_bytes_with(std::span<const float> x, std::span<std::uint8_t> out, std::size_t row_length,
                         QuantizeOne&& quantize_one) {
  const std::size_t blocks = detail::checked_blocks<B>(x.size(), row_length, "ggml::quantize");
  check_room(out.size(), blocks * sizeof(B), "ggml::quantize", "output", "bytes");
  detail::check_all_finite(x, row_length);
  for (std::size_t i = 0; i < blocks; ++i) {
    B b{};
    quantize_one(x.data() + i * B::elements, b);
    std::memcpy(out.data() + i * sizeof(B), &b, sizeof(B));
  }
}

template <block B>
void quantize(std::span<const float> x, std::span<B> out, std::size_t row_length = 0) {
  quantize_with<B>(x, out, row_length, [](const float* v, B& b) { quantize_block(v, b); });
}

template <block B>
void quantize(std::span<const float> x, std::span<std::uint8_t> out, std::size_t row_length = 0) {
  quantize_bytes_with<B>(x, out, row_length, [](const float* v, B& b) { quantize_block(v, b); });
}

// With importance weights: one per column (row_length of them, or x.size() for one row),
// as llama-quantize applies an imatrix (the weighted searches of the K-quants, IQ4_NL and
// Q4_0, Q4_1, Q5_0, Q5_1).
template <importance_block B>
void quantize(std::span<const float> x, std::span<B> out, std::size_t row_length, std::span<const float> importance) {
  detail::check_importance(importance, x.size(), row_length);
  quantize_with<B>(x, out, row_length, detail::importance_step<B>(x.data(), importance));
}

template <importance_block B>
void quantize(std::span<const float> x, std::span<std::uint8_t> out, std::size_t row_length,
              std::span<const float> importance) {
  detail::check_importance(importance, x.size(), row_length);
  quantize_bytes_with<B>(x, out, row_length, detail::importance_step<B>(x.data(), importance));
}

template <block B>
void dequantize(std::span<const B> in, std::span<float> out) {
  const std::size_t blocks = detail::checked_blocks<B>(out.size(), 0, "ggml::dequantize");
  check_room(in.size(), blocks, "ggml::dequantize", "input", "blocks");
  for (std::size_t i = 0; i < blocks; ++i) dequantize_block(in[i], out.data() + i * B::elements);
}

template <block B>
void dequantize(std::span<const std::uint8_t> in, std::span<float> out) {
  const std::size_t blocks = detail::checked_blocks<B>(out.size(), 0, "ggml::dequantize");
  check_room(in.size(), blocks * sizeof(B), "ggml::dequantize", "input", "bytes");
  for (std::size_t i = 0; i < blocks; ++i) {
    B b;
    std::memcpy(&b, in.data() + i * sizeof(B), sizeof(B));
    dequantize_block(b, out.data() + i * B::elements);
  }
}

}  // namespace qtl::ggml
