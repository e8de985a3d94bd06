// The NEON kernel table against the scalar one, on aarch64 under qemu (tests/neon/
// CMakeLists.txt, scripts/test_neon.sh). A plain program: prints each failure, returns
// non-zero if any. Argument: the NEON path the build must have compiled (sdot or widening).
// Sizes are small: qemu runs this 25-140x slower than a native CPU.
// tests/CMakeLists.txt globs every *_test.cpp into the host's Catch2 suite: there this
// file is empty; only tests/neon/CMakeLists.txt defines QTL_NEON_TEST_PROGRAM.
#if defined(QTL_NEON_TEST_PROGRAM)
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "qtl/core/half.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "kernel/gemv_reference.hpp"
#include "kernel/quantize_cases.hpp"
#include "qtl/kernel/gemv.hpp"
#include "qtl/kernel/gemv_i2_s.hpp"
#include "qtl/kernel/gemv_nf4.hpp"
#include "qtl/kernel/gemv_tl.hpp"
#include "qtl/kernel/quantize.hpp"

namespace kernel = qtl::kernel;
namespace ggml = qtl::ggml;
namespace bitnet = qtl::bitnet;

using qtl::test::random_floats;
using qtl::test::reference_row;

namespace {

#if !defined(QTL_KERNEL_NEON)
#error "build for aarch64 with NEON (cmake/aarch64-linux-gnu.cmake)"
#endif

// The pairs with a NEON step must not fall back to the scalar template.
template <class W, class A>
constexpr bool has_neon_step = !std::is_same_v<typename kernel::block_dot<kernel::neon, W, A>::acc_type, float>;
static_assert(has_neon_step<ggml::block_q8_0, ggml::block_q8_0>);
static_assert(has_neon_step<ggml::block_q4_0, ggml::block_q8_0>);
static_assert(has_neon_step<ggml::block_q4_1, ggml::block_q8_1>);
static_assert(has_neon_step<ggml::block_iq4_nl, ggml::block_q8_0>);
static_assert(has_neon_step<ggml::block_q5_0, ggml::block_q8_0>);
static_assert(has_neon_step<ggml::block_q5_1, ggml::block_q8_1>);
static_assert(has_neon_step<ggml::block_q2_k, ggml::block_q8_k>);
static_assert(has_neon_step<ggml::block_q3_k, ggml::block_q8_k>);
static_assert(has_neon_step<ggml::block_q4_k, ggml::block_q8_k>);
static_assert(has_neon_step<ggml::block_q5_k, ggml::block_q8_k>);
static_assert(has_neon_step<ggml::block_q6_k, ggml::block_q8_k>);
static_assert(has_neon_step<ggml::block_tq2_0, ggml::block_q8_k>);
static_assert(std::is_same_v<kernel::group_dot<kernel::neon, ggml::block_q4_0>::acc_type, float32x4x2_t>);
static_assert(std::is_same_v<kernel::group_dot<kernel::neon, ggml::block_iq4_nl>::acc_type, float32x4x2_t>);
static_assert(std::is_base_of_v<kernel::tl_simd_tile<kernel::arm::tl_step>, kernel::tl_dot<kernel::neon>>);
static_assert(kernel::nf4_step<kernel::neon>::lanes == 4, "the NEON 4-bit GEMV step");

int failures = 0;

void check(bool ok, const std::string& what) {
  if (ok) return;
  if (++failures <= 20) std::printf("FAIL: %s\n", what.c_str());
}

// Random weights and activations through gemv with each table: both within the
// tolerance of gemv_test.cpp of the exact sum.
template <class W>
void random_case(const kernel::kernel_table& neon, const kernel::kernel_table& scalar, std::size_t rows,
                 std::size_t cols, std::size_t batch, unsigned seed) {
  using A = typename kernel::gemv_traits<W>::activation;
  std::vector<W> w(rows * cols / W::elements);
  ggml::quantize<W>(random_floats(rows * cols, seed), std::span<W>(w), cols);
  const auto x = random_floats(batch * cols, seed + 1);
  std::vector<A> a(batch * cols / A::elements);
  ggml::quantize<A>(x, std::span<A>(a), cols);

  std::vector<float> y_neon(batch * rows), y_scalar(batch * rows);
  kernel::gemv<W>(neon, w, rows, cols, x, y_neon);
  kernel::gemv<W>(scalar, w, rows, cols, x, y_scalar);
  const std::size_t blocks = cols / W::elements;
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < rows; ++r) {
      const auto [exact, magnitude] = reference_row(w.data() + r * blocks, a.data() + n * blocks, blocks);
      const double tolerance = 1e-6 * magnitude + 1e-30;
      const std::size_t i = n * rows + r;
      const std::string where = std::string(W::name) + " cols " + std::to_string(cols) + " batch " +
                                std::to_string(batch) + " row " + std::to_string(r) + " act " + std::to_string(n);
      check(std::fabs(y_neon[i] - exact) <= tolerance,
            where + ": neon " + std::to_string(y_neon[i]) + ", exact " + std::to_string(exact));
      check(std::fabs(y_scalar[i] - exact) <= tolerance,
            where + ": scalar " + std::to_string(y_scalar[i]) + ", exact " + std::to_string(exact));
    }
}

template <class W>
void random_cases(const kernel::kernel_table& neon, const kernel::kernel_table& scalar) {
  // 256..1024 values per row; 288 and 768 give an odd block count (the unpaired tail).
  unsigned seed = 100;
  for (const std::size_t cols : {256, 288, 768, 1024})
    for (const std::size_t batch : {1, 3, 8})
      if (cols % W::elements == 0) random_case<W>(neon, scalar, 16, cols, batch, seed += 2);
}

// Prepared weights (8 rows interleaved) through gemv with each table: the scalar step is
// gemv's scalar path bit for bit, the NEON one within the same tolerance of the exact sum;
// row counts that leave a partial last group; all-extreme codes exact.
template <class W>
void prepared_cases(const kernel::kernel_table& neon, const kernel::kernel_table& scalar) {
  unsigned seed = 300;
  for (const std::size_t rows : {1, 7, 17})
    for (const std::size_t batch : {1, 3, 8}) {
      using A = kernel::group_activation<W>;
      const std::size_t cols = W::elements == 32 ? 288 : 512, blocks = cols / W::elements;
      std::vector<W> w(rows * blocks);
      ggml::quantize<W>(random_floats(rows * cols, seed), std::span<W>(w), cols);
      const kernel::prepared<W> p(w, rows, cols);
      const auto back = p.blocks();
      check(std::memcmp(back.data(), w.data(), w.size() * sizeof(W)) == 0, std::string(W::name) + " round trip");
      const auto x = random_floats(batch * cols, seed += 2);
      std::vector<A> a(batch * blocks);
      ggml::quantize<A>(x, std::span(a), cols);
      std::vector<float> y_plain(batch * rows), y_scalar(batch * rows), y_neon(batch * rows);
      kernel::gemv<W>(scalar, w, rows, cols, x, y_plain);
      kernel::gemv(scalar, p, x, y_scalar);
      kernel::gemv(neon, p, x, y_neon);
      const std::string where = std::string(W::name) + " prepared rows " + std::to_string(rows) + " batch " +
                                std::to_string(batch);
      check(y_scalar == y_plain, where + ": scalar step differs from gemv's scalar path");
      for (std::size_t n = 0; n < batch; ++n)
        for (std::size_t r = 0; r < rows; ++r) {
          const auto [exact, magnitude] = reference_row(w.data() + r * blocks, a.data() + n * blocks, blocks);
          check(std::fabs(y_neon[n * rows + r] - exact) <= 1e-6 * magnitude + 1e-30,
                where + " row " + std::to_string(r) + ": neon " + std::to_string(y_neon[n * rows + r]) +
                    ", exact " + std::to_string(exact));
        }
    }
  // Largest codes against +-127: exact small integers (Q4_K's extremes: tests/kernel/gemv_prepared_test.cpp).
  if constexpr (kernel::groupable_32<W>) {
    std::vector<W> w(9 * 2);
    for (auto& b : w) {
      b.d = 0x3C00;
      // Q4_0 15, IQ4_NL -127 (code 0), Q8_0 -128
      std::memset(b.qs, std::same_as<W, ggml::block_q4_0> ? 0xFF : (std::same_as<W, ggml::block_q8_0> ? 0x80 : 0x00),
                  sizeof b.qs);
    }
    ggml::block_q8_0 a[2];
    std::int32_t sums[2];
    for (std::size_t i = 0; i < 2; ++i) {
      a[i].d = 0x3C00;
      for (std::size_t j = 0; j < 32; ++j) a[i].qs[j] = static_cast<std::int8_t>((j + i) % 3 == 0 ? -127 : 127);
      sums[i] = kernel::code_sum(a[i]);
    }
    const kernel::prepared<W> p(w, 9, 64);  // 2 blocks a row
    float y[9];
    kernel::gemv_traits<W>::prepared_fn(neon)(p.groups().data(), 9, 2, a, sums, 1, y, 0, p.group_count());
    for (std::size_t r = 0; r < 9; ++r) {
      const double exact = kernel::block_isum(w[2 * r], a[0]) + kernel::block_isum(w[2 * r + 1], a[1]);
      check(y[r] == exact, std::string(W::name) + " prepared extremes row " + std::to_string(r));
    }
  }
}

std::uint16_t half_bits(float f) {  // powers of two only: exact in half
  int e = 0;
  std::frexp(f, &e);
  return static_cast<std::uint16_t>((e - 1 + 15) << 10);
}

// Hand-made blocks with extreme codes (-128 included where the type has it) and
// power-of-two scales, 2 blocks a row: every product and sum is exact, so the tables
// must agree bit for bit with each other and with the integer reference.
template <class W, class A>
void exact_case(kernel::gemv_fn<W, A> neon, kernel::gemv_fn<W, A> scalar, const W& w0, const W& w1, const A& a0,
                const A& a1) {
  const W w[4] = {w0, w1, w1, w0};  // 2 rows
  const A a[2] = {a0, a1};
  float y_neon[2], y_scalar[2];
  neon(w, 2, 2, a, 1, y_neon, 0, 2);
  scalar(w, 2, 2, a, 1, y_scalar, 0, 2);
  for (int r = 0; r < 2; ++r) {
    const double exact = reference_row(w + 2 * r, a, 2).first;
    check(y_neon[r] == exact && y_scalar[r] == exact,
          std::string(W::name) + " exact row " + std::to_string(r) + ": neon " + std::to_string(y_neon[r]) +
              ", scalar " + std::to_string(y_scalar[r]) + ", exact " + std::to_string(exact));
  }
}

void exact_cases(const kernel::kernel_table& neon, const kernel::kernel_table& scalar) {
  ggml::block_q8_0 q8[3];
  ggml::block_q4_0 q4[2];
  for (int b = 0; b < 3; ++b) {
    q8[b].d = half_bits(b == 0 ? 0.5f : 0.125f);
    for (int j = 0; j < 32; ++j) q8[b].qs[j] = static_cast<std::int8_t>((j + b) % 3 == 0 ? -128 : (j % 2 ? 127 : -127));
  }
  for (int b = 0; b < 2; ++b) {
    q4[b].d = half_bits(b == 0 ? 1.0f : 0.25f);
    for (int j = 0; j < 16; ++j) q4[b].qs[j] = static_cast<std::uint8_t>((j + b) % 2 ? 0x0F : 0xF0);  // codes 15 and 0
  }
  exact_case(neon.gemv_q8_0, scalar.gemv_q8_0, q8[0], q8[1], q8[2], q8[1]);
  exact_case(neon.gemv_q4_0, scalar.gemv_q4_0, q4[0], q4[1], q8[2], q8[0]);

  ggml::block_tq2_0 t[2];
  ggml::block_q8_k k[2];
  for (int b = 0; b < 2; ++b) {
    t[b].d = half_bits(b == 0 ? 2.0f : 0.5f);
    for (std::size_t j = 0; j < sizeof t[b].qs; ++j)
      t[b].qs[j] = static_cast<std::uint8_t>(b == 0 ? 0b10'01'00'10 : 0b00'10'10'00 + j % 3);  // codes 0..2
    k[b].d = b == 0 ? 0.25f : 4.0f;
    for (std::size_t j = 0; j < ggml::qk_k; ++j)
      k[b].qs[j] = static_cast<std::int8_t>((j + b) % 5 == 0 ? -128 : (j % 2 ? 127 : -127));
    for (std::size_t g = 0; g < ggml::qk_k / 16; ++g) {  // kept consistent, though unused by both paths
      int s = 0;
      for (std::size_t j = 0; j < 16; ++j) s += k[b].qs[16 * g + j];
      k[b].bsums[g] = static_cast<std::int16_t>(s);
    }
  }
  exact_case(neon.gemv_tq2_0, scalar.gemv_tq2_0, t[0], t[1], k[0], k[1]);

  // Q4_1: codes 0..15 (all of them, 0 and 15 included) against -128 / +-127, and a min
  // whose offset term m_w * s_a is exact too (s_a = d_a * sum a, stored as a half).
  ggml::block_q4_1 q41[2];
  ggml::block_q8_1 q81[2];
  for (int b = 0; b < 2; ++b) {
    q41[b].d = half_bits(b == 0 ? 1.0f : 0.25f);
    q41[b].m = qtl::float_to_half_bits(b == 0 ? -8.0f : 0.5f);
    for (int j = 0; j < 16; ++j) q41[b].qs[j] = static_cast<std::uint8_t>(17 * j + (b == 0 ? 0 : 0x0F));
    q81[b].d = half_bits(b == 0 ? 0.5f : 0.125f);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      q81[b].qs[j] = static_cast<std::int8_t>((j + b) % 3 == 0 ? -128 : (j % 2 ? 127 : -127));
      sum += q81[b].qs[j];
    }
    const float s = static_cast<float>(sum) * qtl::half_bits_to_float(q81[b].d);
    q81[b].s = qtl::float_to_half_bits(s);
    check(qtl::half_bits_to_float(q81[b].s) == s, "Q8_1 exact case: s not exact in half");
  }
  exact_case(neon.gemv_q4_1, scalar.gemv_q4_1, q41[0], q41[1], q81[0], q81[1]);

  // IQ4_NL: every level (-127..113), low and high nibbles, against -128 / +-127.
  ggml::block_iq4_nl nl[2];
  for (int b = 0; b < 2; ++b) {
    nl[b].d = half_bits(b == 0 ? 2.0f : 0.125f);
    for (int j = 0; j < 16; ++j) nl[b].qs[j] = static_cast<std::uint8_t>(b == 0 ? 17 * j : 16 * j + (15 - j));
  }
  exact_case(neon.gemv_iq4_nl, scalar.gemv_iq4_nl, nl[0], nl[1], q8[2], q8[0]);
}

// BitNet I2_S: ternary codes packed with bitnet::pack_i2_s (x86 layout, blocks of 128),
// int8 activations. Integer sums are exact and the float step is shared: the neon table
// must give the scalar table's bits, and the scalar table float(sum code * a) / a_scale *
// w_scale from the unpacked codes. Also a row range, unaligned bytes, and the step itself.
void i2_s_case(const kernel::kernel_table& neon, const kernel::kernel_table& scalar, const std::vector<std::int8_t>& codes,
               const std::vector<std::int8_t>& a, std::size_t rows, std::size_t cols, const std::string& what) {
  const std::size_t batch = a.size() / cols;
  const float w_scale = 0.0173f;
  const std::vector<float> a_scales = {3.5f, 127.0f / 9.25f, 0.71f};
  std::vector<std::uint8_t> w(bitnet::i2_s::bytes(rows, cols));
  bitnet::pack_i2_s(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), w_scale, w);

  std::vector<float> y_neon(batch * rows), y_scalar(batch * rows);
  kernel::gemv_i2_s(neon, w, rows, cols, a, a_scales, y_neon);
  kernel::gemv_i2_s(scalar, w, rows, cols, a, a_scales, y_scalar);
  for (std::size_t n = 0; n < batch; ++n) {
    int asum = 0;
    for (std::size_t j = 0; j < cols; ++j) asum += a[n * cols + j];
    for (std::size_t r = 0; r < rows; ++r) {
      int isum = 0;
      for (std::size_t j = 0; j < cols; ++j) isum += codes[r * cols + j] * a[n * cols + j];
      const std::size_t i = n * rows + r;
      const std::string where = "I2_S " + what + " cols " + std::to_string(cols) + " row " + std::to_string(r) +
                                " act " + std::to_string(n);
      check(y_scalar[i] == static_cast<float>(isum) / a_scales[n] * w_scale,
            where + ": scalar " + std::to_string(y_scalar[i]) + ", isum " + std::to_string(isum));
      check(y_neon[i] == y_scalar[i], where + ": neon " + std::to_string(y_neon[i]) + ", scalar " +
                                          std::to_string(y_scalar[i]));
      // The scalar reference ignores asum; the neon step takes it off, so a wrong one
      // shows through: this is the NEON step, not the reference under another name.
      const int step = kernel::i2_s_dot<kernel::neon>::row(w.data() + bitnet::i2_s::byte_index(r, 0, cols),
                                                           a.data() + n * cols, cols, asum + 5);
      check(step == isum - 5, where + ": neon step " + std::to_string(step) + " with asum + 5, isum " +
                                  std::to_string(isum));
    }
  }

  // Rows [1, rows - 1) from bytes one past an aligned address: the rest stays untouched.
  std::vector<std::uint8_t> shifted(w.size() + 1);
  std::memcpy(shifted.data() + 1, w.data(), w.size());
  std::vector<float> y_range(batch * rows, -1.0f);
  neon.gemv_i2_s(shifted.data() + 1, w_scale, rows, cols, a.data(), a_scales.data(), batch, y_range.data(), 1,
                 rows - 1);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < rows; ++r) {
      const std::size_t i = n * rows + r;
      const float expected = r == 0 || r == rows - 1 ? -1.0f : y_scalar[i];
      check(y_range[i] == expected, "I2_S " + what + " range/unaligned row " + std::to_string(r) + " act " +
                                        std::to_string(n) + ": " + std::to_string(y_range[i]));
    }
}

void i2_s_cases(const kernel::kernel_table& neon, const kernel::kernel_table& scalar) {
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> ternary(-1, 1), int8(-128, 127);
  // 1, 3 (odd) and 8 blocks a row; 1 and 3 activation rows, -128 included and a run of it.
  for (const std::size_t cols : {128, 384, 1024})
    for (const std::size_t batch : {1, 3}) {
      const std::size_t rows = 6;
      std::vector<std::int8_t> codes(rows * cols), a(batch * cols);
      for (auto& c : codes) c = static_cast<std::int8_t>(ternary(rng));
      for (auto& v : a) v = static_cast<std::int8_t>(int8(rng));
      for (std::size_t j = 0; j < 40; ++j) a[j] = -128;
      i2_s_case(neon, scalar, codes, a, rows, cols, "random");
    }
  // Extremes: rows of all +1, all -1, all 0 and alternating, against all -128 and all 127.
  const std::size_t rows = 4, cols = 256;
  std::vector<std::int8_t> codes(rows * cols), a(2 * cols);
  for (std::size_t j = 0; j < cols; ++j) {
    codes[j] = 1;
    codes[cols + j] = -1;
    codes[2 * cols + j] = 0;
    codes[3 * cols + j] = static_cast<std::int8_t>(j % 2 ? 1 : -1);
    a[j] = -128;
    a[cols + j] = 127;
  }
  i2_s_case(neon, scalar, codes, a, rows, cols, "extreme");
}

// TL weights by table lookup: random codes with -128 activations, and rows of +-256 per
// group past the int16 widening point; neon and scalar equal the sums over the codes.
void tl_cases(const kernel::kernel_table& neon, const kernel::kernel_table& scalar) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> ternary(-1, 1), int8(-128, 127);
  for (const auto [rows, cols, batch] : {std::array<std::size_t, 3>{67, 4, 1}, {70, 384, 3}, {65, 600, 2}}) {
    std::vector<std::int8_t> codes(rows * cols), a(batch * cols);
    for (auto& c : codes) c = static_cast<std::int8_t>(ternary(rng));
    for (auto& v : a) v = static_cast<std::int8_t>(int8(rng));
    if (cols == 600)  // every group of row 0 sums to +256 for token 0
      for (std::size_t j = 0; j < cols; ++j) codes[j] = -1, a[j] = -128;
    const std::vector<float> a_scales = {1.5f, 0.37f, 9.0f};
    std::vector<std::uint8_t> w(qtl::bitnet::tl::bytes(rows, cols));
    qtl::bitnet::pack_tl(qtl::matrix_view<const std::int8_t>(codes.data(), rows, cols), 0.02f, w);
    std::vector<float> y_neon(batch * rows), y_scalar(batch * rows);
    kernel::gemv_tl(neon, w, rows, cols, a, a_scales, y_neon);
    kernel::gemv_tl(scalar, w, rows, cols, a, a_scales, y_scalar);
    for (std::size_t n = 0; n < batch; ++n)
      for (std::size_t r = 0; r < rows; ++r) {
        int isum = 0;
        for (std::size_t j = 0; j < cols; ++j) isum += codes[r * cols + j] * a[n * cols + j];
        const float exact = static_cast<float>(isum) / a_scales[n] * 0.02f;
        const std::size_t i = n * rows + r;
        check(y_neon[i] == exact && y_scalar[i] == exact,
              "tl " + std::to_string(rows) + "x" + std::to_string(cols) + " row " + std::to_string(r) + ": neon " +
                  std::to_string(y_neon[i]) + ", scalar " + std::to_string(y_scalar[i]) + ", exact " +
                  std::to_string(exact));
      }
  }
}

// The neon table's quantizers (activations and weights) against the scalar quantizers, byte for byte:
// random rows, every edge case of the scalar code, scales from 1e-40 to 1e38.
template <class B>
void quantize_case(const kernel::kernel_table& neon, const std::vector<float>& x, const std::string& what) {
  std::vector<B> want(x.size() / B::elements), got(want.size());
  ggml::quantize<B>(x, std::span<B>(want));
  kernel::quantize<B>(neon, x, std::span<B>(got));
  check(std::memcmp(want.data(), got.data(), want.size() * sizeof(B)) == 0, std::string(B::name) + " " + what);
}

template <class B>
void quantize_cases(const kernel::kernel_table& neon) {
  quantize_case<B>(neon, random_floats(1024, 41), "random");
  quantize_case<B>(neon, qtl::test::edge_blocks<B>(), "edge cases");
  quantize_case<B>(neon, qtl::test::scaled_blocks<B>(random_floats(B::elements * 64, 43), 44), "scales");
}

void token_cases(const kernel::kernel_table& neon) {
  for (const std::size_t cols : {1, 5, 31, 32, 33, 100, 259}) {
    const auto x = random_floats(2 * cols, static_cast<unsigned>(cols));
    const auto view = qtl::matrix_view<const float>(x.data(), 2, cols);
    std::vector<std::int8_t> want(2 * cols), got(2 * cols);
    std::vector<float> ws(2), gs(2);
    bitnet::quantize_activations(view, qtl::matrix_view<std::int8_t>(want.data(), 2, cols), ws);
    kernel::quantize_activations(neon, view, qtl::matrix_view<std::int8_t>(got.data(), 2, cols), gs);
    check(want == got && std::memcmp(ws.data(), gs.data(), 2 * sizeof(float)) == 0,
          "i8 per token, cols " + std::to_string(cols));
  }
}

// BitNet weights: ternary codes and their I2_S packing (x86 layout), strided rows.
void ternary_cases(const kernel::kernel_table& neon) {
  const std::size_t rows = 3, cols = 384, stride = 389;
  std::vector<float> w = random_floats(rows * stride, 49);
  w[0] = 0.5f, w[1] = -0.5f;
  const auto view = qtl::matrix_view<const float>(w.data(), rows, cols, stride);
  std::vector<std::int8_t> want(rows * cols), got(rows * cols);
  const auto ws = bitnet::quantize_weights(view, qtl::matrix_view<std::int8_t>(want.data(), rows, cols));
  const auto gs = kernel::quantize_weights(neon, view, qtl::matrix_view<std::int8_t>(got.data(), rows, cols));
  check(want == got && ws.s == gs.s, "ternary weight codes");
  const auto codes = qtl::matrix_view<const std::int8_t>(want.data(), rows, cols);
  std::vector<std::uint8_t> packed(bitnet::i2_s::bytes(rows, cols)), packed_neon(packed.size(), 0xEE);
  bitnet::pack_i2_s(codes, ws.scale, std::span(packed));
  kernel::pack_i2_s(neon, codes, ws.scale, std::span(packed_neon));
  check(packed == packed_neon, "I2_S packing");
}

// FP8 codes of values around every code, beyond the range, NaN and Inf.
template <class F>
void fp8_cases(const kernel::kernel_table& neon) {
  std::vector<float> x = random_floats(500, 47);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] *= std::pow(2.0f, static_cast<float>(i % 40) - 20.0f);
  for (int c = 0; c < 255; ++c) {
    const float v = F::decode(c), next = F::decode(c + 1);
    if (std::isfinite(v) && std::isfinite(next)) x.push_back(v + (next - v) / 2), x.push_back(-v);
  }
  for (int i = 0; i < 8; ++i) x.push_back(i % 2 ? std::numeric_limits<float>::infinity() : std::nanf(""));
  for (const auto overflow : {qtl::minifloat_overflow::saturate, qtl::minifloat_overflow::non_saturating}) {
    std::vector<std::uint8_t> want(x.size()), got(x.size());
    qtl::minifloat_encode<F>(x, want, overflow, qtl::nonfinite_policy::propagate);
    kernel::minifloat_encode<F>(neon, x, got, overflow, qtl::nonfinite_policy::propagate);
    check(want == got, "fp8 codes, " + std::to_string(F::exponent_bits) + " exponent bits");
  }
}

// bitsandbytes NF4 / FP4 codes and absmax against bnb::quantize_4bit, bit for bit: random
// values in whole and partial blocks (odd block sizes: bytes straddle blocks), ties on the
// levels' midpoints, zero blocks.
void bnb_4bit_case(const kernel::kernel_table& neon, const std::vector<float>& x, std::int64_t blocksize,
                   const std::string& what) {
  for (const auto type : {qtl::bnb::quant_type::nf4, qtl::bnb::quant_type::fp4}) {
    std::vector<std::uint8_t> want(qtl::bnb::packed_4bit_size(x.size())), got(want.size(), 0xA5);
    std::vector<float> want_absmax(qtl::bnb::block_count(x.size(), blocksize)), got_absmax(want_absmax.size(), -7.0f);
    qtl::bnb::quantize_4bit(std::span<const float>(x), type, blocksize, std::span(want), std::span(want_absmax));
    kernel::quantize_4bit(neon, x, type, blocksize, std::span(got), std::span(got_absmax));
    check(want == got && std::memcmp(want_absmax.data(), got_absmax.data(), want_absmax.size() * sizeof(float)) == 0,
          std::string(type == qtl::bnb::quant_type::nf4 ? "nf4 " : "fp4 ") + what + ", block size " +
              std::to_string(blocksize) + ", n " + std::to_string(x.size()));
  }
}

void bnb_4bit_cases(const kernel::kernel_table& neon) {
  for (const std::int64_t bs : {64, 4096, 1, 33, 100})
    for (const std::size_t n : {std::size_t{1}, std::size_t{64}, std::size_t{1001}, std::size_t{3 * 4096 + 70}})
      bnb_4bit_case(neon, random_floats(n, static_cast<unsigned>(n + static_cast<std::size_t>(bs))), bs, "random");
  for (const float a : {1.0f, 2.0f, 3.0f, 1e-20f}) {
    std::vector<float> x = qtl::test::bnb_tie_values(a);
    const std::size_t block = x.size();
    for (std::size_t i = 0; i < 2 * block + 40; ++i) x.push_back(x[i % block]);
    bnb_4bit_case(neon, x, static_cast<std::int64_t>(block), "ties");
    bnb_4bit_case(neon, x, 64, "ties");
  }
  std::vector<float> zeros(200, 0.0f);
  zeros[150] = 1e-40f;
  bnb_4bit_case(neon, zeros, 64, "zeros");
}

// The bnb 4-bit GEMV of the neon table (its nf4_step) and of the scalar one against the
// exact sum of the dequantized float weights times x, within gemv_nf4_test.cpp's bound;
// float and bfloat16 activations, 1..8 rows, block sizes the vectors divide and one
// they do not (the scalar step).
template <class X>
void gemv_4bit_case(const kernel::kernel_table& neon, const kernel::kernel_table& scalar, qtl::bnb::quant_type type,
                    std::int64_t blocksize, std::size_t rows, std::size_t cols, std::size_t batch, unsigned seed) {
  const std::size_t n = rows * cols;
  std::vector<std::uint8_t> packed(qtl::bnb::packed_4bit_size(n));
  std::vector<float> absmax(qtl::bnb::block_count(n, blocksize));
  qtl::bnb::quantize_4bit(std::span<const float>(random_floats(n, seed)), type, blocksize, std::span(packed),
                          std::span(absmax));
  const auto xf = random_floats(batch * cols, seed + 1);
  const std::vector<X> x(xf.begin(), xf.end());
  std::vector<float> w(n);
  qtl::bnb::dequantize_4bit(std::span<const std::uint8_t>(packed), std::span<const float>(absmax), type, blocksize,
                            std::span(w));
  std::vector<float> y_neon(batch * rows), y_scalar(batch * rows);
  kernel::gemv_4bit(neon, type, packed, absmax, blocksize, rows, cols, std::span<const X>(x), y_neon);
  kernel::gemv_4bit(scalar, type, packed, absmax, blocksize, rows, cols, std::span<const X>(x), y_scalar);
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t r = 0; r < rows; ++r) {
      double exact = 0.0, magnitude = 0.0;
      for (std::size_t j = 0; j < cols; ++j) {
        const double term = static_cast<double>(w[r * cols + j]) * static_cast<double>(static_cast<float>(x[b * cols + j]));
        exact += term;
        magnitude += std::fabs(term);
      }
      const double bound = 8.0 * std::numeric_limits<float>::epsilon() * magnitude;
      const std::size_t i = b * rows + r;
      const std::string where = std::string("gemv_4bit ") + (type == qtl::bnb::quant_type::nf4 ? "nf4" : "fp4") +
                                (sizeof(X) == 2 ? " bf16" : " f32") + " block " + std::to_string(blocksize) +
                                " cols " + std::to_string(cols) + " batch " + std::to_string(batch) + " row " +
                                std::to_string(r);
      check(std::fabs(y_neon[i] - exact) <= bound, where + ": neon " + std::to_string(y_neon[i]) + ", exact " +
                                                       std::to_string(exact));
      check(std::fabs(y_scalar[i] - exact) <= 4.0 * bound, where + ": scalar " + std::to_string(y_scalar[i]));
    }
}

void gemv_4bit_cases(const kernel::kernel_table& neon, const kernel::kernel_table& scalar) {
  for (const auto type : {qtl::bnb::quant_type::nf4, qtl::bnb::quant_type::fp4})
    for (const std::int64_t bs : {64, 128, 4, 6})
      for (const std::size_t batch : {1, 3, 8}) {
        gemv_4bit_case<float>(neon, scalar, type, bs, 9, 384, batch, static_cast<unsigned>(bs + batch));
        gemv_4bit_case<qtl::bfloat16>(neon, scalar, type, bs, 5, 384, batch, static_cast<unsigned>(bs * 3 + batch));
      }
  // One activation row of ones, NF4 codes 15 (level 1): every sum is a block absmax times
  // the block size, exactly, on both tables.
  std::vector<std::uint8_t> packed(64, 0xFF);
  const std::vector<float> absmax{0.5f, 3.0f}, ones(64, 1.0f);
  std::vector<float> y_neon(2), y_scalar(2);
  kernel::gemv_4bit(neon, qtl::bnb::quant_type::nf4, packed, absmax, 64, 2, 64, std::span<const float>(ones), y_neon);
  kernel::gemv_4bit(scalar, qtl::bnb::quant_type::nf4, packed, absmax, 64, 2, 64, std::span<const float>(ones), y_scalar);
  check(y_neon[0] == 32.0f && y_neon[1] == 192.0f && y_scalar == y_neon, "gemv_4bit exact case");
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__ARM_FEATURE_DOTPROD)
  const std::string path = "sdot";
#else
  const std::string path = "widening";
#endif
  std::printf("neon kernels, %s path\n", path.c_str());
  if (argc > 1) check(path == argv[1], "built the " + path + " path, expected " + argv[1]);

  // The runtime dispatch of qtl_add_runtime_dispatch(): neon first, found by xsimd's check.
  const auto usable = kernel::usable_archs();
  check(!usable.empty() && usable.front() == kernel::arch_id::neon, "neon is not the best usable arch");
  const kernel::kernel_table neon = kernel::kernels_for(kernel::arch_id::neon);
  const kernel::kernel_table scalar = kernel::kernels_for(kernel::arch_id::scalar);
  check(neon.arch == kernel::arch_id::neon && scalar.arch == kernel::arch_id::scalar, "table arch ids");

  random_cases<ggml::block_q8_0>(neon, scalar);
  random_cases<ggml::block_q4_0>(neon, scalar);
  random_cases<ggml::block_tq2_0>(neon, scalar);
  random_cases<ggml::block_q4_1>(neon, scalar);
  random_cases<ggml::block_iq4_nl>(neon, scalar);
  random_cases<ggml::block_q5_0>(neon, scalar);
  random_cases<ggml::block_q5_1>(neon, scalar);
  random_cases<ggml::block_q2_k>(neon, scalar);
  random_cases<ggml::block_q3_k>(neon, scalar);
  random_cases<ggml::block_q4_k>(neon, scalar);
  random_cases<ggml::block_q5_k>(neon, scalar);
  random_cases<ggml::block_q6_k>(neon, scalar);
  prepared_cases<ggml::block_q8_0>(neon, scalar);
  prepared_cases<ggml::block_q4_0>(neon, scalar);
  prepared_cases<ggml::block_iq4_nl>(neon, scalar);
  prepared_cases<ggml::block_q4_k>(neon, scalar);
  exact_cases(neon, scalar);
  i2_s_cases(neon, scalar);
  tl_cases(neon, scalar);
  quantize_cases<ggml::block_q8_0>(neon);
  quantize_cases<ggml::block_q8_1>(neon);
  quantize_cases<ggml::block_q8_k>(neon);
  quantize_cases<ggml::block_q4_0>(neon);
  quantize_cases<ggml::block_q4_1>(neon);
  quantize_cases<ggml::block_tq2_0>(neon);
  quantize_cases<ggml::block_iq4_nl>(neon);
  ternary_cases(neon);
  token_cases(neon);
  fp8_cases<qtl::fp8_e4m3>(neon);
  fp8_cases<qtl::fp8_e5m2>(neon);
  bnb_4bit_cases(neon);
  gemv_4bit_cases(neon, scalar);

  if (failures == 0) std::printf("all passed\n");
  else std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}

#endif  // QTL_NEON_TEST_PROGRAM
