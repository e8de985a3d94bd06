// A Hugging Face tokenizer (tokenizer.json, vocab.txt, tokenizer_config.json) written as
// llama.cpp's tokenizer.ggml.* metadata, with the values convert_hf_to_gguf.py and the gguf
// package's SpecialVocab give: BERT's WordPiece ("bert") and byte-level BPE ("gpt2": Llama 3,
// Qwen2, GPT-2 pre-tokenizers). Every problem is a failure naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model_file.hpp"

namespace qtl::tool::hf {

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
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return std::nullopt;
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw failure(from, std::string("\"") + key + "\" has the wrong type: " + j[key].dump());
  }
}

// "[SEP]" or {"content": "[SEP]", ...} (tokenizer_config.json's two spellings).
inline std::optional<std::string> token_text(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key)) return std::nullopt;
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

// llama.cpp's token types (gguf.TokenType).
enum token_type : std::int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5 };

// The token list being built: id -> text and type, text -> id.
struct vocabulary {
  std::vector<std::string> tokens;
  std::vector<std::int32_t> types;
  std::map<std::string, std::int32_t> ids;

  void place(std::int64_t id, const std::string& text, std::int32_t type, const std::filesystem::path& from) {
    if (id < 0 || id >= (1 << 24)) throw failure(from, "token id " + std::to_string(id) + " is out of range");
    if (static_cast<std::size_t>(id) >= tokens.size()) tokens.resize(id + 1), types.resize(id + 1, unused);
    tokens[id] = text, types[id] = type, ids[text] = static_cast<std::int32_t>(id);
  }
  // Pads to config.json's vocab_size with "[PAD<i>]" (unused), as convert_hf_to_gguf.
  void pad_to(const nlohmann::json& config, const std::filesystem::path& dir) {
    const auto n = field<std::uint32_t>(config, "vocab_size", dir / "config.json").value_or(tokens.size());
    if (tokens.size() > n)
      throw failure(dir, "the tokenizer has " + std::to_string(tokens.size()) + " tokens, config.json's vocab_size " +
                             std::to_string(n));
    for (std::size_t i = 0; i < n; ++i) {
      if (i >= tokens.size()) tokens.emplace_back(), types.push_back(unused);
      if (types[i] == unused && tokens[i].empty()) tokens[i] = "[PAD" + std::to_string(i) + "]";
    }
  }
  // Every added token of tokenizer.json; special ones (or "<|...|>") are control tokens.
  void add_added_tokens(const nlohmann::json& tokenizer, const std::filesystem::path& from) {
    for (const auto& a : tokenizer.value("added_tokens", nlohmann::json::array())) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string())
        throw failure(from, "an added token without an integer \"id\" and a \"content\": " + a.dump());
      const auto text = a["content"].get<std::string>();
      const bool special = a.value("special", false) || (text.starts_with("<|") && text.ends_with("|>"));
      place(a["id"].get<std::int64_t>(), text, special ? control : user_defined, from);
    }
  }
  void write(gg::metadata& meta) {
    meta.set("tokenizer.ggml.tokens", gg::array{std::move(tokens)});
    meta.set("tokenizer.ggml.token_type", gg::array{std::move(types)});
  }
};

// tokenizer_config.json (special_tokens_map.json under it), {} when neither is there.
inline nlohmann::json tokenizer_config(const std::filesystem::path& dir) {
  nlohmann::json special = nlohmann::json::object();
  for (const char* f : {"special_tokens_map.json", "tokenizer_config.json"})  // the config wins
    if (std::filesystem::is_regular_file(dir / f)) {
      const auto j = read_json(dir / f);
      if (!j.is_object()) throw failure(dir / f, "must be a JSON object");
      special.update(j);
    }
  return special;
}

// BERT's WordPiece (BertModel.set_vocab): llama.cpp's "phantom space" spelling (a word
// start gets U+2581, a "##" continuation loses its prefix, control tokens stay), special
// ids from tokenizer_config.json with [CLS] as BOS and [SEP] as EOS.
inline void wordpiece(const std::filesystem::path& dir, const nlohmann::json& config, gg::metadata& meta) {
  vocabulary v;
  std::optional<bool> lowercase;
  if (const auto tj = dir / "tokenizer.json"; std::filesystem::is_regular_file(tj)) {
    const auto j = read_json(tj);
    const auto model = j.value("model", nlohmann::json::object());
    if (model.value("type", std::string()) != "WordPiece" || !model.contains("vocab") || !model["vocab"].is_object())
      throw failure(tj, "a BERT model needs a WordPiece tokenizer with a \"vocab\" object");
    for (const auto& [text, id] : model["vocab"].items()) {
      if (!id.is_number_integer()) throw failure(tj, "the id of token \"" + text + "\" is not an integer");
      v.place(id.get<std::int64_t>(), text, normal, tj);
    }
    v.add_added_tokens(j, tj);
    const auto norm = j.value("normalizer", nlohmann::json());
    if (norm.is_object() && norm.value("type", std::string()) == "BertNormalizer" && norm.contains("lowercase") &&
        norm["lowercase"].is_boolean())
      lowercase = norm["lowercase"].get<bool>();
  } else if (const auto vt = dir / "vocab.txt"; std::filesystem::is_regular_file(vt)) {
    std::ifstream in(vt);
    std::string line;
    for (std::int64_t id = 0; std::getline(in, line); ++id) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      v.place(id, line, normal, vt);
    }
  } else {
    throw failure(dir, "no tokenizer: a BERT GGUF needs tokenizer.json or vocab.txt");
  }
  const auto special = tokenizer_config(dir);
  if (!lowercase && special.contains("do_lower_case") && special["do_lower_case"].is_boolean())
    lowercase = special["do_lower_case"].get<bool>();
  const auto id_of = [&](const char* key) -> std::optional<std::uint32_t> {
    const auto text = token_text(special, key);
    if (!text) return std::nullopt;
    const auto it = v.ids.find(*text);
    if (it == v.ids.end()) throw failure(dir, std::string(key) + " \"" + *text + "\" is not in the vocabulary");
    if (v.types[it->second] == normal) v.types[it->second] = control;  // special, as the HF tokenizer says
    return static_cast<std::uint32_t>(it->second);
  };
  const auto unk = id_of("unk_token"), sep = id_of("sep_token"), pad = id_of("pad_token"), cls = id_of("cls_token"),
             mask = id_of("mask_token"), bos = id_of("bos_token"), eos = id_of("eos_token");
  if (!cls || !sep) throw failure(dir, "a BERT tokenizer needs cls_token and sep_token (tokenizer_config.json)");
  v.pad_to(config, dir);
  for (std::size_t i = 0; i < v.tokens.size(); ++i)
    if (v.types[i] != control && v.types[i] != unused)
      v.tokens[i] = v.tokens[i].starts_with("##") ? v.tokens[i].substr(2) : "\u2581" + v.tokens[i];
  meta.set("tokenizer.ggml.token_type_count",
           field<std::uint32_t>(config, "type_vocab_size", dir / "config.json").value_or(1));
  meta.set("tokenizer.ggml.model", std::string("bert"));
  meta.set("tokenizer.ggml.pre", std::string("default"));  // llama.cpp's WordPiece has one pre-tokenizer
  v.write(meta);
  meta.set("tokenizer.ggml.bos_token_id", bos.value_or(*cls));
  meta.set("tokenizer.ggml.eos_token_id", eos.value_or(*sep));
  if (unk) meta.set("tokenizer.ggml.unknown_token_id", *unk);
  meta.set("tokenizer.ggml.seperator_token_id", *sep);  // the gguf package's spelling
  if (pad) meta.set("tokenizer.ggml.padding_token_id", *pad);
  if (mask) meta.set("tokenizer.ggml.mask_token_id", *mask);
  meta.set("tokenizer.ggml.add_bos_token", true);
  meta.set("tokenizer.ggml.add_eos_token", true);
  if (lowercase) meta.set("tokenizer.ggml.normalizer.lowercase", *lowercase);
}

// llama.cpp's name for a byte-level BPE pre-tokenizer, by its split regex (llama-vocab.cpp
// has one per name); "" for one llama.cpp does not have.
inline std::string bpe_pre(const nlohmann::json& pre) {
  static const std::pair<std::string, std::string> known[] = {
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       "llama-bpe"},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       "qwen2"},
      {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", "gpt-2"},
  };
  std::vector<nlohmann::json> steps;
  if (pre.is_object() && pre.value("type", std::string()) == "Sequence")
    for (const auto& s : pre.value("pretokenizers", nlohmann::json::array())) steps.push_back(s);
  else if (pre.is_object())
    steps.push_back(pre);
  std::string regex;
  for (const auto& s : steps) {
    const auto type = s.value("type", std::string());
    if (type == "Split" && s.contains("pattern") && s["pattern"].is_object())
      regex = s["pattern"].value("Regex", std::string());
    else if (type == "ByteLevel" && s.value("use_regex", true) && regex.empty())
      regex = known[2].first;  // ByteLevel's own split is GPT-2's
  }
  for (const auto& [r, name] : known)
    if (r == regex) return name;
  return {};
}

// Byte-level BPE from tokenizer.json (_set_vocab_gpt2 with SpecialVocab): tokens as the
// file spells them, added tokens as control (special) or user-defined, the merges, the
// pre-tokenizer's llama.cpp name, special ids (tokenizer_config.json's tokens among the
// added ones, then config.json's *_token_id), add_bos/add_eos from the post-processor
// (then tokenizer_config.json) and the chat template.
inline void byte_level_bpe(const std::filesystem::path& dir, const nlohmann::json& config, gg::metadata& meta) {
  const auto tj = dir / "tokenizer.json";
  if (!std::filesystem::is_regular_file(tj))
    throw failure(dir, std::filesystem::is_regular_file(dir / "tokenizer.model")
                           ? "a SentencePiece tokenizer.model: qtl converts byte-level BPE tokenizer.json files only"
                           : "no tokenizer.json");
  const auto j = read_json(tj);
  const auto model = j.value("model", nlohmann::json::object());
  if (model.value("type", std::string()) != "BPE" || !model.contains("vocab") || !model["vocab"].is_object())
    throw failure(tj, "not a BPE tokenizer with a \"vocab\" object");
  if (model.value("byte_fallback", false))
    throw failure(tj, "a SentencePiece-style BPE (byte_fallback): qtl converts byte-level BPE tokenizers only");
  const std::string pre = bpe_pre(j.value("pre_tokenizer", nlohmann::json()));
  if (pre.empty())
    throw failure(tj, "a pre-tokenizer llama.cpp has no name for (qtl knows Llama 3's, Qwen2's and GPT-2's): " +
                          j.value("pre_tokenizer", nlohmann::json()).dump().substr(0, 200));
  vocabulary v;
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer()) throw failure(tj, "the id of token \"" + text + "\" is not an integer");
    v.place(id.get<std::int64_t>(), text, normal, tj);
  }
  v.add_added_tokens(j, tj);
  std::vector<std::string> merges;
  for (const auto& m : model.value("merges", nlohmann::json::array())) {
    if (m.is_string()) {
      merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      std::string pair[2] = {m[0].get<std::string>(), m[1].get<std::string>()};
      for (auto& part : pair)  // a space inside a part becomes U+0120, as SpecialVocab writes it
        for (std::size_t at; (at = part.find(' ')) != std::string::npos;) part.replace(at, 1, "\u0120");
      merges.push_back(pair[0] + " " + pair[1]);
    } else {
      throw failure(tj, "a merge that is neither \"a b\" nor [\"a\", \"b\"]: " + m.dump());
    }
  }
  if (merges.empty()) throw failure(tj, "a BPE tokenizer without merges");
  v.pad_to(config, dir);

  const auto tc = tokenizer_config(dir);
  const auto added_id = [&](const std::string& text) -> std::optional<std::uint32_t> {
    for (const auto& a : j.value("added_tokens", nlohmann::json::array()))
      if (a.value("content", std::string()) == text) return a["id"].get<std::uint32_t>();
    return std::nullopt;
  };
  std::map<std::string, std::uint32_t> ids;  // bos, eos, ...: the first source that names one wins
  for (const char* typ : {"bos", "eos", "unk", "sep", "pad", "cls", "mask"}) {
    std::optional<std::uint32_t> id;
    if (const auto text = token_text(tc, std::string(typ) + "_token")) id = added_id(*text);
    if (!id) id = field<std::uint32_t>(config, (std::string(typ) + "_token_id").c_str(), dir / "config.json");
    if (id && *id < v.tokens.size()) ids[typ] = *id;
  }
  std::map<std::string, bool> add;
  const auto post = j.value("post_processor", nlohmann::json());
  std::vector<nlohmann::json> processors;
  if (post.is_object() && post.contains("processors") && post["processors"].is_array())
    for (const auto& p : post["processors"]) processors.push_back(p);
  else if (post.is_object())
    processors.push_back(post);
  const auto special_id = [](const nlohmann::json& piece) {
    return piece.is_object() && piece.contains("SpecialToken") ? piece["SpecialToken"].value("id", std::string())
                                                               : std::string();
  };
  const auto text_of = [&](const char* typ) { return token_text(tc, std::string(typ) + "_token").value_or(""); };
  for (const auto& p : processors) {
    const auto type = p.value("type", std::string());
    if (type == "ByteLevel") {
      add.try_emplace("bos", false), add.try_emplace("eos", false);
    } else if (type == "TemplateProcessing") {
      const auto single = p.value("single", nlohmann::json::array());
      if (single.size() > 1) {
        if (const auto first = special_id(single.front()); !first.empty())
          add["bos"] = first == text_of("bos") || first == text_of("cls");
        if (const auto last = special_id(single.back()); !last.empty()) add["eos"] = last == text_of("eos");
      }
    }
  }
  for (const char* typ : {"bos", "eos"})
    if (const auto a = field<bool>(tc, (std::string("add_") + typ + "_token").c_str(), dir / "tokenizer_config.json"))
      add.try_emplace(typ, *a);

  meta.set("tokenizer.ggml.model", std::string("gpt2"));
  meta.set("tokenizer.ggml.pre", pre);
  v.write(meta);
  meta.set("tokenizer.ggml.merges", gg::array{std::move(merges)});
  static const std::map<std::string, std::string> keys{
      {"bos", "tokenizer.ggml.bos_token_id"},     {"eos", "tokenizer.ggml.eos_token_id"},
      {"unk", "tokenizer.ggml.unknown_token_id"}, {"sep", "tokenizer.ggml.seperator_token_id"},
      {"pad", "tokenizer.ggml.padding_token_id"}, {"mask", "tokenizer.ggml.mask_token_id"}};
  for (const auto& [typ, id] : ids)
    if (keys.contains(typ)) meta.set(keys.at(typ), id);
  for (const auto& [typ, value] : add) meta.set("tokenizer.ggml.add_" + typ + "_token", value);
  if (const auto t = field<std::string>(tc, "chat_template", dir / "tokenizer_config.json"))
    meta.set("tokenizer.chat_template", *t);
  else if (std::ifstream in(dir / "chat_template.jinja"); in)
    meta.set("tokenizer.chat_template", std::string(std::istreambuf_iterator<char>(in), {}));
}

}  // namespace qtl::tool::hf
