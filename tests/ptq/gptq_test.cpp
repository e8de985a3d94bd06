// qtl::ptq::gptq against its defining properties: round-to-nearest when the Hessian is
// diagonal, a lower layer error than round-to-nearest on correlated inputs, the error it
// reports equal to the mean over tokens, codes that decode to its weights, the same bits
// on any number of threads, llm-compressor's result on the same layer (tests/golden/
// gptq_vectors.py), bad input.
#include "qtl/ptq/gptq.hpp"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/layout/compressed_tensors.hpp"
#include "qtl/scheme.hpp"
#include "synthetic_layer.hpp"

namespace {

using qtl::matrix_view;
using namespace qtl_test;

template <class F, class S>
void check_decodes(const qtl::ptq::gptq_result& r, S s = S{}) {
  for (std::size_t o = 0; o < r.rows; ++o)
    for (std::size_t c = 0; c < r.cols; ++c) {
      const auto& p = r.params[o * r.groups + r.group_of[c]];
      REQUIRE(s.template dequantize<F>(r.codes[o * r.cols + c], p) == r.dequantized[o * r.cols + c]);
    }
}

// The layer of tests/golden/gptq_vectors.py: small integers from the same 64-bit LCG.
struct lcg {
  std::uint64_t state;
  int next(int k) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((state >> 33) % static_cast<std::uint64_t>(2 * k + 1)) - k;
  }
};

constexpr std::size_t golden_tokens = 256, golden_in = 128, golden_out = 32;

template <int Bits>
void check_against_llm_compressor(const std::string& name, std::size_t group, bool symmetric, bool act_order,
                                  const std::vector<float>& w, const Eigen::MatrixXd& h) {
  INFO(name);
  const auto golden = qtl::test::golden_file::load("gptq.qtlg");
  const auto codes = golden.get<std::int8_t>(name + "/codes");
  const double error = golden.get<double>(name + "/error").at(0), rtn_error = golden.get<double>(name + "/rtn_error").at(0);
  const qtl::compressed_tensors::rtn scheme{.asymmetric = !symmetric};
  const auto r = qtl::ptq::gptq<qtl::int_format<Bits, true>, qtl::compressed_tensors::rtn>(
      matrix_view<const float>(w.data(), golden_out, golden_in), h,
      {.group_size = group, .act_order = act_order, .static_groups = true}, scheme);
  std::size_t same = 0;
  for (std::size_t i = 0; i < codes.size(); ++i) same += r.codes[i] == codes[i];
  CAPTURE(same, codes.size(), r.error, error, r.rtn_error, rtn_error);
  // Round to nearest with compressed-tensors' parameters: the same weights.
  CHECK(std::abs(r.rtn_error - rtn_error) <= 1e-9 * rtn_error);
  // GPTQ: llm-compressor rounds in float32, qtl in double, and no weight of this layer
  // is near enough to a rounding boundary for that to matter: every code is the same.
  CHECK(same == codes.size());
  CHECK(std::abs(r.error - error) <= 1e-9 * error);
  CHECK(r.error < 0.5 * r.rtn_error);
}

}  // namespace

TEST_CASE("gptq agrees with llm-compressor's GPTQ on the same layer", "[ptq][gptq][golden]") {
  lcg rng{2026};
  std::vector<float> x(golden_tokens * golden_in);
  for (std::size_t t = 0; t < golden_tokens; ++t) {
    std::vector<int> a(golden_in);
    for (auto& v : a) v = rng.next(8);
    const int shared = rng.next(4);
    for (std::size_t j = 0; j < golden_in; ++j) {
      const int v = a[j] + (j > 0 ? a[j - 1] : 0) + shared;
      x[t * golden_in + j] = static_cast<float>(j % 16 == 0 ? 4 * v : v);
    }
  }
  std::vector<float> w(golden_out * golden_in);
  for (auto& v : w) v = static_cast<float>(rng.next(512)) / 1024.0f;
  qtl::ptq::layer_inputs inputs(golden_in);
  inputs.add(matrix_view<const float>(x.data(), golden_tokens, golden_in));
  const Eigen::MatrixXd h = inputs.hessian();
  check_against_llm_compressor<4>("int4_g32_sym", 32, true, false, w, h);
  check_against_llm_compressor<4>("int4_g32_sym_actorder", 32, true, true, w, h);
  check_against_llm_compressor<4>("int4_g64_asym_actorder", 64, false, true, w, h);
  check_against_llm_compressor<3>("int3_g32_sym", 32, true, false, w, h);
}

TEST_CASE("gptq is round-to-nearest when the inputs are uncorrelated (diagonal Hessian)", "[ptq][gptq]") {
  const std::size_t in = 64, out = 16;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> w(out * in);
  for (auto& v : w) v = normal(rng);
  Eigen::MatrixXd h = Eigen::MatrixXd::Zero(in, in);
  for (std::size_t c = 0; c < in; ++c) h(c, c) = 0.5 + c;
  const qtl::ptq::gptq_config cfg{.group_size = 16, .block_size = 24};
  const auto r = qtl::ptq::gptq<qtl::int4, qtl::symmetric>(matrix_view<const float>(w.data(), out, in), h, cfg);
  std::vector<float> rtn(w.size());
  qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_group<16>>().fake_quantize(
      matrix_view<const float>(w.data(), out, in), matrix_view<float>(rtn.data(), out, in));
  CHECK(r.dequantized == rtn);
  CHECK(r.error == r.rtn_error);
  for (std::size_t c = 0; c < in; ++c) CHECK(r.group_of[c] == c / 16);
  check_decodes<qtl::int4, qtl::symmetric>(r);
}

TEST_CASE("gptq's range search shrinks each group's range to the least error", "[ptq][gptq]") {
  // A diagonal Hessian makes GPTQ round to nearest with its parameters, so the search's
  // effect is alone: with mse_norm 2 it minimizes each row group's Σ(w - ŵ)², which the
  // full range (the search's first candidate) bounds.
  const std::size_t in = 64, out = 16, group = 16;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::vector<float> w(out * in);
  for (auto& v : w) v = normal(rng);
  const Eigen::MatrixXd h = Eigen::MatrixXd::Identity(in, in);
  const matrix_view<const float> wv(w.data(), out, in);
  for (const bool affine : {false, true}) {
    const auto run = [&](std::size_t grid) {
      const qtl::ptq::gptq_config cfg{.group_size = group, .mse_grid = grid, .mse_norm = 2.0};
      if (affine) return qtl::ptq::gptq<qtl::uint4, qtl::affine>(wv, h, cfg);
      return qtl::ptq::gptq<qtl::int4, qtl::symmetric>(wv, h, cfg);
    };
    const auto plain = run(0), searched = run(100);
    if (affine)
      check_decodes<qtl::uint4, qtl::affine>(searched);
    else
      check_decodes<qtl::int4, qtl::symmetric>(searched);
    std::size_t shrunk = 0;
    for (std::size_t o = 0; o < out; ++o)
      for (std::size_t g = 0; g < in / group; ++g) {
        const auto squared = [&](const qtl::ptq::gptq_result& r) {
          double e = 0.0;
          for (std::size_t c = g * group; c < (g + 1) * group; ++c)
            e += std::pow(static_cast<double>(w[o * in + c] - r.dequantized[o * in + c]), 2);
          return e;
        };
        const float s = searched.params[o * searched.groups + g].scale, p = plain.params[o * plain.groups + g].scale;
        CHECK(squared(searched) <= squared(plain));
        CHECK(s <= p);
        CHECK(s > 0.2f * p);
        shrunk += s < p;
      }
    CHECK(shrunk > out * in / group / 2);  // Gaussian groups lose less with their tails clipped
    CHECK(searched.error < 0.97 * plain.error);  // measured 0.90 symmetric, 0.955 affine
    CHECK(searched.rtn_error == plain.rtn_error);  // the baseline stays plain round to nearest
  }
  CHECK_THROWS_AS((qtl::ptq::gptq<qtl::int4, qtl::symmetric>(wv, h, {.mse_grid = 100, .mse_norm = 0.0})), qtl::error);
  CHECK_THROWS_AS((qtl::ptq::gptq<qtl::int4, qtl::symmetric>(wv, h, {.mse_grid = 100, .max_shrink = 1.0})), qtl::error);
}

TEST_CASE("gptq lowers the layer error below round-to-nearest on correlated inputs", "[ptq][gptq]") {
  const auto l = correlated(512, 128, 48, 7);
  const auto h = hessian_of(l);
  const matrix_view<const float> w(l.w.data(), l.out, l.in);
  struct variant {
    const char* name;
    qtl::ptq::gptq_config cfg;
  };
  for (const auto& v : {variant{"per row", {}}, variant{"g32", {.group_size = 32}},
                        variant{"g32 blocks of 16", {.group_size = 32, .block_size = 16}},
                        variant{"g32 act-order", {.group_size = 32, .act_order = true}},
                        variant{"g32 act-order static groups", {.group_size = 32, .act_order = true, .static_groups = true}}}) {
    INFO(v.name);
    const auto r = qtl::ptq::gptq<qtl::int4, qtl::symmetric>(w, h, v.cfg);
    CHECK(r.error < 0.7 * r.rtn_error);
    CHECK(std::abs(r.error - direct_error(l, r.dequantized)) <= 1e-6 * r.error);
    check_decodes<qtl::int4, qtl::symmetric>(r);
    const auto a = qtl::ptq::gptq<qtl::uint4, qtl::affine>(w, h, v.cfg);
    CHECK(a.error < 0.7 * a.rtn_error);
    check_decodes<qtl::uint4, qtl::affine>(a);
    const auto three = qtl::ptq::gptq<qtl::int_format<3, true>, qtl::symmetric>(w, h, v.cfg);
    CHECK(three.error < 0.7 * three.rtn_error);
    CHECK(three.error > r.error);
  }
  // act-order without static groups: the groups follow the rounding order
  const auto r = qtl::ptq::gptq<qtl::int4, qtl::symmetric>(w, h, {.group_size = 32, .act_order = true});
  std::vector<std::size_t> per_group(4, 0);
  for (const auto g : r.group_of) ++per_group.at(g);
  CHECK(per_group == std::vector<std::size_t>(4, 32));
  bool reordered = false;
  for (std::size_t c = 0; c < l.in; ++c) reordered |= r.group_of[c] != c / 32;
  CHECK(reordered);
}

TEST_CASE("gptq and layer_inputs give the same bits on any number of threads", "[ptq][gptq]") {
  const auto l = correlated(300, 192, 150, 13);  // 150 rows: three chunks of up to 64, one short
  qtl::ptq::layer_inputs one(l.in), three(l.in);
  for (std::size_t t = 0; t < l.tokens; t += 100) {
    const matrix_view<const float> x(l.x.data() + t * l.in, 100, l.in);
    one.add(x);
    three.add(x, 3);
  }
  const Eigen::MatrixXd h = one.hessian();
  CHECK(h == three.hessian());
  Eigen::MatrixXd direct = Eigen::MatrixXd::Zero(l.in, l.in);  // 2/N Σ xᵀx, token by token
  for (std::size_t t = 0; t < l.tokens; ++t)
    for (std::size_t i = 0; i < l.in; ++i)
      for (std::size_t j = 0; j < l.in; ++j) direct(i, j) += double(l.x[t * l.in + i]) * double(l.x[t * l.in + j]);
  direct *= 2.0 / double(l.tokens);
  CHECK((h - direct).cwiseAbs().maxCoeff() <= 1e-12 * direct.cwiseAbs().maxCoeff());
  const matrix_view<const float> w(l.w.data(), l.out, l.in);
  for (const bool static_groups : {false, true}) {
    const qtl::ptq::gptq_config cfg{.group_size = 64, .block_size = 32, .act_order = true, .static_groups = static_groups};
    auto threaded = cfg;
    threaded.exec = 4;
    const auto a = qtl::ptq::gptq<qtl::int4, qtl::symmetric>(w, h, cfg), b = qtl::ptq::gptq<qtl::int4, qtl::symmetric>(w, h, threaded);
    CHECK(a.codes == b.codes);
    CHECK(a.dequantized == b.dequantized);
    CHECK(a.group_of == b.group_of);
    CHECK(a.params == b.params);
    CHECK(a.error == b.error);
    CHECK(a.rtn_error == b.rtn_error);
  }
}

TEST_CASE("gptq handles inputs that are never active and too few tokens", "[ptq][gptq]") {
  auto l = correlated(16, 64, 8, 11);  // 16 tokens for 64 inputs: H has rank <= 16
  for (std::size_t t = 0; t < l.tokens; ++t) l.x[t * l.in + 5] = 0.0f;  // input 5 never active
  const auto r = qtl::ptq::gptq<qtl::int4, qtl::symmetric>(matrix_view<const float>(l.w.data(), l.out, l.in), hessian_of(l),
                                                           {.group_size = 16});
  CHECK(r.note.find("1 inputs never active") != std::string::npos);
  for (std::size_t o = 0; o < l.out; ++o) CHECK(r.dequantized[o * l.in + 5] == 0.0f);
  CHECK(r.error <= r.rtn_error);
  // Where 0 is no level (mid-rise), the dead input rounds to ±step/2 and costs nothing:
  // the error GPTQ reports is still the true one.
  const auto h = hessian_of(l);
  const auto rise = qtl::ptq::gptq<qtl::int4, qtl::mid_rise>(matrix_view<const float>(l.w.data(), l.out, l.in), h,
                                                             {.group_size = 16, .block_size = 1000});
  CHECK(rise.dequantized[5] != 0.0f);
  const Eigen::MatrixXd delta = qtl::ptq::detail::finite_weights(matrix_view<const float>(l.w.data(), l.out, l.in), "test") -
                                qtl::ptq::detail::finite_weights(matrix_view<const float>(rise.dequantized.data(), l.out, l.in), "test");
  CHECK_THAT(rise.error, Catch::Matchers::WithinRel(qtl::ptq::layer_error(delta, h), 1e-9));
}

TEST_CASE("gptq refuses bad input", "[ptq][gptq]") {
  const auto l = correlated(64, 32, 4, 5);
  const auto h = hessian_of(l);
  std::vector<float> w = l.w;
  const matrix_view<const float> wv(w.data(), l.out, l.in);
  using qtl::ptq::gptq;
  CHECK_THROWS_AS((gptq<qtl::int4, qtl::symmetric>(wv, h, {.group_size = 12})), qtl::error);  // 12 does not divide 32
  CHECK_THROWS_AS((gptq<qtl::int4, qtl::symmetric>(wv, Eigen::MatrixXd::Identity(16, 16))), qtl::error);
  CHECK_THROWS_AS((gptq<qtl::int4, qtl::symmetric>(wv, h, {.block_size = 0})), qtl::error);
  CHECK_THROWS_AS((gptq<qtl::int4, qtl::symmetric>(wv, h, {.damp_percent = 0.0})), qtl::error);
  w[3] = std::nanf("");
  CHECK_THROWS_AS((gptq<qtl::int4, qtl::symmetric>(wv, h)), qtl::error);
  qtl::ptq::layer_inputs empty(32);
  CHECK_THROWS_AS(empty.hessian(), qtl::error);  // no calibration tokens
  std::vector<float> x(2 * 32, 1.0f);
  CHECK_THROWS_AS(empty.add(matrix_view<const float>(x.data(), 2, 16)), qtl::error);
  x[7] = INFINITY;
  CHECK_THROWS_AS(empty.add(matrix_view<const float>(x.data(), 2, 32)), qtl::error);
  CHECK(empty.tokens() == 0);
  CHECK_THROWS_AS(qtl::ptq::layer_inputs(0), qtl::error);
}
