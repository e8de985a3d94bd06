// Float activations into the int8 blocks the GEMV kernels take (ggml's Q8_0, Q8_1 and
// Q8_K blocks, BitNet's per-token int8 codes) and weights into ggml's Q4_0, Q4_1, TQ2_0
// and bitsandbytes' NF4 / FP4. One shape for all: a row of blocks (or a
// token) is quantized block by block; only the block's step is per arch. The primary
// templates below are the scalar reference (layout/ggml/, layout/bitnet/quantize.hpp,
// layout/bitsandbytes.hpp);
// simd_block_quantize.hpp specializes them for the xsimd archs, byte for byte equal.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "qtl/format/minifloat.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/layout/bitnet/quantize.hpp"
#include "qtl/layout/bitsandbytes.hpp"
#include "qtl/layout/ggml/iq4_nl.hpp"
#include "qtl/layout/ggml/k_quants.hpp"
#include "qtl/layout/ggml/legacy.hpp"
#include "qtl/layout/ggml/ternary.hpp"

namespace qtl::kernel {

// Strict FP as in the scalar quantizers, so that the steps (same options) inline into the loops.
QTL_STRICT_FP_BEGIN

// One block of B::elements floats into b.
template <class Arch, class B>
struct block_quantize {
  static void run(const float* x, B& b) noexcept { quantize_block(x, b); }
};

// One token of n floats into n int8 codes; returns its multiplier s (x ~= code / s).
template <class Arch>
struct token_quantize {
  static float run(const float* x, std::size_t n, std::int8_t* codes) noexcept {
    float absmax = 0.0f;
    for (std::size_t j = 0; j < n; ++j) absmax = std::fmax(absmax, std::fabs(x[j]));
    const float s = bitnet::activation_scale(absmax);
    for (std::size_t j = 0; j < n; ++j) codes[j] = bitnet::quantize_activation(x[j], s);
    return s;
  }
};

// A step that can also take `group` blocks at once (sharing their scales' scalar work).
template <class D, class B>
concept grouped_step = requires(const float* x, B* out) {
  { D::group } -> std::convertible_to<std::size_t>;
  D::run_group(x, out);
};

// Blocks [0, n) of x (n * B::elements floats, finite) into out.
template <class Arch, class B>
void quantize_blocks(const float* x, B* out, std::size_t n) noexcept {
  using D = block_quantize<Arch, B>;
  std::size_t i = 0;
  if constexpr (grouped_step<D, B>)
    for (; i + D::group <= n; i += D::group) D::run_group(x + i * B::elements, out + i);
  for (; i < n; ++i) D::run(x + i * B::elements, out[i]);
}

// rows tokens of cols floats, row_stride apart (finite), into rows x cols codes (row-major,
// cols apart) and one multiplier per token.
template <class Arch>
void quantize_tokens(const float* x, std::size_t rows, std::size_t cols, std::size_t row_stride, std::int8_t* codes,
                     std::size_t codes_stride, float* scales) noexcept {
  for (std::size_t r = 0; r < rows; ++r)
    scales[r] = token_quantize<Arch>::run(x + r * row_stride, cols, codes + r * codes_stride);
}

// Minifloat element codes (FP8 E4M3 / E5M2) of x[0, n): F::encode, saturating or not.
template <class Arch, class F>
struct minifloat_step {
  static void run(const float* x, std::uint8_t* codes, std::size_t n, bool saturate) noexcept {
    const auto overflow = saturate ? minifloat_overflow::saturate : minifloat_overflow::non_saturating;
    for (std::size_t i = 0; i < n; ++i) codes[i] = F::encode(x[i], overflow);
  }
};

template <class Arch, class F>
void encode_minifloat(const float* x, std::uint8_t* codes, std::size_t n, bool saturate) noexcept {
  minifloat_step<Arch, F>::run(x, codes, n, saturate);
}

// ---- bitsandbytes 4-bit (NF4, FP4): the largest magnitude of a block, and `width` values
// (even) into width / 2 packed bytes, the first of a pair in the high nibble, each value
// scaled as bnb::detail::scale_4bit (x * reciprocal in a full block, x / divisor in the
// partial last one) and encoded to its nearest level (Format::encode).
template <class Arch, class Format>
struct quantize_4bit_step {
  static constexpr std::size_t width = 2;
  static float absmax(const float* x, std::size_t n) noexcept {
    return bnb::detail::block_absmax(std::span<const float>(x, n), 0, n);
  }
  static void run(const float* x, float reciprocal, float divisor, bool full, std::uint8_t* packed) noexcept {
    const auto code = [&](float v) { return Format::encode(bnb::detail::scale_4bit(v, reciprocal, divisor, full)); };
    packed[0] = static_cast<std::uint8_t>(code(x[0]) << 4 | code(x[1]));
  }
};

// bnb::quantize_4bit of x[0, n) (finite) in blocks of blocksize (> 0): packed_4bit_size(n)
// bytes and block_count(n, blocksize) absmax values, the partial last block storing its
// clamped absmax. A piece shorter than a step, or starting on a low nibble (an odd block
// size), goes through the same step on a zero-padded copy; its nibbles are merged in.
template <class Arch, class Format>
void quantize_4bit_values(const float* x, std::size_t n, std::size_t blocksize, std::uint8_t* packed,
                          float* absmax) noexcept {
  using S = quantize_4bit_step<Arch, Format>;
  constexpr float smallest = 1e-38f;  // bnb's absmax.clamp(min=1e-38)
  const std::size_t full_end = n - n % blocksize;
  const auto put = [packed](std::size_t i, unsigned code) {  // the high nibble comes first
    std::uint8_t& byte = packed[i / 2];
    byte = static_cast<std::uint8_t>(i % 2 == 0 ? code << 4 : (byte & 0xF0u) | code);
  };
  for (std::size_t begin = 0, b = 0; begin < n; begin += blocksize, ++b) {
    const std::size_t end = std::min(begin + blocksize, n);
    const bool full = end <= full_end;
    const float amax = S::absmax(x + begin, end - begin);
    const float divisor = amax > smallest ? amax : smallest;
    absmax[b] = full ? amax : divisor;
    const float reciprocal = 1.0f / divisor;
    std::size_t i = begin;
    while (i < end) {
      if (i % 2 == 0 && end - i >= S::width) {
        S::run(x + i, reciprocal, divisor, full, packed + i / 2);
        i += S::width;
        continue;
      }
      const std::size_t at = i % 2, count = at != 0 ? 1 : end - i;  // x[i] sits at copy[at]
      float copy[S::width] = {};
      std::uint8_t bytes[S::width / 2];
      std::memcpy(copy + at, x + i, count * sizeof(float));
      S::run(copy, reciprocal, divisor, full, bytes);
      for (std::size_t k = at; k < at + count; ++k)
        put(i - at + k, k % 2 == 0 ? bytes[k / 2] >> 4 : bytes[k / 2] & 0x0Fu);
      i += count;
    }
  }
  if (n % 2 != 0) put(n, Format::encode(0.0f));  // bnb pads with the code of 0
}

QTL_STRICT_FP_END

// Whether x[0, n) holds only finite values (the checked entry points' fast pre-pass).
template <class Arch>
struct finite_scan {
  static bool run(const float* x, std::size_t n) noexcept {
    bool finite = true;
    for (std::size_t j = 0; j < n; ++j) finite = finite && std::isfinite(x[j]);
    return finite;
  }
};

template <class Arch>
bool all_finite(const float* x, std::size_t n) noexcept {
  return finite_scan<Arch>::run(x, n);
}

}  // namespace qtl::kernel
