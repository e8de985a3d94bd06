// The CPU scalar paths behind tests/cuda/cpu_reference.hpp: the library's own reference
// kernels (kernel::scalar), not a re-implementation.
#include "cuda/cpu_reference.hpp"

#include <cmath>
#include <span>
#include <vector>

#include "qtl/core/view.hpp"
#include "qtl/format/bnb_fp4.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/kernel/block_dot.hpp"
#include "qtl/kernel/i2_s_dot.hpp"
#include "qtl/kernel/nf4_dot.hpp"
#include "qtl/layout/bitnet/i2_s.hpp"

namespace qtl::test {

void cpu_gemv_w2a8(const std::int8_t* codes, float w_scale, std::size_t rows, std::size_t cols, const std::int8_t* a,
                   const float* a_scales, std::size_t batch, float* y) {
  std::vector<std::uint8_t> packed(bitnet::i2_s::bytes(rows, cols));
  bitnet::pack_i2_s(matrix_view<const std::int8_t>(codes, rows, cols), w_scale, packed);
  kernel::i2_s_gemv_rows<kernel::scalar>(packed.data(), w_scale, rows, cols, a, a_scales, batch, y, 0, rows);
}

void cpu_gemv_w4a8(const ggml::block_q4_0* w, std::size_t rows, std::size_t cols, const ggml::block_q8_0* a,
                   std::size_t batch, float* y, float* magnitude) {
  const std::size_t blocks = cols / 32;
  kernel::gemv_rows<kernel::scalar>(w, rows, blocks, a, batch, y, 0, rows);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < rows; ++r) {
      float m = 0.0f;
      for (std::size_t b = 0; b < blocks; ++b) m += std::fabs(kernel::block_term(w[r * blocks + b], a[n * blocks + b]));
      magnitude[n * rows + r] = m;
    }
}

template <class X>
void gemv_4bit(bool nf4, const std::uint8_t* packed, const float* absmax, std::size_t blocksize, std::size_t rows,
               std::size_t cols, const X* x, std::size_t batch, float* y, float* magnitude) {
  const float* levels = nf4 ? nf4_values.data() : bnb_fp4_values.data();
  kernel::gemv_4bit_rows<kernel::scalar>(packed, absmax, levels, blocksize, rows, cols, x, batch, y, 0, rows);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < rows; ++r) {
      float m = 0.0f;
      for (std::size_t j = 0; j < cols; ++j) {
        const std::size_t e = r * cols + j;
        const float w = levels[kernel::bnb_code(packed, e)] * absmax[e / blocksize];
        m += std::fabs(w * static_cast<float>(x[n * cols + j]));
      }
      magnitude[n * rows + r] = m;
    }
}

void cpu_gemv_4bit(bool nf4, const std::uint8_t* packed, const float* absmax, std::size_t blocksize, std::size_t rows,
                   std::size_t cols, const float* x, std::size_t batch, float* y, float* magnitude) {
  gemv_4bit(nf4, packed, absmax, blocksize, rows, cols, x, batch, y, magnitude);
}
void cpu_gemv_4bit(bool nf4, const std::uint8_t* packed, const float* absmax, std::size_t blocksize, std::size_t rows,
                   std::size_t cols, const bfloat16* x, std::size_t batch, float* y, float* magnitude) {
  gemv_4bit(nf4, packed, absmax, blocksize, rows, cols, x, batch, y, magnitude);
}

}  // namespace qtl::test
