// qtl::packed_tensor<Format> (owning) and packed_tensor_view<Format> (non-owning):
// codes packed to Format::bits bits, each row starting on a byte, plus the group params.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/concepts.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/format/code_bits.hpp"
#include "qtl/granularity.hpp"
#include "qtl/pack/bit_pack.hpp"
#include "qtl/quantized_tensor.hpp"

namespace qtl {

enum class pack_order {
  sequential,  // little end first, values may straddle bytes
  split,       // blocks of `block` values in split planes (ggml's nibble order)
};

namespace detail {

// Whether rows x cols codes of F can be packed in `order` with blocks of `block` values.
template <format F>
void check_order(pack_order order, std::size_t block, std::size_t rows, std::size_t cols) {
  if (order != pack_order::split) return;
  if constexpr (split_width<F::bits>) {
    if (rows * cols > 0) check_split<F::bits>(cols, block, "packed_tensor");
  } else {
    throw error(errc::unsupported, "split order needs 1, 2, 4 or 8 bits, not " + std::to_string(F::bits));
  }
}

}  // namespace detail

template <format F>
class packed_tensor_view {
 public:
  static constexpr int bits = F::bits;

  packed_tensor_view() = default;
  // Checks that bytes and params are large enough for the shape; block is the split
  // order's block length (ignored for sequential order).
  packed_tensor_view(std::span<const std::uint8_t> bytes, std::size_t rows, std::size_t cols, group_grid grid,
                     std::span<const quant_params> params, pack_order order = pack_order::sequential,
                     std::size_t block = 0)
      : bytes_(bytes), rows_(rows), cols_(cols), grid_(grid), params_(params), order_(order), block_(block) {
    detail::check_order<F>(order, block, rows, cols);
    check_room(bytes.size(), rows * row_bytes(), "packed_tensor");
    const bool tiles = grid.rows * grid.group.rows == rows && grid.cols * grid.group.cols == cols;
    if (rows * cols > 0 && (!tiles || params.size() != grid.size()))
      throw error(errc::shape_mismatch, "packed_tensor: " + std::to_string(params.size()) + " params for a grid of " +
                                            std::to_string(grid.size()) + " groups over " + std::to_string(rows) +
                                            "x" + std::to_string(cols));
  }

  [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
  [[nodiscard]] std::size_t cols() const noexcept { return cols_; }
  [[nodiscard]] std::size_t row_bytes() const noexcept { return packed_size(cols_, F::bits); }
  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::span<const quant_params> params() const noexcept { return params_; }
  [[nodiscard]] const group_grid& grid() const noexcept { return grid_; }
  [[nodiscard]] pack_order order() const noexcept { return order_; }
  [[nodiscard]] std::size_t block() const noexcept { return block_; }

  // The code of element (r, c), unpacked.
  [[nodiscard]] int code(std::size_t r, std::size_t c) const noexcept {
    const std::uint8_t* row = bytes_.data() + r * row_bytes();
    if constexpr (split_width<F::bits>)
      if (order_ == pack_order::split) return bits_to_code<F>(read_split<F::bits>(row, block_, c));
    return bits_to_code<F>(read_sequential<F::bits>(row, c));
  }

  [[nodiscard]] quantized_tensor<F> unpack() const {
    quantized_tensor<F> q{rows_, cols_, grid_, std::vector<typename F::code_type>(rows_ * cols_),
                          std::vector<quant_params>(params_.begin(), params_.end())};
    for (std::size_t r = 0; r < rows_; ++r)
      for (std::size_t c = 0; c < cols_; ++c) q.codes[r * cols_ + c] = static_cast<typename F::code_type>(code(r, c));
    return q;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  group_grid grid_;
  std::span<const quant_params> params_;
  pack_order order_ = pack_order::sequential;
  std::size_t block_ = 0;
};

template <format F>
class packed_tensor {
 public:
  packed_tensor() = default;

  // Adopts bytes already packed in `order` (what kernel::simd_quantizer writes), with the
  // checks of packed_tensor_view.
  packed_tensor(std::size_t rows, std::size_t cols, group_grid grid, std::vector<quant_params> params,
                std::vector<std::uint8_t> bytes, pack_order order = pack_order::sequential, std::size_t block = 0)
      : rows_(rows), cols_(cols), grid_(grid), params_(std::move(params)), bytes_(std::move(bytes)), order_(order),
        block_(block) {
    static_cast<void>(view());
  }

  // Packs every row of q on its own, in the given order.
  static packed_tensor pack(const quantized_tensor<F>& q, pack_order order = pack_order::sequential,
                            std::size_t block = 0) {
    packed_tensor p;
    p.rows_ = q.rows;
    p.cols_ = q.cols;
    p.grid_ = q.grid;
    p.params_ = q.params;
    p.order_ = order;
    p.block_ = block;
    const std::size_t row_bytes = packed_size(q.cols, F::bits);
    p.bytes_.assign(q.rows * row_bytes, 0);
    static_cast<void>(p.view());  // validates shape, order and block before packing
    std::vector<std::uint8_t> values(q.cols);
    for (std::size_t r = 0; r < q.rows; ++r) {
      for (std::size_t c = 0; c < q.cols; ++c) values[c] = code_to_bits<F>(q.code(r, c));
      const std::span<std::uint8_t> out(p.bytes_.data() + r * row_bytes, row_bytes);
      if (order == pack_order::sequential) {
        pack_sequential<F::bits>(values, out);
      } else if constexpr (split_width<F::bits>) {
        pack_split<F::bits>(values, block, out);
      }
    }
    return p;
  }

  [[nodiscard]] packed_tensor_view<F> view() const {
    return {bytes_, rows_, cols_, grid_, params_, order_, block_};
  }
  [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
  [[nodiscard]] std::size_t cols() const noexcept { return cols_; }
  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }
  [[nodiscard]] const std::vector<quant_params>& params() const noexcept { return params_; }
  [[nodiscard]] int code(std::size_t r, std::size_t c) const { return view().code(r, c); }
  [[nodiscard]] quantized_tensor<F> unpack() const { return view().unpack(); }

 private:
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  group_grid grid_;
  std::vector<quant_params> params_;
  std::vector<std::uint8_t> bytes_;
  pack_order order_ = pack_order::sequential;
  std::size_t block_ = 0;
};

}  // namespace qtl
