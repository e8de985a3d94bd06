// qtl::quantized_tensor<Format>: codes (one per element, unpacked) plus the quant_params
// of each group: what quantizer::quantize returns and pack/ turns into bytes.
#pragma once

#include <cstddef>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/view.hpp"
#include "qtl/granularity.hpp"

namespace qtl {

template <format F>
struct quantized_tensor {
  using format_type = F;
  using code_type = typename F::code_type;

  std::size_t rows = 0;
  std::size_t cols = 0;
  group_grid grid;                   // how params map onto elements
  std::vector<code_type> codes;      // rows * cols, row-major
  std::vector<quant_params> params;  // grid.size(), row-major over groups

  [[nodiscard]] matrix_view<const code_type> code_view() const noexcept { return {codes.data(), rows, cols}; }
  [[nodiscard]] code_type code(std::size_t r, std::size_t c) const noexcept { return codes[r * cols + c]; }
  [[nodiscard]] const quant_params& params_at(std::size_t r, std::size_t c) const noexcept {
    return params[grid.index(r, c)];
  }
};

}  // namespace qtl
