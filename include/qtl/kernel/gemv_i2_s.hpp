// y = W a for a BitNet I2_S weight tensor (its bytes as bitnet.cpp's x86 build stores
// them: codes, then the scale in a 32-byte tail) and int8 activations with one multiplier
// per token (bitnet::quantize_activations), rows spread by an executor (kernel/executor.hpp).
// The GEMV of BitNet checkpoints; ggml-block weights go through gemv.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "qtl/core/error.hpp"
#include "qtl/kernel/gemv.hpp"
#include "qtl/kernel/kernel_table.hpp"
#include "qtl/kernel/executor.hpp"
#include "qtl/layout/bitnet/i2_s.hpp"

namespace qtl::kernel {

// w: bitnet::i2_s::bytes(rows, cols); a: batch x cols codes (batch <= max_gemv_batch) and
// a_scales their batch multipliers; y: batch x rows. Throws (before any work) on sizes
// that do not fit.
inline void gemv_i2_s(const kernel_table& k, std::span<const std::uint8_t> w, std::size_t rows, std::size_t cols,
                      std::span<const std::int8_t> a, std::span<const float> a_scales, std::span<float> y,
                      const executor& run = {}) {
  bitnet::i2_s::check_shape(rows, cols, "gemv_i2_s");
  const float w_scale = bitnet::i2_s_scale(w, rows, cols);
  const std::size_t batch = detail::checked_batch("gemv_i2_s", rows, cols, a.size(), y.size());
  check_room(a_scales.size(), batch, "gemv_i2_s", "activation scales", "values");
  run(rows, [&](std::size_t begin, std::size_t end) {
    k.gemv_i2_s(w.data(), w_scale, rows, cols, a.data(), a_scales.data(), batch, y.data(), begin, end);
  });
}

}  // namespace qtl::kernel
