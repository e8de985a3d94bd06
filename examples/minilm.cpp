// A real model end to end: all-MiniLM-L6-v2 (scripts/fetch_model.sh) run by qtl's BERT
// forward (qtl/ptq/bert.hpp), its sentence embeddings in float and with every linear
// layer quantized (weight-only int8 and int4, W8A8), compared by cosine; then GPTQ
// (qtl/ptq/gptq.hpp) against round-to-nearest, calibrated on the license texts every
// Debian system has (/usr/share/common-licenses) and measured on other ones.
//
//   ./build/release/examples/minilm build/models/all-MiniLM-L6-v2
//   ./build/release/examples/minilm build/models/all-MiniLM-L6-v2 --table      (every method and format)
//   ./build/release/examples/minilm build/models/all-MiniLM-L6-v2 --zeroquant  (W4A8/W8A8, with distillation)
//   ./build/release/examples/minilm build/models/all-MiniLM-L6-v2 --lora DIR   (LoRA on NF4/int4 bases; PEFT files in DIR)
//   ./build/release/examples/minilm build/models/all-MiniLM-L6-v2 --embed TEXT OUT  (TEXT's lines' embeddings, raw float32)
#include <qtl/ptq/bert.hpp>
#include <qtl/format/nf4.hpp>
#include <qtl/kernel/parallel_for.hpp>
#include <qtl/ptq/bert_ptq.hpp>
#include <qtl/ptq/calibration_text.hpp>
#include <qtl/ptq/zeroquant.hpp>
#include <qtl/layout/bitsandbytes.hpp>
#include <qtl/ptq/adam.hpp>
#include <qtl/qat/lora_linear.hpp>
#include <qtl/qat/peft.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <string_view>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

double cosine(const Eigen::VectorXf& a, const Eigen::VectorXf& b) {
  return a.cast<double>().dot(b.cast<double>()) / (a.cast<double>().norm() * b.cast<double>().norm());
}

// The sentences of some license texts (qtl::ptq::sentences), at most `most`.
std::vector<std::string> license_sentences(std::initializer_list<const char*> names, std::size_t most) {
  std::vector<std::string> out;
  for (const char* name : names) {
    std::ifstream in(std::filesystem::path("/usr/share/common-licenses") / name);
    for (auto& s : qtl::ptq::sentences(in, most - out.size())) out.push_back(std::move(s));
  }
  return out;
}

struct ptq_score {
  double cosine = 0.0;      // mean cosine of each sentence's embedding to the float one
  double pair_change = 0.0; // mean |change| of the cosine similarity of every sentence pair
};

ptq_score score(const qtl::ptq::bert& model, const std::vector<std::string>& sentences,
                const std::vector<Eigen::VectorXf>& exact) {
  std::vector<Eigen::VectorXf> e;
  for (const auto& s : sentences) e.push_back(model.embed(s));
  ptq_score out;
  std::size_t pairs = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    out.cosine += cosine(e[i], exact[i]) / static_cast<double>(e.size());
    for (std::size_t j = i + 1; j < e.size(); ++j, ++pairs) out.pair_change += std::abs(cosine(e[i], e[j]) - cosine(exact[i], exact[j]));
  }
  out.pair_change /= static_cast<double>(pairs);
  return out;
}

struct method_row {
  const char* name;
  qtl::ptq::weight_ptq_config config;
};

// Every method on every linear layer with format F, scheme S and the given groups.
template <class F, class S>
void compare_methods(qtl::ptq::bert& model, const char* format_name, std::size_t group,
                     std::span<const method_row> methods, const std::vector<std::string>& calibration,
                     const std::vector<std::string>& held_out, const std::vector<Eigen::VectorXf>& exact) {
  for (const auto& m : methods) {
    if constexpr (!requires { requires S::mid_tread; })
      if (m.config.method == qtl::ptq::weight_method::adaround) continue;
    auto config = m.config;
    config.group_size = group;
    const auto start = std::chrono::steady_clock::now();
    const auto layers = qtl::ptq::quantize_bert<F>(model, calibration, config, S{});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double error = 0.0, rtn_error = 0.0;
    for (const auto& l : layers) error += l.error, rtn_error += l.rtn_error;
    const auto s = score(model, held_out, exact);
    std::printf("%-14s %-22s %10.5f %12.5f %14.3f %8.1f\n", format_name, m.name, s.cosine, s.pair_change,
                error / rtn_error, seconds);
    model.restore_linears();
  }
}

// ZeroQuant (token-wise int8 inputs, weights in groups of format F) by round to nearest
// and with layer-wise distillation; "error / RTN's": the layers' summed output error.
template <class F>
void compare_zeroquant(qtl::ptq::bert& model, const char* format_name, std::size_t group,
                       const std::vector<std::string>& calibration, const std::vector<std::string>& held_out,
                       const std::vector<Eigen::VectorXf>& exact) {
  for (const std::size_t steps : {std::size_t{0}, std::size_t{100}}) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = qtl::ptq::zeroquant_bert<F>(model, calibration, {.group_size = group, .distill_steps = steps},
                                                qtl::symmetric{});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double before = 0.0, after = 0.0;
    for (std::size_t l = 0; l < r.error_before.size(); ++l) before += r.error_before[l], after += r.error_after[l];
    const auto s = score(model, held_out, exact);
    std::printf("%-14s %-22s %10.5f %12.5f %14.3f %8.1f\n", format_name, steps ? "ZeroQuant + LKD" : "ZeroQuant",
                s.cosine, s.pair_change, after / before, seconds);
    model.restore_linears();
  }
}

// bitsandbytes' double quantization of an NF4 tensor's absmax values (8-bit codes in blocks
// of 256 around their mean): the scales the base dequantizes with.
void double_quantize(std::vector<qtl::quant_params>& params) {
  std::vector<float> absmax, restored(params.size());
  for (const auto& p : params) absmax.push_back(p.scale);
  qtl::bnb::decompress_statistics(qtl::bnb::compress_statistics(absmax), restored);
  for (std::size_t i = 0; i < params.size(); ++i) params[i] = {restored[i], 1.0f / restored[i], 0};
}

using row_major = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The linear layer computes x·Wᵀ with these weights [out, in] instead of its float ones.
void run_with(qtl::ptq::bert_linear& linear, std::shared_ptr<const row_major> weights) {
  linear.kernel = [weights](qtl::matrix_view<const float> x, qtl::matrix_view<float> y) {
    Eigen::Map<row_major>(y.data(), Eigen::Index(y.rows()), Eigen::Index(y.cols())).noalias() =
        Eigen::Map<const row_major>(x.data(), Eigen::Index(x.rows()), Eigen::Index(x.cols())) * weights->transpose();
  };
}

struct lora_options {
  std::size_t rank;
  bool double_quantization;
  std::vector<qtl::qat::peft_adapter>* adapters;  // when set, the trained adapters go here
};

// LoRA on a frozen quantized base (qtl/qat/lora_linear.hpp), layer by layer: every linear
// layer's base is its weight quantized by Q; adapters of the given rank (alpha = rank) are
// trained by Adam (lr 1e-3, 100 steps of 128 calibration tokens drawn with a fixed seed) to
// reproduce the float layer's output from the float model's inputs to it. The model then
// runs the merged weights (the same function as the unmerged adapters); `requantize` instead
// quantizes the merged weights again with Q (to deploy without adapters).
template <class Q>
void lora_bert(qtl::ptq::bert& model, const Q& quantizer, const lora_options& options,
               const std::vector<std::string>& calibration, bool requantize) {
  using matrix = row_major;
  model.restore_linears();
  std::vector<qtl::ptq::row_matrix> hidden;
  for (const auto& s : calibration) {
    const auto ids = model.tokenizer().encode(s, model.max_tokens());
    hidden.push_back(model.embeddings(ids));
  }
  std::mt19937 rng(7);
  for (std::size_t l = 0; l < model.config().layers; ++l) {
    std::array<matrix, 6> inputs;  // every linear's inputs on the calibration text, from the float model
    std::vector<qtl::ptq::bert_layer_trace> traces(hidden.size());
    for (std::size_t s = 0; s < hidden.size(); ++s) model.encoder_layer(l, hidden[s], &traces[s]);
    for (std::size_t j = 0; j < 6; ++j) {
      Eigen::Index rows = 0;
      for (const auto& t : traces) rows += t.inputs[j].rows();
      inputs[j].resize(rows, traces[0].inputs[j].cols());
      Eigen::Index at = 0;
      for (const auto& t : traces) inputs[j].middleRows(at, t.inputs[j].rows()) = t.inputs[j], at += t.inputs[j].rows();
    }
    for (std::size_t j = 0; j < 6; ++j) {
      auto& linear = model.linears()[6 * l + j];
      const auto out = static_cast<std::size_t>(linear.weight.rows()), in = static_cast<std::size_t>(linear.weight.cols());
      auto base = quantizer.quantize(linear.weight_view());
      if (options.double_quantization) double_quantize(base.params);
      qtl::qat::lora_linear<Q> layer(quantizer, base, out, in, {},
                                     {.rank = options.rank, .alpha = static_cast<float>(options.rank), .seed = l * 6 + j});
      qtl::ptq::adam<matrix> adam_a(layer.a().rows(), layer.a().cols(), 1e-3), adam_b(layer.b().rows(), layer.b().cols(), 1e-3);
      constexpr Eigen::Index batch = 128;
      matrix x(batch, static_cast<Eigen::Index>(in)), y(batch, static_cast<Eigen::Index>(out));
      std::uniform_int_distribution<Eigen::Index> token(0, inputs[j].rows() - 1);
      for (int step = 0; step < 100; ++step) {
        for (Eigen::Index t = 0; t < batch; ++t) x.row(t) = inputs[j].row(token(rng));
        const qtl::matrix_view<const float> xv(x.data(), std::size_t(batch), in);
        layer.forward(xv, {y.data(), std::size_t(batch), out});
        const matrix dy = (2.0f / batch) * (y - x * linear.weight.transpose());
        layer.backward(xv, {dy.data(), std::size_t(batch), out}, {});
        adam_a.step(layer.a(), layer.grad_a());
        adam_b.step(layer.b(), layer.grad_b());
      }
      if (options.adapters)
        options.adapters->push_back({linear.name, std::vector<float>(layer.a().data(), layer.a().data() + layer.a().size()),
                                     std::vector<float>(layer.b().data(), layer.b().data() + layer.b().size()),
                                     options.rank, in, out});
      auto merged = std::make_shared<row_major>(layer.merged());
      if (requantize) {
        auto again = quantizer.quantize(qtl::matrix_view<const float>(merged->data(), out, in));
        if (options.double_quantization) double_quantize(again.params);
        quantizer.dequantize(again, qtl::matrix_view<float>(merged->data(), out, in));
      }
      run_with(linear, merged);
    }
  }
}

// The held-out cosine of the quantized base alone, with LoRA adapters of several ranks, and
// with rank 16 merged and requantized; NF4 g64 with double quantization's adapters (rank 16)
// are saved for PEFT in out_dir.
void compare_lora(qtl::ptq::bert& model, const std::vector<std::string>& calibration,
                  const std::vector<std::string>& held_out, const std::vector<Eigen::VectorXf>& exact,
                  const std::filesystem::path& out_dir) {
  using nf4_g64 = qtl::quantizer<qtl::nf4, qtl::codebook, qtl::per_group<64>>;
  const auto run = [&](const char* name, auto quantizer, bool double_quantization) {
    for (const std::size_t rank : {std::size_t{0}, std::size_t{8}, std::size_t{16}, std::size_t{64}}) {
      const auto start = std::chrono::steady_clock::now();
      std::vector<qtl::qat::peft_adapter> adapters;
      const bool save = double_quantization && rank == 16;
      if (rank == 0) {
        model.restore_linears();
        for (auto& linear : model.linears()) {
          auto base = std::make_shared<row_major>(linear.weight.rows(), linear.weight.cols());
          auto t = quantizer.quantize(linear.weight_view());
          if (double_quantization) double_quantize(t.params);
          quantizer.dequantize(t, qtl::matrix_view<float>(base->data(), std::size_t(base->rows()), std::size_t(base->cols())));
          run_with(linear, base);
        }
      } else {
        lora_bert(model, quantizer, {rank, double_quantization, save ? &adapters : nullptr}, calibration, false);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const auto s = score(model, held_out, exact);
      std::printf("%-22s %-26s %10.5f %12.5f %8.1f\n", name, rank ? ("LoRA rank " + std::to_string(rank)).c_str() : "no adapters",
                  s.cosine, s.pair_change, seconds);
      if (rank == 16) {
        lora_bert(model, quantizer, {rank, double_quantization, nullptr}, calibration, true);
        const auto r = score(model, held_out, exact);
        std::printf("%-22s %-26s %10.5f %12.5f\n", name, "rank 16 merged, requantized", r.cosine, r.pair_change);
      }
      if (save) {
        qtl::qat::save_peft_adapters(out_dir, adapters, {.alpha = 16.0f, .base_model_name_or_path = "sentence-transformers/all-MiniLM-L6-v2"});
        std::printf("  (rank 16 adapters saved for PEFT in %s)\n", out_dir.string().c_str());
      }
    }
  };
  std::printf("%-22s %-26s %10s %12s %8s\n", "base", "adapters", "cosine", "pair change", "seconds");
  run("NF4 g64, double quant", nf4_g64{}, true);
  run("int4 g128", qtl::int4_g128_symmetric{}, false);
  model.restore_linears();
}

// The sentence embedding of each line of `text`, as rows of float32 in `out` (for
// bench/vq_faiss.py --vectors), on every hardware thread.
int embed_lines(const qtl::ptq::bert& model, const char* text, const char* out) {
  std::ifstream in(text);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  if (lines.empty()) throw std::runtime_error(std::string(text) + ": no lines to embed");
  const std::size_t d = model.config().hidden;
  std::vector<float> rows(lines.size() * d);
  const auto start = std::chrono::steady_clock::now();
  qtl::kernel::parallel_for(lines.size(), qtl::kernel::hardware_threads(), [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) Eigen::Map<Eigen::VectorXf>(rows.data() + i * d, d) = model.embed(lines[i]);
  });
  std::ofstream file(out, std::ios::binary);
  if (!file.write(reinterpret_cast<const char*>(rows.data()), static_cast<std::streamsize>(rows.size() * sizeof(float))))
    throw std::runtime_error(std::string(out) + ": cannot write");
  std::printf("%zu sentence embeddings of %zu floats written to %s in %.1f s\n", lines.size(), d, out,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string_view mode = argc >= 3 ? argv[2] : "";
  if (argc != 2 && !(argc == 3 && (mode == "--table" || mode == "--zeroquant")) &&
      !(argc == 4 && mode == "--lora") && !(argc == 5 && mode == "--embed")) {
    std::fprintf(stderr,
                 "usage: %s MODEL_DIR [--table | --zeroquant | --lora OUT_DIR | --embed TEXT OUT] (a Hugging Face BERT "
                 "directory; --table: every weight method and format; --zeroquant: ZeroQuant's W4A8 and W8A8 with and "
                 "without distillation; --lora: LoRA adapters on NF4 and int4 bases, the NF4 rank-16 ones saved for PEFT "
                 "in OUT_DIR; --embed: the sentence embeddings of TEXT's lines, raw float32 rows in OUT)\n",
                 argv[0]);
    return 2;
  }
  qtl::ptq::bert model(argv[1]);
  if (mode == "--embed") return embed_lines(model, argv[3], argv[4]);
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

  // Weight PTQ: every linear layer quantized in order from its inputs on calibration text
  // (the first 128 sentences of the GPL-3's 172), measured on another license's.
  model.restore_linears();
  const auto calibration = license_sentences({"GPL-3"}, 128);
  const auto held_out = license_sentences({"LGPL-2.1"}, 48);
  std::vector<Eigen::VectorXf> held_out_exact;
  for (const auto& s : held_out) held_out_exact.push_back(model.embed(s));
  std::printf("\nweight PTQ: %zu calibration sentences (GPL-3), %zu held out (LGPL-2.1)\n", calibration.size(),
              held_out.size());
  if (mode == "--lora") {
    compare_lora(model, calibration, held_out, held_out_exact, argv[3]);
    return 0;
  }
  std::printf("%-14s %-22s %10s %12s %14s %8s\n", "weights", "method", "cosine", "pair change", "error / RTN's",
              "seconds");
  using qtl::ptq::weight_method;
  const qtl::ptq::gptq_config searched{.act_order = true, .mse_grid = 100};  // GPTQ's range search
  const method_row basic[] = {{"round to nearest", {.method = weight_method::rtn}},
                              {"GPTQ", {.method = weight_method::gptq}},
                              {"GPTQ + range search", {.method = weight_method::gptq, .gptq = searched}},
                              {"AWQ", {.method = weight_method::awq}}};
  const method_row all[] = {{"round to nearest", {.method = weight_method::rtn}},
                            {"GPTQ", {.method = weight_method::gptq}},
                            {"GPTQ + range search", {.method = weight_method::gptq, .gptq = searched}},
                            {"AWQ", {.method = weight_method::awq}},
                            {"AdaRound", {.method = weight_method::adaround}},
                            {"RTN + bias correction", {.method = weight_method::rtn, .bias_correction = true}},
                            {"GPTQ + bias correction", {.method = weight_method::gptq, .bias_correction = true}},
                            {"RTN + low rank 8", {.method = weight_method::rtn, .low_rank = 8}},
                            {"RTN + low rank 32", {.method = weight_method::rtn, .low_rank = 32}},
                            {"GPTQ + low rank 32", {.method = weight_method::gptq, .low_rank = 32}}};
  if (mode == "--zeroquant") {
    compare_zeroquant<qtl::int4>(model, "int4 g128 A8", 128, calibration, held_out, held_out_exact);
    compare_zeroquant<qtl::int8>(model, "int8 row A8", 0, calibration, held_out, held_out_exact);
    return 0;
  }
  const bool table = mode == "--table";
  const std::span<const method_row> methods = table ? std::span<const method_row>(all) : std::span<const method_row>(basic);
  compare_methods<qtl::int4, qtl::symmetric>(model, "int4 g128", 128, methods, calibration, held_out, held_out_exact);
  // Asymmetric int4 (a zero point per group: compressed-tensors' W4A16_ASYM, GPTQModel's sym=False).
  compare_methods<qtl::uint4, qtl::affine>(model, "int4 g128 asym", 128, basic, calibration, held_out, held_out_exact);
  if (table) {
    compare_methods<qtl::int_format<3, true>, qtl::symmetric>(model, "int3 g128", 128, methods, calibration, held_out,
                                                              held_out_exact);
    compare_methods<qtl::int8, qtl::symmetric>(model, "int8 per row", 0, methods, calibration, held_out, held_out_exact);
    compare_methods<qtl::nf4, qtl::codebook>(model, "nf4 g64", 64, methods, calibration, held_out, held_out_exact);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
