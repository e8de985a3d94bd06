// Dequantization (codes -> float32) of the interchange layouts, the shape every arch
// shares: walk the blocks, or the runs of values that share one scale, and call a step.
// The primary step templates here are the scalar reference (the layout/ and format/
// decoders); x86/dequantize.hpp and arm/dequantize.hpp specialize them. Every value is
// one product (level * scale; Q4_1 a product, then a sum), so each arch's bits are the
// reference's; tails run the arch's own step on a zero-padded copy.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qtl/format/bnb_fp4.hpp"
#include "qtl/format/minifloat.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/layout/bitnet/i2_s.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/iq4_nl.hpp"
#include "qtl/layout/ggml/legacy.hpp"
#include "qtl/layout/ggml/ternary.hpp"

namespace qtl::kernel {

// ---- ggml blocks: one block per step (the layout's dequantize_block).
template <class Arch, class B>
struct dequantize_block_step {
  static void run(const B& b, float* y) noexcept { ggml::dequantize_block(b, y); }
};

template <class Arch, class B>
void dequantize_blocks(const B* in, std::size_t blocks, float* out) noexcept {
  for (std::size_t i = 0; i < blocks; ++i) dequantize_block_step<Arch, B>::run(in[i], out + i * B::elements);
}

// ---- BitNet I2_S (x86 file layout, blocks of 128): code - 1 times the tensor's scale.
template <class Arch>
struct i2_s_block_step {
  static void run(const std::uint8_t* bytes, float scale, float* y) noexcept {
    using L = bitnet::i2_s;
    for (std::size_t j = 0; j < L::block; ++j)
      y[j] = static_cast<float>(L::decode(static_cast<std::uint8_t>((bytes[L::byte_of(j)] >> L::shift_of(j)) & 3u))) * scale;
  }
};

// blocks: whole I2_S blocks (rows * cols / 128; a row is whole blocks, so rows run on).
template <class Arch>
void dequantize_i2_s_blocks(const std::uint8_t* codes, std::size_t blocks, float scale, float* out) noexcept {
  for (std::size_t i = 0; i < blocks; ++i)
    i2_s_block_step<Arch>::run(codes + i * bitnet::i2_s::block_bytes, scale, out + i * bitnet::i2_s::block);
}

// A bitsandbytes 4-bit format's 16 levels, for the steps that look codes up in registers.
template <class Format>
constexpr const std::array<float, 16>& levels_of() noexcept {
  if constexpr (std::same_as<Format, nf4>) return nf4_values;
  else return bnb_fp4_values;
}

// ---- bitsandbytes 4-bit (NF4, FP4): `width` values (even) from width / 2 packed bytes,
// the first value of a byte in its high nibble, times their block's absmax.
template <class Arch, class Format>
struct dequantize_4bit_step {
  static constexpr std::size_t width = 2;
  static void run(const std::uint8_t* packed, float absmax, float* y) noexcept {
    y[0] = Format::decode(packed[0] >> 4) * absmax;
    y[1] = Format::decode(packed[0] & 0x0F) * absmax;
  }
};

// n values in blocks of blocksize (> 0), the last one possibly partial. A piece that is
// shorter than a step, or starts on a low nibble (an odd block size), is re-packed from
// an even start into a zero-padded copy and goes through the same step.
template <class Arch, class Format>
void dequantize_4bit_values(const std::uint8_t* packed, const float* absmax, std::size_t blocksize, std::size_t n,
                            float* out) noexcept {
  using S = dequantize_4bit_step<Arch, Format>;
  for (std::size_t begin = 0, b = 0; begin < n; begin += blocksize, ++b) {
    const std::size_t end = std::min(begin + blocksize, n);
    std::size_t i = begin;
    while (i < end) {
      if (i % 2 == 0 && end - i >= S::width) {
        S::run(packed + i / 2, absmax[b], out + i);
        i += S::width;
        continue;
      }
      const std::size_t count = i % 2 != 0 ? 1 : end - i;
      std::uint8_t copy[S::width / 2] = {};
      float y[S::width];
      for (std::size_t k = 0; k < count; ++k) {
        const std::uint8_t byte = packed[(i + k) / 2];
        const unsigned code = (i + k) % 2 == 0 ? byte >> 4 : byte & 0x0Fu;
        copy[k / 2] = static_cast<std::uint8_t>(copy[k / 2] | code << (k % 2 == 0 ? 4 : 0));
      }
      S::run(copy, absmax[b], y);
      std::memcpy(out + i, y, count * sizeof(float));
      i += count;
    }
  }
}

// ---- Minifloat codes (FP8 E4M3 / E5M2), one byte each: `width` values per step.
template <class Arch, class F>
struct minifloat_decode_step {
  static constexpr std::size_t width = 1;
  static void run(const std::uint8_t* codes, float* y) noexcept { y[0] = F::decode(codes[0]); }
};

template <class Arch, class F>
void minifloat_decode_values(const std::uint8_t* codes, std::size_t n, float* out) noexcept {
  using S = minifloat_decode_step<Arch, F>;
  std::size_t i = 0;
  for (; i + S::width <= n; i += S::width) S::run(codes + i, out + i);
  if (i < n) {  // the tail through the same step, padded with code 0
    std::uint8_t copy[S::width] = {};
    float y[S::width];
    std::memcpy(copy, codes + i, n - i);
    S::run(copy, y);
    std::memcpy(out + i, y, (n - i) * sizeof(float));
  }
}

}  // namespace qtl::kernel
