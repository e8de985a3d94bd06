#include "qtl/kernel/gemv.hpp"

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "kernel/gemv_reference.hpp"

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;

using qtl::test::random_floats;
using qtl::test::reference_row;
using qtl::test::weight_blocks;

namespace {

// ggml's reference vec_dot per block, written out from the block layouts (not through
// block_isum/block_scale): what the scalar path must equal bit for bit.
float h(std::uint16_t bits) { return qtl::half_bits_to_float(bits); }
float ggml_term(const ggml::block_q8_0& x, const ggml::block_q8_0& y) {
  int sumi = 0;
  for (int j = 0; j < 32; ++j) sumi += x.qs[j] * y.qs[j];
  return static_cast<float>(sumi) * (h(x.d) * h(y.d));
}
float ggml_term(const ggml::block_q4_0& x, const ggml::block_q8_0& y) {
  int sumi0 = 0, sumi1 = 0;
  for (int j = 0; j < 16; ++j) {
    sumi0 += ((x.qs[j] & 0x0F) - 8) * y.qs[j];
    sumi1 += ((x.qs[j] >> 4) - 8) * y.qs[j + 16];
  }
  return static_cast<float>(sumi0 + sumi1) * (h(x.d) * h(y.d));
}
float ggml_term(const ggml::block_q4_1& x, const ggml::block_q8_1& y) {
  int sumi0 = 0, sumi1 = 0;
  for (int j = 0; j < 16; ++j) {
    sumi0 += (x.qs[j] & 0x0F) * y.qs[j];
    sumi1 += (x.qs[j] >> 4) * y.qs[j + 16];
  }
  return (h(x.d) * h(y.d)) * static_cast<float>(sumi0 + sumi1) + h(x.m) * h(y.s);
}
std::uint32_t qh_of(const std::uint8_t* qh) {
  std::uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  return bits;
}
float ggml_term(const ggml::block_q5_0& x, const ggml::block_q8_0& y) {
  const std::uint32_t qh = qh_of(x.qh);
  int sumi0 = 0, sumi1 = 0;
  for (int j = 0; j < 16; ++j) {
    const int xh0 = static_cast<int>(((qh & (1u << j)) >> j) << 4);
    const int xh1 = static_cast<int>((qh & (1u << (j + 16))) >> (j + 12));
    sumi0 += (((x.qs[j] & 0x0F) | xh0) - 16) * y.qs[j];
    sumi1 += (((x.qs[j] >> 4) | xh1) - 16) * y.qs[j + 16];
  }
  return static_cast<float>(sumi0 + sumi1) * (h(x.d) * h(y.d));
}
float ggml_term(const ggml::block_q5_1& x, const ggml::block_q8_1& y) {
  const std::uint32_t qh = qh_of(x.qh);
  int sumi0 = 0, sumi1 = 0;
  for (int j = 0; j < 16; ++j) {
    const int xh0 = static_cast<int>(((qh >> j) << 4) & 0x10);
    const int xh1 = static_cast<int>((qh >> (j + 12)) & 0x10);
    sumi0 += ((x.qs[j] & 0x0F) | xh0) * y.qs[j];
    sumi1 += ((x.qs[j] >> 4) | xh1) * y.qs[j + 16];
  }
  return (h(x.d) * h(y.d)) * static_cast<float>(sumi0 + sumi1) + h(x.m) * h(y.s);
}
float ggml_term(const ggml::block_iq4_nl& x, const ggml::block_q8_0& y) {
  static constexpr int kvalues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  int sumi1 = 0, sumi2 = 0;
  for (int j = 0; j < 16; ++j) {
    sumi1 += y.qs[j] * kvalues[x.qs[j] & 0x0F];
    sumi2 += y.qs[j + 16] * kvalues[x.qs[j] >> 4];
  }
  return (h(y.d) * h(x.d)) * static_cast<float>(sumi1 + sumi2);
}
float ggml_term(const ggml::block_tq2_0& x, const ggml::block_q8_k& y) {
  int sumi = 0;
  for (int j = 0; j < 64; j += 32)
    for (int l = 0; l < 4; ++l)
      for (int k = 0; k < 32; ++k) sumi += y.qs[j * 4 + l * 32 + k] * (((x.qs[j + k] >> (l * 2)) & 3) - 1);
  return static_cast<float>(sumi) * (y.d * h(x.d));
}

}  // namespace

TEMPLATE_TEST_CASE("GEMV of every arch matches the scalar reference", "[kernel]", ggml::block_q8_0, ggml::block_q4_0,
                   ggml::block_q4_1, ggml::block_q5_0, ggml::block_q5_1, ggml::block_iq4_nl, ggml::block_tq2_0) {
  using W = TestType;
  using A = typename kernel::gemv_traits<W>::activation;
  // Every batch size takes its own code path (one weight pass per activation row count).
  const std::size_t rows = 24, cols = 1024, batch = GENERATE(1, 2, 3, 5, 8);
  const auto w = weight_blocks<W>(rows, cols, 11);
  const auto x = random_floats(batch * cols, 12);
  std::vector<A> a(batch * cols / A::elements);
  ggml::quantize<A>(x, std::span<A>(a), cols);

  const kernel::kernel_table scalar = kernel::kernels_for(qtl::kernel::arch_id::scalar);
  std::vector<float> y_scalar(batch * rows);
  kernel::gemv<W>(scalar, w, rows, cols, x, y_scalar);
  const std::size_t blocks = cols / W::elements;
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < rows; ++r) {
      // The scalar path is ggml's reference order exactly: sum += float(isum) * d_w * d_a
      // (+ m_w * s_a for Q4_1), block by block.
      float expect = 0.0f;
      for (std::size_t i = 0; i < blocks; ++i) expect += ggml_term(w[r * blocks + i], a[n * blocks + i]);
      CHECK(y_scalar[n * rows + r] == expect);
    }

  const auto archs = kernel::usable_archs();
  REQUIRE(!archs.empty());
  for (const auto arch : archs) {
    INFO("arch " << kernel::arch_name(arch));
    const kernel::kernel_table k = kernel::kernels_for(arch);
    CHECK(k.arch == arch);
    std::vector<float> y(batch * rows), y3(batch * rows);
    kernel::gemv<W>(k, w, rows, cols, x, y);
    kernel::gemv<W>(k, w, rows, cols, x, y3, 3);
    CHECK(y == y3);  // threads split rows: the same bits
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t r = 0; r < rows; ++r) {
        const auto [exact, magnitude] = reference_row(w.data() + r * blocks, a.data() + n * blocks, blocks);
        // Integer block sums are exact; float accumulation order may differ: 2^-20 of the
        // magnitude the float lanes add bounds it (8 lanes, ~32 blocks, float32).
        CHECK(std::fabs(y[n * rows + r] - exact) <= 1e-6 * magnitude + 1e-30);
      }
  }
}

TEMPLATE_TEST_CASE("K-quant x Q8_K GEMV of every arch matches the exact and the dequantized sums", "[kernel]",
                   ggml::block_q2_k, ggml::block_q3_k, ggml::block_q4_k, ggml::block_q5_k, ggml::block_q6_k) {
  using W = TestType;
  using A = ggml::block_q8_k;
  const std::size_t rows = 19, cols = 1024, batch = GENERATE(1, 2, 3, 8), blocks = cols / 256;
  const auto w = weight_blocks<W>(rows, cols, 61);
  const auto x = random_floats(batch * cols, 62);
  std::vector<A> a(batch * blocks);
  ggml::quantize<A>(x, std::span<A>(a), cols);
  // The integer form (sum_j sc_j sum (q - offset) a and the mins through bsums) against
  // the values the blocks decode to, in double: only the decoding's float rounding differs.
  std::vector<float> wd(rows * cols), ad(batch * cols);
  ggml::dequantize<W>(std::span<const W>(w), wd);
  ggml::dequantize<A>(std::span<const A>(a), ad);
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const auto k = kernel::kernels_for(arch);
    std::vector<float> y(batch * rows), y3(batch * rows);
    kernel::gemv<W>(k, w, rows, cols, x, y);
    kernel::gemv<W>(k, w, rows, cols, x, y3, 3);
    CHECK(y == y3);
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t r = 0; r < rows; ++r) {
        const auto [exact, magnitude] = reference_row(w.data() + r * blocks, a.data() + n * blocks, blocks);
        CHECK(std::fabs(y[n * rows + r] - exact) <= 1e-6 * magnitude + 1e-30);
        double decoded = 0.0, size = 0.0;
        for (std::size_t c = 0; c < cols; ++c) {
          decoded += static_cast<double>(wd[r * cols + c]) * ad[n * cols + c];
          size += std::fabs(static_cast<double>(wd[r * cols + c]) * ad[n * cols + c]);
        }
        CHECK(std::fabs(exact - decoded) <= 1e-6 * size);
      }
  }
}

TEST_CASE("The table's row function takes any batch, 8 activation rows per weight pass", "[kernel]") {
  using W = ggml::block_q4_0;
  using A = ggml::block_q8_0;
  const std::size_t rows = 5, cols = 256, batch = 11, blocks = cols / W::elements;  // chunks of 8 and 3
  const auto w = weight_blocks<W>(rows, cols, 21);
  std::vector<A> a(batch * blocks);
  ggml::quantize<A>(random_floats(batch * cols, 22), std::span<A>(a), cols);
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    std::vector<float> y(batch * rows, -1.0f);
    kernel::kernels_for(arch).gemv_q4_0(w.data(), rows, blocks, a.data(), batch, y.data(), 1, rows);
    for (std::size_t n = 0; n < batch; ++n) {
      CHECK(y[n * rows] == -1.0f);  // row 0 is outside the range
      for (std::size_t r = 1; r < rows; ++r) {
        const auto [exact, magnitude] = reference_row(w.data() + r * blocks, a.data() + n * blocks, blocks);
        CHECK(std::fabs(y[n * rows + r] - exact) <= 1e-6 * magnitude + 1e-30);
      }
    }
  }
}

TEST_CASE("GEMV with weight codes at their extremes", "[kernel]") {
  // All +-127 Q8_0 weights against +-127 activations: the largest int8 block sums.
  const std::size_t rows = 2, cols = 64;
  std::vector<float> wf(rows * cols), x(cols);
  for (std::size_t i = 0; i < wf.size(); ++i) wf[i] = (i % 3 == 0) ? -1.0f : 1.0f;
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = (i % 5 == 0) ? 1.0f : -1.0f;
  std::vector<ggml::block_q8_0> w(rows * cols / 32);
  ggml::quantize<ggml::block_q8_0>(wf, std::span(w), cols);
  std::vector<float> want(rows);
  kernel::gemv<ggml::block_q8_0>(kernel::kernels_for(kernel::arch_id::scalar), w, rows, cols, x, want);
  for (const auto arch : kernel::usable_archs()) {
    std::vector<float> y(rows);
    kernel::gemv<ggml::block_q8_0>(kernel::kernels_for(arch), w, rows, cols, x, y);
    INFO("arch " << kernel::arch_name(arch));
    CHECK(y == want);  // a few exact terms: no rounding difference
  }
}

// Every field of the K-quant blocks at byte patterns that reach the extremes (codes 0 and
// the top code, Q6_K's scale -128, Q3_K's -32, mins 15/63) against +-127 activations: the
// largest int16 pairs and int32 lanes the x86 steps form must stay exact.
TEMPLATE_TEST_CASE("K-quant GEMV with codes and scales at their extremes", "[kernel]", ggml::block_q2_k,
                   ggml::block_q3_k, ggml::block_q4_k, ggml::block_q5_k, ggml::block_q6_k) {
  using W = TestType;
  using A = ggml::block_q8_k;
  const std::uint8_t patterns[] = {0x00, 0xFF, 0x80, 0x7F, 0xAA, 0x55, 0x0F, 0xF0};
  const std::size_t rows = std::size(patterns), blocks = 2;
  std::vector<W> w(rows * blocks);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t i = 0; i < blocks; ++i) {
      W& b = w[r * blocks + i];
      std::memset(&b, patterns[r], sizeof b);
      b.d = qtl::float_to_half_bits(i == 0 ? 0.5f : -3.0f);
      if constexpr (ggml::k_quant_traits<W>::has_min) b.dmin = qtl::float_to_half_bits(0.25f);
    }
  std::vector<A> a(3 * blocks);
  for (std::size_t n = 0; n < 3; ++n)
    for (std::size_t i = 0; i < blocks; ++i) {
      A& b = a[n * blocks + i];
      for (std::size_t j = 0; j < ggml::qk_k; ++j)
        b.qs[j] = static_cast<std::int8_t>(n == 0 ? -127 : n == 1 ? 127 : (j % 3 ? 127 : -127));
      for (std::size_t g = 0; g < 16; ++g) {
        int sum = 0;
        for (std::size_t j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
        b.bsums[g] = static_cast<std::int16_t>(sum);
      }
      b.d = 1.0f;
    }
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    std::vector<float> y(3 * rows);
    kernel::gemv_traits<W>::fn(kernel::kernels_for(arch))(w.data(), rows, blocks, a.data(), 3, y.data(), 0, rows);
    for (std::size_t n = 0; n < 3; ++n)
      for (std::size_t r = 0; r < rows; ++r) {
        INFO("pattern " << int(patterns[r]) << ", activations " << n);
        const auto [exact, magnitude] = reference_row(w.data() + r * blocks, a.data() + n * blocks, blocks);
        CHECK(std::fabs(y[n * rows + r] - exact) <= 1e-6 * magnitude + 1e-30);
      }
  }
}

TEST_CASE("QTL_ARCH forces an arch; bad names and shapes are errors", "[kernel]") {
  for (const auto arch : kernel::usable_archs()) {
    ::setenv("QTL_ARCH", std::string(kernel::arch_name(arch)).c_str(), 1);
    CHECK(kernel::select_kernels().arch == arch);
  }
  ::setenv("QTL_ARCH", "avx9000", 1);
  CHECK_THROWS_AS(kernel::select_kernels(), qtl::error);
  ::unsetenv("QTL_ARCH");
  CHECK(kernel::select_kernels().arch == kernel::usable_archs().front());

  const auto k = kernel::kernels_for(kernel::arch_id::scalar);
  std::vector<ggml::block_q4_0> w(4);
  std::vector<float> x(64), y(2);
  CHECK_THROWS_AS(kernel::gemv<ggml::block_q4_0>(k, w, 2, 48, std::span<const float>(x).first(48), y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv<ggml::block_q4_0>(k, std::span(w).first(3), 2, 64, x, y), qtl::error);
  CHECK_THROWS_AS(kernel::gemv<ggml::block_q4_0>(k, w, 2, 64, x, std::span(y).first(1)), qtl::error);
  CHECK_THROWS_AS(kernel::gemv<ggml::block_q4_0>(k, w, 2, 64, std::span<const float>(x).first(40), y), qtl::error);
}
