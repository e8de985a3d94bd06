// A Hugging Face model directory (config.json, the tokenizer files, *.safetensors with or
// without a shard index) seen as the GGUF that llama.cpp loads: general.architecture and
// the hyperparameters, llama.cpp's tensor names (LLaMA's q/k rows un-permuted as the
// converter does) and the tokenizer (hf_tokenizer.hpp), under the keys of the gguf
// package's constants, with the values llama.cpp's convert_hf_to_gguf.py writes.
// Architectures: BERT (with sentence-transformers pooling), LLaMA/Mistral ("llama") and
// Qwen2 ("qwen2"). Any other is an error that names it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "architectures.hpp"
#include "hf_tokenizer.hpp"
#include "model_file.hpp"
#include "qtl/kernel/dispatch.hpp"

namespace qtl::tool {

class hf_model {
 public:
  // Whether `path` is a Hugging Face model: a directory with config.json, or a
  // .safetensors file with config.json beside it.
  static bool is_model(const std::filesystem::path& path) {
    const auto dir = std::filesystem::is_directory(path) ? path : path.parent_path();
    return std::filesystem::is_regular_file((dir.empty() ? "." : dir) / "config.json");
  }

  explicit hf_model(const std::filesystem::path& path)
      : dir_(std::filesystem::is_directory(path) ? path : (path.parent_path().empty() ? "." : path.parent_path())) {
    const auto config_path = dir_ / "config.json";
    config_ = hf::read_json(config_path);
    if (!config_.is_object()) throw failure(config_path, "must be a JSON object");
    const auto classes = config_.value("architectures", nlohmann::json::array());
    const std::string cls = classes.is_array() && !classes.empty() && classes[0].is_string()
                                ? classes[0].get<std::string>()
                                : config_.value("model_type", std::string("(none)"));
    for (const auto& a : hf_architectures())
      if (std::find(a.classes.begin(), a.classes.end(), cls) != a.classes.end()) arch_ = &a;
    if (arch_ == nullptr)
      throw failure(config_path, "architecture " + cls +
                                     " is not one qtl converts to a runnable GGUF (BERT, LLaMA/Mistral, Qwen2); "
                                     "--no-convert writes the tensors as they are, for no runtime in particular");
    open_shards();
    map_tensors();
    if (arch_->wordpiece) {
      bert_metadata();
      hf::wordpiece(dir_, config_, meta_);
    } else {
      decoder_metadata();
      hf::byte_level_bpe(dir_, config_, meta_);
    }
  }

  [[nodiscard]] const std::string& arch() const noexcept { return arch_->arch; }
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
  [[nodiscard]] const gg::metadata& metadata() const noexcept { return meta_; }
  [[nodiscard]] std::span<const tensor_entry> tensors() const noexcept { return tensors_; }
  // Drops the pages of tensors()[i] from resident memory (model_file::release).
  void release(std::size_t i) const noexcept {
    const auto [shard, index] = origin_[i];
    if (shard < shards_.size() && index < shards_[shard].tensors().size()) shards_[shard].release(index);
  }

 private:
  // model.safetensors.index.json's shards, else every *.safetensors of the directory.
  void open_shards() {
    std::vector<std::filesystem::path> files;
    if (const auto index = dir_ / "model.safetensors.index.json"; std::filesystem::is_regular_file(index)) {
      const auto j = hf::read_json(index);
      if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
        throw failure(index, "has no \"weight_map\" object");
      std::set<std::string> names;
      for (const auto& [tensor, file] : j["weight_map"].items()) {
        if (!file.is_string()) throw failure(index, "the shard of " + tensor + " is not a file name");
        names.insert(file.get<std::string>());
      }
      for (const auto& n : names) {
        if (std::filesystem::path(n).filename() != n) throw failure(index, "shard \"" + n + "\" is not a file name");
        files.push_back(dir_ / n);
      }
    } else {
      for (const auto& e : std::filesystem::directory_iterator(dir_))
        if (e.path().extension() == ".safetensors") files.push_back(e.path());
      std::sort(files.begin(), files.end());
    }
    if (files.empty()) throw failure(dir_, "no *.safetensors weights in the model directory");
    shards_.reserve(files.size());
    for (const auto& f : files) {
      if (!std::filesystem::is_regular_file(f)) throw failure(f, "a shard of the model is missing");
      shards_.emplace_back(f);
      if (shards_.back().kind() != container::safetensors) throw failure(f, "a shard is not safetensors");
    }
  }

  [[nodiscard]] std::uint32_t need(const char* key) const {
    const auto v = hf::field<std::uint32_t>(config_, key, dir_ / "config.json");
    if (!v || *v == 0)
      throw failure(dir_ / "config.json", std::string("needs a positive \"") + key + "\" for a " + arch() + " GGUF");
    return *v;
  }

  // Renames every tensor (BERT's "bert." prefix and .gamma/.beta spelling first); a
  // transformers tensor the architecture has no name for is an error naming it.
  void map_tensors() {
    std::set<std::string> seen;
    for (std::size_t s = 0; s < shards_.size(); ++s) {
      const auto raw = shards_[s].tensors();
      for (const auto& t : raw)  // a bitsandbytes weight whose quant_state is missing
        if (t.name.ends_with(".absmax") && !std::any_of(raw.begin(), raw.end(), [&](const tensor_entry& u) {
              return u.name.starts_with(t.name.substr(0, t.name.size() - 7) + ".quant_state.bitsandbytes__");
            }))
          throw failure(shards_[s].path(), "\"" + t.name + "\" has no quant_state.bitsandbytes__nf4/fp4 beside it: "
                                           "not a complete bitsandbytes 4-bit layout");
      // bitsandbytes nf4/fp4 weights (double-quantized too) as one logical tensor each
      const auto all = decoded_view(raw);
      for (std::size_t i = 0; i < all.size(); ++i) {
        std::string name = all[i].name;
        if (arch_->wordpiece) {
          if (name.starts_with("bert.")) name = name.substr(5);
          if (name.ends_with(".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
          if (name.ends_with(".beta")) name = name.substr(0, name.size() - 5) + ".bias";
        }
        if (std::regex_match(name, arch_->skip)) continue;
        const std::string mapped = arch_->names.to_gguf(name).value_or("");
        if (mapped.empty())
          throw failure(shards_[s].path(),
                        "tensor \"" + all[i].name + "\" has no llama.cpp name for architecture " + arch());
        if (!all[i].has_floats())
          throw failure(shards_[s].path(), "tensor \"" + all[i].name + "\" of dtype " + all[i].dtype + " is not float");
        if (!seen.insert(mapped).second)
          throw failure(shards_[s].path(), "tensor \"" + all[i].name + "\" appears twice in the model");
        tensors_.push_back(all[i]);
        tensors_.back().name = mapped;
        const auto at = std::find_if(raw.begin(), raw.end(), [&](const tensor_entry& u) { return u.name == all[i].name; });
        origin_.emplace_back(s, static_cast<std::size_t>(at - raw.begin()));
        if (arch_->permute_qk) permute_rows(tensors_.back(), all[i]);
      }
    }
    for (const auto& required : arch_->required)
      if (!seen.contains(required))
        throw failure(dir_, "the " + arch() + " model has no tensor for " + required);
  }

  // LLaMA's attn_q/attn_k rows in llama.cpp's rotary order (rotary_rows), on decoding.
  void permute_rows(tensor_entry& t, const tensor_entry& source) const {
    const bool q = t.name.ends_with("attn_q.weight") || t.name.ends_with("attn_q.bias");
    const bool k = t.name.ends_with("attn_k.weight") || t.name.ends_with("attn_k.bias");
    if (!q && !k) return;
    const std::uint64_t heads = q ? need("num_attention_heads")
                                  : hf::field<std::uint32_t>(config_, "num_key_value_heads", dir_ / "config.json")
                                        .value_or(need("num_attention_heads"));
    const std::uint64_t rows = t.shape.front();
    if (rows % (2 * heads) != 0)
      throw failure(dir_, t.name + ": " + std::to_string(rows) + " rows do not split into " + std::to_string(heads) +
                              " heads of two halves");
    t.decode = [source, heads, rows](std::span<float> out) {
      rotary_rows(to_float(kernel::select_kernels(), source), out, heads, rows, false);
    };
  }

  void common_metadata() {
    meta_.set("general.architecture", arch());
    meta_.set("general.type", std::string("model"));
    meta_.set("general.name", dir_.filename().string());
    const auto a = arch() + ".";
    meta_.set(a + "block_count", need("num_hidden_layers"));
    meta_.set(a + "context_length", need("max_position_embeddings"));
    meta_.set(a + "embedding_length", need("hidden_size"));
    meta_.set(a + "feed_forward_length", need("intermediate_size"));
    meta_.set(a + "attention.head_count", need("num_attention_heads"));
  }

  // TextModel.set_gguf_parameters + BertModel's: non-causal attention and the
  // sentence-transformers pooling (modules.json -> the Pooling module's config.json).
  void bert_metadata() {
    common_metadata();
    meta_.set("bert.attention.layer_norm_epsilon",
              static_cast<float>(hf::field<double>(config_, "layer_norm_eps", dir_ / "config.json").value_or(1e-12)));
    meta_.set("bert.attention.causal", false);
    if (const auto pooling = pooling_type()) meta_.set("bert.pooling_type", *pooling);
  }

  // LLaMA and Qwen2: grouped-query heads, RMS norm, RoPE base and scaling (LLaMA 3's
  // frequency factors as the rope_freqs.weight tensor the converter adds); LLaMA also
  // writes vocab_size and the rotary dimension.
  void decoder_metadata() {
    const auto from = dir_ / "config.json";
    if (config_.contains("num_local_experts") || config_.contains("num_experts"))
      throw failure(from, "a mixture-of-experts model: qtl converts dense " + arch() + " models only");
    common_metadata();
    const auto a = arch() + ".";
    if (const auto kv = hf::field<std::uint32_t>(config_, "num_key_value_heads", from))
      meta_.set(a + "attention.head_count_kv", *kv);
    nlohmann::json rope = config_.value("rope_parameters", config_.value("rope_scaling", nlohmann::json::object()));
    if (!rope.is_object()) rope = nlohmann::json::object();
    const auto theta = hf::field<double>(rope, "rope_theta", from).value_or(
        hf::field<double>(config_, "rope_theta", from).value_or(0.0));
    const std::string type = rope.value("rope_type", rope.value("type", std::string()));
    const auto factor = hf::field<double>(rope, "factor", from);
    if ((type == "linear" || type == "yarn") && factor) {
      meta_.set(a + "rope.scaling.type", type);
      meta_.set(a + "rope.scaling.factor", static_cast<float>(*factor));
      if (type == "yarn")
        meta_.set(a + "rope.scaling.original_context_length",
                  hf::field<std::uint32_t>(rope, "original_max_position_embeddings", from).value_or(0));
    } else if (!type.empty() && type != "default" && type != "llama3") {
      throw failure(from, "RoPE scaling \"" + type + "\" is not one qtl converts (linear, yarn, llama3)");
    }
    if (theta > 0) meta_.set(a + "rope.freq_base", static_cast<float>(theta));
    if (const auto eps = hf::field<double>(config_, "rms_norm_eps", from))
      meta_.set(a + "attention.layer_norm_rms_epsilon", static_cast<float>(*eps));
    const std::uint32_t head_dim = hf::field<std::uint32_t>(config_, "head_dim", from)
                                       .value_or(need("hidden_size") / need("num_attention_heads"));
    if (arch() == "llama") {
      meta_.set("llama.vocab_size", need("vocab_size"));
      meta_.set("llama.rope.dimension_count", head_dim);
    }
    if (type == "llama3") add_llama3_rope_factors(rope, theta > 0 ? theta : 10000.0, head_dim);
  }

  // LlamaModel.generate_extra_tensors: one factor per rotary frequency pair.
  void add_llama3_rope_factors(const nlohmann::json& rope, double theta, std::uint32_t dim) {
    const auto from = dir_ / "config.json";
    const float factor = static_cast<float>(hf::field<double>(rope, "factor", from).value_or(8.0));
    const float low = static_cast<float>(hf::field<double>(rope, "low_freq_factor", from).value_or(1.0));
    const float high = static_cast<float>(hf::field<double>(rope, "high_freq_factor", from).value_or(4.0));
    const float old_context =
        static_cast<float>(hf::field<double>(rope, "original_max_position_embeddings", from).value_or(8192));
    auto& f = extra_.emplace_back();
    for (std::uint32_t i = 0; i < dim; i += 2) {
      const float freq = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(i) / static_cast<float>(dim));
      const float wavelen = 2.0f * std::numbers::pi_v<float> / freq;
      if (wavelen < old_context / high)
        f.push_back(1.0f);
      else if (wavelen > old_context / low)
        f.push_back(factor);
      else {
        const float smooth = (old_context / wavelen - low) / (high - low);
        f.push_back(1.0f / ((1.0f - smooth) / factor + smooth));
      }
    }
    tensor_entry t;
    t.name = "rope_freqs.weight";
    t.dtype = "F32";
    t.shape = {f.size()};
    t.data = std::as_bytes(std::span<const float>(f));
    t.type = st::dtype::f32;
    tensors_.push_back(std::move(t));
    origin_.emplace_back(shards_.size(), 0);  // not in a shard: nothing to release
  }

  // gguf.PoolingType: MEAN 1, CLS 2, LAST 3.
  std::optional<std::uint32_t> pooling_type() const {
    const auto modules = dir_ / "modules.json";
    if (!std::filesystem::is_regular_file(modules)) return std::nullopt;
    const auto j = hf::read_json(modules);
    if (!j.is_array()) throw failure(modules, "must be a JSON array");
    for (const auto& m : j) {
      if (!m.is_object() || !m.value("type", std::string()).ends_with("Pooling")) continue;
      const auto path = dir_ / m.value("path", std::string()) / "config.json";
      const auto p = hf::read_json(path);
      if (p.value("pooling_mode_mean_tokens", false)) return 1;
      if (p.value("pooling_mode_cls_token", false)) return 2;
      if (p.value("pooling_mode_lasttoken", false)) return 3;
      const auto mode = p.value("pooling_mode", std::string());
      if (mode == "mean") return 1;
      if (mode == "cls") return 2;
      if (mode == "lasttoken") return 3;
      throw failure(path, "a pooling mode llama.cpp does not have (mean, cls or lasttoken)");
    }
    return std::nullopt;
  }

  std::filesystem::path dir_;
  nlohmann::json config_;
  const hf_architecture* arch_ = nullptr;
  std::vector<model_file> shards_;
  std::vector<std::vector<float>> extra_;  // tensors the converter makes (rope_freqs)
  std::vector<tensor_entry> tensors_;
  std::vector<std::pair<std::size_t, std::size_t>> origin_;  // (shard, index in it) of each tensor
  gg::metadata meta_;
};

}  // namespace qtl::tool
