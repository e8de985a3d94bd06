// qtl/cuda/gemv_w2a8.cuh against the CPU's I2_S GEMV (scalar path) on the same ternary
// codes: bit-identical float outputs (the row sums are exact integers and the float step
// is the CPU's), bfloat16 outputs equal to the CPU's floats rounded; plus the whole BitNet
// step (act_quant.cuh then the GEMV) against the CPU quantizer and GEMV.
#include <qtl/cuda/act_quant.cuh>
#include <qtl/cuda/device_buffer.cuh>
#include <qtl/cuda/gemv_w2a8.cuh>

#include <catch2/catch_test_macros.hpp>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda/cpu_reference.hpp"
#include "cuda/cuda_test.cuh"
#include "layout/ternary_cases.hpp"
#include "qtl/core/bfloat16.hpp"
#include "qtl/core/view.hpp"
#include "qtl/layout/bitnet/gpu_w2.hpp"
#include "qtl/layout/bitnet/quantize.hpp"

namespace {

using qtl::cuda::device_buffer;

struct w2a8_case {
  std::vector<std::int8_t> codes;  // rows x cols ternary
  float w_scale;
  std::vector<std::int8_t> a;  // batch x cols
  std::vector<float> a_scales;
};

device_buffer<std::uint8_t> packed_on_device(const std::vector<std::int8_t>& codes, std::size_t rows, std::size_t cols) {
  std::vector<std::uint8_t> packed(qtl::bitnet::gpu_w2::bytes(rows, cols));
  qtl::bitnet::pack_gpu_w2(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), packed);
  return device_buffer<std::uint8_t>(packed);
}

// GPU float and bfloat16 outputs against the CPU's, exactly.
void require_same_as_cpu(const w2a8_case& c, std::size_t rows, std::size_t cols, std::size_t batch) {
  INFO(rows << " x " << cols << ", batch " << batch);
  std::vector<float> expected(batch * rows);
  qtl::test::cpu_gemv_w2a8(c.codes.data(), c.w_scale, rows, cols, c.a.data(), c.a_scales.data(), batch,
                           expected.data());
  const auto w = packed_on_device(c.codes, rows, cols);
  const device_buffer<std::int8_t> a(c.a);
  const device_buffer<float> a_scales(c.a_scales);
  device_buffer<float> y(batch * rows);
  device_buffer<qtl::bfloat16> y16(batch * rows);
  qtl::cuda::gemv_w2a8(w.data(), c.w_scale, rows, cols, a.data(), a_scales.data(), batch, y.data());
  qtl::cuda::gemv_w2a8(w.data(), c.w_scale, rows, cols, a.data(), a_scales.data(), batch, y16.data());
  qtl::cuda::check(cudaDeviceSynchronize(), "gemv_w2a8");
  const std::vector<float> got = y.download();
  const std::vector<qtl::bfloat16> got16 = y16.download();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i << ": GPU " << got[i] << ", CPU " << expected[i]);
    REQUIRE(qtl::test::bits_of(got[i]) == qtl::test::bits_of(expected[i]));
    REQUIRE(got16[i].bits == qtl::bfloat16(expected[i]).bits);
  }
}

w2a8_case random_case(std::size_t rows, std::size_t cols, std::size_t batch, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> scale(0.01f, 100.0f);
  w2a8_case c{qtl::test::random_ternary(rows * cols, seed), scale(gen), qtl::test::random_int8(batch * cols, seed + 1),
              {}};
  for (std::size_t n = 0; n < batch; ++n) c.a_scales.push_back(scale(gen));
  return c;
}

}  // namespace

TEST_CASE("cuda gemv_w2a8: random codes and activations, every batch size, bit-identical to the CPU", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  // One K step, tiles in both directions, BitNet's 2560 and 6912.
  const std::size_t shapes[][2] = {{16, 128}, {48, 256}, {32, 640}, {64, 2560}, {32, 6912}};
  std::uint32_t seed = 7;
  for (const auto& [rows, cols] : shapes)
    for (std::size_t batch = 1; batch <= qtl::cuda::max_batch; ++batch)
      require_same_as_cpu(random_case(rows, cols, batch, seed++), rows, cols, batch);
}

TEST_CASE("cuda gemv_w2a8: extreme sums (all +1 or -1 against 127 and -128)", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  constexpr std::size_t rows = 32, cols = 27648, batch = 2;  // BitNet's longest K
  w2a8_case c{std::vector<std::int8_t>(rows * cols), 0.75f, std::vector<std::int8_t>(batch * cols), {1.0f, 3.0f}};
  for (std::size_t r = 0; r < rows; ++r)  // rows of +1, of -1, and of -1, 0, 1, ...
    for (std::size_t k = 0; k < cols; ++k) {
      const int code = r % 3 == 0 ? 1 : (r % 3 == 1 ? -1 : static_cast<int>(k % 3) - 1);
      c.codes[r * cols + k] = static_cast<std::int8_t>(code);
    }
  for (std::size_t k = 0; k < cols; ++k) {
    c.a[k] = 127;
    c.a[cols + k] = -128;
  }
  require_same_as_cpu(c, rows, cols, batch);
}

TEST_CASE("cuda gemv_w2a8: act_quant then the GEMV equals the CPU's BitNet step", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  constexpr std::size_t rows = 256, cols = 2560, batch = 3;
  const std::vector<float> x = qtl::test::random_normal(batch * cols, 1.5f, 99);
  const std::vector<float> w = qtl::test::random_normal(rows * cols, 0.02f, 98);
  std::vector<std::int8_t> codes(rows * cols);
  const auto ws = qtl::bitnet::quantize_weights(qtl::matrix_view<const float>(w.data(), rows, cols),
                                                qtl::matrix_view<std::int8_t>(codes.data(), rows, cols));
  std::vector<std::int8_t> a(batch * cols);
  std::vector<float> a_scales(batch);
  qtl::bitnet::quantize_activations(qtl::matrix_view<const float>(x.data(), batch, cols),
                                    qtl::matrix_view<std::int8_t>(a.data(), batch, cols), a_scales);
  std::vector<float> expected(batch * rows);
  qtl::test::cpu_gemv_w2a8(codes.data(), ws.scale, rows, cols, a.data(), a_scales.data(), batch, expected.data());

  const device_buffer<float> dx(x);
  device_buffer<std::int8_t> da(batch * cols);
  device_buffer<float> dscales(batch);
  device_buffer<float> y(batch * rows);
  const auto dw = packed_on_device(codes, rows, cols);
  qtl::cuda::quantize_activations(dx.data(), batch, cols, da.data(), dscales.data());
  qtl::cuda::gemv_w2a8(dw.data(), ws.scale, rows, cols, da.data(), dscales.data(), batch, y.data());
  const std::vector<float> got = y.download();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i);
    REQUIRE(qtl::test::bits_of(got[i]) == qtl::test::bits_of(expected[i]));
  }
}

TEST_CASE("cuda gemv_w2a8: bad arguments throw before any CUDA call", "[cuda][args]") {
  alignas(16) static std::uint8_t w[16 * 256 / 4];
  alignas(16) static std::int8_t a[9 * 256];
  float s[9] = {};
  float y[9 * 32] = {};
  using qtl::errc;
  const auto call = [&](std::size_t rows, std::size_t cols, std::size_t batch, const std::uint8_t* wp,
                        const std::int8_t* ap, const float* sp, float* yp) {
    qtl::cuda::gemv_w2a8(wp, 1.0f, rows, cols, ap, sp, batch, yp);
  };
  qtl::test::require_error(errc::shape_mismatch, [&] { call(8, 256, 1, w, a, s, y); });    // rows % 16
  qtl::test::require_error(errc::shape_mismatch, [&] { call(16, 48, 1, w, a, s, y); });    // cols % 32
  qtl::test::require_error(errc::group_size, [&] { call(16, 160, 1, w, a, s, y); });       // cols % 128
  qtl::test::require_error(errc::invalid_argument, [&] { call(0, 256, 1, w, a, s, y); });  // empty
  qtl::test::require_error(errc::shape_mismatch, [&] { call(16, 256, 0, w, a, s, y); });   // batch 0
  qtl::test::require_error(errc::shape_mismatch, [&] { call(16, 256, 9, w, a, s, y); });   // batch 9
  qtl::test::require_error(errc::out_of_range, [&] { call(16, std::size_t{1} << 25, 1, w, a, s, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(16, 256, 1, nullptr, a, s, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(16, 256, 1, w + 2, a, s, y); });  // misaligned
  qtl::test::require_error(errc::invalid_argument, [&] { call(16, 256, 1, w, a + 4, s, y); });  // misaligned
  qtl::test::require_error(errc::invalid_argument, [&] { call(16, 256, 1, w, a, nullptr, y); });
  qtl::test::require_error(errc::invalid_argument, [&] { call(16, 256, 1, w, a, s, nullptr); });
}
