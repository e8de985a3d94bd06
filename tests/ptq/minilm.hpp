// The demo's real model for the tests of qtl::ptq's BERT passes: all-MiniLM-L6-v2
// (scripts/fetch_model.sh; the directory in QTL_MINILM_DIR), its golden sentences
// (tests/golden/minilm.json) and a one-layer copy that keeps the passes short under the
// sanitizers.
#pragma once

#include "qtl/ptq/bert.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace qtl::ptq::test {

inline std::filesystem::path model_dir() {
  const char* dir = std::getenv("QTL_MINILM_DIR");
  REQUIRE(dir != nullptr);  // set by tests/CMakeLists.txt after scripts/fetch_model.sh
  return dir;
}

// A temporary directory with the model's weights and tokenizer, for a config.json of its own.
inline std::filesystem::path model_copy(const char* name) {
  const auto dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::create_directories(dir);
  for (const char* f : {"model.safetensors", "tokenizer.json"})
    std::filesystem::copy_file(model_dir() / f, dir / f, std::filesystem::copy_options::overwrite_existing);
  return dir;
}

// The model's first encoder layer alone (config.json says 1 layer).
inline std::filesystem::path one_layer_copy(const char* name) {
  const auto dir = model_copy(name);
  std::ofstream(dir / "config.json") << R"({"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 1,
    "num_attention_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 512, "type_vocab_size": 2,
    "vocab_size": 30522, "hidden_act": "gelu", "position_embedding_type": "absolute"})";
  return dir;
}

inline const nlohmann::json& golden() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(QTL_GOLDEN_DIR) + "/minilm.json");
    REQUIRE(in);
    return nlohmann::json::parse(in);
  }();
  return j;
}

// The golden sentences of at most 64 tokens (the 256-token one would be slow under the sanitizers).
inline std::vector<std::string> short_sentences() {
  std::vector<std::string> out;
  for (const auto& s : golden()["sentences"])
    if (s["ids"].size() <= 64) out.push_back(s["text"].get<std::string>());
  return out;
}

inline const bert& float_model() {
  static const bert m(model_dir());
  return m;
}

inline double cosine(const Eigen::VectorXf& a, const Eigen::VectorXf& b) {
  return a.cast<double>().dot(b.cast<double>()) / (a.cast<double>().norm() * b.cast<double>().norm());
}

// A function giving the mean cosine of m's embeddings of the sentences to its float ones now.
inline std::function<double()> cosine_to(const bert& m, const std::vector<std::string>& sentences) {
  std::vector<Eigen::VectorXf> exact;
  for (const auto& s : sentences) exact.push_back(m.embed(s));
  return [&m, &sentences, exact] {
    double sum = 0.0;
    for (std::size_t i = 0; i < sentences.size(); ++i) sum += cosine(m.embed(sentences[i]), exact[i]);
    return sum / static_cast<double>(sentences.size());
  };
}

}  // namespace qtl::ptq::test
