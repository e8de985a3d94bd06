// The quantization report: what `qtl quantize` did to every tensor (format or why kept,
// bytes before/after, SQNR). quantize fills it, prints it and writes it as JSON;
// `qtl report` reads the JSON back, prints the same table and plots it (plot.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace qtl::tool {

struct report_row {
  std::string name;
  std::vector<std::uint64_t> shape;
  std::string dtype;   // of the input tensor
  std::string format;  // "keep" when not quantized
  std::string note;    // why kept, or the recipe rule that chose the format
  std::uint64_t bytes_before = 0, bytes_after = 0;
  double sqnr_db = std::numeric_limits<double>::quiet_NaN();  // +inf: exact; NaN: kept
  // Against the same tensor of quantize --original (the error of both quantizations); NaN: none.
  double sqnr_original_db = std::numeric_limits<double>::quiet_NaN();

  [[nodiscard]] bool quantized() const { return format != "keep"; }
};

struct quant_report {
  std::string input, output, format;
  std::string original;  // quantize --original, when given
  std::vector<report_row> rows;
  std::vector<std::string> warnings;

  [[nodiscard]] std::uint64_t bytes_before() const;
  [[nodiscard]] std::uint64_t bytes_after() const;
  [[nodiscard]] double compression_ratio() const;
};

// Writes path atomically (temp file + rename).
void write_report(const quant_report& r, const std::string& path);

// Throws failure naming path and the first field that is missing or of the wrong type.
quant_report read_report(const std::string& path);

// The table (tensor, shape, format, before, after, SQNR dB, SQNR against the original when
// there is one, note) and the totals line on stdout, the warnings on stderr.
void print_report(const quant_report& r);

}  // namespace qtl::tool
