// Terminal output of the qtl tool: byte counts and shapes as text, aligned tables on
// stdout, and progress on stderr (a bar on a terminal, one line per step otherwise).
#pragma once

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace qtl::tool {

inline std::string shape_text(const std::vector<std::uint64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

inline std::string bytes_text(std::uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1024 && u < 3) v /= 1024, ++u;
  return fmt::format("{:.1f} {}", v, units[u]);
}

inline std::string db_text(double db) {
  if (std::isnan(db)) return "-";
  return std::isinf(db) ? "exact" : fmt::format("{:.2f}", db);
}

// Columns sized to their widest cell; names (the first column) and a trailing note column
// left-aligned, numbers right-aligned.
class table {
 public:
  explicit table(std::vector<std::string> header, bool note_column = false) : note_column_(note_column) {
    rows_.push_back(std::move(header));
  }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::FILE* out = stdout) const {
    std::vector<std::size_t> width(rows_[0].size(), 0);
    for (const auto& r : rows_)
      for (std::size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      std::string line;
      for (std::size_t c = 0; c < width.size(); ++c) {
        const std::string& cell = c < rows_[i].size() ? rows_[i][c] : std::string();
        const bool left = c == 0 || (note_column_ && c + 1 == width.size());
        line +=
            (c ? "  " : "") + (left ? fmt::format("{:<{}}", cell, width[c]) : fmt::format("{:>{}}", cell, width[c]));
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      fmt::print(out, "{}\n", line);
      if (i == 0) {
        std::size_t total = 2 * (width.size() - 1);
        for (const auto w : width) total += w;
        fmt::print(out, "{}\n", std::string(total, '-'));
      }
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  bool note_column_;
};

// "[#####.....] 5/10 name" redrawn in place on a terminal; otherwise "[5/10] name" lines,
// at most one per 5 % of the steps so that a log of a large model stays readable.
class progress {
 public:
  explicit progress(std::size_t total) : total_(total), tty_(::isatty(2) != 0) {}
  void step(std::size_t done, const std::string& what) const {
    if (!tty_) {
      if (done == 1 || done == total_ || done * 20 / total_ != (done - 1) * 20 / total_)
        fmt::print(stderr, "[{}/{}] {}\n", done, total_, what);
      return;
    }
    constexpr std::size_t bar = 30;
    const std::size_t filled = total_ == 0 ? bar : bar * done / total_;
    fmt::print(stderr, "\r\033[K[{}{}] {}/{} {}", std::string(filled, '#'), std::string(bar - filled, '.'), done,
               total_, what.substr(0, 60));
    std::fflush(stderr);
  }
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;
  ~progress() {  // also when an error ends the run: the message starts on a clean line
    if (tty_) fmt::print(stderr, "\r\033[K");
  }

 private:
  std::size_t total_;
  bool tty_;
};

}  // namespace qtl::tool
