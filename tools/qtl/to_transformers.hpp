// A GGUF model of an architecture qtl converts (architectures.hpp) seen as a transformers
// checkpoint: its tensors under their transformers names (LLaMA's q/k rows back in
// transformers' rotary order; llama.cpp's rope_freqs left out) and the config.json
// transformers needs, from the GGUF's metadata. The other way from convert.hpp.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "architectures.hpp"
#include "model_file.hpp"
#include "qtl/kernel/dispatch.hpp"

namespace qtl::tool {

class transformers_view {
 public:
  transformers_view(const hf_architecture& arch, const gg::metadata& meta, std::span<const tensor_entry> gguf,
                    const std::filesystem::path& from)
      : arch_(arch), meta_(meta) {
    for (std::size_t i = 0; i < gguf.size(); ++i) {
      const auto& t = gguf[i];
      if (t.name == "rope_freqs.weight") continue;  // llama.cpp's; transformers computes them from the config
      const auto name = arch.names.to_hf(t.name);
      if (!name) throw failure(from, "tensor \"" + t.name + "\" has no transformers name for architecture " + arch.arch);
      tensors_.push_back(t);
      tensors_.back().name = *name;
      origin_.push_back(i);
      const bool q = t.name.ends_with("attn_q.weight") || t.name.ends_with("attn_q.bias");
      const bool k = t.name.ends_with("attn_k.weight") || t.name.ends_with("attn_k.bias");
      if (arch.permute_qk && (q || k)) {
        const std::uint64_t heads = q ? number("attention.head_count") : kv_heads(), rows = t.shape.front();
        if (heads == 0 || rows % (2 * heads) != 0)
          throw failure(from, t.name + ": " + std::to_string(rows) + " rows do not split into " +
                                  std::to_string(heads) + " heads of two halves");
        tensors_.back().decode = [source = t, heads, rows](std::span<float> out) {
          rotary_rows(to_float(kernel::select_kernels(), source), out, heads, rows, true);
        };
      }
    }
  }

  [[nodiscard]] std::span<const tensor_entry> tensors() const noexcept { return tensors_; }
  // The index in the GGUF of tensors()[i].
  [[nodiscard]] std::size_t origin(std::size_t i) const noexcept { return origin_[i]; }

  // transformers' config.json for the model: its class and hyperparameters, and the
  // dtype of the weights. The GGUF does not keep LLaMA 3's RoPE scaling parameters (only
  // their frequency factors): such a config needs the original's "rope_scaling".
  [[nodiscard]] nlohmann::ordered_json config(std::string_view dtype) const {
    nlohmann::ordered_json c;
    c["architectures"] = {arch_.classes.front()};
    c["model_type"] = arch_.arch;
    c["hidden_size"] = number("embedding_length");
    c["intermediate_size"] = number("feed_forward_length");
    c["num_hidden_layers"] = number("block_count");
    c["num_attention_heads"] = number("attention.head_count");
    c["max_position_embeddings"] = number("context_length");
    c["vocab_size"] = vocab_size();
    if (arch_.wordpiece) {
      c["type_vocab_size"] = whole("tokenizer.ggml.token_type_count", 2);
      c["layer_norm_eps"] = real("attention.layer_norm_epsilon", 1e-12);
      c["hidden_act"] = "gelu";
      c["position_embedding_type"] = "absolute";
      if (meta_.contains("tokenizer.ggml.padding_token_id")) c["pad_token_id"] = whole("tokenizer.ggml.padding_token_id", 0);
    } else {
      c["num_key_value_heads"] = kv_heads();
      c["rms_norm_eps"] = real("attention.layer_norm_rms_epsilon", 1e-6);
      c["rope_theta"] = real("rope.freq_base", 10000.0);
      c["hidden_act"] = "silu";
      c["tie_word_embeddings"] = std::none_of(tensors_.begin(), tensors_.end(),
                                              [](const tensor_entry& t) { return t.name == "lm_head.weight"; });
      if (const auto dims = number("rope.dimension_count"); dims != 0 && dims != c["hidden_size"].get<std::uint64_t>() /
                                                                                   c["num_attention_heads"].get<std::uint64_t>())
        c["head_dim"] = dims;
      if (const auto* type = meta_.find(arch_.arch + ".rope.scaling.type"); type && std::holds_alternative<std::string>(*type))
        c["rope_scaling"] = {{"rope_type", std::get<std::string>(*type)}, {"factor", real("rope.scaling.factor", 1.0)}};
      for (const char* id : {"bos", "eos"})
        if (meta_.contains(std::string("tokenizer.ggml.") + id + "_token_id"))
          c[std::string(id) + "_token_id"] = whole(std::string("tokenizer.ggml.") + id + "_token_id", 0);
    }
    c["torch_dtype"] = dtype;
    return c;
  }

 private:
  // An unsigned integer value of the metadata (any width), or fallback.
  [[nodiscard]] std::uint64_t whole(const std::string& key, std::uint64_t fallback) const {
    const auto* v = meta_.find(key);
    if (v == nullptr) return fallback;
    return std::visit(
        [&](const auto& x) -> std::uint64_t {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
            return static_cast<std::uint64_t>(x);
          else
            return fallback;
        },
        *v);
  }
  [[nodiscard]] std::uint64_t number(const std::string& key) const { return whole(arch_.arch + "." + key, 0); }
  [[nodiscard]] std::uint64_t kv_heads() const {
    return whole(arch_.arch + ".attention.head_count_kv", number("attention.head_count"));
  }
  [[nodiscard]] double real(const std::string& key, double fallback) const {
    const auto* v = meta_.find(arch_.arch + "." + key);
    if (v == nullptr) return fallback;
    if (const auto* f = std::get_if<float>(v)) return std::stod(fmt::format("{}", *f));  // 1e-05, not 9.99999974e-06
    if (const auto* d = std::get_if<double>(v)) return *d;
    return fallback;
  }
  [[nodiscard]] std::uint64_t vocab_size() const {
    for (const auto& t : tensors_)
      if (t.name.ends_with("word_embeddings.weight") || t.name == "model.embed_tokens.weight") return t.shape.front();
    return 0;
  }

  const hf_architecture& arch_;
  const gg::metadata& meta_;
  std::vector<tensor_entry> tensors_;
  std::vector<std::size_t> origin_;
};

}  // namespace qtl::tool
