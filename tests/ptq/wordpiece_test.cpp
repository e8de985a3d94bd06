// qtl::ptq::wordpiece on a small vocabulary: each step of BERT's tokenization (the real
// vocabulary against the tokenizers package is in bert_test.cpp).
#include "qtl/ptq/wordpiece.hpp"

#include <catch2/catch_test_macros.hpp>
#include <string>
#include <vector>

namespace {

using qtl::ptq::wordpiece;

wordpiece small(qtl::ptq::wordpiece_options o = {}) {
  return {{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "hello", ",", "!", "world", "cafe",
           "\xE4\xB8\xAD", "\xE6\x96\x87", "x", "##x", "i", "##\xCC\x87"},
          std::move(o)};
}

std::vector<std::string> tokens(const wordpiece& w, const std::string& text) {
  std::vector<std::string> out;
  for (const auto id : w.tokenize(text)) out.push_back(w.token(id));
  return out;
}

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("wordpiece splits words into the longest pieces from the left", "[ptq][wordpiece]") {
  const auto w = small();
  CHECK(tokens(w, "Unaffable") == strings{"un", "##aff", "##able"});
  CHECK(tokens(w, "aff unaff") == strings{"aff", "un", "##aff"});
  CHECK(tokens(w, "Hello, World!!") == strings{"hello", ",", "world", "!", "!"});
  CHECK(tokens(w, "unyaff") == strings{"[UNK]"});  // a part no piece covers: the whole word is unknown
  CHECK(tokens(w, "hello unknown world") == strings{"hello", "[UNK]", "world"});
}

TEST_CASE("wordpiece normalizes as BERT's uncased models do", "[ptq][wordpiece]") {
  const auto w = small();
  CHECK(tokens(w, "CAF\xC3\x89") == strings{"cafe"});                     // É -> e
  CHECK(tokens(w, "cafe\xCC\x81") == strings{"cafe"});                    // e + combining acute
  CHECK(tokens(w, "hel\x07lo\xE2\x80\x8B") == strings{"hello"});          // BEL and a zero-width space dropped
  CHECK(tokens(w, "\xE4\xB8\xAD\xE6\x96\x87") == strings{"\xE4\xB8\xAD", "\xE6\x96\x87"});  // each ideograph a word
  CHECK(tokens(w, "hello\xC2\xA0world\xE3\x80\x80!") == strings{"hello", "world", "!"});  // NBSP, ideographic space
  CHECK(tokens(w, " \t\n ").empty());
  CHECK(tokens(w, "").empty());
}

TEST_CASE("wordpiece options turn the normalizer's steps off", "[ptq][wordpiece]") {
  qtl::ptq::wordpiece_options cased;
  cased.lowercase = false;
  cased.strip_accents = false;
  CHECK(tokens(small(cased), "Hello hello") == strings{"[UNK]", "hello"});
  qtl::ptq::wordpiece_options accents;
  accents.strip_accents = false;
  CHECK(tokens(small(accents), "caf\xC3\xA9") == strings{"[UNK]"});
  CHECK(tokens(small(accents), "\xC4\xB0") == strings{"i", "##\xCC\x87"});  // İ lowercases to i + dot above
  CHECK(tokens(small(), "\xC4\xB0") == strings{"i"});                     // the dot is an accent
  qtl::ptq::wordpiece_options joined;
  joined.chinese_chars = false;
  CHECK(tokens(small(joined), "\xE4\xB8\xAD\xE6\x96\x87") == strings{"[UNK]"});
}

TEST_CASE("wordpiece: a word longer than max_chars_per_word is unknown", "[ptq][wordpiece]") {
  const auto w = small();
  const auto ids = w.tokenize(std::string(100, 'x'));
  REQUIRE(ids.size() == 100);
  CHECK(w.token(ids.front()) == "x");
  CHECK(w.token(ids.back()) == "##x");
  CHECK(tokens(w, std::string(101, 'x')) == strings{"[UNK]"});
}

TEST_CASE("wordpiece::encode adds the first and last tokens and cuts the text", "[ptq][wordpiece]") {
  const auto w = small();
  CHECK(w.encode("hello world") == std::vector<std::int32_t>{2, 8, 11, 3});
  CHECK(w.encode("hello world", 3) == std::vector<std::int32_t>{2, 8, 3});
  CHECK(w.encode("", 2) == std::vector<std::int32_t>{2, 3});
  CHECK_THROWS_AS(w.encode("hello", 1), qtl::error);
}

TEST_CASE("wordpiece refuses bad text and bad vocabularies", "[ptq][wordpiece]") {
  const auto w = small();
  for (const std::string bad : {"\xC3\x28", "\xC0\xAF", "\xE2\x82", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF"})
    CHECK_THROWS_AS(w.tokenize("hello " + bad), qtl::error);
  CHECK_THROWS_AS(w.token(19), qtl::error);
  CHECK_THROWS_AS(w.token(-1), qtl::error);
  CHECK_THROWS_AS(wordpiece({"[UNK]", "[CLS]", "[SEP]", "a", "a"}), qtl::error);  // a token twice
  CHECK_THROWS_AS(wordpiece({"[CLS]", "[SEP]", "a"}), qtl::error);                 // no unknown token
  CHECK_THROWS_AS(wordpiece::from_vocab_txt("no/such/vocab.txt"), qtl::error);
}
