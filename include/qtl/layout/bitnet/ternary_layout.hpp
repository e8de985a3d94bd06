// The walk shared by BitNet's 2-bit weight layouts (i2_s.hpp, gpu_w2.hpp, tl.hpp): check,
// then place each ternary code of an M x K matrix at the byte and shift its Layout names.
// A Layout provides check_shape(rows, cols, what), bytes(rows, cols), code_bytes(rows,
// cols), byte_index(r, c, cols), shift_of(c), encode(-1..1), decode(code) and the one
// 2-bit code it never writes (invalid_code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "qtl/core/bit_cast.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"

namespace qtl::bitnet::detail {

// Zeroes out[0, Layout::bytes) and packs codes (each -1, 0 or 1); throws before writing.
template <class Layout>
void pack_ternary(matrix_view<const std::int8_t> codes, std::span<std::uint8_t> out, const char* what) {
  const std::size_t rows = codes.rows(), cols = codes.cols();
  Layout::check_shape(rows, cols, what);
  const std::size_t need = Layout::bytes(rows, cols);
  check_room(out.size(), need, what);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      if (codes(r, c) < -1 || codes(r, c) > 1)
        throw error(errc::out_of_range, std::string(what) + ": code " + std::to_string(codes(r, c)) + " at (" +
                                            std::to_string(r) + ", " + std::to_string(c) + ") is not -1, 0 or 1");
  for (std::size_t b = 0; b < need; ++b) out[b] = 0;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      out[Layout::byte_index(r, c, cols)] |= static_cast<std::uint8_t>(Layout::encode(codes(r, c)) << Layout::shift_of(c));
}

// Unpacks into codes (its shape says M x K); throws, writing nothing, on a short buffer
// or a code the layout never writes.
template <class Layout>
void unpack_ternary(std::span<const std::uint8_t> in, matrix_view<std::int8_t> codes, const char* what) {
  const std::size_t rows = codes.rows(), cols = codes.cols();
  Layout::check_shape(rows, cols, what);
  check_room(in.size(), Layout::bytes(rows, cols), what);
  for (std::size_t b = 0; b < Layout::code_bytes(rows, cols); ++b)
    for (int shift = 0; shift < 8; shift += 2)
      if (((in[b] >> shift) & 3u) == Layout::invalid_code)
        throw error(errc::invalid_argument, std::string(what) + ": byte " + std::to_string(b) + " holds code " +
                                                std::to_string(Layout::invalid_code) + ", which is not ternary");
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const unsigned byte = in[Layout::byte_index(r, c, cols)];
      codes(r, c) = static_cast<std::int8_t>(Layout::decode(static_cast<std::uint8_t>((byte >> Layout::shift_of(c)) & 3u)));
    }
}

// The float32 scale (little-endian) in the first 4 bytes of the tail that follows the
// Layout's code bytes (I2_S's tail, which tl.hpp copies).
template <class Layout>
void write_scale(float scale, std::size_t rows, std::size_t cols, std::span<std::uint8_t> out) {
  const auto bits = bit_cast<std::uint32_t>(scale);
  const std::size_t tail = Layout::code_bytes(rows, cols);
  for (std::size_t k = 0; k < 4; ++k) out[tail + k] = static_cast<std::uint8_t>(bits >> (8 * k));
}

// Throws on a buffer shorter than Layout::bytes(rows, cols).
template <class Layout>
float read_scale(std::span<const std::uint8_t> in, std::size_t rows, std::size_t cols, const char* what) {
  check_room(in.size(), Layout::bytes(rows, cols), what);
  const std::size_t tail = Layout::code_bytes(rows, cols);
  std::uint32_t bits = 0;
  for (std::size_t k = 0; k < 4; ++k) bits |= static_cast<std::uint32_t>(in[tail + k]) << (8 * k);
  return bit_cast<float>(bits);
}

}  // namespace qtl::bitnet::detail
