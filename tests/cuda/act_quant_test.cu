// qtl/cuda/act_quant.cuh against the CPU quantizer (bitnet::quantize_activations):
// codes and scales bit for bit, for float, half and bfloat16 activations.
#include <qtl/cuda/act_quant.cuh>
#include <qtl/cuda/device_buffer.cuh>

#include <catch2/catch_test_macros.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cuda/cuda_test.cuh"
#include "qtl/core/bfloat16.hpp"
#include "qtl/core/half.hpp"
#include "qtl/core/view.hpp"
#include "qtl/layout/bitnet/quantize.hpp"

namespace {

using qtl::cuda::device_buffer;

// Quantizes x (tokens x cols, as floats) converted to T on the GPU and on the CPU (from
// the same T values widened to float) and requires identical codes and scales.
template <class T, int Threads = 256>
void require_same_as_cpu(const std::vector<float>& xf, std::size_t tokens, std::size_t cols) {
  std::vector<T> x(xf.size());
  std::vector<float> widened(xf.size());
  for (std::size_t i = 0; i < xf.size(); ++i) {
    x[i] = T(xf[i]);
    widened[i] = static_cast<float>(x[i]);
  }
  std::vector<std::int8_t> codes(xf.size());
  std::vector<float> scales(tokens);
  qtl::bitnet::quantize_activations(qtl::matrix_view<const float>(widened.data(), tokens, cols),
                                    qtl::matrix_view<std::int8_t>(codes.data(), tokens, cols), scales);

  const device_buffer<T> dx(x);
  device_buffer<std::int8_t> dcodes(x.size());
  device_buffer<float> dscales(tokens);
  qtl::cuda::quantize_activations<Threads>(dx.data(), tokens, cols, dcodes.data(), dscales.data());
  qtl::cuda::check(cudaDeviceSynchronize(), "quantize_activations");
  REQUIRE(dcodes.download() == codes);
  const std::vector<float> gpu_scales = dscales.download();
  for (std::size_t t = 0; t < tokens; ++t) {
    INFO("token " << t << " of " << tokens << " x " << cols);
    REQUIRE(qtl::test::bits_of(gpu_scales[t]) == qtl::test::bits_of(scales[t]));
  }
}

template <int Threads = 256>
void require_all_types(const std::vector<float>& x, std::size_t tokens, std::size_t cols) {
  require_same_as_cpu<float, Threads>(x, tokens, cols);
  require_same_as_cpu<qtl::half, Threads>(x, tokens, cols);
  require_same_as_cpu<qtl::bfloat16, Threads>(x, tokens, cols);
}

}  // namespace

TEST_CASE("cuda quantize_activations: random rows equal the CPU's codes and scales", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  // Rows shorter than, equal to and longer than a block's threads; BitNet's K sizes.
  const std::size_t shapes[][2] = {{1, 1}, {3, 7}, {2, 255}, {4, 256}, {5, 257}, {8, 2560}, {2, 6912}, {1, 20480}};
  std::uint32_t seed = 1;
  for (const auto& [tokens, cols] : shapes) {
    INFO(tokens << " x " << cols);
    require_all_types(qtl::test::random_normal(tokens * cols, 2.5f, seed++), tokens, cols);
  }
}

TEST_CASE("cuda quantize_activations: block sizes from one warp to 1024 threads agree", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  const std::vector<float> x = qtl::test::random_normal(3 * 3000, 1.0f, 42);
  require_same_as_cpu<float, 32>(x, 3, 3000);
  require_same_as_cpu<qtl::bfloat16, 1024>(x, 3, 3000);
}

TEST_CASE("cuda quantize_activations: edge rows (zeros, below the clamp, ties, extremes)", "[cuda][gpu]") {
  QTL_REQUIRE_CUDA_DEVICE();
  constexpr std::size_t cols = 300;
  std::vector<float> x(5 * cols, 0.0f);  // row 0: all zero (absmax clamps to 1e-5)
  std::vector<float> huge(cols);
  for (std::size_t c = 0; c < cols; ++c) {
    x[1 * cols + c] = (c % 2 ? -1.0f : 1.0f) * 1e-7f * static_cast<float>(c);      // all below 1e-5
    x[2 * cols + c] = static_cast<float>(c % 255) - 127.0f + (c % 3 ? 0.5f : 0.0f);  // absmax 127.5: x.5 ties
    x[3 * cols + c] = c == 150 ? -7.0f : 0.0f;                                       // one value
    x[4 * cols + c] = 2.0f * static_cast<float>(c) / static_cast<float>(cols) - 1.0f;
    huge[c] = (c % 2 ? -3e38f : 1e38f) / static_cast<float>(c + 1);  // near float's max: not for half
  }
  require_all_types(x, 5, cols);
  require_same_as_cpu<float>(huge, 1, cols);
  require_same_as_cpu<qtl::bfloat16>(huge, 1, cols);
}

TEST_CASE("cuda quantize_activations: bad arguments throw before any CUDA call", "[cuda][args]") {
  float x[4] = {};
  std::int8_t codes[4] = {};
  float scales[2] = {};
  using qtl::errc;
  qtl::test::require_error(errc::invalid_argument, [&] { qtl::cuda::quantize_activations(x, 0, 4, codes, scales); });
  qtl::test::require_error(errc::invalid_argument, [&] { qtl::cuda::quantize_activations(x, 1, 0, codes, scales); });
  qtl::test::require_error(errc::invalid_argument,
                           [&] { qtl::cuda::quantize_activations(static_cast<const float*>(nullptr), 1, 4, codes, scales); });
  qtl::test::require_error(errc::invalid_argument, [&] { qtl::cuda::quantize_activations(x, 1, 4, nullptr, scales); });
  qtl::test::require_error(errc::invalid_argument, [&] { qtl::cuda::quantize_activations(x, 1, 4, codes, nullptr); });
  qtl::test::require_error(errc::out_of_range,
                           [&] { qtl::cuda::quantize_activations(x, std::size_t{1} << 32, 1, codes, scales); });
}
