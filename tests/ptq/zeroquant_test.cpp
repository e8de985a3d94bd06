// qtl::ptq::add_layer_gradient (the backward of a BERT encoder layer) against finite
// differences, and qtl::ptq::zeroquant_bert on a one-layer copy of all-MiniLM-L6-v2:
// token-wise int8 inputs and group-wise weights, and layer-wise distillation that lowers
// the layer's error.
#include "qtl/ptq/zeroquant.hpp"
#include "qtl/format/int_format.hpp"
#include "minilm.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace qtl::ptq;
using namespace qtl::ptq::test;

namespace {

row_matrix random_matrix(Eigen::Index rows, Eigen::Index cols, float sigma, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, sigma);
  return row_matrix::NullaryExpr(rows, cols, [&] { return normal(rng); });
}

}  // namespace

TEST_CASE("a BERT layer's backward equals central differences of its forward", "[ptq][zeroquant]") {
  bert m(model_dir());
  const auto ids = m.tokenizer().encode("A man is playing a guitar on stage.");
  const row_matrix x = m.embeddings(std::span<const std::int32_t>(ids));
  std::mt19937 rng(7);
  const row_matrix direction_out = random_matrix(x.rows(), x.cols(), 1.0f, rng);
  // L = Σ layer(x)∘R: its gradient with respect to the output is R.
  const auto loss = [&](const row_matrix& input) {
    row_matrix y = input;
    m.encoder_layer(2, y);
    return static_cast<double>(y.cwiseProduct(direction_out).sum());
  };
  row_matrix y = x;
  bert_layer_trace trace;
  m.encoder_layer(2, y, &trace);
  std::array<const row_matrix*, 6> weights{};
  for (std::size_t i = 0; i < 6; ++i) weights[i] = &m.linears()[12 + i].weight;
  bert_layer_gradient gradient;
  const row_matrix grad_input = add_layer_gradient(m, 2, trace, direction_out, weights, gradient);
  // The directional derivative along a small random step, against (L(θ+δ) - L(θ-δ)) / 2.
  const auto check = [](double analytic, double numeric) {
    INFO("analytic " << analytic << ", central difference " << numeric);
    CHECK(std::abs(analytic - numeric) <= 0.01 * std::abs(numeric) + 2e-5);
  };
  for (std::size_t i = 0; i < 6; ++i) {
    auto& w = m.linears()[12 + i].weight;
    const row_matrix w0 = w, step = random_matrix(w.rows(), w.cols(), 1e-3f, rng);
    w = w0 + step;
    const double plus = loss(x);
    w = w0 - step;
    const double minus = loss(x);
    w = w0;
    check(static_cast<double>(gradient.weights[i].cwiseProduct(step).sum()), (plus - minus) / 2.0);
    auto& b = m.linears()[12 + i].bias;
    const Eigen::VectorXf b0 = b, bias_step = random_matrix(b.size(), 1, 1e-3f, rng).reshaped();
    b = b0 + bias_step;
    const double bias_plus = loss(x);
    b = b0 - bias_step;
    const double bias_minus = loss(x);
    b = b0;
    check(static_cast<double>(gradient.biases[i].dot(bias_step)), (bias_plus - bias_minus) / 2.0);
  }
  CHECK(gradient.biases[1].norm() < 1e-5f);  // the softmax does not see the key's bias
  const row_matrix input_step = random_matrix(x.rows(), x.cols(), 1e-3f, rng);
  check(static_cast<double>(grad_input.cwiseProduct(input_step).sum()), (loss(x + input_step) - loss(x - input_step)) / 2.0);
  // A second call adds the same again.
  const auto once = gradient.weights[4];
  (void)add_layer_gradient(m, 2, trace, direction_out, weights, gradient);
  CHECK((gradient.weights[4] - 2.0f * once).norm() <= 1e-5f * once.norm());

  // Bad input.
  CHECK_THROWS_AS(add_layer_gradient(m, 6, trace, direction_out, weights, gradient), qtl::error);
  CHECK_THROWS_AS(add_layer_gradient(m, 2, trace, row_matrix(x.rows() + 1, x.cols()), weights, gradient), qtl::error);
  auto swapped = weights;
  std::swap(swapped[4], swapped[5]);
  CHECK_THROWS_AS(add_layer_gradient(m, 2, trace, direction_out, swapped, gradient), qtl::error);
  CHECK_THROWS_AS(add_layer_gradient(m, 2, bert_layer_trace{}, direction_out, weights, gradient), qtl::error);
}

TEST_CASE("zeroquant_bert quantizes weights in groups and inputs per token, and distills", "[ptq][zeroquant]") {
  const auto dir = one_layer_copy("qtl_zeroquant_test_one_layer");
  bert m(dir);
  const auto sentences = short_sentences();
  const auto cosine_to_float = cosine_to(m, sentences);

  const auto weight_only = zeroquant_bert<qtl::int4>(m, sentences, {.quantize_activations = false}, qtl::symmetric{});
  const double weight_only_cosine = cosine_to_float();
  const auto rtn = zeroquant_bert<qtl::int4>(m, sentences, {}, qtl::symmetric{});
  const double rtn_cosine = cosine_to_float();
  REQUIRE(rtn.linears.size() == 6);
  REQUIRE(rtn.error_before.size() == 1);
  // Without distillation: round to nearest, the codes decode to the weights, no bias
  // moved; token-wise int8 inputs cost a little on top of the weights' rounding.
  CHECK(rtn.error_after == rtn.error_before);
  for (std::size_t i = 0; i < 6; ++i) {
    const auto& q = rtn.linears[i];
    CHECK(q.bias_shift.empty());
    CHECK(q.weights == weight_only.linears[i].weights);
    REQUIRE(q.codes.size() == q.weights.size());
    const auto cols = static_cast<std::size_t>(m.linears()[i].weight.cols());
    CHECK(q.groups == cols / 128);
    bool decodes = true;
    for (std::size_t k = 0; k < q.codes.size(); ++k)
      decodes &= qtl::symmetric{}.dequantize<qtl::int4>(q.codes[k], q.params[(k / cols) * q.groups + q.group_of[k % cols]]) ==
                 q.weights[k];
    CHECK(decodes);
  }
  CHECK(weight_only.error_before.front() < rtn.error_before.front());
  CHECK(weight_only_cosine > rtn_cosine);
  CHECK(rtn_cosine > 0.97);

  // With distillation: the layer's error to the float layer falls, and so does the
  // embeddings' distance; the biases move.
  const auto distilled = zeroquant_bert<qtl::int4>(m, sentences, {.distill_steps = 20, .batch = 4}, qtl::symmetric{});
  const double distilled_cosine = cosine_to_float();
  INFO("mean squared error " << distilled.error_before.front() << " -> " << distilled.error_after.front()
                             << "; cosine " << rtn_cosine << " -> " << distilled_cosine);
  CHECK(distilled.error_before.front() == rtn.error_before.front());
  CHECK(distilled.error_after.front() < 0.7 * distilled.error_before.front());  // measured 0.44
  CHECK(distilled_cosine > rtn_cosine);
  CHECK(!distilled.linears[4].bias_shift.empty());
  m.restore_linears();
  CHECK(cosine_to_float() > 0.999999);

  // Bad input, and the model left in float.
  CHECK_THROWS_AS(zeroquant_bert<qtl::int4>(m, std::vector<std::string>{}, {}, qtl::symmetric{}), qtl::error);
  CHECK_THROWS_AS(zeroquant_bert<qtl::int4>(m, sentences, {.group_size = 100}, qtl::symmetric{}), qtl::error);
  CHECK_THROWS_AS(zeroquant_bert<qtl::int4>(m, sentences, {.distill_steps = 5, .batch = 0}, qtl::symmetric{}), qtl::error);
  CHECK_THROWS_AS(zeroquant_bert<qtl::int4>(m, sentences, {.distill_steps = 5, .learning_rate = -1.0}, qtl::symmetric{}),
                  qtl::error);
  CHECK(cosine_to_float() > 0.999999);
  std::filesystem::remove_all(dir);
}
