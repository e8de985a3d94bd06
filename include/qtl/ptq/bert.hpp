// qtl::ptq::bert: a BERT encoder forward in float (embeddings, attention, GELU FFN, layer
// norm, pooling) from a Hugging Face model directory: the accuracy harness for PTQ, with
// every linear layer's kernel replaceable by a quantized one (ptq/quantized_linear.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/half.hpp"
#include "qtl/core/view.hpp"
#include "qtl/io/mapped_file.hpp"
#include "qtl/io/safetensors.hpp"
#include "qtl/ptq/linear_reference.hpp"  // Eigen
#include "qtl/ptq/quantized_linear.hpp"
#include "qtl/ptq/wordpiece.hpp"

namespace qtl::ptq {

using row_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// config.json's hyperparameters.
struct bert_config {
  std::size_t hidden = 0, layers = 0, heads = 0, intermediate = 0, max_positions = 0, type_vocab = 0, vocab = 0;
  float layer_norm_eps = 1e-12f;

  static bert_config from_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw error(errc::io, "bert: cannot open " + path.string());
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw error(errc::corrupt_file, "bert: " + path.string() + " is not JSON: " + e.what());
    }
    if (j.value("model_type", "") != "bert")
      throw error(errc::unsupported, "bert: " + path.string() + ": model_type \"" + j.value("model_type", "") +
                                         "\" is not bert");
    if (j.value("hidden_act", "gelu") != "gelu" || j.value("position_embedding_type", "absolute") != "absolute")
      throw error(errc::unsupported, "bert: " + path.string() + ": only GELU and absolute positions are implemented");
    const auto size = [&](const char* key) {
      if (!j.contains(key) || !j[key].is_number_unsigned() || j[key].get<std::size_t>() == 0)
        throw error(errc::corrupt_file, "bert: " + path.string() + ": \"" + key + "\" is not a positive integer");
      return j[key].get<std::size_t>();
    };
    bert_config c{size("hidden_size"), size("num_hidden_layers"), size("num_attention_heads"),
                  size("intermediate_size"), size("max_position_embeddings"), size("type_vocab_size"),
                  size("vocab_size"), j.value("layer_norm_eps", 1e-12f)};
    if (c.hidden % c.heads != 0)
      throw error(errc::corrupt_file, "bert: " + path.string() + ": hidden_size " + std::to_string(c.hidden) +
                                          " does not split into " + std::to_string(c.heads) + " heads");
    return c;
  }
};

// y = x·Wᵀ for the tokens x [n, in] into y [n, out]; the bias is added by the model.
using linear_kernel = std::function<void(matrix_view<const float> x, matrix_view<float> y)>;

// One linear layer: transformers' name ("encoder.layer.0.attention.self.query"), its float
// weight [out, in] and bias, and the kernel that computes it (empty: the float product).
struct bert_linear {
  std::string name;
  row_matrix weight;
  Eigen::VectorXf bias;
  linear_kernel kernel;

  [[nodiscard]] matrix_view<const float> weight_view() const noexcept {
    return {weight.data(), static_cast<std::size_t>(weight.rows()), static_cast<std::size_t>(weight.cols())};
  }
  void operator()(const row_matrix& x, row_matrix& y) const {
    y.resize(x.rows(), weight.rows());
    if (kernel)
      kernel({x.data(), static_cast<std::size_t>(x.rows()), static_cast<std::size_t>(x.cols())},
             {y.data(), static_cast<std::size_t>(y.rows()), static_cast<std::size_t>(y.cols())});
    else
      y.noalias() = x * weight.transpose();
    y.rowwise() += bias.transpose();
  }
};

enum class bert_pooling { mean, cls };

// What an encoder layer's forward leaves for its backward (ptq/bert_backward.hpp): the
// inputs of its six linear layers (the hidden states, the attention context, the first
// norm's output, the GELU's output), the projections, each head's attention
// probabilities, the GELU's input and both layer norms' normalized values and 1/σ.
struct bert_layer_trace {
  std::array<row_matrix, 6> inputs;
  row_matrix query, key, value, up, normed_attention, normed_output;
  std::vector<row_matrix> probabilities;
  Eigen::VectorXf inverse_std_attention, inverse_std_output;
};

class bert {
 public:
  // A Hugging Face BERT directory: config.json, model.safetensors (F32, F16 or BF16; names
  // with or without the "bert." prefix), tokenizer.json or vocab.txt, and the
  // sentence-transformers pooling (1_Pooling/config.json: mean or CLS token; modules.json:
  // Normalize). Without those: mean pooling, L2-normalized.
  explicit bert(const std::filesystem::path& dir)
      : config_(bert_config::from_json(dir / "config.json")), tokenizer_(wordpiece::from_model_dir(dir)) {
    const io::mapped_file file(dir / "model.safetensors");
    const io::safetensors::reader weights(file.bytes(), (dir / "model.safetensors").string());
    const auto c = config_;
    word_ = load(weights, "embeddings.word_embeddings.weight", {c.vocab, c.hidden});
    position_ = load(weights, "embeddings.position_embeddings.weight", {c.max_positions, c.hidden});
    token_type_ = load(weights, "embeddings.token_type_embeddings.weight", {c.type_vocab, c.hidden});
    embedding_norm_ = load_norm(weights, "embeddings.LayerNorm", c.hidden);
    for (std::size_t l = 0; l < c.layers; ++l) {
      const std::string p = "encoder.layer." + std::to_string(l) + ".";
      layer_norms_.push_back(load_norm(weights, p + "attention.output.LayerNorm", c.hidden));
      layer_norms_.push_back(load_norm(weights, p + "output.LayerNorm", c.hidden));
      for (const auto& [name, out, in] : {std::tuple{"attention.self.query", c.hidden, c.hidden},
                                          std::tuple{"attention.self.key", c.hidden, c.hidden},
                                          std::tuple{"attention.self.value", c.hidden, c.hidden},
                                          std::tuple{"attention.output.dense", c.hidden, c.hidden},
                                          std::tuple{"intermediate.dense", c.intermediate, c.hidden},
                                          std::tuple{"output.dense", c.hidden, c.intermediate}})
        linears_.push_back({p + name, load(weights, p + name + ".weight", {out, in}),
                            load(weights, p + name + ".bias", {out}).reshaped(), {}});
    }
    read_pooling(dir);
  }

  [[nodiscard]] const bert_config& config() const noexcept { return config_; }
  [[nodiscard]] const wordpiece& tokenizer() const noexcept { return tokenizer_; }
  // Six per layer, in order: query, key, value, attention output, intermediate, output.
  [[nodiscard]] std::span<bert_linear> linears() noexcept { return linears_; }
  [[nodiscard]] std::span<const bert_linear> linears() const noexcept { return linears_; }
  [[nodiscard]] bert_pooling pooling() const noexcept { return pooling_; }
  [[nodiscard]] bool normalizes() const noexcept { return normalize_; }
  // The most tokens embed(text) gives the model ([CLS] and [SEP] included).
  [[nodiscard]] std::size_t max_tokens() const noexcept { return max_tokens_; }

  // Every linear layer computed by a quantized_linear of its weights in cfg's mode
  // (weight-only int8/int4 per channel or group, or int8 activations x int8 weights).
  void quantize_linears(const ptq_config& cfg) {
    for (auto& l : linears_) {
      auto q = std::make_shared<const quantized_linear>(l.weight_view(), cfg);
      l.kernel = [q](matrix_view<const float> x, matrix_view<float> y) { q->forward(x, y); };
    }
  }
  // Back to the float weights.
  void restore_linears() noexcept {
    for (auto& l : linears_) l.kernel = {};
  }

  // The embedding layer's output [tokens, hidden] for token ids (one sequence, token type 0).
  [[nodiscard]] row_matrix embeddings(std::span<const std::int32_t> ids) const {
    const auto& c = config_;
    if (ids.empty()) throw error(errc::invalid_argument, "bert: no tokens");
    if (ids.size() > c.max_positions)
      throw error(errc::invalid_argument, "bert: " + std::to_string(ids.size()) + " tokens exceed the model's " +
                                              std::to_string(c.max_positions) + " positions");
    const auto n = static_cast<Eigen::Index>(ids.size());
    row_matrix x(n, static_cast<Eigen::Index>(c.hidden));
    for (Eigen::Index t = 0; t < n; ++t) {
      const auto id = ids[static_cast<std::size_t>(t)];
      if (id < 0 || static_cast<std::size_t>(id) >= c.vocab)
        throw error(errc::out_of_range, "bert: token id " + std::to_string(id) + " is outside the vocabulary of " +
                                            std::to_string(c.vocab));
      x.row(t) = word_.row(id) + position_.row(t) + token_type_.row(0);
    }
    layer_norm(x, embedding_norm_);
    return x;
  }

  // Encoder layer l applied to the hidden states x [tokens, hidden] of one sequence, in
  // place; with a trace, what its backward needs is kept there.
  void encoder_layer(std::size_t l, row_matrix& x, bert_layer_trace* trace = nullptr) const {
    const auto& c = config_;
    if (l >= c.layers) throw error(errc::out_of_range, "bert: layer " + std::to_string(l) + " of " + std::to_string(c.layers));
    if (x.cols() != static_cast<Eigen::Index>(c.hidden))
      throw error(errc::shape_mismatch, "bert: hidden states of " + std::to_string(x.cols()) + " features for a model of " +
                                            std::to_string(c.hidden));
    const Eigen::Index n = x.rows();
    const auto heads = static_cast<Eigen::Index>(c.heads), d = static_cast<Eigen::Index>(c.hidden / c.heads);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    row_matrix q, k, v, context(n, x.cols()), attended, up, down;
    const bert_linear* layer = &linears_[6 * l];
    layer[0](x, q), layer[1](x, k), layer[2](x, v);
    if (trace) trace->inputs[0] = trace->inputs[1] = trace->inputs[2] = x, trace->probabilities.assign(c.heads, {});
    for (Eigen::Index h = 0; h < heads; ++h) {
      row_matrix scores = q.middleCols(h * d, d) * k.middleCols(h * d, d).transpose() * scale;
      for (Eigen::Index t = 0; t < n; ++t) {  // softmax over the keys
        auto row = scores.row(t);
        row = (row.array() - row.maxCoeff()).exp();
        row /= row.sum();
      }
      context.middleCols(h * d, d).noalias() = scores * v.middleCols(h * d, d);
      if (trace) trace->probabilities[static_cast<std::size_t>(h)] = std::move(scores);
    }
    layer[3](context, attended);
    x += attended;
    layer_norm(x, layer_norms_[2 * l], trace ? &trace->normed_attention : nullptr,
               trace ? &trace->inverse_std_attention : nullptr);
    layer[4](x, up);
    if (trace) trace->inputs[3] = std::move(context), trace->inputs[4] = x, trace->up = up;
    up = up.unaryExpr([](float a) { return 0.5f * a * (1.0f + std::erf(a * 0.70710678118654752f)); });  // exact GELU
    layer[5](up, down);
    x += down;
    layer_norm(x, layer_norms_[2 * l + 1], trace ? &trace->normed_output : nullptr,
               trace ? &trace->inverse_std_output : nullptr);
    if (trace) trace->inputs[5] = std::move(up), trace->query = std::move(q), trace->key = std::move(k), trace->value = std::move(v);
  }

  // The scale (γ) of encoder layer l's layer norm after the attention (0) or the FFN (1).
  [[nodiscard]] const Eigen::VectorXf& norm_scale(std::size_t l, std::size_t which) const {
    if (l >= config_.layers || which > 1) throw error(errc::out_of_range, "bert: no layer norm " + std::to_string(which) +
                                                                             " in layer " + std::to_string(l));
    return layer_norms_[2 * l + which].weight;
  }

  // The last layer's hidden states [tokens, hidden] for token ids.
  [[nodiscard]] row_matrix hidden_states(std::span<const std::int32_t> ids) const {
    row_matrix x = embeddings(ids);
    for (std::size_t l = 0; l < config_.layers; ++l) encoder_layer(l, x);
    return x;
  }

  // The sentence embedding of the last layer's hidden states x: pooled (mean or the CLS
  // token), L2-normalized when the model's pipeline normalizes.
  [[nodiscard]] Eigen::VectorXf pool(const row_matrix& x) const {
    Eigen::VectorXf e = pooling_ == bert_pooling::cls ? Eigen::VectorXf(x.row(0).transpose())
                                                       : Eigen::VectorXf(x.colwise().mean().transpose());
    if (normalize_) e /= std::max(e.norm(), 1e-12f);
    return e;
  }

  // The sentence embedding: the hidden states pooled (mean or the CLS token), L2-normalized
  // when the model's pipeline normalizes.
  [[nodiscard]] Eigen::VectorXf embed(std::span<const std::int32_t> ids) const { return pool(hidden_states(ids)); }
  [[nodiscard]] Eigen::VectorXf embed(std::string_view text) const {
    const auto ids = tokenizer_.encode(text, max_tokens_);
    return embed(std::span<const std::int32_t>(ids));
  }

 private:
  struct norm {
    Eigen::VectorXf weight, bias;
  };

  // The tensor name (with or without "bert."), its shape checked, converted to float.
  static row_matrix load(const io::safetensors::reader& r, const std::string& name,
                         std::vector<std::uint64_t> shape) {
    const auto* t = r.find(name);
    if (t == nullptr) t = r.find("bert." + name);
    if (t == nullptr) throw error(errc::corrupt_file, "bert: " + r.source() + " has no tensor " + name);
    if (t->shape != shape)
      throw error(errc::shape_mismatch, "bert: " + name + " has shape " + io::safetensors::detail::shape_string(t->shape) +
                                            ", config.json says " + io::safetensors::detail::shape_string(shape));
    const auto rows = static_cast<Eigen::Index>(shape.front()), cols = static_cast<Eigen::Index>(shape.size() > 1 ? shape[1] : 1);
    row_matrix m(rows, cols);
    const auto n = static_cast<std::size_t>(m.size());
    const auto* bytes = t->data.data();
    for (std::size_t i = 0; i < n; ++i) {
      float f = 0.0f;
      std::uint16_t h = 0;
      switch (t->type) {
        case io::safetensors::dtype::f32:
          std::memcpy(&f, bytes + 4 * i, 4);
          break;
        case io::safetensors::dtype::f16:
          std::memcpy(&h, bytes + 2 * i, 2), f = half_bits_to_float(h);
          break;
        case io::safetensors::dtype::bf16:
          std::memcpy(&h, bytes + 2 * i, 2), f = bfloat16_bits_to_float(h);
          break;
        default:
          throw error(errc::unsupported, "bert: " + name + " is " + std::string(io::safetensors::name(t->type)) +
                                             " (F32, F16 or BF16 are read)");
      }
      m.data()[i] = f;
    }
    return m;
  }
  static norm load_norm(const io::safetensors::reader& r, const std::string& prefix, std::size_t size) {
    return {load(r, prefix + ".weight", {size}).reshaped(), load(r, prefix + ".bias", {size}).reshaped()};
  }

  // x normalized per row, scaled and shifted, in place; normed and inverse_std (when given)
  // keep the normalized rows and each row's 1/σ.
  void layer_norm(row_matrix& x, const norm& n, row_matrix* normed = nullptr, Eigen::VectorXf* inverse_std = nullptr) const {
    if (normed) normed->resize(x.rows(), x.cols()), inverse_std->resize(x.rows());
    for (Eigen::Index t = 0; t < x.rows(); ++t) {
      auto row = x.row(t);
      const float mean = row.mean();
      row.array() -= mean;
      const float inv = 1.0f / std::sqrt(row.squaredNorm() / static_cast<float>(row.size()) + config_.layer_norm_eps);
      row *= inv;
      if (normed) normed->row(t) = row, (*inverse_std)(t) = inv;
      row = (row.array() * n.weight.transpose().array() + n.bias.transpose().array()).matrix();
    }
  }

  // sentence-transformers' modules: the Pooling module's mode and whether Normalize follows.
  void read_pooling(const std::filesystem::path& dir) {
    const auto json_of = [](const std::filesystem::path& p) {
      std::ifstream in(p);
      return in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
    };
    if (const auto modules = json_of(dir / "modules.json"); modules.is_array()) {
      normalize_ = false;
      for (const auto& m : modules)
        if (m.is_object() && m.value("type", "").ends_with("Normalize")) normalize_ = true;
    }
    if (const auto s = json_of(dir / "sentence_bert_config.json"); s.is_object() && s.contains("max_seq_length") &&
                                                                      s["max_seq_length"].is_number_unsigned())
      max_tokens_ = std::min(max_tokens_, s["max_seq_length"].get<std::size_t>());
    if (const auto p = json_of(dir / "1_Pooling" / "config.json"); p.is_object()) {
      if (p.value("pooling_mode_cls_token", false))
        pooling_ = bert_pooling::cls;
      else if (!p.value("pooling_mode_mean_tokens", true))
        throw error(errc::unsupported, "bert: " + (dir / "1_Pooling" / "config.json").string() +
                                           ": only mean and CLS-token pooling are implemented");
    }
  }

  bert_config config_;
  wordpiece tokenizer_;
  row_matrix word_, position_, token_type_;
  norm embedding_norm_;
  std::vector<norm> layer_norms_;  // two per layer: after attention, after the FFN
  std::vector<bert_linear> linears_;
  bert_pooling pooling_ = bert_pooling::mean;
  bool normalize_ = true;
  std::size_t max_tokens_ = config_.max_positions;  // longer texts are cut (sentence-transformers' max_seq_length)
};

}  // namespace qtl::ptq
