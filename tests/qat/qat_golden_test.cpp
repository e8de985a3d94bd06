// Every method of qtl/qat/ against the same method written in torch and differentiated by
// autograd (tests/golden/qat_vectors.py, qat.qtlg): forward values and every gradient.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/qat/binary.hpp"
#include "qtl/qat/bitnet.hpp"
#include "qtl/qat/dorefa.hpp"
#include "qtl/qat/inq.hpp"
#include "qtl/qat/lsq.hpp"
#include "qtl/qat/pact.hpp"
#include "qtl/qat/straight_through.hpp"
#include "qtl/qat/ternary.hpp"

namespace {

using qtl::matrix_view;
using qtl::test::golden_file;

const golden_file& golden() {
  static const golden_file file = golden_file::load("qat.qtlg");
  return file;
}

// One case's arrays: its input x, upstream gradient dy, and room for qtl's y and dx.
struct golden_case {
  explicit golden_case(std::string case_name)
      : name(std::move(case_name)), x(golden().get<float>(name + "/x")), rows(golden().shape(name + "/x")[0]),
        cols(golden().shape(name + "/x")[1]), y(x.size()), dx(x.size()) {
    if (golden().contains(name + "/dy")) dy = golden().get<float>(name + "/dy");
  }
  matrix_view<const float> in() const { return {x.data(), rows, cols}; }
  matrix_view<const float> upstream() const { return {dy.data(), rows, cols}; }
  matrix_view<float> out() { return {y.data(), rows, cols}; }
  matrix_view<float> grad() { return {dx.data(), rows, cols}; }
  std::vector<float> expected(const std::string& what) const { return golden().get<float>(name + "/" + what); }

  std::string name;
  std::vector<float> x;
  std::size_t rows, cols;
  std::vector<float> y, dx, dy;
};

// Elementwise: |a - b| <= tolerance · max(1, |b|); the first mismatch is reported.
void require_close(const std::vector<float>& actual, const std::vector<float>& expected, float tolerance,
                   const std::string& what) {
  INFO(what);
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    INFO("element " << i << ": qtl " << actual[i] << ", torch " << expected[i]);
    REQUIRE(std::abs(actual[i] - expected[i]) <= tolerance * std::max(1.0f, std::abs(expected[i])));
  }
}

void require_close(float actual, float expected, float relative, const std::string& what) {
  INFO(what << ": qtl " << actual << ", torch " << expected);
  REQUIRE(std::abs(actual - expected) <= relative * std::abs(expected));
}

// Forward y and input gradient dx of a stateless-backward method equal torch's.
void require_case(golden_case& c, float forward_tolerance = 1e-6f, float backward_tolerance = 1e-5f) {
  require_close(c.y, c.expected("y"), forward_tolerance, c.name + " forward");
  require_close(c.dx, c.expected("dx"), backward_tolerance, c.name + " backward");
}

}  // namespace

TEST_CASE("straight_through clipped equals torch.fake_quantize_per_channel_affine", "[qat][golden]") {
  golden_case c("ste_int4_g32_clipped");
  std::vector<qtl::quant_params> params;
  for (const float s : c.expected("scale")) params.push_back({s, 1.0f / s, 0});
  qtl::qat::straight_through<qtl::int4_g32_symmetric> ste;
  ste.forward(c.in(), params, c.out());
  ste.backward(c.in(), c.out(), c.upstream(), c.grad());
  require_case(c, 0.0f, 0.0f);
  std::size_t clipped = 0;
  for (const float g : c.dx) clipped += g == 0.0f;
  CHECK(clipped > 20);  // the case exercises the clipping
}

TEST_CASE("lsq and lsq+ equal the LSQ listing under autograd", "[qat][golden]") {
  SECTION("LSQ, signed 3-bit weights from its initial step") {
    golden_case c("lsq_w3");
    const float step = qtl::qat::lsq::initial_step(c.in(), 3);
    const auto q = qtl::qat::lsq::signed_bits(3, step);
    q.forward(c.in(), c.out());
    const auto grads = q.backward(c.in(), c.upstream(), c.grad());
    require_case(c);
    require_close(grads.step, c.expected("dparams")[0], 1e-4f, "ds");
  }
  SECTION("LSQ+, unsigned 4-bit activations with an offset") {
    golden_case c("lsq_plus_a4");
    const auto q = qtl::qat::lsq::unsigned_bits(4, 0.17f, -1.1f);
    q.forward(c.in(), c.out());
    const auto grads = q.backward(c.in(), c.upstream(), c.grad());
    require_case(c);
    require_close(grads.step, c.expected("dparams")[0], 1e-4f, "ds");
    require_close(grads.offset, c.expected("dparams")[1], 1e-4f, "dbeta");
  }
}

TEST_CASE("pact equals the paper's estimator under autograd", "[qat][golden]") {
  golden_case c("pact_a4");
  const qtl::qat::pact q(4, 1.5f);
  q.forward(c.in(), c.out());
  const float dalpha = q.backward(c.in(), c.upstream(), c.grad());
  require_case(c);
  require_close(dalpha, c.expected("dparams")[0], 1e-5f, "dalpha");
}

TEST_CASE("dorefa weights, activations and gradients equal torch", "[qat][golden]") {
  for (const int bits : {1, 2, 4}) {
    golden_case c("dorefa_w" + std::to_string(bits));
    const qtl::qat::dorefa_weights q(bits);
    q.forward(c.in(), c.out());
    q.backward(c.in(), c.upstream(), c.grad());
    require_case(c, 1e-6f, 1e-5f);
  }
  golden_case a("dorefa_a3");
  const qtl::qat::dorefa_activations act(3);
  act.forward(a.in(), a.out());
  act.backward(a.in(), a.upstream(), a.grad());
  require_case(a);

  golden_case g("dorefa_g4");
  const std::vector<float> noise = g.expected("noise");
  qtl::qat::dorefa_gradients(4).quantize(g.in(), matrix_view<const float>(noise.data(), g.rows, g.cols), g.out());
  require_close(g.y, g.expected("y"), 1e-9f, "quantized gradients");
}

TEST_CASE("bitnet weights and activations equal BitNet b1.58's quantizers", "[qat][golden]") {
  const auto check = [](auto q, const char* name) {
    golden_case c(name);
    q.forward(c.in(), c.out());
    q.backward(c.in(), c.out(), c.upstream(), c.grad());
    require_case(c, 1e-6f, 0.0f);
  };
  check(qtl::qat::bitnet_weights(), "bitnet_weights");
  check(qtl::qat::bitnet_activations(), "bitnet_activations");
}

TEST_CASE("xnor, abc_net, twn and ttq equal torch", "[qat][golden]") {
  SECTION("XNOR-Net's scaled sign") {
    golden_case c("xnor");
    qtl::qat::xnor::forward(c.in(), c.out());
    qtl::qat::xnor::backward(c.in(), c.upstream(), c.grad());
    require_case(c);
  }
  SECTION("ABC-Net with 1, 3 and 5 bases") {
    for (const int bases : {1, 3, 5}) {
      golden_case c("abc_net_" + std::to_string(bases));
      qtl::qat::abc_net q(bases);
      q.forward(c.in(), c.out());
      q.backward(c.upstream(), c.grad());
      const std::vector<double> alphas = golden().get<double>(c.name + "/alphas");
      REQUIRE(q.alphas().size() == alphas.size());
      for (std::size_t i = 0; i < alphas.size(); ++i) require_close(float(q.alphas()[i]), float(alphas[i]), 1e-5f, "alpha");
      require_case(c, 1e-6f, 1e-5f);
    }
  }
  SECTION("TWN") {
    golden_case c("twn");
    qtl::qat::twn q;
    q.forward(c.in(), c.out());
    qtl::qat::twn::backward(c.upstream(), c.grad());
    require_case(c);
  }
  SECTION("TTQ") {
    golden_case c("ttq");
    const qtl::qat::ttq q(0.8f, 1.2f);
    q.forward(c.in(), c.out());
    const auto grads = q.backward(c.in(), c.upstream(), c.grad());
    require_case(c);
    require_close(grads.positive, c.expected("dparams")[0], 1e-5f, "dWp");
    require_close(grads.negative, c.expected("dparams")[1], 1e-5f, "dWn");
  }
}

TEST_CASE("inq freezes the same weights to the same powers of two", "[qat][golden]") {
  golden_case c("inq_5");
  std::vector<float> w = c.x;
  const matrix_view<float> weights(w.data(), c.rows, c.cols);
  qtl::qat::inq q(5);
  const double portions[] = {0.5, 0.75, 0.875, 1.0};
  for (int step = 0; step < 4; ++step) {
    q.quantize_portion(weights, portions[step]);
    require_close(w, c.expected("w" + std::to_string(step)), 0.0f, "weights after step " + std::to_string(step));
    const auto frozen = golden().get<std::uint8_t>(c.name + "/frozen" + std::to_string(step));
    REQUIRE(std::vector<unsigned char>(frozen.begin(), frozen.end()) == q.frozen());
    for (std::size_t i = 0; i < w.size(); ++i)
      if (!q.frozen()[i]) w[i] *= 0.9f;
  }
}
