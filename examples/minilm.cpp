// A real model end to end: all-MiniLM-L6-v2 (scripts/fetch_model.sh) run by qtl's BERT
// forward (qtl/ptq/bert.hpp), its sentence embeddings in float and with every linear
// layer quantized (weight-only int8 and int4, W8A8), compared by cosine; then GPTQ
// (qtl/ptq/gptq.hpp) against round-to-nearest, calibrated on the license texts every
// Debian system has (/usr/share/common-licenses) and measured on other ones.
//
//   ./build/release/examples/minilm build/models/all-MiniLM-L6-v2
#include <qtl/ptq/bert.hpp>
#include <qtl/ptq/gptq.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

double cosine(const Eigen::VectorXf& a, const Eigen::VectorXf& b) {
  return a.cast<double>().dot(b.cast<double>()) / (a.cast<double>().norm() * b.cast<double>().norm());
}

// The sentences of some license texts: split at ". " and blank lines, whitespace
// collapsed, those of 6 to 60 words kept, at most `most`.
std::vector<std::string> license_sentences(std::initializer_list<const char*> names, std::size_t most) {
  std::vector<std::string> out;
  for (const char* name : names) {
    std::ifstream in(std::filesystem::path("/usr/share/common-licenses") / name);
    std::stringstream text;
    text << in.rdbuf();
    std::string sentence, word;
    std::size_t words = 0;
    const auto flush = [&] {
      if (words >= 6 && words <= 60 && out.size() < most) out.push_back(sentence);
      sentence.clear(), words = 0;
    };
    for (std::string line; std::getline(text, line);) {
      if (line.find_first_not_of(" \t") == std::string::npos) flush();
      std::istringstream ws(line);
      while (ws >> word) {
        sentence += (sentence.empty() ? "" : " ") + word, ++words;
        if (word.back() == '.') flush();
      }
    }
    flush();
  }
  return out;
}

// Every linear layer computes with weights w (dequantized), in float.
void use_weights(qtl::ptq::bert& model, const std::vector<std::vector<float>>& weights) {
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const auto& l = model.linears()[i];
    const qtl::matrix_view<const float> w(weights[i].data(), static_cast<std::size_t>(l.weight.rows()),
                                          static_cast<std::size_t>(l.weight.cols()));
    model.linears()[i].kernel = [w](qtl::matrix_view<const float> x, qtl::matrix_view<float> y) {
      qtl::ptq::linear_reference(x, w, y);
    };
  }
}

double mean_cosine(const qtl::ptq::bert& model, const std::vector<std::string>& sentences,
                   const std::vector<Eigen::VectorXf>& exact) {
  double sum = 0.0;
  for (std::size_t i = 0; i < sentences.size(); ++i) sum += cosine(model.embed(sentences[i]), exact[i]);
  return sum / static_cast<double>(sentences.size());
}

// GPTQ with format F against round-to-nearest, groups of 128 along the inputs.
template <class F>
void compare_gptq(qtl::ptq::bert& model, const std::vector<qtl::ptq::gptq_hessian>& hessians, const char* name,
                  const std::vector<std::string>& held_out, const std::vector<Eigen::VectorXf>& exact) {
  std::vector<std::vector<float>> gptq_weights, rtn_weights;
  double error = 0.0, rtn_error = 0.0;
  for (std::size_t i = 0; i < hessians.size(); ++i) {
    const auto& l = model.linears()[i];
    const auto r = qtl::ptq::gptq<F, qtl::symmetric>(l.weight_view(), hessians[i].matrix(), {.group_size = 128, .act_order = true});
    gptq_weights.push_back(r.dequantized);
    std::vector<float> rtn(r.dequantized.size());
    qtl::quantizer<F, qtl::symmetric, qtl::per_group<128>>().fake_quantize(
        l.weight_view(), qtl::matrix_view<float>(rtn.data(), r.rows, r.cols));
    rtn_weights.push_back(std::move(rtn));
    error += r.error, rtn_error += r.rtn_error;
  }
  use_weights(model, rtn_weights);
  const double rtn_cosine = mean_cosine(model, held_out, exact);
  use_weights(model, gptq_weights);
  const double gptq_cosine = mean_cosine(model, held_out, exact);
  std::printf("%-14s %14.5f %14.5f %20.3f\n", name, rtn_cosine, gptq_cosine, error / rtn_error);
  model.restore_linears();
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

  // GPTQ: each layer's Hessian from the float model's inputs on calibration text, then
  // every layer rounded with it; measured on held-out text against the float embeddings.
  model.restore_linears();
  const auto calibration = license_sentences({"GPL-3", "Apache-2.0", "MPL-2.0"}, 128);
  const auto held_out = license_sentences({"LGPL-2.1", "Artistic", "GFDL-1.3"}, 48);
  std::vector<qtl::ptq::gptq_hessian> hessians;
  for (const auto& l : model.linears()) hessians.emplace_back(static_cast<std::size_t>(l.weight.cols()));
  for (std::size_t i = 0; i < hessians.size(); ++i) {
    const auto w = model.linears()[i].weight_view();
    model.linears()[i].kernel = [&hessians, i, w](qtl::matrix_view<const float> x, qtl::matrix_view<float> y) {
      hessians[i].add(x);
      qtl::ptq::linear_reference(x, w, y);
    };
  }
  for (const auto& s : calibration) (void)model.embed(s);
  model.restore_linears();
  std::vector<Eigen::VectorXf> held_out_exact;
  for (const auto& s : held_out) held_out_exact.push_back(model.embed(s));
  std::printf("\nGPTQ: %zu calibration sentences (%zu tokens), %zu held-out (GPL-3, Apache-2.0, MPL-2.0 | "
              "LGPL-2.1, Artistic, GFDL-1.3)\n",
              calibration.size(), hessians.front().tokens(), held_out.size());
  std::printf("%-14s %14s %14s %20s\n", "weights g128", "RTN cosine", "GPTQ cosine", "GPTQ/RTN layer error");
  compare_gptq<qtl::int4>(model, hessians, "int4", held_out, held_out_exact);
  compare_gptq<qtl::int_format<3, true>>(model, hessians, "int3", held_out, held_out_exact);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
