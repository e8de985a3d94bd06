// Non-owning strided views: vector_view (1-D, element stride) and matrix_view
// (rows x cols, row stride). Every quantizer, pack and kernel entry point takes these.
#pragma once

#include <cstddef>
#include <ranges>
#include <span>
#include <type_traits>
#include <utility>

#include "qtl/core/config.hpp"
#include "qtl/core/error.hpp"

namespace qtl {

template <class T>
class vector_view {
 public:
  vector_view() = default;
  QTL_HOST_DEVICE constexpr vector_view(T* data, std::size_t size, std::ptrdiff_t stride = 1) noexcept
      : data_(data), size_(size), stride_(stride) {}
  template <class U, std::size_t E>
    requires std::is_convertible_v<U (*)[], T (*)[]>
  constexpr vector_view(std::span<U, E> s) noexcept : data_(s.data()), size_(s.size()) {}
  template <class U>
    requires std::is_convertible_v<U (*)[], T (*)[]>
  QTL_HOST_DEVICE constexpr vector_view(const vector_view<U>& v) noexcept
      : data_(v.data()), size_(v.size()), stride_(v.stride()) {}

  QTL_HOST_DEVICE constexpr T* data() const noexcept { return data_; }
  QTL_HOST_DEVICE constexpr std::size_t size() const noexcept { return size_; }
  QTL_HOST_DEVICE constexpr std::ptrdiff_t stride() const noexcept { return stride_; }
  QTL_HOST_DEVICE constexpr bool empty() const noexcept { return size_ == 0; }
  QTL_HOST_DEVICE constexpr T& operator[](std::size_t i) const noexcept {
    return data_[static_cast<std::ptrdiff_t>(i) * stride_];
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::ptrdiff_t stride_ = 1;
};

// Row-major matrix whose rows are contiguous and start row_stride elements apart.
template <class T>
class matrix_view {
 public:
  matrix_view() = default;
  QTL_HOST_DEVICE constexpr matrix_view(T* data, std::size_t rows, std::size_t cols) noexcept
      : matrix_view(data, rows, cols, cols, unchecked{}) {}
  constexpr matrix_view(T* data, std::size_t rows, std::size_t cols, std::size_t row_stride)
      : matrix_view(data, rows, cols, row_stride, unchecked{}) {
    if (row_stride < cols && rows > 1)
      throw error(errc::invalid_argument, "matrix_view: row stride " + std::to_string(row_stride) +
                                              " is smaller than the row length " + std::to_string(cols));
  }
  // A contiguous 1-D span seen as one row.
  template <class U, std::size_t E>
    requires std::is_convertible_v<U (*)[], T (*)[]>
  constexpr matrix_view(std::span<U, E> s) noexcept : matrix_view(s.data(), 1, s.size()) {}
  template <class U>
    requires std::is_convertible_v<U (*)[], T (*)[]>
  QTL_HOST_DEVICE constexpr matrix_view(const matrix_view<U>& m) noexcept
      : data_(m.data()), rows_(m.rows()), cols_(m.cols()), row_stride_(m.row_stride()) {}

  QTL_HOST_DEVICE constexpr T* data() const noexcept { return data_; }
  QTL_HOST_DEVICE constexpr std::size_t rows() const noexcept { return rows_; }
  QTL_HOST_DEVICE constexpr std::size_t cols() const noexcept { return cols_; }
  QTL_HOST_DEVICE constexpr std::size_t size() const noexcept { return rows_ * cols_; }
  QTL_HOST_DEVICE constexpr std::size_t row_stride() const noexcept { return row_stride_; }
  QTL_HOST_DEVICE constexpr bool empty() const noexcept { return rows_ == 0 || cols_ == 0; }
  QTL_HOST_DEVICE constexpr T& operator()(std::size_t r, std::size_t c) const noexcept {
    return data_[r * row_stride_ + c];
  }
  QTL_HOST_DEVICE constexpr vector_view<T> row(std::size_t r) const noexcept {
    return {data_ + r * row_stride_, cols_};
  }
  QTL_HOST_DEVICE constexpr vector_view<T> column(std::size_t c) const noexcept {
    return {data_ + c, rows_, static_cast<std::ptrdiff_t>(row_stride_)};
  }

 private:
  struct unchecked {};
  QTL_HOST_DEVICE constexpr matrix_view(T* data, std::size_t rows, std::size_t cols, std::size_t row_stride,
                                        unchecked) noexcept
      : data_(data), rows_(rows), cols_(cols), row_stride_(row_stride) {}

  T* data_ = nullptr;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::size_t row_stride_ = 0;
};

template <class T, std::size_t E>
matrix_view(std::span<T, E>) -> matrix_view<T>;

// Anything a quantizer accepts as a tensor: a matrix_view, or a contiguous range
// (std::span, std::vector, std::array, ...) seen as one row.
template <class T>
constexpr matrix_view<T> as_matrix(matrix_view<T> m) noexcept {
  return m;
}
template <std::ranges::contiguous_range R>
  requires std::ranges::sized_range<R>
constexpr auto as_matrix(R&& r) noexcept {
  using T = std::remove_reference_t<std::ranges::range_reference_t<R>>;
  return matrix_view<T>(std::ranges::data(r), 1, std::ranges::size(r));
}
template <class X>
concept viewable = requires(X& x) { as_matrix(x); };
template <viewable X>
using view_value_t = std::remove_cvref_t<decltype(*as_matrix(std::declval<X&>()).data())>;

// Two views of the same shape, or a clear error naming both shapes.
template <class T, class U>
void require_same_shape(const matrix_view<T>& a, const matrix_view<U>& b, const char* what) {
  if (a.rows() != b.rows() || a.cols() != b.cols())
    throw error(errc::shape_mismatch, std::string(what) + ": " + std::to_string(a.rows()) + "x" +
                                          std::to_string(a.cols()) + " vs " + std::to_string(b.rows()) + "x" +
                                          std::to_string(b.cols()));
}

}  // namespace qtl
