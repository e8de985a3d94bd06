// qtl::ptq::awq: never worse than round-to-nearest when the search includes no scaling,
// better where a few input channels carry large activations, scales shared by the layers
// that read the same inputs, weights that decode to what it reports, bad input.
#include "qtl/ptq/awq.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <vector>

#include "qtl/format/int_format.hpp"
#include "qtl/scheme.hpp"
#include "synthetic_layer.hpp"

using namespace qtl_test;

namespace {

// The correlated layer with every 16th input channel's activations 20x larger.
layer with_salient_channels(unsigned seed) {
  layer l = correlated(512, 128, 48, seed);
  for (std::size_t t = 0; t < l.tokens; ++t)
    for (std::size_t c = 0; c < l.in; c += 16) l.x[t * l.in + c] *= 20.0f;
  return l;
}

}  // namespace

TEST_CASE("awq without scaling or clipping equals round-to-nearest, and never does worse", "[ptq][awq]") {
  const layer l = with_salient_channels(5);
  const auto in = inputs_of(l);
  const matrix_view<const float> w(l.w.data(), l.out, l.in);
  const auto r = qtl::ptq::awq<qtl::int4, qtl::symmetric>(w, in, {.group_size = 32, .grid = 1, .duo_scaling = false, .clip = false});
  REQUIRE(r.alpha == 0.0);
  for (const float s : r.scales) REQUIRE(s == 1.0f);
  REQUIRE(r.layers[0].error == r.layers[0].rtn_error);
  const auto searched = qtl::ptq::awq<qtl::int4, qtl::symmetric>(w, in, {.group_size = 32, .duo_scaling = false, .clip = false});
  REQUIRE(searched.layers[0].error <= searched.layers[0].rtn_error);
}

TEST_CASE("awq lowers the output error where a few input channels are salient", "[ptq][awq]") {
  const layer l = with_salient_channels(6);
  const auto in = inputs_of(l);
  const matrix_view<const float> w(l.w.data(), l.out, l.in);
  for (const bool duo : {true, false}) {
    const auto r = qtl::ptq::awq<qtl::int4, qtl::symmetric>(w, in, {.group_size = 32, .duo_scaling = duo});
    CAPTURE(duo, r.alpha, r.layers[0].error, r.layers[0].rtn_error);
    CHECK(r.alpha > 0.0);
    CHECK(r.layers[0].error < 0.8 * r.layers[0].rtn_error);
    // The reported error is the mean over tokens of the output error, computed directly.
    CHECK(std::abs(direct_error(l, r.layers[0].dequantized) - r.layers[0].error) <= 1e-4 * r.layers[0].error);
  }
  // Affine codes with clipping only.
  const auto affine = qtl::ptq::awq<qtl::uint4, qtl::affine>(w, in, {.group_size = 32, .grid = 1});
  CHECK(affine.layers[0].error <= affine.layers[0].rtn_error);
}

TEST_CASE("awq's stored weights are the scaled weights' codes; layers reading the same inputs share the scales",
          "[ptq][awq]") {
  const layer l = with_salient_channels(7);
  const auto in = inputs_of(l);
  std::vector<float> second(l.w.size());
  for (std::size_t i = 0; i < second.size(); ++i) second[i] = l.w[(i * 7) % l.w.size()] * 1.5f;
  const matrix_view<const float> layers[] = {{l.w.data(), l.out, l.in}, {second.data(), l.out, l.in}};
  const auto r = qtl::ptq::awq<qtl::int4, qtl::symmetric>(layers, in, {.group_size = 64});
  REQUIRE(r.layers.size() == 2);
  REQUIRE(r.scales.size() == l.in);
  for (const auto& layer : r.layers) {
    CHECK(layer.error < layer.rtn_error);
    for (std::size_t o = 0; o < l.out; ++o)
      for (std::size_t c = 0; c < l.in; ++c) {
        const float stored = qtl::symmetric{}.dequantize<qtl::int4>(layer.weights.code(o, c), layer.weights.params_at(o, c));
        REQUIRE(layer.dequantized[o * l.in + c] == stored / r.scales[c]);
      }
  }
}

TEST_CASE("awq refuses bad input", "[ptq][awq]") {
  const layer l = with_salient_channels(8);
  const auto in = inputs_of(l);
  std::vector<float> w = l.w;
  const matrix_view<const float> view(w.data(), l.out, l.in);
  CHECK_THROWS_AS((qtl::ptq::awq<qtl::int4, qtl::symmetric>(view, in, {.group_size = 48})), qtl::error);
  CHECK_THROWS_AS((qtl::ptq::awq<qtl::int4, qtl::symmetric>(view, in, {.grid = 0})), qtl::error);
  CHECK_THROWS_AS((qtl::ptq::awq<qtl::int4, qtl::symmetric>(view, in, {.max_shrink = 1.0})), qtl::error);
  CHECK_THROWS_AS((qtl::ptq::awq<qtl::int4, qtl::symmetric>(matrix_view<const float>(w.data(), 2 * l.out, l.in / 2), in)),
                  qtl::error);
  CHECK_THROWS_AS((qtl::ptq::awq<qtl::int4, qtl::symmetric>(view, qtl::ptq::layer_inputs(l.in))), qtl::error);  // no tokens
  w[5] = std::nanf("");
  CHECK_THROWS_AS((qtl::ptq::awq<qtl::int4, qtl::symmetric>(view, in)), qtl::error);
}
