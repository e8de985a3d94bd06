// What each thread of cuda/act_quant.cuh computes, for the device and the host: one thread
// block per token, thread t of T taking columns t, t + T, ... of the row. The block's max
// of the threads' maxima (exact in any order) gives the scale, the CPU quantizer's own
// functions (layout/bitnet/quantize.hpp) give the scale and the codes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/lanes/ops.hpp"
#include "qtl/layout/bitnet/quantize.hpp"

namespace qtl::cuda::lanes {

inline launch_shape act_quant_launch(std::size_t tokens, unsigned threads) noexcept { return {tokens, threads, 1}; }

// Thread t's max |x| over its columns of the row.
template <class T>
QTL_HOST_DEVICE float act_quant_thread_absmax(const T* row, std::size_t cols, unsigned t, unsigned threads) noexcept {
  float absmax = 0.0f;
  for (std::size_t c = t; c < cols; c += threads) absmax = max_abs(absmax, to_float(row[c]));
  return absmax;
}

// Thread t's codes of the row with the token's multiplier s.
template <class T>
QTL_HOST_DEVICE void act_quant_thread_codes(const T* row, std::size_t cols, unsigned t, unsigned threads, float s,
                                            std::int8_t* out) noexcept {
  for (std::size_t c = t; c < cols; c += threads) out[c] = bitnet::quantize_activation(to_float(row[c]), s);
}

}  // namespace qtl::cuda::lanes
