// y = W x for a weight matrix in bitsandbytes' 4-bit layout (NF4 or FP4, packed codes and
// one float absmax per block: layout/bitsandbytes.hpp) and float or bfloat16 activations,
// dequantized in registers (kernel/nf4_dot.hpp), rows spread by an executor. The GEMV of a
// QLoRA / bnb checkpoint's Linear4bit weight; ggml-block weights go through gemv.hpp.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/error.hpp"
#include "qtl/format/bnb_fp4.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/kernel/gemv.hpp"
#include "qtl/kernel/kernel_table.hpp"
#include "qtl/kernel/executor.hpp"
#include "qtl/layout/bitsandbytes.hpp"

namespace qtl::kernel {

namespace detail {

template <class X>
void gemv_4bit(const kernel_table& k, bnb::quant_type type, std::span<const std::uint8_t> packed,
               std::span<const float> absmax, std::int64_t blocksize, std::size_t rows, std::size_t cols,
               std::span<const X> x, std::span<float> y, const executor& run) {
  if (blocksize <= 0)
    throw error(errc::invalid_argument, "gemv_4bit: block size " + std::to_string(blocksize) + " is not positive");
  const auto bs = static_cast<std::size_t>(blocksize);
  if (cols % bs != 0)
    throw error(errc::group_size, "gemv_4bit: block size " + std::to_string(blocksize) +
                                      " does not divide the rows of " + std::to_string(cols) +
                                      " values (blocks must not straddle rows)");
  const std::size_t n = rows * cols;
  if (packed.size() < bnb::packed_4bit_size(n))
    throw error(errc::shape_mismatch, "gemv_4bit: " + std::to_string(packed.size()) + " packed bytes for a " +
                                          std::to_string(rows) + " x " + std::to_string(cols) + " matrix, need " +
                                          std::to_string(bnb::packed_4bit_size(n)));
  if (absmax.size() < n / bs)
    throw error(errc::shape_mismatch, "gemv_4bit: " + std::to_string(absmax.size()) + " absmax values for " +
                                          std::to_string(n / bs) + " blocks");
  const std::size_t batch = detail::checked_batch("gemv_4bit", rows, cols, x.size(), y.size());
  if ((n != 0 && (packed.data() == nullptr || absmax.data() == nullptr)) || x.data() == nullptr ||
      (rows != 0 && y.data() == nullptr))
    throw error(errc::invalid_argument, "gemv_4bit: null data pointer");
  const gemv_4bit_fn<X> fn = [&] {
    if constexpr (std::same_as<X, float>) return k.gemv_4bit_f32;
    else return k.gemv_4bit_bf16;
  }();
  if (fn == nullptr)
    throw error(errc::unsupported, "gemv_4bit: the kernel table (arch " + std::string(arch_name(k.arch)) +
                                       ") has no 4-bit GEMV entry");
  const float* levels = type == bnb::quant_type::nf4 ? nf4_values.data() : bnb_fp4_values.data();
  run(rows, [&](std::size_t begin, std::size_t end) {
    fn(packed.data(), absmax.data(), levels, bs, rows, cols, x.data(), batch, y.data(), begin, end);
  });
}

}  // namespace detail

// packed: bnb::packed_4bit_size(rows * cols) bytes of codes of the row-major rows x cols
// matrix, in bnb's order (bnb::quantize_4bit, or a checkpoint's weight bytes); absmax: one
// plain float per block of blocksize values, blocksize dividing cols. A double-quantized
// state (compress_statistics) restores them first: bnb::decompress_statistics(*state.nested,
// absmax). x: batch x cols activations (batch 1..max_gemv_batch); y: batch x rows.
// y[n][r] = sum_j (level(code) * absmax) * x[n][j]. Throws (before any work) on a block
// size that is not positive or does not divide cols, on sizes that do not fit, on null
// data and on a table without the entry.
inline void gemv_4bit(const kernel_table& k, bnb::quant_type type, std::span<const std::uint8_t> packed,
                      std::span<const float> absmax, std::int64_t blocksize, std::size_t rows, std::size_t cols,
                      std::span<const float> x, std::span<float> y, const executor& run = {}) {
  detail::gemv_4bit(k, type, packed, absmax, blocksize, rows, cols, x, y, run);
}

// The same with bfloat16 activations (widened to float in registers).
inline void gemv_4bit(const kernel_table& k, bnb::quant_type type, std::span<const std::uint8_t> packed,
                      std::span<const float> absmax, std::int64_t blocksize, std::size_t rows, std::size_t cols,
                      std::span<const bfloat16> x, std::span<float> y, const executor& run = {}) {
  detail::gemv_4bit(k, type, packed, absmax, blocksize, rows, cols, x, y, run);
}

}  // namespace qtl::kernel
