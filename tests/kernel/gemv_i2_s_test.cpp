#include "qtl/kernel/gemv_i2_s.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cstdint>
#include <random>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/kernel/dispatch.hpp"

namespace kernel = qtl::kernel;
namespace bitnet = qtl::bitnet;

TEST_CASE("I2_S GEMV of every arch matches the scalar reference", "[kernel]") {
  const std::size_t rows = 24, cols = 1024, batch = 3;
  const float w_scale = 0.0173f;
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> ternary(-1, 1), int8(-128, 127);
  std::vector<std::int8_t> codes(rows * cols), a(batch * cols);
  for (auto& c : codes) c = static_cast<std::int8_t>(ternary(rng));
  for (auto& v : a) v = static_cast<std::int8_t>(int8(rng));  // -128 included: no sign trick here
  for (std::size_t j = 0; j < 40; ++j) a[j] = -128;           // and a long run of it
  const std::vector<float> a_scales = {3.5f, 127.0f / 9.25f, 0.71f};
  std::vector<std::uint8_t> w(bitnet::i2_s::bytes(rows, cols));
  bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), w_scale, w);

  std::vector<float> y_scalar(batch * rows);
  kernel::gemv_i2_s(kernel::kernels_for(kernel::arch_id::scalar), w, rows, cols, a, a_scales, y_scalar);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < rows; ++r) {
      // From the unpacked codes, not the layout: sum (code) a, / a_scale * w_scale.
      int isum = 0;
      for (std::size_t j = 0; j < cols; ++j) isum += codes[r * cols + j] * a[n * cols + j];
      CHECK(y_scalar[n * rows + r] == static_cast<float>(isum) / a_scales[n] * w_scale);
    }

  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    std::vector<float> y(batch * rows), y3(batch * rows);
    kernel::gemv_i2_s(kernel::kernels_for(arch), w, rows, cols, a, a_scales, y);
    kernel::gemv_i2_s(kernel::kernels_for(arch), w, rows, cols, a, a_scales, y3, 3);
    CHECK(y == y3);
    CHECK(y == y_scalar);  // exact integer sums, the same float step: the same bits
  }
}

TEST_CASE("I2_S GEMV rejects shapes that do not fit", "[kernel]") {
  const auto k = kernel::kernels_for(kernel::arch_id::scalar);
  std::vector<std::uint8_t> w(bitnet::i2_s::bytes(2, 256));
  std::vector<std::int8_t> a(256);
  std::vector<float> s(1, 1.0f), y(2);
  CHECK_THROWS_AS(kernel::gemv_i2_s(k, w, 2, 192, std::span<const std::int8_t>(a).first(192), s, y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_i2_s(k, std::span<const std::uint8_t>(w).first(140), 2, 256, a, s, y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_i2_s(k, w, 2, 256, std::span<const std::int8_t>(a).first(200), s, y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_i2_s(k, w, 2, 256, a, std::span<const float>(), y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_i2_s(k, w, 2, 256, a, s, std::span<float>(y).first(1)), qtl::error);
}
