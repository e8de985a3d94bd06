#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/kernel/simd_quantizer.hpp"
#include "qtl/pack/packed_tensor.hpp"
#include "qtl/qat/lora_linear.hpp"
#include "qtl/quantizer.hpp"

namespace {

using qtl::matrix_view;
using matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void require_close(const float* actual, const std::vector<float>& expected, float tolerance, const char* what) {
  INFO(what);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("element " << i << ": qtl " << actual[i] << ", torch " << expected[i]);
    REQUIRE(std::abs(actual[i] - expected[i]) <= tolerance * std::max(1.0f, std::abs(expected[i])));
  }
}

}  // namespace

TEST_CASE("lora_linear's forward and gradients equal torch autograd on a quantized base", "[qat][golden]") {
  const auto golden = qtl::test::golden_file::load("qat.qtlg");
  const auto codes = golden.get<std::int8_t>("lora/codes");
  const auto scales = golden.get<float>("lora/row_scale");
  const std::size_t out = 24, in = 40, tokens = 6;
  qtl::quantized_tensor<qtl::int8> base{out, in, qtl::int8_per_channel_symmetric{}.grid(out, in),
                                        std::vector<std::int8_t>(codes.begin(), codes.end()), {}};
  for (const float s : scales) base.params.push_back({s, 1.0f / s, 0});
  qtl::qat::lora_linear<qtl::int8_per_channel_symmetric> layer({}, base, out, in, golden.get<float>("lora/bias"),
                                                              {.rank = 4, .alpha = 8.0f});
  CHECK(layer.scaling() == 2.0f);
  const auto a = golden.get<float>("lora/a"), b = golden.get<float>("lora/b");
  layer.a() = Eigen::Map<const matrix>(a.data(), 4, static_cast<Eigen::Index>(in));
  layer.b() = Eigen::Map<const matrix>(b.data(), static_cast<Eigen::Index>(out), 4);
  const auto x = golden.get<float>("lora/x"), dy = golden.get<float>("lora/dy");
  std::vector<float> y(tokens * out), dx(tokens * in);
  layer.forward(matrix_view<const float>(x.data(), tokens, in), matrix_view<float>(y.data(), tokens, out));
  layer.backward(matrix_view<const float>(x.data(), tokens, in), matrix_view<const float>(dy.data(), tokens, out),
                 matrix_view<float>(dx.data(), tokens, in));
  require_close(y.data(), golden.get<float>("lora/y"), 1e-5f, "y");
  require_close(dx.data(), golden.get<float>("lora/dx"), 1e-5f, "dx");
  require_close(layer.grad_a().data(), golden.get<float>("lora/da"), 1e-5f, "dA");
  require_close(layer.grad_b().data(), golden.get<float>("lora/db"), 1e-5f, "dB");
}

TEST_CASE("lora_linear starts as its base, learns a residual, and merges", "[qat]") {
  // A float layer, its NF4 g64 base packed at 4 bits (SIMD dequantize), adapters trained on
  // the layer's outputs: the error falls below the base's, and merged() is what forward uses.
  const std::size_t out = 32, in = 128, tokens = 64;
  std::vector<float> w(out * in), x(tokens * in);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.05f * std::sin(0.37f * static_cast<float>(i)) + (i % 17 == 0 ? 0.1f : 0.0f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.11f * static_cast<float>(i * i % 1013));
  using nf4_g64 = qtl::quantizer<qtl::nf4, qtl::codebook, qtl::per_group<64>>;
  using simd = qtl::kernel::simd_quantizer<nf4_g64>;
  const matrix_view<const float> weights(w.data(), out, in), inputs(x.data(), tokens, in);
  const auto packed = qtl::packed_tensor<qtl::nf4>::pack(nf4_g64{}.quantize(weights));
  qtl::qat::lora_linear<simd, decltype(packed)> layer(simd{}, packed, out, in, {}, {.rank = 8, .alpha = 16.0f, .seed = 3});
  matrix target = Eigen::Map<const matrix>(x.data(), tokens, in) * Eigen::Map<const matrix>(w.data(), out, in).transpose();
  std::vector<float> y(tokens * out);
  const auto loss = [&] {
    layer.forward(inputs, matrix_view<float>(y.data(), tokens, out));
    return (Eigen::Map<const matrix>(y.data(), tokens, out) - target).squaredNorm();
  };
  const float base_loss = loss();
  CHECK(layer.b().isZero());  // B starts at zero: the layer is its base
  CHECK(layer.a().cwiseAbs().maxCoeff() <= 1.0f / std::sqrt(128.0f));
  float last = base_loss;
  for (int step = 0; step < 500; ++step) {
    last = loss();
    const matrix dy = 2.0f * (Eigen::Map<const matrix>(y.data(), tokens, out) - target) / float(tokens);
    layer.backward(inputs, matrix_view<const float>(dy.data(), tokens, out), {});
    layer.a() -= 0.05f * layer.grad_a();
    layer.b() -= 0.05f * layer.grad_b();
  }
  INFO("loss " << base_loss << " -> " << last);
  CHECK(last < 0.75f * base_loss);
  const matrix merged = layer.merged();
  const matrix through_merged = Eigen::Map<const matrix>(x.data(), tokens, in) * merged.transpose();
  loss();
  CHECK((through_merged - Eigen::Map<const matrix>(y.data(), tokens, out)).cwiseAbs().maxCoeff() < 1e-4f);
}

TEST_CASE("lora_linear's errors", "[qat]") {
  const std::size_t out = 8, in = 16;
  std::vector<float> w(out * in, 0.5f);
  const auto base = qtl::int8_per_channel_symmetric{}.quantize(matrix_view<const float>(w.data(), out, in));
  using layer = qtl::qat::lora_linear<qtl::int8_per_channel_symmetric>;
  CHECK_THROWS_AS(layer({}, base, out, in, {}, {.rank = 0}), qtl::error);
  CHECK_THROWS_AS(layer({}, base, out, in, {}, {.rank = 9}), qtl::error);
  CHECK_THROWS_AS(layer({}, base, out, in, std::vector<float>(3), {.rank = 2}), qtl::error);
  CHECK_THROWS_AS(layer({}, base, out + 1, in, {}, {.rank = 2}), qtl::error);  // not the base's shape
  layer l({}, base, out, in, {}, {.rank = 2});
  std::vector<float> x(4 * in, 1.0f), y(4 * out), dy(4 * out, 1.0f);
  CHECK_THROWS_AS(l.forward(matrix_view<const float>(x.data(), 4, in), matrix_view<float>(y.data(), 4, out - 1)), qtl::error);
  l.forward(matrix_view<const float>(x.data(), 4, in), matrix_view<float>(y.data(), 4, out));
  dy[5] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(l.backward(matrix_view<const float>(x.data(), 4, in), matrix_view<const float>(dy.data(), 4, out), {}),
                  qtl::error);
}
