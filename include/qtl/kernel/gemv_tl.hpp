// y = W a for BitNet ternary weights in qtl's TL layout (layout/bitnet/tl.hpp) and int8
// activations with one multiplier per token (bitnet::quantize_activations), by table
// lookup (kernel/tl_dot.hpp): each token's tables are built once, then tiles of rows are
// spread by an executor (kernel/executor.hpp). The same y, bit for bit, as gemv_i2_s on the same codes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/kernel/gemv.hpp"
#include "qtl/kernel/kernel_table.hpp"
#include "qtl/kernel/executor.hpp"
#include "qtl/kernel/tl_dot.hpp"
#include "qtl/layout/bitnet/tl.hpp"

namespace qtl::kernel {

// w: bitnet::tl::bytes(rows, cols); a: batch x cols codes (batch <= max_gemv_batch) and
// a_scales their batch multipliers; y: batch x rows. Throws (before any work) on sizes
// that do not fit.
inline void gemv_tl(const kernel_table& k, std::span<const std::uint8_t> w, std::size_t rows, std::size_t cols,
                    std::span<const std::int8_t> a, std::span<const float> a_scales, std::span<float> y,
                    const executor& run = {}) {
  bitnet::tl::check_shape(rows, cols, "gemv_tl");
  const float w_scale = bitnet::tl_scale(w, rows, cols);
  const std::size_t batch = detail::checked_batch("gemv_tl", rows, cols, a.size(), y.size());
  check_room(a_scales.size(), batch, "gemv_tl", "activation scales", "values");
  const std::size_t lut_bytes = tl_lut_bytes(cols);
  std::vector<std::uint8_t> lut(batch * lut_bytes);
  for (std::size_t n = 0; n < batch; ++n) tl_lut(a.data() + n * cols, cols, lut.data() + n * lut_bytes);
  // Whole tiles per thread: a tile split between two threads would be computed twice.
  const std::size_t tiles = bitnet::tl::padded_rows(rows) / bitnet::tl::tile_rows;
  run(tiles, [&](std::size_t begin, std::size_t end) {
    k.gemv_tl(w.data(), w_scale, rows, cols, lut.data(), a_scales.data(), batch, y.data(),
              begin * bitnet::tl::tile_rows, std::min(rows, end * bitnet::tl::tile_rows));
  });
}

}  // namespace qtl::kernel
