#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/kernel/simd_quantizer.hpp"
#include "qtl/qat/straight_through.hpp"
#include "qtl/quantizer.hpp"

namespace {

std::vector<float> wave(std::size_t n) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = std::sin(0.21f * static_cast<float>(i)) * (1.0f + static_cast<float>(i % 7));
  return x;
}

}  // namespace

TEST_CASE("straight_through's forward is the composition's fake_quantize, scalar and SIMD alike", "[qat]") {
  const std::vector<float> x = wave(4 * 256);
  const qtl::matrix_view<const float> in(x.data(), 4, 256);
  std::vector<float> expected(x.size()), scalar(x.size()), simd(x.size());
  const qtl::int4_g64_affine q;
  q.fake_quantize(in, qtl::matrix_view<float>(expected.data(), 4, 256));
  qtl::qat::straight_through<qtl::int4_g64_affine> a;
  a.forward(qtl::as_matrix(in), qtl::matrix_view<float>(scalar.data(), 4, 256));
  qtl::qat::straight_through<qtl::kernel::simd_quantizer<qtl::int4_g64_affine>> b;
  b.forward(qtl::as_matrix(in), qtl::matrix_view<float>(simd.data(), 4, 256));
  CHECK(scalar == expected);
  CHECK(simd == expected);
  CHECK(a.params() == q.params(in));
}

TEST_CASE("straight_through passes the gradient, clipped or not", "[qat]") {
  const std::vector<float> x = {-3.0f, -1.0f, -0.2f, 0.0f, 0.4f, 1.0f, 1.3f, 2.9f};
  const std::vector<float> dy = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> y(8), dx(8);
  const std::vector<qtl::quant_params> narrow = {{0.25f, 4.0f, 0}};  // int8 codes 0.25 apart: ±31.75
  qtl::qat::straight_through<qtl::int8_per_tensor_symmetric> clipped;
  clipped.forward(qtl::as_matrix(x), std::vector<qtl::quant_params>{{1.0f / 127.0f * 1.0f, 127.0f, 0}}, qtl::as_matrix(y));  // range ±1
  clipped.backward(qtl::as_matrix(x), qtl::as_matrix(y), qtl::as_matrix(dy), qtl::as_matrix(dx));
  CHECK(dx == std::vector<float>{0, 2, 3, 4, 5, 6, 0, 0});
  qtl::qat::straight_through<qtl::int8_per_tensor_symmetric> plain({}, qtl::qat::ste::plain);
  plain.forward(qtl::as_matrix(x), std::vector<qtl::quant_params>{{1.0f / 127.0f, 127.0f, 0}}, qtl::as_matrix(y));
  plain.backward(qtl::as_matrix(x), qtl::as_matrix(y), qtl::as_matrix(dy), qtl::as_matrix(dx));
  CHECK(dx == dy);
  clipped.forward(qtl::as_matrix(x), narrow, qtl::as_matrix(y));  // nothing clips in a wide range
  clipped.backward(qtl::as_matrix(x), qtl::as_matrix(y), qtl::as_matrix(dy), qtl::as_matrix(dx));
  CHECK(dx == dy);
}

TEST_CASE("straight_through's errors", "[qat]") {
  qtl::qat::straight_through<qtl::int4_g32_symmetric> q;
  std::vector<float> x(64, 0.5f), y(64), dy(64, 1.0f), dx(64), none;
  CHECK_THROWS_AS(q.backward(qtl::as_matrix(x), qtl::as_matrix(y), qtl::as_matrix(dy), qtl::as_matrix(dx)), qtl::error);  // no forward yet
  CHECK_THROWS_AS(q.forward(qtl::as_matrix(none), qtl::as_matrix(none)), qtl::error);
  CHECK_THROWS_AS(q.forward(qtl::as_matrix(std::vector<float>(48, 1.0f)), qtl::as_matrix(std::vector<float>(48))), qtl::error);  // 32 does not divide 48
  q.forward(qtl::as_matrix(x), qtl::as_matrix(y));
  dy[5] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(q.backward(qtl::as_matrix(x), qtl::as_matrix(y), qtl::as_matrix(dy), qtl::as_matrix(dx)), qtl::error);
  CHECK_THROWS_AS(q.forward(qtl::as_matrix(x), std::vector<qtl::quant_params>(1), qtl::as_matrix(y)), qtl::error);  // one set for two groups
}
