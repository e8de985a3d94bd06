// A Hugging Face model directory (config.json, the tokenizer files, *.safetensors with or
// without a shard index) seen as the GGUF that llama.cpp loads: general.architecture and
// the hyperparameters, llama.cpp's tensor names and the tokenizer, under the keys of the
// gguf package's constants, with the values llama.cpp's convert_hf_to_gguf.py writes.
// Architectures: BERT (BertModel and its sentence-transformers pooling). Any other is an
// error that names it (qtl quantize --no-convert still writes the tensors as they are).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model_file.hpp"

namespace qtl::tool {

namespace convert_detail {

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw failure(path, "cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw failure(path, std::string("not valid JSON: ") + e.what());
  }
}

// A config value as T, or nullopt when absent; a value of another type is an error.
template <class T>
std::optional<T> field(const nlohmann::json& j, const char* key, const std::filesystem::path& from) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw failure(from, std::string("\"") + key + "\" has the wrong type: " + j[key].dump());
  }
}

// "[SEP]" or {"content": "[SEP]", ...} (tokenizer_config.json's two spellings).
inline std::optional<std::string> token_text(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return std::nullopt;
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

// llama.cpp's token types (gguf.TokenType).
enum token_type : std::int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5 };

}  // namespace convert_detail

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
    using convert_detail::read_json;
    const auto config_path = dir_ / "config.json";
    config_ = read_json(config_path);
    if (!config_.is_object()) throw failure(config_path, "must be a JSON object");
    const auto classes = config_.value("architectures", nlohmann::json::array());
    const std::string cls = classes.is_array() && !classes.empty() && classes[0].is_string()
                                ? classes[0].get<std::string>()
                                : config_.value("model_type", std::string("(none)"));
    static const std::set<std::string> bert{"BertModel", "BertForMaskedLM", "BertForSequenceClassification", "bert"};
    if (!bert.contains(cls))
      throw failure(config_path, "architecture " + cls +
                                     " is not one qtl converts to a runnable GGUF (BERT); --no-convert writes "
                                     "the tensors as they are, for no runtime in particular");
    arch_ = "bert";
    open_shards();
    map_bert_tensors();
    bert_metadata();
    bert_vocab();
  }

  [[nodiscard]] const std::string& arch() const noexcept { return arch_; }
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
  [[nodiscard]] const gg::metadata& metadata() const noexcept { return meta_; }
  [[nodiscard]] std::span<const tensor_entry> tensors() const noexcept { return tensors_; }
  // Drops the pages of tensors()[i] from resident memory (model_file::release).
  void release(std::size_t i) const noexcept { shards_[origin_[i].first].release(origin_[i].second); }

 private:
  // model.safetensors.index.json's shards, else every *.safetensors of the directory.
  void open_shards() {
    std::vector<std::filesystem::path> files;
    if (const auto index = dir_ / "model.safetensors.index.json"; std::filesystem::is_regular_file(index)) {
      const auto j = convert_detail::read_json(index);
      if (!j.contains("weight_map") || !j["weight_map"].is_object())
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
    shards_.reserve(files.size());  // tensor views point into the shards: no reallocation after this
    for (const auto& f : files) {
      if (!std::filesystem::is_regular_file(f)) throw failure(f, "a shard of the model is missing");
      shards_.emplace_back(f);
      if (shards_.back().kind() != container::safetensors) throw failure(f, "a shard is not safetensors");
    }
  }

  // HF BERT names (with or without "bert.", .gamma/.beta as .weight/.bias) to llama.cpp's;
  // the pooler, the masked-LM and next-sentence heads and position_ids are not in the GGUF.
  void map_bert_tensors() {
    static const std::regex skip(R"(^(embeddings\.position_ids|pooler\..*|cls\.(predictions|seq_relationship)\..*)$)");
    static const std::pair<std::regex, std::string> names[] = {
        {std::regex(R"(^embeddings\.word_embeddings\.(weight|bias)$)"), "token_embd.$1"},
        {std::regex(R"(^embeddings\.position_embeddings\.(weight|bias)$)"), "position_embd.$1"},
        {std::regex(R"(^embeddings\.token_type_embeddings\.(weight|bias)$)"), "token_types.$1"},
        {std::regex(R"(^embeddings\.LayerNorm\.(weight|bias)$)"), "token_embd_norm.$1"},
        {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.self\.query\.(weight|bias)$)"), "blk.$1.attn_q.$2"},
        {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.self\.key\.(weight|bias)$)"), "blk.$1.attn_k.$2"},
        {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.self\.value\.(weight|bias)$)"), "blk.$1.attn_v.$2"},
        {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)$)"), "blk.$1.attn_output.$2"},
        {std::regex(R"(^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias)$)"),
         "blk.$1.attn_output_norm.$2"},
        {std::regex(R"(^encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)$)"), "blk.$1.ffn_up.$2"},
        {std::regex(R"(^encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)$)"), "blk.$1.ffn_down.$2"},
        {std::regex(R"(^encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias)$)"), "blk.$1.layer_output_norm.$2"},
    };
    std::set<std::string> seen;
    for (std::size_t s = 0; s < shards_.size(); ++s) {
      const auto all = shards_[s].tensors();
      for (std::size_t i = 0; i < all.size(); ++i) {
        std::string name = all[i].name;
        if (name.starts_with("bert.")) name = name.substr(5);
        if (name.ends_with(".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
        if (name.ends_with(".beta")) name = name.substr(0, name.size() - 5) + ".bias";
        if (std::regex_match(name, skip)) continue;
        std::string mapped;
        for (const auto& [pattern, to] : names)
          if (std::regex_match(name, pattern)) {
            mapped = std::regex_replace(name, pattern, to);
            break;
          }
        if (mapped.empty())
          throw failure(shards_[s].path(), "tensor \"" + all[i].name + "\" has no llama.cpp name for architecture bert");
        if (!all[i].has_floats())
          throw failure(shards_[s].path(), "tensor \"" + all[i].name + "\" of dtype " + all[i].dtype + " is not float");
        if (!seen.insert(mapped).second)
          throw failure(shards_[s].path(), "tensor \"" + all[i].name + "\" appears twice in the model");
        tensors_.push_back(all[i]);
        tensors_.back().name = mapped;
        origin_.emplace_back(s, i);
      }
    }
    for (const char* required : {"token_embd.weight", "position_embd.weight", "token_embd_norm.weight"})
      if (!seen.contains(required))
        throw failure(dir_, std::string("the BERT model has no tensor for ") + required);
  }

  // TextModel.set_gguf_parameters + BertModel's: hyperparameters, non-causal attention and
  // the sentence-transformers pooling (modules.json -> the Pooling module's config.json).
  void bert_metadata() {
    using convert_detail::field;
    const auto from = dir_ / "config.json";
    const auto need = [&](const char* key) {
      const auto v = field<std::uint32_t>(config_, key, from);
      if (!v || *v == 0) throw failure(from, std::string("needs a positive \"") + key + "\" for a BERT GGUF");
      return *v;
    };
    meta_.set("general.architecture", std::string("bert"));
    meta_.set("general.type", std::string("model"));
    meta_.set("general.name", dir_.filename().string());
    meta_.set("bert.block_count", need("num_hidden_layers"));
    meta_.set("bert.context_length", need("max_position_embeddings"));
    meta_.set("bert.embedding_length", need("hidden_size"));
    meta_.set("bert.feed_forward_length", need("intermediate_size"));
    meta_.set("bert.attention.head_count", need("num_attention_heads"));
    meta_.set("bert.attention.layer_norm_epsilon",
              static_cast<float>(field<double>(config_, "layer_norm_eps", from).value_or(1e-12)));
    meta_.set("bert.attention.causal", false);
    if (const auto pooling = pooling_type()) meta_.set("bert.pooling_type", *pooling);
  }

  // gguf.PoolingType: MEAN 1, CLS 2, LAST 3.
  std::optional<std::uint32_t> pooling_type() const {
    const auto modules = dir_ / "modules.json";
    if (!std::filesystem::is_regular_file(modules)) return std::nullopt;
    const auto j = convert_detail::read_json(modules);
    if (!j.is_array()) throw failure(modules, "must be a JSON array");
    for (const auto& m : j) {
      if (!m.is_object() || !m.value("type", std::string()).ends_with("Pooling")) continue;
      const auto path = dir_ / m.value("path", std::string()) / "config.json";
      const auto p = convert_detail::read_json(path);
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

  // WordPiece vocabulary from tokenizer.json (else vocab.txt), in llama.cpp's "phantom
  // space" spelling: a word start gets U+2581, a "##" continuation loses its prefix, the
  // special (control) tokens stay as they are. Special ids from tokenizer_config.json (or
  // special_tokens_map.json), [CLS] doubling as BOS and [SEP] as EOS.
  void bert_vocab() {
    using namespace convert_detail;
    std::vector<std::string> tokens;
    std::vector<std::int32_t> types;
    std::map<std::string, std::int32_t> ids;
    std::optional<bool> lowercase;
    const auto place = [&](std::int64_t id, const std::string& text, std::int32_t type, const std::filesystem::path& f) {
      if (id < 0 || id > (1 << 24)) throw failure(f, "token id " + std::to_string(id) + " is out of range");
      if (static_cast<std::size_t>(id) >= tokens.size()) tokens.resize(id + 1), types.resize(id + 1, unused);
      tokens[id] = text, types[id] = type, ids[text] = static_cast<std::int32_t>(id);
    };
    if (const auto tj = dir_ / "tokenizer.json"; std::filesystem::is_regular_file(tj)) {
      const auto j = read_json(tj);
      const auto model = j.value("model", nlohmann::json::object());
      if (model.value("type", std::string()) != "WordPiece" || !model.contains("vocab") || !model["vocab"].is_object())
        throw failure(tj, "a BERT model needs a WordPiece tokenizer with a \"vocab\" object");
      for (const auto& [text, id] : model["vocab"].items()) {
        if (!id.is_number_integer()) throw failure(tj, "the id of token \"" + text + "\" is not an integer");
        place(id.get<std::int64_t>(), text, normal, tj);
      }
      for (const auto& a : j.value("added_tokens", nlohmann::json::array()))
        if (a.is_object() && a.contains("id") && a["id"].is_number_integer() && a.contains("content") &&
            a["content"].is_string())
          place(a["id"].get<std::int64_t>(), a["content"].get<std::string>(),
                a.value("special", false) ? control : user_defined, tj);
      const auto norm = j.value("normalizer", nlohmann::json());
      if (norm.is_object() && norm.value("type", std::string()) == "BertNormalizer" && norm.contains("lowercase") &&
          norm["lowercase"].is_boolean())
        lowercase = norm["lowercase"].get<bool>();
    } else if (const auto vt = dir_ / "vocab.txt"; std::filesystem::is_regular_file(vt)) {
      std::ifstream in(vt);
      std::string line;
      for (std::int64_t id = 0; std::getline(in, line); ++id) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        place(id, line, normal, vt);
      }
    } else {
      throw failure(dir_, "no tokenizer: a BERT GGUF needs tokenizer.json or vocab.txt");
    }
    nlohmann::json special = nlohmann::json::object();
    for (const char* f : {"special_tokens_map.json", "tokenizer_config.json"})  // the config wins
      if (std::filesystem::is_regular_file(dir_ / f)) special.update(read_json(dir_ / f));
    if (!lowercase && special.contains("do_lower_case") && special["do_lower_case"].is_boolean())
      lowercase = special["do_lower_case"].get<bool>();
    const auto id_of = [&](const char* key) -> std::optional<std::uint32_t> {
      const auto text = token_text(special, key);
      if (!text) return std::nullopt;
      const auto it = ids.find(*text);
      if (it == ids.end()) throw failure(dir_, std::string(key) + " \"" + *text + "\" is not in the vocabulary");
      if (types[it->second] == normal) types[it->second] = control;  // a special token, as the HF tokenizer says
      return static_cast<std::uint32_t>(it->second);
    };
    const auto unk = id_of("unk_token"), sep = id_of("sep_token"), pad = id_of("pad_token"), cls = id_of("cls_token"),
               mask = id_of("mask_token"), bos = id_of("bos_token"), eos = id_of("eos_token");
    if (!cls || !sep) throw failure(dir_, "a BERT tokenizer needs cls_token and sep_token (tokenizer_config.json)");
    const auto n_vocab = field<std::uint32_t>(config_, "vocab_size", dir_ / "config.json").value_or(tokens.size());
    if (tokens.size() > n_vocab)
      throw failure(dir_, "the tokenizer has " + std::to_string(tokens.size()) + " tokens, config.json's vocab_size " +
                              std::to_string(n_vocab));
    for (std::size_t i = 0; i < n_vocab; ++i) {
      if (i >= tokens.size()) tokens.push_back(""), types.push_back(unused);
      if (types[i] == unused && tokens[i].empty()) tokens[i] = "[PAD" + std::to_string(i) + "]";
      else if (types[i] != control) tokens[i] = tokens[i].starts_with("##") ? tokens[i].substr(2) : "\u2581" + tokens[i];
    }
    meta_.set("tokenizer.ggml.token_type_count",
              field<std::uint32_t>(config_, "type_vocab_size", dir_ / "config.json").value_or(1));
    meta_.set("tokenizer.ggml.model", std::string("bert"));
    meta_.set("tokenizer.ggml.pre", std::string("default"));  // llama.cpp's WordPiece has one pre-tokenizer
    meta_.set("tokenizer.ggml.tokens", gg::array{std::move(tokens)});
    meta_.set("tokenizer.ggml.token_type", gg::array{std::move(types)});
    meta_.set("tokenizer.ggml.bos_token_id", bos.value_or(*cls));
    meta_.set("tokenizer.ggml.eos_token_id", eos.value_or(*sep));
    if (unk) meta_.set("tokenizer.ggml.unknown_token_id", *unk);
    meta_.set("tokenizer.ggml.seperator_token_id", *sep);  // the gguf package's spelling
    if (pad) meta_.set("tokenizer.ggml.padding_token_id", *pad);
    if (mask) meta_.set("tokenizer.ggml.mask_token_id", *mask);
    meta_.set("tokenizer.ggml.add_bos_token", true);
    meta_.set("tokenizer.ggml.add_eos_token", true);
    if (lowercase) meta_.set("tokenizer.ggml.normalizer.lowercase", *lowercase);
  }

  std::filesystem::path dir_;
  nlohmann::json config_;
  std::string arch_;
  std::vector<model_file> shards_;
  std::vector<tensor_entry> tensors_;
  std::vector<std::pair<std::size_t, std::size_t>> origin_;  // (shard, index in it) of each tensor
  gg::metadata meta_;
};

}  // namespace qtl::tool
