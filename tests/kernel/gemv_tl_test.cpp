#include "qtl/kernel/gemv_tl.hpp"

#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "qtl/kernel/gemv_i2_s.hpp"

namespace kernel = qtl::kernel;
namespace bitnet = qtl::bitnet;
using qtl::matrix_view;

namespace {

struct problem {
  std::size_t rows, cols, batch;
  std::vector<std::int8_t> codes, a;
  std::vector<float> a_scales;
  float w_scale = 0.0173f;

  problem(std::size_t rows_, std::size_t cols_, std::size_t batch_, unsigned seed) : rows(rows_), cols(cols_), batch(batch_) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> ternary(-1, 1), int8(-128, 127);
    codes.resize(rows * cols);
    a.resize(batch * cols);
    for (auto& c : codes) c = static_cast<std::int8_t>(ternary(rng));
    for (auto& v : a) v = static_cast<std::int8_t>(int8(rng));
    for (std::size_t j = 0; j < std::min<std::size_t>(40, a.size()); ++j) a[j] = -128;  // a run of the extreme
    for (std::size_t n = 0; n < batch; ++n) a_scales.push_back(0.71f + 3.3f * static_cast<float>(n));
  }
  std::vector<std::uint8_t> tl() const {
    std::vector<std::uint8_t> w(bitnet::tl::bytes(rows, cols));
    bitnet::pack_tl(matrix_view<const std::int8_t>(codes.data(), rows, cols), w_scale, w);
    return w;
  }
  // From the codes, not a layout: float(sum code * a) / a_scale * w_scale, as gemv_i2_s.
  std::vector<float> expected() const {
    std::vector<float> y(batch * rows);
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t r = 0; r < rows; ++r) {
        int isum = 0;
        for (std::size_t j = 0; j < cols; ++j) isum += codes[r * cols + j] * a[n * cols + j];
        y[n * rows + r] = static_cast<float>(isum) / a_scales[n] * w_scale;
      }
    return y;
  }
  std::vector<float> run(const kernel::kernel_table& k, unsigned threads = 1) const {
    std::vector<float> y(batch * rows);
    kernel::gemv_tl(k, tl(), rows, cols, a, a_scales, y, threads);
    return y;
  }
};

}  // namespace

TEST_CASE("TL tables hold each index's exact int16 sum", "[kernel]") {
  const std::vector<std::int8_t> a = {-128, -128, 127, -128, 127, 127, 0, -1, 5, -77};
  std::vector<std::uint8_t> lut(kernel::tl_lut_bytes(a.size()), 0xAA);
  kernel::tl_lut(a.data(), a.size(), lut.data());
  for (std::size_t g = 0; g < a.size() / 2; ++g)
    for (int w0 = -1; w0 <= 1; ++w0)
      for (int w1 = -1; w1 <= 1; ++w1) {
        const unsigned index = bitnet::tl::encode(w0) | bitnet::tl::encode(w1) << 2;
        CHECK(kernel::tl_lookup(lut.data() + g * kernel::tl_table_bytes, index) == w0 * a[2 * g] + w1 * a[2 * g + 1]);
      }
  // +256 and -256 need the high byte: the extremes of the first group.
  CHECK(kernel::tl_lookup(lut.data(), bitnet::tl::encode(-1) | bitnet::tl::encode(-1) << 2) == 256);
  CHECK(kernel::tl_lookup(lut.data(), bitnet::tl::encode(1) | bitnet::tl::encode(1) << 2) == -256);
}

TEST_CASE("TL GEMV of every arch equals the I2_S GEMV bit for bit", "[kernel]") {
  for (const std::size_t rows : {std::size_t{1}, std::size_t{64}, std::size_t{70}, std::size_t{131}}) {
    const std::size_t batch = 1 + rows % 8, cols = 384;
    const problem p(rows, cols, batch, static_cast<unsigned>(rows));
    std::vector<std::uint8_t> i2_s(bitnet::i2_s::bytes(rows, cols));
    bitnet::pack_i2_s(matrix_view<const std::int8_t>(p.codes.data(), rows, cols), p.w_scale, i2_s);
    std::vector<float> y_i2_s(batch * rows);
    kernel::gemv_i2_s(kernel::kernels_for(kernel::arch_id::scalar), i2_s, rows, cols, p.a, p.a_scales, y_i2_s);
    CHECK(y_i2_s == p.expected());
    for (const auto arch : kernel::usable_archs()) {
      INFO("arch " << kernel::arch_name(arch) << ", " << rows << " rows, batch " << batch);
      const auto k = kernel::kernels_for(arch);
      const auto y = p.run(k);
      CHECK(y == y_i2_s);
      CHECK(p.run(k, 3) == y);
      // Weights and activations one byte off any alignment: the same bits.
      const auto w = p.tl();
      std::vector<std::uint8_t> w_odd(w.size() + 1);
      std::vector<std::int8_t> a_odd(p.a.size() + 1);
      std::copy(w.begin(), w.end(), w_odd.begin() + 1);
      std::copy(p.a.begin(), p.a.end(), a_odd.begin() + 1);
      std::vector<float> y_odd(batch * rows);
      kernel::gemv_tl(k, std::span<const std::uint8_t>(w_odd).subspan(1), rows, cols,
                      std::span<const std::int8_t>(a_odd).subspan(1), p.a_scales, y_odd);
      CHECK(y_odd == y);
      std::vector<float> y_i2_s_arch(batch * rows);
      kernel::gemv_i2_s(k, i2_s, rows, cols, p.a, p.a_scales, y_i2_s_arch);
      CHECK(y == y_i2_s_arch);
    }
  }
}

TEST_CASE("TL GEMV: every batch size, the smallest K, -128 at the int16 limit", "[kernel]") {
  for (std::size_t batch = 1; batch <= kernel::max_gemv_batch; ++batch) {
    const problem p(67, 4, batch, static_cast<unsigned>(100 + batch));  // 4: the smallest legal K
    for (const auto arch : kernel::usable_archs()) {
      INFO("arch " << kernel::arch_name(arch) << ", batch " << batch);
      CHECK(p.run(kernel::kernels_for(arch)) == p.expected());
    }
  }
  // Every group sums to +256 (weights -1, activations -128), over more pairs than int16
  // lanes hold without widening; then mixed signs around it.
  problem p(65, 4 * 300, 2, 7);
  for (auto& c : p.codes) c = -1;
  for (auto& v : p.a) v = -128;
  for (std::size_t j = 0; j < p.cols; ++j) p.codes[64 * p.cols + j] = 1;  // row 64: -256 per group
  for (std::size_t j = 0; j < p.cols; j += 3) p.a[p.cols + j] = 127;
  const auto expected = p.expected();
  CHECK(expected[0] == static_cast<float>(128 * 1200) / p.a_scales[0] * p.w_scale);
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    CHECK(p.run(kernel::kernels_for(arch)) == expected);
  }
}

TEST_CASE("TL GEMV row ranges write exactly their rows", "[kernel]") {
  const problem p(150, 132, 2, 5);
  const auto w = p.tl();
  std::vector<std::uint8_t> lut(p.batch * kernel::tl_lut_bytes(p.cols));
  for (std::size_t n = 0; n < p.batch; ++n)
    kernel::tl_lut(p.a.data() + n * p.cols, p.cols, lut.data() + n * kernel::tl_lut_bytes(p.cols));
  const auto expected = p.expected();
  const float untouched = std::numeric_limits<float>::quiet_NaN();
  for (const auto arch : kernel::usable_archs()) {
    const auto k = kernel::kernels_for(arch);
    for (const auto& [begin, end] : {std::pair<std::size_t, std::size_t>{5, 67}, {64, 128}, {127, 150}, {0, 150}, {9, 9}}) {
      INFO("arch " << kernel::arch_name(arch) << ", rows " << begin << ".." << end);
      std::vector<float> y(p.batch * p.rows, untouched);
      k.gemv_tl(w.data(), p.w_scale, p.rows, p.cols, lut.data(), p.a_scales.data(), p.batch, y.data(), begin, end);
      for (std::size_t n = 0; n < p.batch; ++n)
        for (std::size_t r = 0; r < p.rows; ++r) {
          const float got = y[n * p.rows + r];
          if (r >= begin && r < end) CHECK(got == expected[n * p.rows + r]);
          else CHECK(std::isnan(got));
        }
    }
  }
}

TEST_CASE("TL GEMV rejects shapes that do not fit", "[kernel]") {
  const auto k = kernel::kernels_for(kernel::arch_id::scalar);
  std::vector<std::uint8_t> w(bitnet::tl::bytes(2, 256));
  std::vector<std::int8_t> a(9 * 256);
  std::vector<float> s(9, 1.0f), y(9 * 2);
  const std::span<const std::int8_t> a1 = std::span<const std::int8_t>(a).first(256);
  CHECK_THROWS_AS(kernel::gemv_tl(k, w, 2, 254, std::span<const std::int8_t>(a).first(254), s, y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_tl(k, std::span<const std::uint8_t>(w).first(w.size() - 1), 2, 256, a1, s, y),
                  qtl::error);
  CHECK_THROWS_AS(kernel::gemv_tl(k, w, 2, 256, std::span<const std::int8_t>(a).first(200), s, y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_tl(k, w, 2, 256, a, s, y), qtl::error);  // batch 9
  CHECK_THROWS_AS(kernel::gemv_tl(k, w, 2, 256, std::span<const std::int8_t>(), s, y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_tl(k, w, 2, 256, a1, std::span<const float>(), y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv_tl(k, w, 2, 256, a1, s, std::span<float>(y).first(1)), qtl::error);
  CHECK_NOTHROW(kernel::gemv_tl(k, w, 2, 256, a1, s, y));
}
