// The model architectures qtl converts between transformers and llama.cpp's GGUF: the
// transformers classes each takes, the tensor names both ways (one template pair per kind
// of tensor: {L} a layer number, {S} weight or bias), what llama.cpp leaves out, and LLaMA's
// rotary row order of q/k. convert.hpp goes one way, to_transformers.hpp the other.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qtl::tool {

struct name_pair {
  std::string_view hf, gguf;
};

// Renames by the template pairs, either way.
class name_map {
 public:
  explicit name_map(std::span<const name_pair> pairs) {
    for (const auto& p : pairs) to_gguf_.push_back(compile(p.hf, p.gguf)), to_hf_.push_back(compile(p.gguf, p.hf));
  }
  [[nodiscard]] std::optional<std::string> to_gguf(const std::string& hf) const { return apply(to_gguf_, hf); }
  [[nodiscard]] std::optional<std::string> to_hf(const std::string& gguf) const { return apply(to_hf_, gguf); }

 private:
  struct rule {
    std::regex from;
    std::string to;
  };
  // "blk.{L}.attn_q.{S}" -> ^blk\.(\d+)\.attn_q\.(weight|bias)$, the other side's
  // placeholders -> $n by their order here.
  static rule compile(std::string_view from, std::string_view to) {
    std::string re = "^", replacement;
    std::map<char, int> group;
    for (std::size_t i = 0; i < from.size(); ++i) {
      if (from.substr(i, 3) == "{L}" || from.substr(i, 3) == "{S}") {
        re += from[i + 1] == 'L' ? R"((\d+))" : "(weight|bias)";
        group[from[i + 1]] = static_cast<int>(group.size()) + 1;
        i += 2;
      } else {
        if (from[i] == '.') re += '\\';
        re += from[i];
      }
    }
    for (std::size_t i = 0; i < to.size(); ++i) {
      if (to.substr(i, 3) == "{L}" || to.substr(i, 3) == "{S}") {
        replacement += "$" + std::to_string(group.at(to[i + 1]));
        i += 2;
      } else {
        replacement += to[i];
      }
    }
    return {std::regex(re + "$"), replacement};
  }
  static std::optional<std::string> apply(const std::vector<rule>& rules, const std::string& name) {
    for (const auto& r : rules)
      if (std::regex_match(name, r.from)) return std::regex_replace(name, r.from, r.to);
    return std::nullopt;
  }
  std::vector<rule> to_gguf_, to_hf_;
};

struct hf_architecture {
  std::string arch;                  // general.architecture
  std::vector<std::string> classes;  // config.json's "architectures"; the first is written back
  name_map names;
  std::regex skip;                     // transformers tensors llama.cpp does not use
  std::vector<std::string> required;  // llama.cpp names a model must have
  bool permute_qk = false;            // LLaMA: q/k rows in llama.cpp's rotary order (rotary_rows)
  bool wordpiece = false;             // BERT's tokenizer; else byte-level BPE
};

inline const std::vector<hf_architecture>& hf_architectures() {
  static constexpr name_pair bert[] = {
      {"embeddings.word_embeddings.{S}", "token_embd.{S}"},
      {"embeddings.position_embeddings.{S}", "position_embd.{S}"},
      {"embeddings.token_type_embeddings.{S}", "token_types.{S}"},
      {"embeddings.LayerNorm.{S}", "token_embd_norm.{S}"},
      {"encoder.layer.{L}.attention.self.query.{S}", "blk.{L}.attn_q.{S}"},
      {"encoder.layer.{L}.attention.self.key.{S}", "blk.{L}.attn_k.{S}"},
      {"encoder.layer.{L}.attention.self.value.{S}", "blk.{L}.attn_v.{S}"},
      {"encoder.layer.{L}.attention.output.dense.{S}", "blk.{L}.attn_output.{S}"},
      {"encoder.layer.{L}.attention.output.LayerNorm.{S}", "blk.{L}.attn_output_norm.{S}"},
      {"encoder.layer.{L}.intermediate.dense.{S}", "blk.{L}.ffn_up.{S}"},
      {"encoder.layer.{L}.output.dense.{S}", "blk.{L}.ffn_down.{S}"},
      {"encoder.layer.{L}.output.LayerNorm.{S}", "blk.{L}.layer_output_norm.{S}"},
  };
  static constexpr name_pair decoder[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.{L}.input_layernorm.weight", "blk.{L}.attn_norm.weight"},
      {"model.layers.{L}.self_attn.q_proj.{S}", "blk.{L}.attn_q.{S}"},
      {"model.layers.{L}.self_attn.k_proj.{S}", "blk.{L}.attn_k.{S}"},
      {"model.layers.{L}.self_attn.v_proj.{S}", "blk.{L}.attn_v.{S}"},
      {"model.layers.{L}.self_attn.o_proj.{S}", "blk.{L}.attn_output.{S}"},
      {"model.layers.{L}.post_attention_layernorm.weight", "blk.{L}.ffn_norm.weight"},
      {"model.layers.{L}.mlp.gate_proj.weight", "blk.{L}.ffn_gate.weight"},
      {"model.layers.{L}.mlp.up_proj.weight", "blk.{L}.ffn_up.weight"},
      {"model.layers.{L}.mlp.down_proj.weight", "blk.{L}.ffn_down.weight"},
  };
  const std::regex decoder_skip(R"(^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$)");
  static const std::vector<hf_architecture> all = {
      {"bert",
       {"BertModel", "BertForMaskedLM", "BertForSequenceClassification"},
       name_map(bert),
       // the pooler, the masked-LM and next-sentence heads are not in llama.cpp's BERT
       std::regex(R"(^(embeddings\.position_ids|pooler\..*|cls\.(predictions|seq_relationship)\..*)$)"),
       {"token_embd.weight", "position_embd.weight", "token_embd_norm.weight"},
       false,
       true},
      {"llama",
       {"LlamaForCausalLM", "LLaMAForCausalLM", "MistralForCausalLM", "LlamaModel"},
       name_map(decoder),
       decoder_skip,
       {"token_embd.weight", "output_norm.weight"},
       true,
       false},
      {"qwen2",
       {"Qwen2ForCausalLM", "Qwen2Model"},
       name_map(decoder),
       decoder_skip,
       {"token_embd.weight", "output_norm.weight"},
       false,
       false},
  };
  return all;
}

// By general.architecture; nullptr for one qtl does not convert.
inline const hf_architecture* find_architecture(std::string_view arch) {
  for (const auto& a : hf_architectures())
    if (a.arch == arch) return &a;
  return nullptr;
}

// LLaMA's q/k rows between transformers' rotary layout and llama.cpp's, per head:
// (2, half) -> (half, 2) (convert_hf_to_gguf's LlamaModel.permute), or back.
inline void rotary_rows(std::span<const float> in, std::span<float> out, std::uint64_t heads, std::uint64_t rows,
                        bool to_transformers) {
  const std::uint64_t cols = in.size() / rows, half = rows / heads / 2;
  for (std::uint64_t h = 0; h < heads; ++h)
    for (std::uint64_t j = 0; j < half; ++j)
      for (std::uint64_t two = 0; two < 2; ++two) {
        std::uint64_t hf = (h * 2 + two) * half + j, gguf = (h * half + j) * 2 + two;
        if (to_transformers) std::swap(hf, gguf);
        std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(hf * cols), cols,
                    out.begin() + static_cast<std::ptrdiff_t>(gguf * cols));
      }
}

}  // namespace qtl::tool
