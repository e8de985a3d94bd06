// What each thread of cuda/gemv_nf4.cuh computes, for the device and the host. One warp
// per row of bitsandbytes' 4-bit layout; lane l takes values 8 (l + 32 i) .. + 7 of it: one
// 32-bit word of codes (4 bytes, 8 codes, the even value of each pair in the high nibble),
// all in one absmax block because 8 divides the block size. Each weight is level(code) *
// absmax rounded to float, as bnb's dequantize and the CPU GEMV (kernel/nf4_dot.hpp); the
// lane sums its products with FMAs in order, and the warp adds the lanes' sums in a
// butterfly (offsets 16, 8, 4, 2, 1).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/lanes/ops.hpp"

namespace qtl::cuda::lanes {

inline launch_shape gemv_4bit_launch(std::size_t rows) noexcept {
  return {ceil_div(rows, gemv_rows_per_block), 32, static_cast<unsigned>(gemv_rows_per_block)};
}

// Values j..j + 7 of an activation row (16-byte aligned) as floats: float, or 16-bit
// bfloat16 whose float is its bits << 16.
template <class X>
QTL_HOST_DEVICE void load_8(const X* x, float (&v)[nf4_step]) noexcept {
  if constexpr (std::same_as<X, float>) {
    const words4 a = load_words4(x), b = load_words4(x + 4);
    QTL_CUDA_UNROLL
    for (int i = 0; i < 4; ++i) v[i] = float_from_bits(a.w[i]), v[4 + i] = float_from_bits(b.w[i]);
  } else {
    static_assert(sizeof(X) == 2, "bfloat16 activations");
    const words4 u = load_words4(x);
    QTL_CUDA_UNROLL
    for (int i = 0; i < 4; ++i) {
      v[2 * i] = float_from_bits(u.w[i] << 16);
      v[2 * i + 1] = float_from_bits(u.w[i] & 0xFFFF0000u);
    }
  }
}

// Lane `lane`'s sums for row r with each of the Batch activation rows; levels: the
// format's 16 values.
template <int Batch, class X>
QTL_HOST_DEVICE void nf4_lane_sums(const float* levels, const std::uint8_t* packed, const float* absmax,
                                   std::size_t blocksize, std::size_t cols, const X* x, std::size_t r, unsigned lane,
                                   float (&acc)[Batch]) noexcept {
  const std::size_t steps = cols / nf4_step;
  const std::size_t first = r * cols;  // the row's first element of the flattened matrix
  QTL_CUDA_UNROLL
  for (int n = 0; n < Batch; ++n) acc[n] = 0.0f;
  for (std::size_t s = lane; s < steps; s += 32) {
    const std::size_t j = s * nf4_step;
    const auto codes = load<std::uint32_t>(packed + (first + j) / 2);
    const float scale = absmax[(first + j) / blocksize];
    float wv[nf4_step];
    QTL_CUDA_UNROLL
    for (int e = 0; e < static_cast<int>(nf4_step); ++e) {
      const int code = static_cast<int>(codes >> (8 * (e / 2) + (e % 2 == 0 ? 4 : 0))) & 0x0F;
      wv[e] = mul_rn(levels[code], scale);  // bnb's dequantized weight, rounded on its own
    }
    QTL_CUDA_UNROLL
    for (int n = 0; n < Batch; ++n) {
      float xv[nf4_step];
      load_8(x + static_cast<std::size_t>(n) * cols + j, xv);
      QTL_CUDA_UNROLL
      for (int e = 0; e < static_cast<int>(nf4_step); ++e) acc[n] = fma_rn(wv[e], xv[e], acc[n]);
    }
  }
}

}  // namespace qtl::cuda::lanes
