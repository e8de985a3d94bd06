// The qtl tool's subcommands: their options and entry points (main.cpp parses the
// command line into these; each command lives in its own .cpp). A command returns the
// exit status and throws qtl::tool::failure or qtl::error for "qtl: <file>: <problem>".
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace qtl::tool {

struct inspect_options {
  std::string input;
};
int run_inspect(const inspect_options& options);

struct quantize_options {
  std::string input, output, format, scheme = "sym", recipe, report;
  std::string imatrix;  // llama-imatrix's file (GGUF or legacy .dat): importance weights per tensor
  // GGUF output, with llama-quantize's meaning (docs/tool.md):
  std::string output_tensor_type, token_embedding_type;  // a ggml type for output.weight / token_embd.weight
  std::vector<std::string> tensor_types;                  // REGEX=TYPE, the first match wins
  bool pure = false, leave_output = false, allow_requantize = false;
  bool no_convert = false;  // a Hugging Face model's tensors as they are, not llama.cpp's GGUF
  std::string original;     // the model the input was made from: a second SQNR against its tensors
  std::optional<long> group_size;
  // int8/int4 of a BERT model: the PTQ algorithm choosing the linear layers' codes, the
  // calibration text it runs the model on, and how many of its sentences (docs/tool.md)
  std::string method = "rtn", calibration;
  std::size_t calibration_samples = 128;
  std::optional<double> warn_sqnr;  // dB; else the format's default (docs/tool.md)
  unsigned threads = 0;             // 0: every hardware thread
};
int run_quantize(const quantize_options& options);

struct compare_options {
  std::string a, b;
  std::optional<double> min_sqnr;  // exit 2 when a compared tensor falls below it
};
int run_compare(const compare_options& options);

struct report_options {
  std::vector<std::string> reports;  // JSON files written by quantize --report
  std::string plot;                  // .svg or .png; empty: print only
  bool summary = false;              // one line per report instead of the tables
};
int run_report(const report_options& options);

}  // namespace qtl::tool
