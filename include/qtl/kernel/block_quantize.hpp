// Float activations into the int8 blocks the GEMV kernels take (ggml's Q8_0, Q8_1 and
// Q8_K blocks, BitNet's per-token int8 codes) and weights into ggml's Q4_0, Q4_1, TQ2_0. One shape for all: a row of blocks (or a
// token) is quantized block by block; only the block's step is per arch. The primary
// templates below are the scalar reference (layout/ggml/, layout/bitnet/quantize.hpp);
// simd_block_quantize.hpp specializes them for the xsimd archs, byte for byte equal.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "qtl/format/minifloat.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/layout/bitnet/quantize.hpp"
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
