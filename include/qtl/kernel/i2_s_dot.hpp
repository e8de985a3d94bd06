// BitNet b1.58 GEMV over I2_S weights as bitnet.cpp's x86 build packs them
// (layout/bitnet/i2_s.hpp, blocks of 128 values in 32 bytes) and int8 activations, one
// float multiplier per token (bitnet/quantize.hpp): y = float(isum) / a_scale * w_scale,
// isum = sum_j (code_j - 1) a_j. Not ggml blocks: one dot runs over a row's raw bytes.
// Only the row's integer dot is per arch: the primary template below is the scalar
// reference; x86/i2_s_dot.hpp and arm/i2_s_dot.hpp specialize it. Integer sums are
// exact and the float step is shared, so every arch gives the same bits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qtl/kernel/arch.hpp"
#include "qtl/layout/bitnet/i2_s.hpp"

namespace qtl::kernel {

// sum_j (code_j - 1) a_j over one row of cols values (a multiple of 128): what every arch
// must reproduce exactly.
inline int i2_s_isum(const std::uint8_t* w, const std::int8_t* a, std::size_t cols) noexcept {
  using layout = bitnet::i2_s;
  int sum = 0;
  for (std::size_t j = 0; j < cols; ++j)
    sum += layout::decode(static_cast<std::uint8_t>((w[layout::byte_of(j)] >> layout::shift_of(j)) & 3)) * a[j];
  return sum;
}

// asum = sum_j a_j of the activation row, for steps that dot the unsigned codes and take
// it off once per row (the scalar path does not need it).
template <class Arch>
struct i2_s_dot {
  static int row(const std::uint8_t* w, const std::int8_t* a, std::size_t cols, int /*asum*/) noexcept {
    return i2_s_isum(w, a, cols);
  }
};

// Rows [begin, end) of y = W a: w the I2_S code bytes of a rows x cols matrix (cols a
// multiple of 128) with scale w_scale; a `batch` int8 activation rows of cols values with
// their multipliers a_scales; y `batch` rows of `rows` values.
template <class Arch>
void i2_s_gemv_rows(const std::uint8_t* w, float w_scale, std::size_t rows, std::size_t cols, const std::int8_t* a,
                    const float* a_scales, std::size_t batch, float* y, std::size_t begin, std::size_t end) noexcept {
  for (std::size_t n = 0; n < batch; ++n) {
    const std::int8_t* an = a + n * cols;
    int asum = 0;
    for (std::size_t j = 0; j < cols; ++j) asum += an[j];
    for (std::size_t r = begin; r < end; ++r) {
      const int isum = i2_s_dot<Arch>::row(w + bitnet::i2_s::byte_index(r, 0, cols), an, cols, asum);
      y[n * rows + r] = static_cast<float>(isum) / a_scales[n] * w_scale;
    }
  }
}

}  // namespace qtl::kernel
