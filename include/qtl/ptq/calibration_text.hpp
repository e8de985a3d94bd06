// qtl::ptq::sentences: calibration (or evaluation) text for the model-level passes, from
// any plain text: split at a word ending in '.' and at blank lines, whitespace collapsed,
// the sentences of min_words..max_words words kept (headings and lists are shorter, run-on
// legal clauses longer), at most `most` of them, in order. docs/ptq.md's corpus is the
// license texts every Debian system has under /usr/share/common-licenses.
#pragma once

#include <cstddef>
#include <istream>
#include <sstream>
#include <string>
#include <vector>

namespace qtl::ptq {

inline std::vector<std::string> sentences(std::istream& text, std::size_t most, std::size_t min_words = 6,
                                          std::size_t max_words = 60) {
  std::vector<std::string> out;
  std::string sentence, word;
  std::size_t words = 0;
  const auto flush = [&] {
    if (words >= min_words && words <= max_words && out.size() < most) out.push_back(sentence);
    sentence.clear(), words = 0;
  };
  for (std::string line; out.size() < most && std::getline(text, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) flush();
    std::istringstream ws(line);
    while (ws >> word) {
      sentence += (sentence.empty() ? "" : " ") + word, ++words;
      if (word.back() == '.') flush();
    }
  }
  flush();
  return out;
}

}  // namespace qtl::ptq
