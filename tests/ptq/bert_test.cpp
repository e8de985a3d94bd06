// qtl::ptq::bert on all-MiniLM-L6-v2 (scripts/fetch_model.sh; the directory in
// QTL_MINILM_DIR): token ids equal the tokenizers package's, sentence embeddings equal
// sentence-transformers' (tests/golden/minilm.json, made by tests/golden/minilm.py), and
// the linear layers swap for quantized ones.
#include "qtl/ptq/bert.hpp"
#include "qtl/ptq/bert_ptq.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/format/nf4.hpp"
#include "minilm.hpp"

#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using namespace qtl::ptq::test;

// Mean cosine of the golden sentences' embeddings by model m to sentence-transformers'
// (the short sentences: the 256-token one would make this test slow under the sanitizers).
double mean_cosine(const qtl::ptq::bert& m) {
  double sum = 0.0;
  std::size_t n = 0;
  for (const auto& s : golden()["sentences"]) {
    if (s["ids"].size() > 64) continue;
    const auto want = s["embedding"].get<std::vector<float>>();
    sum += cosine(m.embed(s["text"].get<std::string>()), Eigen::Map<const Eigen::VectorXf>(want.data(), want.size()));
    ++n;
  }
  REQUIRE(n >= 5);
  return sum / static_cast<double>(n);
}

}  // namespace

TEST_CASE("bert's tokenizer gives the tokenizers package's ids", "[ptq][bert]") {
  const auto& t = float_model().tokenizer();
  for (const auto& c : golden()["tokenizer"]) {
    INFO(c["text"].get<std::string>());
    CHECK(t.tokenize(c["text"].get<std::string>()) == c["ids"].get<std::vector<std::int32_t>>());
  }
  for (const auto& s : golden()["sentences"]) {
    INFO(s["text"].get<std::string>());
    CHECK(t.encode(s["text"].get<std::string>(), float_model().max_tokens()) ==
          s["ids"].get<std::vector<std::int32_t>>());
  }
}

TEST_CASE("bert's sentence embeddings equal sentence-transformers'", "[ptq][bert]") {
  const auto& m = float_model();
  CHECK(m.pooling() == qtl::ptq::bert_pooling::mean);
  CHECK(m.normalizes());
  CHECK(m.max_tokens() == 256);
  for (const auto& s : golden()["sentences"]) {
    INFO(s["text"].get<std::string>());
    const auto want = s["embedding"].get<std::vector<float>>();
    const Eigen::VectorXf got = m.embed(s["text"].get<std::string>());
    REQUIRE(got.size() == static_cast<Eigen::Index>(want.size()));
    CHECK(cosine(got, Eigen::Map<const Eigen::VectorXf>(want.data(), want.size())) >= 0.99999);
    CHECK(std::abs(got.norm() - 1.0f) < 1e-5f);
  }
}

TEST_CASE("bert's linear layers swap for quantized ones", "[ptq][bert]") {
  qtl::ptq::bert m(model_dir());
  REQUIRE(m.linears().size() == 6 * m.config().layers);
  CHECK(m.linears()[4].name == "encoder.layer.0.intermediate.dense");
  const double exact = mean_cosine(m);
  qtl::ptq::ptq_config int8;
  int8.mode = qtl::ptq::ptq_mode::weight_only;
  m.quantize_linears(int8);
  const double w8 = mean_cosine(m);
  qtl::ptq::ptq_config int4 = int8;
  int4.weight_bits = 4;
  int4.weight_group = 32;
  m.quantize_linears(int4);
  const double w4 = mean_cosine(m);
  m.quantize_linears(qtl::ptq::ptq_config{});  // int8 weights x dynamic per-token int8 activations
  const double w8a8 = mean_cosine(m);
  m.restore_linears();
  CHECK(mean_cosine(m) == exact);
  INFO("mean cosine: float " << exact << ", int8 weights " << w8 << ", int4 g32 " << w4 << ", W8A8 " << w8a8);
  CHECK(w8 < exact);  // the kernels were used
  CHECK(w8 > 0.999);
  CHECK(w4 < w8);
  CHECK(w4 > 0.94);  // symmetric RTN int4 g32 measured 0.957 (the PTQ algorithms' baseline)
  CHECK(w8a8 < exact);
  CHECK(w8a8 > 0.99);
}

TEST_CASE("quantize_bert folds AWQ's scales between value and the attention output", "[ptq][bert][awq]") {
  const auto dir = one_layer_copy("qtl_bert_test_awq");
  qtl::ptq::bert m(dir);
  const auto calibration = short_sentences();
  const auto cosine_to_float = cosine_to(m, calibration);
  using qtl::ptq::weight_method;
  // A coarser grid than AWQ's 20 points keeps this short under the sanitizers.
  qtl::ptq::weight_ptq_config awq{.method = weight_method::awq, .awq = {.grid = 10}};
  // int8 per row rounds finely: the folded weights, unfolded, are the float ones.
  auto per_row = awq;
  per_row.group_size = 0;
  const auto fine = qtl::ptq::quantize_bert<qtl::int8>(m, calibration, per_row, qtl::symmetric{});
  const auto& lin = m.linears();
  const auto& s = fine[3].input_scales;
  REQUIRE(s.size() == 384);
  CHECK(std::any_of(s.begin(), s.end(), [](float v) { return std::abs(v - 1.0f) > 0.01f; }));
  for (const std::size_t i : {0, 1, 4, 5}) CHECK(fine[i].input_scales.empty());
  REQUIRE(fine[2].bias_shift.size() == 384);
  const auto relative = [](const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) { return (a - b).norm() / b.norm(); };
  const Eigen::Map<const Eigen::VectorXf> scale(s.data(), 384);
  const Eigen::Map<const Eigen::Matrix<float, 384, 384, Eigen::RowMajor>> value(fine[2].weights.data()),
      output(fine[3].weights.data());
  CHECK(relative(scale.asDiagonal() * value, lin[2].weight) < 0.02);   // value's rows were divided by s
  CHECK(relative(output * scale.cwiseInverse().asDiagonal(), lin[3].weight) < 0.02);  // the output's columns times s
  for (Eigen::Index o = 0; o < 384; ++o) {
    const float b = lin[2].bias[o], folded = b + fine[2].bias_shift[static_cast<std::size_t>(o)];
    CHECK(std::abs(folded * s[static_cast<std::size_t>(o)] - b) <= 1e-5f * std::max(1.0f, std::abs(b)));
  }
  CHECK(cosine_to_float() > 0.9995);
  // int4 g128: the folded model is closer to float than round to nearest's.
  qtl::ptq::quantize_bert<qtl::int4>(m, calibration, {.method = weight_method::rtn}, qtl::symmetric{});
  const double rtn_cosine = cosine_to_float();
  qtl::ptq::quantize_bert<qtl::int4>(m, calibration, awq, qtl::symmetric{});
  const double awq_cosine = cosine_to_float();
  INFO("int4 g128 mean cosine on the calibration sentences: RTN " << rtn_cosine << ", AWQ folded " << awq_cosine);
  CHECK(awq_cosine > rtn_cosine);
  m.restore_linears();
  std::filesystem::remove_all(dir);
}

TEST_CASE("quantize_bert quantizes every layer in order from calibration text", "[ptq][bert]") {
  // The model's first encoder layer alone (config.json says 1 layer), to keep GPTQ under
  // the sanitizers short.
  const auto dir = one_layer_copy("qtl_bert_test_one_layer");
  qtl::ptq::bert m(dir);
  const auto calibration = short_sentences();
  const auto cosine_to_float = cosine_to(m, calibration);
  const auto total = [](const std::vector<qtl::ptq::quantized_weights>& layers, bool rtn) {
    double sum = 0.0;
    for (const auto& l : layers) sum += rtn ? l.rtn_error : l.error;
    return sum;
  };
  using qtl::ptq::weight_method;
  const auto rtn = qtl::ptq::quantize_bert<qtl::int_format<3, true>>(m, calibration, {.method = weight_method::rtn},
                                                                     qtl::symmetric{});
  REQUIRE(rtn.size() == 6);
  const double rtn_cosine = cosine_to_float();
  const auto gptq = qtl::ptq::quantize_bert<qtl::int_format<3, true>>(m, calibration, {.method = weight_method::gptq},
                                                                      qtl::symmetric{});
  const double gptq_cosine = cosine_to_float();
  m.restore_linears();
  CHECK(cosine_to_float() > 0.999999);
  INFO("int3 g128 mean cosine on the calibration sentences: RTN " << rtn_cosine << ", GPTQ " << gptq_cosine);
  CHECK(total(gptq, false) < 0.5 * total(gptq, true));
  CHECK(gptq_cosine > rtn_cosine);
  // The first layers' inputs are the same for both: so is their round-to-nearest error.
  CHECK(gptq.front().rtn_error == rtn.front().rtn_error);
  CHECK_THROWS_AS(qtl::ptq::quantize_bert<qtl::int4>(m, std::vector<std::string>{}, {}, qtl::symmetric{}), qtl::error);
  // An error midway (groups of 100 do not divide 384) or a method the format cannot take
  // leaves the model computing in float.
  CHECK_THROWS_AS(qtl::ptq::quantize_bert<qtl::int4>(m, calibration, {.group_size = 100}, qtl::symmetric{}), qtl::error);
  CHECK(cosine_to_float() > 0.999999);
  CHECK_THROWS_AS(qtl::ptq::quantize_bert<qtl::nf4>(m, calibration, {.method = weight_method::adaround}, qtl::codebook{}),
                  qtl::error);
  CHECK(cosine_to_float() > 0.999999);
  std::filesystem::remove_all(dir);
}

TEST_CASE("bert refuses bad input", "[ptq][bert]") {
  const auto& m = float_model();
  CHECK_THROWS_AS(m.hidden_states(std::vector<std::int32_t>{}), qtl::error);
  CHECK_THROWS_AS(m.hidden_states(std::vector<std::int32_t>{101, 30522, 102}), qtl::error);   // past the vocabulary
  CHECK_THROWS_AS(m.hidden_states(std::vector<std::int32_t>{101, -1, 102}), qtl::error);
  CHECK_THROWS_AS(m.hidden_states(std::vector<std::int32_t>(513, 1000)), qtl::error);       // past the positions
  CHECK_THROWS_AS(m.embed(std::string_view("caf\xC3")), qtl::error);
  qtl::ptq::row_matrix x = m.embeddings(std::vector<std::int32_t>{101, 102});
  CHECK_THROWS_AS(m.encoder_layer(m.config().layers, x), qtl::error);
  qtl::ptq::row_matrix narrow(2, 8);
  CHECK_THROWS_AS(m.encoder_layer(0, narrow), qtl::error);                        // not UTF-8
  CHECK_THROWS_AS(qtl::ptq::bert("no/such/model"), qtl::error);
  // a directory whose config.json and weights disagree
  const auto dir = model_copy("qtl_bert_test_bad");
  std::ofstream(dir / "config.json") << R"({"model_type": "bert", "hidden_size": 256, "num_hidden_layers": 6,
    "num_attention_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 512, "type_vocab_size": 2,
    "vocab_size": 30522})";
  CHECK_THROWS_AS(qtl::ptq::bert(dir), qtl::error);  // 256 does not split into 12 heads
  std::ofstream(dir / "config.json") << R"({"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 7,
    "num_attention_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 512, "type_vocab_size": 2,
    "vocab_size": 30522})";
  CHECK_THROWS_AS(qtl::ptq::bert(dir), qtl::error);  // no layer 6
  std::ofstream(dir / "config.json") << R"({"model_type": "roberta"})";
  CHECK_THROWS_AS(qtl::ptq::bert(dir), qtl::error);
  std::filesystem::remove_all(dir);
}
