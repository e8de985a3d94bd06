// Prepared weights (kernel/prepared.hpp) and their 8-row GEMV (kernel/group_dot.hpp):
// the layout's exact inverse, the scalar step against gemv on the same blocks bit for
// bit, and every arch's step against the exact sums.
#include "qtl/kernel/gemv.hpp"

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
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

template <class W>
bool same_bytes(const std::vector<W>& x, const std::vector<W>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(W)) == 0;
}

constexpr std::uint16_t half_one = 0x3C00;

}  // namespace

TEMPLATE_TEST_CASE("Prepared weights give back the exact ggml blocks", "[kernel]", ggml::block_q8_0,
                   ggml::block_q4_0, ggml::block_iq4_nl, ggml::block_q4_k) {
  using W = TestType;
  const std::size_t rows = GENERATE(1, 3, 8, 17, 23, 64), cols = W::elements * GENERATE(1, 3);
  const auto w = weight_blocks<W>(rows, cols, 31);
  const kernel::prepared<W> p(w, rows, cols);
  CHECK(p.rows() == rows);
  CHECK(p.cols() == cols);
  CHECK(p.group_count() == (rows + 7) / 8);
  CHECK(p.groups().size() == p.group_count() * cols / W::elements);
  CHECK(same_bytes(p.blocks(), w));
  // Row r's block i sits in group r / 8 at slot r % 8; the padding rows are zero blocks.
  const std::size_t blocks = cols / W::elements;
  for (std::size_t r = 0; r < p.group_count() * 8; ++r)
    for (std::size_t i = 0; i < blocks; ++i) {
      const W got = p.groups()[r / 8 * blocks + i].block(r % 8);
      const W want = r < rows ? w[r * blocks + i] : W{};
      CHECK(std::memcmp(&got, &want, sizeof(W)) == 0);
    }
}

TEMPLATE_TEST_CASE("GEMV of prepared weights matches gemv of their blocks", "[kernel]", ggml::block_q8_0,
                   ggml::block_q4_0, ggml::block_iq4_nl, ggml::block_q4_k) {
  using W = TestType;
  using A = kernel::group_activation<W>;
  const std::size_t rows = GENERATE(1, 3, 17, 23, 40), cols = 512;
  const std::size_t batch = GENERATE(1, 2, 3, 4, 5, 6, 7, 8);
  const auto w = weight_blocks<W>(rows, cols, 41);
  const kernel::prepared<W> p(w, rows, cols);
  const auto x = random_floats(batch * cols, 42);
  std::vector<A> a(batch * cols / A::elements);
  ggml::quantize<A>(x, std::span<A>(a), cols);

  // The scalar step is gemv's scalar path bit for bit: the same terms in the same order.
  const auto scalar = kernel::kernels_for(kernel::arch_id::scalar);
  std::vector<float> want(batch * rows), got(batch * rows);
  kernel::gemv<W>(scalar, w, rows, cols, x, want);
  kernel::gemv(scalar, p, x, got);
  CHECK(got == want);

  const std::size_t blocks = cols / W::elements;
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    const auto k = kernel::kernels_for(arch);
    std::vector<float> y(batch * rows), y3(batch * rows);
    kernel::gemv(k, p, x, y);
    kernel::gemv(k, p, x, y3, 3);
    CHECK(y == y3);  // threads split between groups: the same bits
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t r = 0; r < rows; ++r) {
        const auto [exact, magnitude] = reference_row(w.data() + r * blocks, a.data() + n * blocks, blocks);
        // Integer sums are exact; each row's float chain has gemv's order with one
        // rounding per block fewer (an FMA): gemv_test.cpp's bound holds.
        CHECK(std::fabs(y[n * rows + r] - exact) <= 1e-6 * magnitude + 1e-30);
      }
  }
}

TEST_CASE("Prepared GEMV at the codes' extremes is exact on every arch", "[kernel]") {
  // Every weight at its largest code (Q4_0 15, IQ4_NL -127, Q8_0 -128: the widest int16
  // pair sums and the sign trick's edges) against activations of +-127, scales 1: small
  // exact integers.
  const std::size_t rows = 9, cols = 64, blocks = cols / 32;
  ggml::block_q8_0 a[blocks];
  std::int32_t sums[blocks];
  for (std::size_t i = 0; i < blocks; ++i) {
    a[i].d = half_one;
    for (std::size_t j = 0; j < 32; ++j) a[i].qs[j] = static_cast<std::int8_t>((j + i) % 3 == 0 ? -127 : 127);
    sums[i] = kernel::code_sum(a[i]);
  }
  auto check = [&](const auto& w, auto fn_of) {
    using W = typename std::remove_cvref_t<decltype(w)>::value_type;
    const kernel::prepared<W> p(w, rows, cols);
    for (const auto arch : kernel::usable_archs()) {
      INFO(W::name << " arch " << kernel::arch_name(arch));
      std::vector<float> y(rows, -1.0f);
      fn_of(kernel::kernels_for(arch))(p.groups().data(), rows, blocks, a, sums, 1, y.data(), 0, p.group_count());
      for (std::size_t r = 0; r < rows; ++r) {
        double exact = 0.0;
        for (std::size_t i = 0; i < blocks; ++i) exact += kernel::block_isum(w[r * blocks + i], a[i]);
        CHECK(y[r] == exact);
      }
    }
  };
  std::vector<ggml::block_q4_0> q4(rows * blocks);
  for (auto& b : q4) {
    b.d = half_one;
    std::memset(b.qs, 0xFF, sizeof b.qs);
  }
  check(q4, [](const kernel::kernel_table& k) { return k.gemv_q4_0_prepared; });
  std::vector<ggml::block_iq4_nl> nl(rows * blocks);
  for (auto& b : nl) {
    b.d = half_one;
    std::memset(b.qs, 0x00, sizeof b.qs);  // code 0: level -127
  }
  check(nl, [](const kernel::kernel_table& k) { return k.gemv_iq4_nl_prepared; });
  std::vector<ggml::block_q8_0> q8(rows * blocks);
  for (auto& b : q8) {
    b.d = half_one;
    std::memset(b.qs, 0x80, sizeof b.qs);  // -128: outside what ggml writes, inside what a file may hold
  }
  check(q8, [](const kernel::kernel_table& k) { return k.gemv_q8_0_prepared; });
}

// Q4_K's 6-bit scales and mins and its codes at extreme byte patterns, row by row (each
// row of a group a different pattern), against +-127 activations: the int16 sums of the
// AVX2 step, the scales' products and the mins' pairs must stay exact.
TEST_CASE("Prepared Q4_K GEMV with codes and scales at their extremes", "[kernel]") {
  using W = ggml::block_q4_k;
  using A = ggml::block_q8_k;
  const std::uint8_t patterns[] = {0xFF, 0x00, 0x3F, 0xC0, 0xAA, 0x55, 0x0F, 0xF0, 0xFF};
  const std::size_t rows = std::size(patterns), cols = 512, blocks = cols / 256;
  std::vector<W> w(rows * blocks);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t i = 0; i < blocks; ++i) {
      std::memset(&w[r * blocks + i], patterns[r], sizeof(W));
      w[r * blocks + i].d = qtl::float_to_half_bits(i == 0 ? 0.5f : -2.0f);
      w[r * blocks + i].dmin = qtl::float_to_half_bits(0.25f);
    }
  const kernel::prepared<W> p(w, rows, cols);
  CHECK(same_bytes(p.blocks(), w));
  std::vector<A> a(2 * blocks);
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t i = 0; i < blocks; ++i) {
      A& b = a[n * blocks + i];
      for (std::size_t j = 0; j < 256; ++j) b.qs[j] = static_cast<std::int8_t>(n == 0 ? 127 : (j % 3 ? -127 : 127));
      for (std::size_t g = 0; g < 16; ++g) {
        int sum = 0;
        for (std::size_t j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
        b.bsums[g] = static_cast<std::int16_t>(sum);
      }
      b.d = 1.0f;
    }
  std::vector<std::int32_t> sums(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) sums[i] = kernel::code_sum(a[i]);
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    std::vector<float> y(2 * rows);
    kernel::kernels_for(arch).gemv_q4_k_prepared(p.groups().data(), rows, blocks, a.data(), sums.data(), 2, y.data(),
                                                  0, p.group_count());
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t r = 0; r < rows; ++r) {
        const auto [exact, magnitude] = reference_row(w.data() + r * blocks, a.data() + n * blocks, blocks);
        CHECK(std::fabs(y[n * rows + r] - exact) <= 1e-6 * magnitude + 1e-30);
      }
  }
}

TEST_CASE("The prepared row function writes only its groups' rows", "[kernel]") {
  using W = ggml::block_q4_0;
  const std::size_t rows = 21, cols = 128, blocks = cols / 32, batch = 2;  // groups of 8, 8 and 5 rows
  const auto w = weight_blocks<W>(rows, cols, 51);
  const kernel::prepared<W> p(w, rows, cols);
  std::vector<ggml::block_q8_0> a(batch * blocks);
  ggml::quantize<ggml::block_q8_0>(random_floats(batch * cols, 52), std::span(a), cols);
  std::vector<std::int32_t> sums(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) sums[i] = kernel::code_sum(a[i]);
  for (const auto arch : kernel::usable_archs()) {
    INFO("arch " << kernel::arch_name(arch));
    std::vector<float> y(batch * rows, -1.0f);
    kernel::kernels_for(arch).gemv_q4_0_prepared(p.groups().data(), rows, blocks, a.data(), sums.data(), batch,
                                                 y.data(), 1, 3);
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t r = 0; r < rows; ++r) {
        if (r < 8) {
          CHECK(y[n * rows + r] == -1.0f);  // group 0 is outside the range
          continue;
        }
        const auto [exact, magnitude] = reference_row(w.data() + r * blocks, a.data() + n * blocks, blocks);
        CHECK(std::fabs(y[n * rows + r] - exact) <= 1e-6 * magnitude + 1e-30);
      }
  }
}

TEST_CASE("Preparing or multiplying with bad shapes is an error before any work", "[kernel]") {
  using W = ggml::block_iq4_nl;
  const std::vector<W> w(8);
  CHECK_THROWS_AS(kernel::prepared<W>(w, 2, 48), qtl::error);   // not a multiple of 32
  CHECK_THROWS_AS(kernel::prepared<W>(w, 2, 0), qtl::error);
  CHECK_THROWS_AS(kernel::prepared<W>(w, 0, 128), qtl::error);
  CHECK_THROWS_AS(kernel::prepared<W>(w, 3, 128), qtl::error);  // 12 blocks wanted, 8 given
  const kernel::prepared<W> p(w, 2, 128);
  const auto k = kernel::select_kernels();
  std::vector<float> x(9 * 128), y(9 * 2, -1.0f);
  CHECK_THROWS_AS(kernel::gemv(k, p, std::span<const float>(x).first(100), y), qtl::error);  // not whole rows
  CHECK_THROWS_AS(kernel::gemv(k, p, x, y), qtl::error);                                       // 9 rows > 8
  CHECK_THROWS_AS(kernel::gemv(k, p, std::span<const float>(x).first(256), std::span(y).first(3)), qtl::error);
  for (const float v : y) CHECK(v == -1.0f);  // nothing written
}
