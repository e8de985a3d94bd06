// A real model end to end: all-MiniLM-L6-v2 (scripts/fetch_model.sh) run by qtl's BERT
// forward (qtl/ptq/bert.hpp), its sentence embeddings in float and with every linear
// layer quantized (weight-only int8 and int4, W8A8), compared by cosine.
//
//   ./build/release/examples/minilm build/models/all-MiniLM-L6-v2
#include <qtl/ptq/bert.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {

double cosine(const Eigen::VectorXf& a, const Eigen::VectorXf& b) {
  return a.cast<double>().dot(b.cast<double>()) / (a.cast<double>().norm() * b.cast<double>().norm());
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR (a Hugging Face BERT directory)\n", argv[0]);
    return 2;
  }
  qtl::ptq::bert model(argv[1]);
  const std::vector<std::string> sentences = {
      "A man is playing a guitar.", "Someone plays an instrument on stage.", "The stock market fell sharply today.",
      "Quantization maps weights to a few integer levels."};
  std::printf("%zu layers, hidden %zu, %zu linear layers; \"%s\" ->", model.config().layers, model.config().hidden,
              model.linears().size(), sentences[0].c_str());
  for (const auto id : model.tokenizer().encode(sentences[0])) std::printf(" %s", model.tokenizer().token(id).c_str());
  std::printf("\n\n");

  std::vector<Eigen::VectorXf> exact;
  for (const auto& s : sentences) exact.push_back(model.embed(s));
  std::printf("similarity (float): guitar/instrument %.3f, guitar/stocks %.3f\n\n", cosine(exact[0], exact[1]),
              cosine(exact[0], exact[2]));

  struct variant {
    const char* name;
    qtl::ptq::ptq_config config;
  };
  using qtl::ptq::ptq_mode;
  const variant variants[] = {
      {"int8 weights, per channel", {.mode = ptq_mode::weight_only}},
      {"int4 weights, groups of 32", {.mode = ptq_mode::weight_only, .weight_bits = 4, .weight_group = 32}},
      {"int8 weights x int8 tokens (W8A8)", {.mode = ptq_mode::dynamic_activations}}};
  std::printf("%-36s %s\n", "linear layers", "cosine to float, per sentence");
  for (const auto& v : variants) {
    model.quantize_linears(v.config);
    std::printf("%-36s", v.name);
    for (std::size_t i = 0; i < sentences.size(); ++i) std::printf(" %.5f", cosine(model.embed(sentences[i]), exact[i]));
    std::printf("\n");
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
