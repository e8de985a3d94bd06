// qtl/cuda/gemv_nf4.cuh against the CPU's bnb 4-bit GEMV (scalar path) on the bytes of
// bnb::quantize_4bit: every weight is the CPU's level * absmax to the bit, the products are
// summed in another order (with FMAs), so every output lies within (2 * cols + 8) * 2^-24 *
// sum_j |w_j x_j| of the CPU's (bfloat16 outputs: plus their own rounding, 2^-8 relative).
#include <qtl/cuda/device_buffer.cuh>
#include <qtl/cuda/gemv_nf4.cuh>

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cuda/cpu_reference.hpp"
#include "cuda/cuda_test.cuh"
#include "qtl/core/bfloat16.hpp"
#include "qtl/layout/bitsandbytes.hpp"

namespace {

using qtl::cuda::device_buffer;

template <class Format, class X>
void require_close_to_cpu(const std::vector<float>& wf, const std::vector<float>& xf, std::size_t rows,
                          std::size_t cols, std::size_t blocksize, std::size_t batch) {
  constexpr bool is_nf4 = std::same_as<Format, qtl::nf4>;
  INFO((is_nf4 ? "NF4 " : "FP4 ") << rows << " x " << cols << ", block " << blocksize << ", batch " << batch);
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(wf.size()));
  std::vector<float> absmax(qtl::bnb::block_count(wf.size(), static_cast<std::int64_t>(blocksize)));
  qtl::bnb::quantize_4bit(std::span<const float>(wf), is_nf4 ? qtl::bnb::quant_type::nf4 : qtl::bnb::quant_type::fp4,
                          static_cast<std::int64_t>(blocksize), packed, absmax);
  std::vector<X> x(xf.size());
  for (std::size_t i = 0; i < xf.size(); ++i) x[i] = X(xf[i]);
  std::vector<float> expected(batch * rows), magnitude(batch * rows);
  qtl::test::cpu_gemv_4bit(is_nf4, packed.data(), absmax.data(), blocksize, rows, cols, x.data(), batch,
                           expected.data(), magnitude.data());
  const device_buffer<std::uint8_t> dpacked(packed);
  const device_buffer<float> dabsmax(absmax);
  const device_buffer<X> dx(x);
  device_buffer<float> y(batch * rows);
  device_buffer<qtl::bfloat16> y16(batch * rows);
  const auto bs = static_cast<std::int64_t>(blocksize);
  qtl::cuda::gemv_4bit<Format>(dpacked.data(), dabsmax.data(), bs, rows, cols, dx.data(), batch, y.data());
  qtl::cuda::gemv_4bit<Format>(dpacked.data(), dabsmax.data(), bs, rows, cols, dx.data(), batch, y16.data());
  qtl::cuda::check(cudaDeviceSynchronize(), "gemv_4bit");
  const std::vector<float> got = y.download();
  const std::vector<qtl::bfloat16> got16 = y16.download();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const float bound = (2.0f * static_cast<float>(cols) + 8.0f) * 0x1p-24f * magnitude[i];
    INFO("output " << i << ": GPU " << got[i] << ", CPU " << expected[i] << ", bound " << bound);
    REQUIRE(std::fabs(got[i] - expected[i]) <= bound);
    REQUIRE(std::fabs(static_cast<float>(got16[i]) - expected[i]) <= bound + 0x1p-8f * (std::fabs(expected[i]) + bound));
  }
}

}  // namespace

TEST_CASE("cuda gemv_4bit: NF4 x bfloat16, random, every batch size, within the summation bound", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  // Blocks of 8 (the smallest the kernel takes), bnb's 64 and 128; rows 4 does not divide.
  const std::size_t shapes[][3] = {{3, 8, 8}, {5, 64, 64}, {7, 320, 64}, {64, 2560, 64}, {16, 4096, 128}};
  std::uint32_t seed = 11;
  for (const auto& [rows, cols, blocksize] : shapes)
    for (std::size_t batch = 1; batch <= qtl::cuda::max_batch; ++batch)
      require_close_to_cpu<qtl::nf4, qtl::bfloat16>(qtl::test::random_normal(rows * cols, 0.05f, seed),
                                                    qtl::test::random_normal(batch * cols, 1.0f, seed + 1), rows, cols,
                                                    blocksize, batch);
}

TEST_CASE("cuda gemv_4bit: float activations and the FP4 format", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  const auto w = qtl::test::random_normal(24 * 1024, 0.1f, 5);
  const auto x = qtl::test::random_normal(3 * 1024, 1.0f, 6);
  require_close_to_cpu<qtl::nf4, float>(w, x, 24, 1024, 64, 3);
  require_close_to_cpu<qtl::bnb_fp4, qtl::bfloat16>(w, x, 24, 1024, 128, 3);
  require_close_to_cpu<qtl::bnb_fp4, float>(w, x, 24, 1024, 32, 1);
}

TEST_CASE("cuda gemv_4bit: edge blocks (all zero, one value, every code)", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  constexpr std::size_t rows = 3, cols = 128;
  std::vector<float> w(rows * cols, 0.0f), x(cols);
  for (std::size_t k = 0; k < cols; ++k) {
    w[1 * cols + k] = k == 70 ? -5.0f : 0.0f;
    w[2 * cols + k] = qtl::nf4::decode(static_cast<int>(k % 16)) * 3.0f;  // every level
    x[k] = k % 2 ? 1.0f : -2.0f;
  }
  require_close_to_cpu<qtl::nf4, qtl::bfloat16>(w, x, rows, cols, 64, 1);
}

TEST_CASE("cuda gemv_4bit: bad arguments throw before any CUDA call", "[cuda][args]") {
  alignas(16) static std::uint8_t packed[4 * 256 / 2 + 4];
  static float absmax[64];
  alignas(16) static qtl::bfloat16 x[9 * 256 + 8];
  float y[9 * 4] = {};
  using qtl::errc;
  const auto call = [&](std::size_t cols, std::int64_t bs, std::size_t batch, const std::uint8_t* p, const float* m,
                        const qtl::bfloat16* xp, float* yp) {
    qtl::cuda::gemv_4bit(p, m, bs, 4, cols, xp, batch, yp);
  };
  qtl::test::require_error(errc::group_size, [&] { call(256, 0, 1, packed, absmax, x, y); });
  qtl::test::require_error(errc::group_size, [&] { call(256, 12, 1, packed, absmax, x, y); });   // not a multiple of 8
  qtl::test::require_error(errc::group_size, [&] { call(200, 64, 1, packed, absmax, x, y); });   // 64 does not divide 200
  qtl::test::require_error(errc::invalid_argument, [&] { call(0, 64, 1, packed, absmax, x, y); });
  qtl::test::require_error(errc::shape_mismatch, [&] { call(256, 64, 9, packed, absmax, x, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(256, 64, 1, packed + 2, absmax, x, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(256, 64, 1, packed, nullptr, x, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(256, 64, 1, packed, absmax, x + 4, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(256, 64, 1, packed, absmax, x, nullptr); });
}
