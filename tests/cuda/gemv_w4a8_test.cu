// qtl/cuda/gemv_w4a8.cuh against the CPU's Q4_0 x Q8_0 GEMV (scalar path): each block's
// term is the CPU's to the bit, only the summation order differs, so every output lies
// within (2 * blocks + 8) * 2^-24 * sum |term| of the CPU's (bfloat16 outputs: plus their
// own rounding, 2^-8 relative).
#include <qtl/cuda/device_buffer.cuh>
#include <qtl/cuda/gemv_w4a8.cuh>

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstddef>
#include <vector>

#include "cuda/cpu_reference.hpp"
#include "cuda/cuda_test.cuh"
#include "qtl/core/bfloat16.hpp"
#include "qtl/layout/ggml/legacy.hpp"

namespace {

using qtl::cuda::device_buffer;
using qtl::ggml::block_q4_0;
using qtl::ggml::block_q8_0;

template <class B>
std::vector<B> quantize_blocks(const std::vector<float>& x) {
  std::vector<B> blocks(x.size() / 32);
  for (std::size_t b = 0; b < blocks.size(); ++b) qtl::ggml::quantize_block(x.data() + 32 * b, blocks[b]);
  return blocks;
}

void require_close_to_cpu(const std::vector<float>& wf, const std::vector<float>& xf, std::size_t rows,
                          std::size_t cols, std::size_t batch) {
  INFO(rows << " x " << cols << ", batch " << batch);
  const auto w = quantize_blocks<block_q4_0>(wf);
  const auto a = quantize_blocks<block_q8_0>(xf);
  std::vector<float> expected(batch * rows), magnitude(batch * rows);
  qtl::test::cpu_gemv_w4a8(w.data(), rows, cols, a.data(), batch, expected.data(), magnitude.data());
  const device_buffer<block_q4_0> dw(w);
  const device_buffer<block_q8_0> da(a);
  device_buffer<float> y(batch * rows);
  device_buffer<qtl::bfloat16> y16(batch * rows);
  qtl::cuda::gemv_w4a8(dw.data(), rows, cols, da.data(), batch, y.data());
  qtl::cuda::gemv_w4a8(dw.data(), rows, cols, da.data(), batch, y16.data());
  qtl::cuda::check(cudaDeviceSynchronize(), "gemv_w4a8");
  const std::vector<float> got = y.download();
  const std::vector<qtl::bfloat16> got16 = y16.download();
  const float terms = static_cast<float>(cols / 32);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const float bound = (2.0f * terms + 8.0f) * 0x1p-24f * magnitude[i];
    INFO("output " << i << ": GPU " << got[i] << ", CPU " << expected[i] << ", bound " << bound);
    REQUIRE(std::fabs(got[i] - expected[i]) <= bound);
    REQUIRE(std::fabs(static_cast<float>(got16[i]) - expected[i]) <= bound + 0x1p-8f * (std::fabs(expected[i]) + bound));
  }
}

}  // namespace

TEST_CASE("cuda gemv_w4a8: random blocks, every batch size, within the summation bound of the CPU", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  // One block; a block count that 8 does not divide; rows that 4 does not divide; 2560, 4096.
  const std::size_t shapes[][2] = {{1, 32}, {5, 64}, {7, 288}, {64, 2560}, {33, 4096}};
  std::uint32_t seed = 3;
  for (const auto& [rows, cols] : shapes)
    for (std::size_t batch = 1; batch <= qtl::cuda::max_batch; ++batch)
      require_close_to_cpu(qtl::test::random_normal(rows * cols, 0.05f, seed), qtl::test::random_normal(batch * cols, 2.0f, seed + 1),
                           rows, cols, batch);
}

TEST_CASE("cuda gemv_w4a8: edge blocks (all zero, one value, extremes)", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  constexpr std::size_t rows = 4, cols = 256, batch = 2;
  std::vector<float> w(rows * cols, 0.0f), x(batch * cols, 0.0f);  // row 0: all zero
  for (std::size_t k = 0; k < cols; ++k) {
    w[1 * cols + k] = k == 77 ? -3.0f : 0.0f;                    // one weight: code 0 (d = 3 / 8)
    w[2 * cols + k] = k % 2 ? 60000.0f : -60000.0f;              // codes 0 and 15 near half's max scale
    w[3 * cols + k] = static_cast<float>(k % 16) - 8.0f;         // every code
    x[k] = k % 3 ? 1000.0f : -1000.0f;                           // codes +-127
    x[cols + k] = static_cast<float>(k % 32) / 31.0f - 0.5f;
  }
  require_close_to_cpu(w, x, rows, cols, batch);
}

TEST_CASE("cuda gemv_w4a8: bad arguments throw before any CUDA call", "[cuda][args]") {
  static block_q4_0 w[4 * 8];
  static block_q8_0 a[9 * 8];
  float y[9 * 4] = {};
  using qtl::errc;
  const auto call = [&](std::size_t rows, std::size_t cols, std::size_t batch, const block_q4_0* wp,
                        const block_q8_0* ap, float* yp) { qtl::cuda::gemv_w4a8(wp, rows, cols, ap, batch, yp); };
  qtl::test::require_error(errc::group_size, [&] { call(4, 48, 1, w, a, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(4, 0, 1, w, a, y); });
  qtl::test::require_error(errc::shape_mismatch, [&] { call(4, 256, 0, w, a, y); });
  qtl::test::require_error(errc::shape_mismatch, [&] { call(4, 256, 9, w, a, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(4, 256, 1, nullptr, a, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(4, 256, 1, w, nullptr, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(4, 256, 1, w, a, nullptr); });
}
