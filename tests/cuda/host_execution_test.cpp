// The CUDA kernels' device code executed on the CPU (cuda/host_launch.hpp runs every block
// and thread of each launch through include/qtl/cuda/lanes/, with the cross-lane sums in
// the device's order) against the CPU scalar paths: activation quantization and the W2A8
// GEMV bit for bit; the W4A8 and NF4/FP4 GEMVs, whose float sums run in another order than
// the CPU's, within the summation bound the wrappers document and bit for bit against the
// CPU's own terms (kernel::block_term; bnb's dequantized weights) added in the device's
// order. Shapes the device code accepts: odd row counts, K at its smallest legal multiple,
// batch 1..8. Built with the host compiler in every CI run, under AddressSanitizer in the
// dev build, so a lane that reads out of its buffer fails here without a GPU.
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda/cpu_reference.hpp"
#include "cuda/host_launch.hpp"
#include "layout/ternary_cases.hpp"
#include "qtl/core/bfloat16.hpp"
#include "qtl/core/bit_cast.hpp"
#include "qtl/core/half.hpp"
#include "qtl/core/view.hpp"
#include "qtl/cuda/arguments.hpp"
#include "qtl/format/bnb_fp4.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/kernel/block_dot.hpp"
#include "qtl/layout/bitnet/gpu_w2.hpp"
#include "qtl/layout/bitnet/i2_s.hpp"
#include "qtl/layout/bitnet/quantize.hpp"
#include "qtl/layout/bitsandbytes.hpp"
#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/legacy.hpp"

namespace {

namespace host = qtl::test::host_launch;
namespace lanes = qtl::cuda::lanes;
using qtl::bfloat16;

std::vector<float> random_normal(std::size_t n, float stddev, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

std::vector<std::int8_t> random_int8(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(dist(gen));
  return v;
}

template <class T>
std::vector<T> converted(const std::vector<float>& x) {
  std::vector<T> v;
  for (const float f : x) v.push_back(T(f));
  return v;
}

// The launch covers every row once, in whole warps of at most 1024 threads.
void require_launch(const qtl::cuda::launch_shape& launch, std::size_t rows, std::size_t rows_per_block) {
  const std::size_t threads = static_cast<std::size_t>(launch.threads_x) * launch.threads_y;
  CHECK(threads % 32 == 0);
  CHECK(threads <= 1024);
  CHECK(launch.blocks * rows_per_block >= rows);
  CHECK((launch.blocks - 1) * rows_per_block < rows);
}

template <class T>
void require_act_quant_as_cpu(std::size_t tokens, std::size_t cols, std::uint32_t seed) {
  INFO(tokens << " tokens of " << cols);
  // Values a T holds exactly, so that the CPU quantizer sees what the kernel reads.
  const std::vector<T> x = converted<T>(random_normal(tokens * cols, 3.0f, seed));
  std::vector<float> xf;
  for (const T v : x) xf.push_back(static_cast<float>(v));
  std::vector<std::int8_t> expected(tokens * cols), got(tokens * cols), got32(tokens * cols);
  std::vector<float> expected_scales(tokens), scales(tokens), scales32(tokens);
  qtl::bitnet::quantize_activations(qtl::matrix_view<const float>(xf.data(), tokens, cols),
                                    qtl::matrix_view<std::int8_t>(expected.data(), tokens, cols), expected_scales);
  host::quantize_activations(x.data(), tokens, cols, got.data(), scales.data());
  host::quantize_activations<32>(x.data(), tokens, cols, got32.data(), scales32.data());
  REQUIRE(got == expected);
  REQUIRE(got32 == expected);
  for (std::size_t t = 0; t < tokens; ++t) {
    REQUIRE(qtl::bit_cast<std::uint32_t>(scales[t]) == qtl::bit_cast<std::uint32_t>(expected_scales[t]));
    REQUIRE(qtl::bit_cast<std::uint32_t>(scales32[t]) == qtl::bit_cast<std::uint32_t>(expected_scales[t]));
  }
}

std::vector<std::uint8_t> gpu_w2_bytes(const std::vector<std::int8_t>& codes, std::size_t rows, std::size_t cols) {
  std::vector<std::uint8_t> packed(qtl::bitnet::gpu_w2::bytes(rows, cols));
  qtl::bitnet::pack_gpu_w2(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), packed);
  return packed;
}

// The host run's float and bfloat16 outputs against the CPU's I2_S GEMV, bit for bit.
void require_w2a8_as_cpu(std::size_t rows, std::size_t cols, std::size_t batch, std::uint32_t seed) {
  INFO(rows << " x " << cols << ", batch " << batch);
  const auto codes = qtl::test::random_ternary(rows * cols, seed);
  const auto a = random_int8(batch * cols, seed + 1);
  std::vector<float> a_scales;
  for (std::size_t n = 0; n < batch; ++n) a_scales.push_back(0.5f + static_cast<float>(n) * 1.25f);
  const float w_scale = 0.0371f;
  std::vector<float> expected(batch * rows), got(batch * rows);
  std::vector<bfloat16> got16(batch * rows);
  qtl::test::cpu_gemv_w2a8(codes.data(), w_scale, rows, cols, a.data(), a_scales.data(), batch, expected.data());
  const auto w = gpu_w2_bytes(codes, rows, cols);
  host::gemv_w2a8(w.data(), w_scale, rows, cols, a.data(), a_scales.data(), batch, got.data());
  host::gemv_w2a8(w.data(), w_scale, rows, cols, a.data(), a_scales.data(), batch, got16.data());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i << ": device code " << got[i] << ", CPU " << expected[i]);
    REQUIRE(qtl::bit_cast<std::uint32_t>(got[i]) == qtl::bit_cast<std::uint32_t>(expected[i]));
    REQUIRE(got16[i].bits == bfloat16(expected[i]).bits);
  }
}

template <class B>
std::vector<B> quantize_blocks(const std::vector<float>& x) {
  std::vector<B> blocks(x.size() / 32);
  for (std::size_t b = 0; b < blocks.size(); ++b) qtl::ggml::quantize_block(x.data() + 32 * b, blocks[b]);
  return blocks;
}

// |got - expected| within (2 terms + 8) 2^-24 sum |term|: the two float sums' orders.
void require_within_sum_bound(const std::vector<float>& got, const std::vector<float>& expected,
                              const std::vector<float>& magnitude, std::size_t terms) {
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const float bound = (2.0f * static_cast<float>(terms) + 8.0f) * 0x1p-24f * magnitude[i];
    INFO("output " << i << ": device code " << got[i] << ", CPU " << expected[i] << ", bound " << bound);
    REQUIRE(std::fabs(got[i] - expected[i]) <= bound);
  }
}

// The CPU's block terms (kernel::block_term) summed in the W4A8 kernel's order: lane 4g
// adds the terms of blocks g, g + 8, g + 16, ... in turn, then the warp's butterfly.
std::vector<float> w4a8_in_device_order(const std::vector<qtl::ggml::block_q4_0>& w, std::size_t rows, std::size_t cols,
                                        const std::vector<qtl::ggml::block_q8_0>& a, std::size_t batch) {
  const std::size_t blocks = cols / 32;
  std::vector<float> y(batch * rows);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < rows; ++r) {
      std::vector<float> lane(32, 0.0f);
      for (std::size_t b = 0; b < blocks; ++b)
        lane[4 * (b % 8)] += qtl::kernel::block_term(w[r * blocks + b], a[n * blocks + b]);
      for (unsigned offset = 1; offset <= 16; offset *= 2) host::xor_add(lane, offset);
      y[n * rows + r] = lane[0];
    }
  return y;
}

// bnb's dequantized weights times the activations in the 4-bit kernel's order: lane l
// adds steps l, l + 32, ... of 8 values by FMA, then the butterfly of offsets 16 .. 1.
template <class X>
std::vector<float> gemv_4bit_in_device_order(const std::vector<float>& weights, std::size_t rows, std::size_t cols,
                                             const std::vector<X>& x, std::size_t batch) {
  std::vector<float> y(batch * rows);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < rows; ++r) {
      std::vector<float> lane(32, 0.0f);
      for (std::size_t j = 0; j < cols; ++j)
        lane[(j / 8) % 32] = std::fma(weights[r * cols + j], static_cast<float>(x[n * cols + j]), lane[(j / 8) % 32]);
      for (unsigned offset = 16; offset > 0; offset /= 2) host::xor_add(lane, offset);
      y[n * rows + r] = lane[0];
    }
  return y;
}

void require_same_bits(const std::vector<float>& got, const std::vector<float>& expected) {
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i << ": device code " << got[i] << ", CPU terms in the device's order " << expected[i]);
    REQUIRE(qtl::bit_cast<std::uint32_t>(got[i]) == qtl::bit_cast<std::uint32_t>(expected[i]));
  }
}

void require_w4a8_near_cpu(std::size_t rows, std::size_t cols, std::size_t batch, std::uint32_t seed) {
  INFO(rows << " x " << cols << ", batch " << batch);
  const auto w = quantize_blocks<qtl::ggml::block_q4_0>(random_normal(rows * cols, 0.05f, seed));
  const auto a = quantize_blocks<qtl::ggml::block_q8_0>(random_normal(batch * cols, 2.0f, seed + 1));
  std::vector<float> expected(batch * rows), magnitude(batch * rows), got(batch * rows);
  qtl::test::cpu_gemv_w4a8(w.data(), rows, cols, a.data(), batch, expected.data(), magnitude.data());
  host::gemv_w4a8(w.data(), rows, cols, a.data(), batch, got.data());
  require_within_sum_bound(got, expected, magnitude, cols / 32);
  require_same_bits(got, w4a8_in_device_order(w, rows, cols, a, batch));
}

template <class Format, class X>
void require_4bit_near_cpu(std::size_t rows, std::size_t cols, std::size_t blocksize, std::size_t batch,
                           std::uint32_t seed) {
  constexpr bool is_nf4 = std::is_same_v<Format, qtl::nf4>;
  INFO(rows << " x " << cols << ", block " << blocksize << ", batch " << batch << (is_nf4 ? ", NF4" : ", FP4"));
  const auto wf = random_normal(rows * cols, 0.05f, seed);
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(wf.size()));
  std::vector<float> absmax(qtl::bnb::block_count(wf.size(), static_cast<std::int64_t>(blocksize)));
  qtl::bnb::quantize_4bit(std::span<const float>(wf), is_nf4 ? qtl::bnb::quant_type::nf4 : qtl::bnb::quant_type::fp4,
                          static_cast<std::int64_t>(blocksize), packed, absmax);
  const std::vector<X> x = converted<X>(random_normal(batch * cols, 1.0f, seed + 1));
  std::vector<float> expected(batch * rows), magnitude(batch * rows), got(batch * rows);
  qtl::test::cpu_gemv_4bit(is_nf4, packed.data(), absmax.data(), blocksize, rows, cols, x.data(), batch,
                           expected.data(), magnitude.data());
  host::gemv_4bit<Format>(packed.data(), absmax.data(), static_cast<std::int64_t>(blocksize), rows, cols, x.data(),
                          batch, got.data());
  require_within_sum_bound(got, expected, magnitude, cols);
  std::vector<float> weights(wf.size());
  qtl::bnb::dequantize_4bit(std::span<const std::uint8_t>(packed), std::span<const float>(absmax),
                            is_nf4 ? qtl::bnb::quant_type::nf4 : qtl::bnb::quant_type::fp4,
                            static_cast<std::int64_t>(blocksize), std::span<float>(weights));
  require_same_bits(got, gemv_4bit_in_device_order(weights, rows, cols, x, batch));
}

}  // namespace

TEST_CASE("cuda device code on the host: quantize_activations equals the CPU quantizer bit for bit", "[cuda][host]") {
  // One value; fewer columns than threads; a column count no thread count divides.
  std::uint32_t seed = 1;
  for (const auto& [tokens, cols] : {std::pair<std::size_t, std::size_t>{1, 1}, {3, 100}, {2, 1000}, {5, 2560}}) {
    require_act_quant_as_cpu<float>(tokens, cols, seed++);
    require_act_quant_as_cpu<bfloat16>(tokens, cols, seed++);
    require_act_quant_as_cpu<qtl::half>(tokens, cols, seed++);
  }
}

TEST_CASE("cuda device code on the host: gemv_w2a8 equals the CPU's I2_S GEMV bit for bit", "[cuda][host]") {
  // One tile row and one K step; an odd number of tile rows; BitNet's 2560.
  std::uint32_t seed = 11;
  for (const auto& [rows, cols] : {std::pair<std::size_t, std::size_t>{16, 128}, {48, 256}, {80, 640}, {32, 2560}})
    for (std::size_t batch = 1; batch <= qtl::cuda::max_batch; ++batch) require_w2a8_as_cpu(rows, cols, batch, seed++);
}

TEST_CASE("cuda device code on the host: gemv_w2a8 reading another layout's bytes differs from the CPU", "[cuda][host]") {
  // What the host run is for: I2_S bytes (the CPU layout, same size per row) fed to the GPU
  // W2 kernel, the mistake of a kernel that reads the wrong layout, change the outputs.
  constexpr std::size_t rows = 16, cols = 256;
  const auto codes = qtl::test::random_ternary(rows * cols, 5);
  const auto a = random_int8(cols, 6);
  const float a_scale = 1.0f, w_scale = 1.0f;
  std::vector<float> expected(rows), from_gpu_w2(rows), from_i2_s(rows);
  qtl::test::cpu_gemv_w2a8(codes.data(), w_scale, rows, cols, a.data(), &a_scale, 1, expected.data());
  const auto w = gpu_w2_bytes(codes, rows, cols);
  std::vector<std::uint8_t> i2_s(qtl::bitnet::i2_s::bytes(rows, cols));
  qtl::bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), w_scale, i2_s);
  REQUIRE(i2_s.size() >= w.size());
  host::gemv_w2a8(w.data(), w_scale, rows, cols, a.data(), &a_scale, 1, from_gpu_w2.data());
  host::gemv_w2a8(i2_s.data(), w_scale, rows, cols, a.data(), &a_scale, 1, from_i2_s.data());
  CHECK(from_gpu_w2 == expected);
  CHECK(from_i2_s != expected);
}

TEST_CASE("cuda device code on the host: gemv_w4a8 within the summation bound of the CPU", "[cuda][host]") {
  // One block; a block count that 8 (blocks per warp step) does not divide; rows that 4
  // (rows per thread block) does not divide.
  std::uint32_t seed = 21;
  for (const auto& [rows, cols] : {std::pair<std::size_t, std::size_t>{1, 32}, {5, 64}, {7, 288}, {13, 2560}})
    for (std::size_t batch = 1; batch <= qtl::cuda::max_batch; ++batch) require_w4a8_near_cpu(rows, cols, batch, seed++);
}

TEST_CASE("cuda device code on the host: gemv_4bit (NF4, FP4; float, bfloat16) within the summation bound of the CPU",
          "[cuda][host]") {
  // The smallest block (8) and row; blocks that 32 lanes' steps do not fill; bnb's 64.
  struct shape {
    std::size_t rows, cols, blocksize;
  };
  std::uint32_t seed = 31;
  for (const shape s : {shape{1, 8, 8}, shape{5, 320, 32}, shape{7, 1024, 64}, shape{3, 2560, 64}})
    for (std::size_t batch = 1; batch <= qtl::cuda::max_batch; ++batch) {
      require_4bit_near_cpu<qtl::nf4, float>(s.rows, s.cols, s.blocksize, batch, seed++);
      require_4bit_near_cpu<qtl::bnb_fp4, bfloat16>(s.rows, s.cols, s.blocksize, batch, seed++);
    }
}

TEST_CASE("cuda launch shapes cover every row in whole warps", "[cuda][host]") {
  for (const std::size_t rows : {std::size_t{1}, std::size_t{5}, std::size_t{16}, std::size_t{55296}}) {
    require_launch(lanes::w4a8_launch(rows), rows, qtl::cuda::gemv_rows_per_block);
    require_launch(lanes::gemv_4bit_launch(rows), rows, qtl::cuda::gemv_rows_per_block);
    require_launch(lanes::act_quant_launch(rows, 256), rows, 1);
    if (rows % lanes::w2a8_rows == 0) require_launch(lanes::w2a8_launch(rows), rows, lanes::w2a8_rows);
  }
  // The host runs refuse what the wrappers refuse, before touching a buffer.
  std::vector<float> y(16);
  CHECK_THROWS_AS(host::gemv_w2a8<float>(nullptr, 1.0f, 15, 128, nullptr, nullptr, 1, y.data()), qtl::error);
  CHECK_THROWS_AS(host::gemv_w4a8<float>(nullptr, 4, 33, nullptr, 1, y.data()), qtl::error);
}
