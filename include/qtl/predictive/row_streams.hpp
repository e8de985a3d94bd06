// The shape the predictive coders share for matrices: each row is its own stream, coded
// from a fresh state, and the rows' outputs are joined one after another.
#pragma once

#include <cstddef>
#include <vector>

namespace qtl::predictive {

// code_row(r) codes row r from a fresh state and returns its output (per_row items);
// the outputs of rows 0 .. rows - 1, joined.
template <class T, class CodeRow>
std::vector<T> join_row_streams(std::size_t rows, std::size_t per_row, CodeRow code_row) {
  std::vector<T> out;
  out.reserve(rows * per_row);
  for (std::size_t r = 0; r < rows; ++r) {
    const auto row = code_row(r);
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

}  // namespace qtl::predictive
