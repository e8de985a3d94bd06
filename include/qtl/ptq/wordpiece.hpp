// qtl::ptq::wordpiece: BERT's tokenizer (normalizer, whitespace/punctuation split,
// greedy longest-match WordPiece), text -> token ids for the model forward (ptq/bert.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/ptq/unicode_data.hpp"

namespace qtl::ptq {

// As the tokenizers package's BertNormalizer, BertPreTokenizer and WordPiece model name them.
struct wordpiece_options {
  bool clean_text = true;          // drop control characters, every whitespace becomes a space
  bool chinese_chars = true;       // a CJK ideograph is a word of its own
  bool strip_accents = true;       // canonical decomposition, nonspacing marks removed
  bool lowercase = true;
  std::size_t max_chars_per_word = 100;  // a longer word is the unknown token
  std::string unknown = "[UNK]", first = "[CLS]", last = "[SEP]", continuation = "##";
};

namespace detail::text {

template <class Range>
bool in_ranges(const Range& ranges, char32_t c) {
  const auto it = std::upper_bound(std::begin(ranges), std::end(ranges), c,
                                   [](char32_t x, const auto& r) { return x < r.first; });
  return it != std::begin(ranges) && c <= std::prev(it)->last;
}

inline bool is_whitespace(char32_t c) {  // Unicode White_Space
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

inline bool is_chinese(char32_t c) {  // the CJK ideograph blocks BERT splits on
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

inline char32_t lowercase(char32_t c) {
  const auto& runs = unicode_data::lowercase;
  const auto it = std::upper_bound(std::begin(runs), std::end(runs), c,
                                   [](char32_t x, const unicode_data::lower_run& r) { return x < r.first; });
  if (it == std::begin(runs)) return c;
  const auto& r = *std::prev(it);
  if (c > r.last || (c - r.first) % static_cast<char32_t>(r.step) != 0) return c;
  return static_cast<char32_t>(static_cast<std::int64_t>(c) + r.delta);
}

// The base character of c's canonical decomposition when the rest are nonspacing marks
// (0: c is only marks), else c.
inline char32_t without_accents(char32_t c) {
  if (in_ranges(unicode_data::nonspacing_marks, c)) return 0;
  const auto& d = unicode_data::decompositions;
  const auto it = std::lower_bound(std::begin(d), std::end(d), c,
                                   [](const unicode_data::decomposition& e, char32_t x) { return e.code < x; });
  return it != std::end(d) && it->code == c ? it->base : c;
}

// UTF-8 -> code points; invalid UTF-8 (overlong, surrogates, truncated) is an error.
inline std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1Fu) : n == 3 ? (b & 0x0Fu) : (b & 0x07u);
    bool ok = n != 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto t = static_cast<unsigned char>(s[i + k]);
      ok = (t & 0xC0) == 0x80;
      c = c << 6 | (t & 0x3Fu);
    }
    static constexpr char32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (!ok || c < least[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
      throw error(errc::invalid_argument, "wordpiece: text is not valid UTF-8 at byte " + std::to_string(i));
    out.push_back(c);
    i += n;
  }
  return out;
}

inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace detail::text

class wordpiece {
 public:
  wordpiece(std::vector<std::string> vocabulary, wordpiece_options options = {})
      : options_(std::move(options)), tokens_(std::move(vocabulary)) {
    for (std::size_t i = 0; i < tokens_.size(); ++i)
      if (!ids_.emplace(tokens_[i], static_cast<std::int32_t>(i)).second)
        throw error(errc::invalid_argument, "wordpiece: token \"" + tokens_[i] + "\" is in the vocabulary twice");
    for (const auto* special : {&options_.unknown, &options_.first, &options_.last})
      if (!ids_.contains(*special))
        throw error(errc::invalid_argument, "wordpiece: special token \"" + *special + "\" is not in the vocabulary");
  }

  // One token per line, the line number its id (BERT's vocab.txt).
  static wordpiece from_vocab_txt(const std::filesystem::path& path, wordpiece_options options = {}) {
    std::ifstream in(path);
    if (!in) throw error(errc::io, "wordpiece: cannot open " + path.string());
    std::vector<std::string> vocabulary;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      vocabulary.push_back(line);
    }
    return {std::move(vocabulary), std::move(options)};
  }

  // The tokenizers package's tokenizer.json of a WordPiece model: the vocabulary and the
  // BertNormalizer's options (strip_accents null follows lowercase, as there).
  static wordpiece from_tokenizer_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw error(errc::io, "wordpiece: cannot open " + path.string());
    const auto fail = [&](const std::string& what) {
      return error(errc::corrupt_file, "wordpiece: " + path.string() + ": " + what);
    };
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw fail(std::string("not JSON: ") + e.what());
    }
    const auto& model = j.value("model", nlohmann::json::object());
    if (model.value("type", "") != "WordPiece" || !model.contains("vocab") || !model["vocab"].is_object())
      throw fail("not a WordPiece tokenizer (model.type \"" + model.value("type", "") + "\")");
    std::vector<std::string> vocabulary(model["vocab"].size());
    for (const auto& [token, id] : model["vocab"].items()) {
      if (!id.is_number_unsigned() || id.get<std::size_t>() >= vocabulary.size() || !vocabulary[id].empty())
        throw fail("token \"" + token + "\" has an id outside 0.." + std::to_string(vocabulary.size() - 1) +
                   " or one taken already");
      vocabulary[id.get<std::size_t>()] = token;
    }
    wordpiece_options o;
    o.unknown = model.value("unk_token", o.unknown);
    o.continuation = model.value("continuing_subword_prefix", o.continuation);
    o.max_chars_per_word = model.value("max_input_chars_per_word", o.max_chars_per_word);
    if (const auto& n = j.value("normalizer", nlohmann::json()); n.is_object() && n.value("type", "") == "BertNormalizer") {
      o.clean_text = n.value("clean_text", true);
      o.chinese_chars = n.value("handle_chinese_chars", true);
      o.lowercase = n.value("lowercase", true);
      o.strip_accents = n.contains("strip_accents") && n["strip_accents"].is_boolean() ? n["strip_accents"].get<bool>()
                                                                                        : o.lowercase;
    }
    return {std::move(vocabulary), std::move(o)};
  }

  // A model directory's tokenizer.json, else its vocab.txt (lower-cased, as BERT's uncased models).
  static wordpiece from_model_dir(const std::filesystem::path& dir) {
    if (std::filesystem::exists(dir / "tokenizer.json")) return from_tokenizer_json(dir / "tokenizer.json");
    if (std::filesystem::exists(dir / "vocab.txt")) return from_vocab_txt(dir / "vocab.txt");
    throw error(errc::io, "wordpiece: " + dir.string() + " has neither tokenizer.json nor vocab.txt");
  }

  // The normalized text split into words and punctuation marks (UTF-8).
  [[nodiscard]] std::vector<std::string> words(std::string_view text) const {
    using namespace detail::text;
    std::vector<std::string> out;
    std::string word;
    const auto end_word = [&] {
      if (!word.empty()) out.push_back(std::move(word)), word.clear();
    };
    const auto add = [&](char32_t c) {
      if (is_whitespace(c)) {
        end_word();
      } else if (in_ranges(unicode_data::punctuation, c) || (options_.chinese_chars && is_chinese(c))) {
        end_word();
        append_utf8(word, options_.lowercase ? lowercase(c) : c);
        end_word();
      } else if (options_.lowercase && c == 0x130 && !options_.strip_accents) {
        append_utf8(word, U'i'), append_utf8(word, 0x307);  // İ: the one lowercase of two characters
      } else {
        append_utf8(word, options_.lowercase ? lowercase(c) : c);
      }
    };
    for (char32_t c : decode_utf8(text)) {
      if (options_.clean_text && (c == 0 || c == 0xFFFD || in_ranges(unicode_data::control, c))) continue;
      if (options_.strip_accents && c >= 0xAC00 && c <= 0xD7A3) {  // a Hangul syllable decomposes to its jamo
        const char32_t s = c - 0xAC00;
        add(0x1100 + s / 588), add(0x1161 + s % 588 / 28);
        if (s % 28 != 0) add(0x11A7 + s % 28);
        continue;
      }
      if (options_.strip_accents && (c = without_accents(c)) == 0) continue;
      add(c);
    }
    end_word();
    return out;
  }

  // The ids of the text's word pieces, without the first/last tokens.
  [[nodiscard]] std::vector<std::int32_t> tokenize(std::string_view text) const {
    std::vector<std::int32_t> ids;
    for (const auto& w : words(text)) pieces(w, ids);
    return ids;
  }

  // [CLS] pieces... [SEP], the pieces cut to max_tokens - 2 (the model's positions).
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, std::size_t max_tokens = 512) const {
    if (max_tokens < 2) throw error(errc::invalid_argument, "wordpiece: max_tokens below 2 leaves no room for text");
    auto pieces = tokenize(text);
    if (pieces.size() > max_tokens - 2) pieces.resize(max_tokens - 2);
    std::vector<std::int32_t> ids{id(options_.first)};
    ids.insert(ids.end(), pieces.begin(), pieces.end());
    ids.push_back(id(options_.last));
    return ids;
  }

  [[nodiscard]] std::size_t size() const noexcept { return tokens_.size(); }
  [[nodiscard]] const std::string& token(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size())
      throw error(errc::out_of_range, "wordpiece: token id " + std::to_string(id) + " is outside the vocabulary");
    return tokens_[static_cast<std::size_t>(id)];
  }
  [[nodiscard]] std::int32_t id(const std::string& token) const {
    const auto it = ids_.find(token);
    if (it == ids_.end()) throw error(errc::invalid_argument, "wordpiece: \"" + token + "\" is not in the vocabulary");
    return it->second;
  }
  [[nodiscard]] const wordpiece_options& options() const noexcept { return options_; }

 private:
  // Greedy longest match from the left; a word with a part no piece covers, or longer than
  // max_chars_per_word characters, is the unknown token.
  void pieces(const std::string& word, std::vector<std::int32_t>& ids) const {
    std::vector<std::size_t> starts;  // byte offset of each character
    for (std::size_t i = 0; i < word.size(); ++i)
      if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) starts.push_back(i);
    if (starts.size() > options_.max_chars_per_word) {
      ids.push_back(id(options_.unknown));
      return;
    }
    starts.push_back(word.size());
    const std::size_t before = ids.size();
    for (std::size_t begin = 0; begin + 1 < starts.size();) {
      std::size_t end = starts.size() - 1;
      for (; end > begin; --end) {
        const auto piece = (begin > 0 ? options_.continuation : std::string()) +
                           word.substr(starts[begin], starts[end] - starts[begin]);
        if (const auto it = ids_.find(piece); it != ids_.end()) {
          ids.push_back(it->second);
          break;
        }
      }
      if (end == begin) {
        ids.resize(before);
        ids.push_back(id(options_.unknown));
        return;
      }
      begin = end;
    }
  }

  wordpiece_options options_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int32_t> ids_;
};

}  // namespace qtl::ptq
