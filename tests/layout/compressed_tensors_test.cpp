// qtl/layout/compressed_tensors.hpp: the rtn scheme gives compressed-tensors' scales,
// zero points, codes and dequantized values (its float32 steps transcribed below, the
// same ones tests/golden/tool_interop.py checks the `qtl` tool's files against with the
// package itself), on the scalar path and on every arch's composed kernels.
#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <qtl/layout/compressed_tensors.hpp>
#include <random>
#include <test_compositions.hpp>
#include <vector>

namespace {

namespace ct = qtl::compressed_tensors;

struct encoded {
  std::vector<std::int8_t> codes;
  std::vector<float> scale, back;
  std::vector<int> zero;
};

// compressed-tensors' calculate_qparams and quantize, step by step in float32.
encoded transcribed(const std::vector<float>& x, std::size_t cols, std::size_t group, int bits, bool asymmetric) {
  const float qmin = -std::ldexp(1.0f, bits - 1), qmax = -qmin - 1, range = qmax - qmin;
  encoded e;
  for (std::size_t g = 0; g < x.size() / group; ++g) {
    const auto first = x.begin() + static_cast<std::ptrdiff_t>(g * group), last = first + static_cast<std::ptrdiff_t>(group);
    const float lo = std::min(0.0f, *std::min_element(first, last)), hi = std::max(0.0f, *std::max_element(first, last));
    float s = asymmetric ? (hi - lo) / range : std::max(hi, -lo) / (range / 2);
    const float z = asymmetric && s > 0 ? std::nearbyint(std::clamp(qmin - lo / s, qmin, qmax)) : 0.0f;
    if (s == 0) s = std::numeric_limits<float>::epsilon();
    for (auto it = first; it != last; ++it) {
      const float q = std::nearbyint(std::clamp(*it / s + z, qmin, qmax));
      e.codes.push_back(static_cast<std::int8_t>(q));
      e.back.push_back((q - z) * s);
    }
    e.scale.push_back(s);
    e.zero.push_back(static_cast<int>(z));
  }
  (void)cols;
  return e;
}

// Rows of different character: normal, all zero, all positive, all negative, tiny, and
// values on the rounding ties of the row's own scale.
std::vector<float> rows_of_every_kind(std::size_t rows, std::size_t cols) {
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(rows * cols);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      float& v = x[r * cols + c];
      switch (r % 6) {
        case 0: v = d(rng); break;
        case 1: v = 0.0f; break;
        case 2: v = std::fabs(d(rng)) + 0.5f; break;
        case 3: v = -std::fabs(d(rng)) * 1e-3f; break;
        case 4: v = d(rng) * 1e-30f; break;
        default: v = (static_cast<float>(c % 15) - 7.0f + 0.5f) * 0.25f; break;  // halves of the step
      }
    }
  return x;
}

template <int Bits>
void check(std::size_t group, bool asymmetric) {
  constexpr std::size_t rows = 12, cols = 192;
  const auto x = rows_of_every_kind(rows, cols);
  const auto want = transcribed(x, cols, group, Bits, asymmetric);
  const auto q = ct::make_int_quantizer<Bits>(group, asymmetric);
  const qtl::matrix_view<const float> xv(x.data(), rows, cols);
  const auto check_one = [&](const qtl::quantized_tensor<qtl::int_format<Bits, true>>& t, const std::vector<float>& back) {
    REQUIRE(t.params.size() == want.scale.size());
    for (std::size_t g = 0; g < want.scale.size(); ++g) {
      REQUIRE(t.params[g].scale == want.scale[g]);
      REQUIRE(t.params[g].zero_point == want.zero[g]);
    }
    REQUIRE(t.codes == want.codes);
    REQUIRE(back == want.back);
  };
  INFO("bits " << Bits << ", group " << group << (asymmetric ? ", asymmetric" : ", symmetric"));
  const auto t = q.quantize(xv);  // the scalar path
  std::vector<float> back(x.size());
  q.dequantize(t, qtl::matrix_view<float>(back.data(), rows, cols));
  check_one(t, back);
  if constexpr (Bits == 4) {  // listed in tests/CMakeLists.txt's composed dispatch: every arch
    for (const auto a : qtl::kernel::composed_archs<ct::int_quantizer<4>>()) {
      if (!qtl::kernel::cpu_supports(a)) continue;
      INFO(qtl::kernel::arch_name(a));
      const auto k = qtl::kernel::composed_kernels_for<ct::int_quantizer<4>>(a);
      const auto tk = k.quantize(q, xv, qtl::kernel::executor(2));
      std::vector<float> bk(x.size());
      k.dequantize(q, tk, qtl::matrix_view<float>(bk.data(), rows, cols), qtl::kernel::executor(1));
      check_one(tk, bk);
    }
  } else {  // this build's own arch
    const qtl::kernel::simd_quantizer<ct::int_quantizer<Bits>> k(q);
    const auto tk = k.quantize(xv);
    std::vector<float> bk(x.size());
    k.dequantize(tk, qtl::matrix_view<float>(bk.data(), rows, cols));
    check_one(tk, bk);
  }
}

}  // namespace

TEST_CASE("compressed_tensors::rtn: compressed-tensors' params, codes and values on every path", "[layout]") {
  for (const bool asymmetric : {false, true}) {
    check<4>(32, asymmetric);
    check<4>(192, asymmetric);  // one group a row: the "channel" strategy
    check<8>(64, asymmetric);
    check<8>(192, asymmetric);
  }
}

TEST_CASE("compressed_tensors::rtn: the worked values", "[layout]") {
  // symmetric int4: s = 3 / 7.5 = 0.4; 1.0 / 0.4 = 2.5 rounds to 2 (even), -3 -> -7.5 -> -8
  const std::vector<float> x = {1.0f, -3.0f, 0.2f, 3.0f};
  const auto sym = ct::make_int_quantizer<4>(4, false).quantize(qtl::matrix_view<const float>(x.data(), 1, 4));
  REQUIRE(sym.params[0].scale == 3.0f / 7.5f);
  REQUIRE(sym.params[0].zero_point == 0);
  REQUIRE(sym.codes == std::vector<std::int8_t>{2, -8, 0, 7});  // 3 / 0.4 = 7.5, clamped to 7 before rounding
  // asymmetric int4 on [0, 1.5]: lo = 0, s = 0.1, zero point -8, codes from -8
  const std::vector<float> y = {0.0f, 1.5f, 0.75f, 0.05f};
  const auto asym = ct::make_int_quantizer<4>(4, true).quantize(qtl::matrix_view<const float>(y.data(), 1, 4));
  REQUIRE(asym.params[0].scale == 1.5f / 15.0f);
  REQUIRE(asym.params[0].zero_point == -8);
  REQUIRE(asym.codes[0] == -8);
  REQUIRE(asym.codes[1] == 7);
  // an all-zero group: scale FLT_EPSILON, codes 0
  const std::vector<float> z(8, 0.0f);
  const auto zero = ct::make_int_quantizer<8>(8, true).quantize(qtl::matrix_view<const float>(z.data(), 1, 8));
  REQUIRE(zero.params[0].scale == std::numeric_limits<float>::epsilon());
  REQUIRE(zero.params[0].zero_point == 0);
  REQUIRE(std::all_of(zero.codes.begin(), zero.codes.end(), [](std::int8_t c) { return c == 0; }));
}
