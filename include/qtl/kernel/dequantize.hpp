// Dequantization through a kernel table: the layouts' own dequantizers (ggml blocks,
// BitNet I2_S, bitsandbytes NF4/FP4, FP8 codes) with the same argument checks, run by
// the table's arch. The output is the scalar reference's, bit for bit, on every arch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/format/minifloat.hpp"
#include "qtl/kernel/kernel_table.hpp"
#include "qtl/layout/bitnet/i2_s.hpp"
#include "qtl/layout/bitsandbytes.hpp"
#include "qtl/layout/ggml/row.hpp"

namespace qtl::kernel {

// The table entry of each block type with a dequantize kernel.
template <class B>
struct dequantize_traits;
template <>
struct dequantize_traits<ggml::block_q8_0> {
  static auto fn(const kernel_table& k) noexcept { return k.dequantize_q8_0; }
};
template <>
struct dequantize_traits<ggml::block_q4_0> {
  static auto fn(const kernel_table& k) noexcept { return k.dequantize_q4_0; }
};
template <>
struct dequantize_traits<ggml::block_q4_1> {
  static auto fn(const kernel_table& k) noexcept { return k.dequantize_q4_1; }
};
template <>
struct dequantize_traits<ggml::block_iq4_nl> {
  static auto fn(const kernel_table& k) noexcept { return k.dequantize_iq4_nl; }
};
template <>
struct dequantize_traits<ggml::block_tq2_0> {
  static auto fn(const kernel_table& k) noexcept { return k.dequantize_tq2_0; }
};
template <>
struct dequantize_traits<fp8_e4m3> {
  static auto fn(const kernel_table& k) noexcept { return k.dequantize_fp8_e4m3; }
};
template <>
struct dequantize_traits<fp8_e5m2> {
  static auto fn(const kernel_table& k) noexcept { return k.dequantize_fp8_e5m2; }
};

template <class B>
concept dequantizable_block = ggml::block<B> && requires(const kernel_table& k) { dequantize_traits<B>::fn(k); };

// ggml::dequantize: out.size() values (a multiple of the block) from the first blocks of in.
template <dequantizable_block B>
void dequantize(const kernel_table& k, std::span<const B> in, std::span<float> out) {
  const std::size_t blocks = ggml::detail::checked_blocks<B>(out.size(), 0, "kernel::dequantize");
  check_room(in.size(), blocks, "kernel::dequantize", "input", "blocks");
  dequantize_traits<B>::fn(k)(in.data(), blocks, out.data());
}

// bnb::dequantize_4bit into float32: out[i] = level(code i) * absmax[i / blocksize].
inline void dequantize_4bit(const kernel_table& k, std::span<const std::uint8_t> packed, std::span<const float> absmax,
                            bnb::quant_type type, std::int64_t blocksize, std::span<float> out) {
  bnb::detail::check_blocksize(blocksize, "kernel::dequantize_4bit");
  check_room(packed.size(), bnb::packed_4bit_size(out.size()), "kernel::dequantize_4bit", "packed");
  check_room(absmax.size(), bnb::block_count(out.size(), blocksize), "kernel::dequantize_4bit", "absmax", "values");
  const auto fn = type == bnb::quant_type::nf4 ? k.dequantize_nf4 : k.dequantize_fp4;
  fn(packed.data(), absmax.data(), static_cast<std::size_t>(blocksize), out.size(), out.data());
}

// minifloat_decode for the FP8 formats: out[i] = F::decode(codes[i]).
template <minifloat_format F>
  requires requires(const kernel_table& k) { dequantize_traits<F>::fn(k); }
void minifloat_decode(const kernel_table& k, std::span<const std::uint8_t> codes, std::span<float> out) {
  if (out.size() < codes.size())
    throw error(errc::shape_mismatch, "kernel::minifloat_decode: room for " + std::to_string(out.size()) +
                                          " values, " + std::to_string(codes.size()) + " codes");
  dequantize_traits<F>::fn(k)(codes.data(), codes.size(), out.data());
}

// A rows x cols I2_S tensor (bitnet.cpp's x86 layout, bitnet::i2_s) into rows * cols
// floats, code * scale: unpack_i2_s's values times its scale. Throws, writing nothing, on
// a shape that is not whole blocks, a short buffer or output, or a code 3.
inline void dequantize_i2_s(const kernel_table& k, std::span<const std::uint8_t> in, std::size_t rows,
                            std::size_t cols, std::span<float> out) {
  using L = bitnet::i2_s;
  constexpr const char* what = "kernel::dequantize_i2_s";
  L::check_shape(rows, cols, what);
  check_room(in.size(), L::bytes(rows, cols), what);
  if (out.size() < rows * cols)
    throw error(errc::shape_mismatch, std::string(what) + ": output holds " + std::to_string(out.size()) +
                                          " values, need " + std::to_string(rows * cols));
  // A 2-bit field is 3 where both its bits are set: 8 bytes at a time, then the byte.
  const std::size_t code_bytes = L::code_bytes(rows, cols);
  constexpr std::uint64_t low_bits = 0x5555555555555555u;
  for (std::size_t b = 0; b < code_bytes; b += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, in.data() + b, code_bytes - b < 8 ? code_bytes - b : 8);
    if ((word & (word >> 1) & low_bits) == 0) continue;
    for (std::size_t i = b;; ++i)
      if ((in[i] & (in[i] >> 1) & 0x55u) != 0)
        throw error(errc::invalid_argument, std::string(what) + ": byte " + std::to_string(i) + " holds code " +
                                                std::to_string(L::invalid_code) + ", which is not ternary");
  }
  k.dequantize_i2_s(in.data(), rows * cols / L::block, bitnet::i2_s_scale(in, rows, cols), out.data());
}

}  // namespace qtl::kernel
