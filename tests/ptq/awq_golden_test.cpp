// qtl::ptq::awq against llm-compressor's AWQModifier on all-MiniLM-L6-v2 (the mapping
// value -> attention.output.dense, W4A16: int4 symmetric in groups of 128), from
// tests/golden/awq.qtlg (tests/golden/awq_vectors.py): on the same inputs, its chosen
// scales give its loss, qtl's scales at each point of its grid give its loss, the same
// point wins with the same scales, and qtl's own search ends within 2 %.
#include "qtl/ptq/awq.hpp"
#include "qtl/layout/compressed_tensors.hpp"
#include "golden/golden.hpp"
#include "minilm.hpp"

#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

using namespace qtl::ptq;
using qtl::matrix_view;

TEST_CASE("awq agrees with llm-compressor's AWQ on MiniLM's attention outputs", "[ptq][awq][golden]") {
  bert m(test::model_dir());
  const auto golden = qtl::test::golden_file::load("awq.qtlg");
  const auto ids = golden.get<std::int32_t>("ids");
  const auto lengths = golden.get<std::int32_t>("lengths");
  const auto ratio = golden.get<double>("ratio");
  const auto duo = golden.get<std::uint8_t>("duo_scaling");
  std::vector<row_matrix> states;  // the float model's hidden states, as llm-compressor's basic pipeline
  std::size_t first = 0;
  for (const auto n : lengths) {
    states.push_back(m.embeddings(std::span<const std::int32_t>(ids).subspan(first, static_cast<std::size_t>(n))));
    first += static_cast<std::size_t>(n);
  }
  REQUIRE(first == ids.size());
  using int4_ct = qtl::int_format<4, true>;
  const qtl::compressed_tensors::rtn scheme{};
  constexpr std::size_t group = 128;
  for (std::size_t l = 0; l < m.config().layers; ++l) {
    INFO("layer " << l);
    auto& output = m.linears()[6 * l + 3];  // attention.output.dense
    layer_inputs inputs(static_cast<std::size_t>(output.weight.cols()));
    const auto w = output.weight_view();
    output.kernel = [&inputs, w](matrix_view<const float> x, matrix_view<float> y) {
      inputs.add(x);
      linear_reference(x, w, y);
    };
    for (auto& x : states) m.encoder_layer(l, x);
    m.restore_linears();

    const auto loss = golden.get<double>("layer" + std::to_string(l) + "/loss");
    const auto chosen = golden.get<float>("layer" + std::to_string(l) + "/scales");
    REQUIRE(loss.size() == ratio.size());
    const Eigen::MatrixXd W = output.weight.cast<double>(), H = inputs.hessian();
    const auto rows = static_cast<double>(w.rows());
    // llm-compressor's loss, the mean squared error over the output's elements, of the
    // weights Q(W·diag(s))·diag(1/s) (W·s in float, as torch multiplies).
    const auto loss_of = [&](std::span<const float> s) {
      const Eigen::Map<const Eigen::RowVectorXf> sf(s.data(), static_cast<Eigen::Index>(s.size()));
      const Eigen::MatrixXf scaled = output.weight.array().rowwise() * sf.array();
      const Eigen::MatrixXd q = round_to_nearest<int4_ct>(scaled.cast<double>(), group, scheme) *
                                sf.cast<double>().cwiseInverse().asDiagonal();
      return layer_error(W - q, H) / rows;
    };
    const auto best = static_cast<std::size_t>(std::min_element(loss.begin(), loss.end()) - loss.begin());
    // With llm-compressor's scales: its loss to 1 %. Even so a few dozen of the 147456
    // roundings differ (its observer's path in float32; compressed-tensors' own functions
    // called on the same scales differ from it as much), and where they fall on BERT's
    // outlier input channels they move the loss by up to 0.3 %.
    CHECK(std::abs(loss_of(chosen) - loss[best]) <= 0.01 * loss[best]);
    // With qtl's scales at each of its grid points (the same as llm-compressor's to 1e-5,
    // which moves a few more roundings): its loss to 2 %.
    std::vector<double> ours;
    for (std::size_t k = 0; k < ratio.size(); ++k) {
      const auto s = awq_scales(std::span<const matrix_view<const float>>(&w, 1), inputs, group, ratio[k], duo[k] != 0);
      ours.push_back(loss_of(s));
      CAPTURE(k, ratio[k], ours.back(), loss[k]);
      CHECK(std::abs(ours.back() - loss[k]) <= 0.02 * loss[k]);
    }
    CHECK(static_cast<std::size_t>(std::min_element(ours.begin(), ours.end()) - ours.begin()) == best);
    const auto s = awq_scales(std::span<const matrix_view<const float>>(&w, 1), inputs, group, ratio[best], duo[best] != 0);
    double worst = 0.0;
    for (std::size_t j = 0; j < s.size(); ++j) worst = std::max(worst, std::abs(double(s[j]) / chosen[j] - 1.0));
    CHECK(worst < 1e-5);
    // qtl's own search (AutoAWQ's grid, 20 points of α in [0, 1) under duo scaling) and,
    // on top, its clipping search: within 2 % of llm-compressor's best, then lower.
    const auto searched = awq<int4_ct>(w, inputs, {.group_size = group, .clip = false}, scheme);
    const auto clipped = awq<int4_ct>(w, inputs, {.group_size = group}, scheme);
    CAPTURE(searched.alpha, searched.layers[0].error / rows, clipped.layers[0].error / rows, loss[best]);
    CHECK(searched.layers[0].error / rows <= 1.02 * loss[best]);
    CHECK(clipped.layers[0].error < searched.layers[0].error);
  }
}
