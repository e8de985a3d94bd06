// Sub-byte packing of unsigned N-bit values (N = 1..8) into bytes, in two orders:
// sequential (little end first) and split (ggml's split-nibble order, generalised).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "qtl/core/concepts.hpp"
#include "qtl/core/config.hpp"
#include "qtl/core/error.hpp"

namespace qtl {

// Bytes that count values of Bits bits occupy when packed (a partial last byte included).
QTL_HOST_DEVICE constexpr std::size_t packed_size(std::size_t count, int bits) noexcept {
  return (count * static_cast<std::size_t>(bits) + 7) / 8;
}

namespace detail {

template <int Bits>
void check_values(std::span<const std::uint8_t> values) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] >> Bits)
      throw error(errc::out_of_range, "pack: value " + std::to_string(values[i]) + " at index " + std::to_string(i) +
                                          " does not fit in " + std::to_string(Bits) + " bits");
}

}  // namespace detail

// Sequential order: value i occupies bits [i*Bits, (i+1)*Bits) of a little-endian bit
// stream (bit 0 is the least significant bit of byte 0); values may straddle bytes.
template <int Bits>
  requires code_width<Bits>
QTL_HOST_DEVICE constexpr std::uint8_t read_sequential(const std::uint8_t* bytes, std::size_t i) noexcept {
  const std::size_t bit = i * Bits;
  unsigned word = bytes[bit / 8];
  if ((bit % 8) + Bits > 8) word |= static_cast<unsigned>(bytes[bit / 8 + 1]) << 8;
  return static_cast<std::uint8_t>((word >> (bit % 8)) & ((1u << Bits) - 1u));
}

template <int Bits>
  requires code_width<Bits>
void pack_sequential(std::span<const std::uint8_t> values, std::span<std::uint8_t> out) {
  detail::check_values<Bits>(values);
  const std::size_t n = packed_size(values.size(), Bits);
  check_room(out.size(), n, "pack_sequential");
  for (std::size_t b = 0; b < n; ++b) out[b] = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t bit = i * Bits;
    const unsigned word = static_cast<unsigned>(values[i]) << (bit % 8);
    out[bit / 8] |= static_cast<std::uint8_t>(word);
    if ((bit % 8) + Bits > 8) out[bit / 8 + 1] |= static_cast<std::uint8_t>(word >> 8);
  }
}

template <int Bits>
  requires code_width<Bits>
void unpack_sequential(std::span<const std::uint8_t> bytes, std::span<std::uint8_t> values) {
  check_room(bytes.size(), packed_size(values.size(), Bits), "unpack_sequential");
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = read_sequential<Bits>(bytes.data(), i);
}

// Split order, for Bits dividing 8: within each block of `block` values, packed into
// S = block * Bits / 8 bytes, value i goes to byte i % S at bit (i / S) * Bits. For 4 bits
// and blocks of 32 this is ggml's Q4_0 order (values 0..15 in low nibbles, 16..31 in high);
// for 2 bits and blocks of 128, TQ2_0's.
template <int Bits>
concept split_width = Bits == 1 || Bits == 2 || Bits == 4 || Bits == 8;

template <int Bits>
  requires split_width<Bits>
QTL_HOST_DEVICE constexpr std::uint8_t read_split(const std::uint8_t* bytes, std::size_t block, std::size_t i) noexcept {
  const std::size_t stride = block * Bits / 8;
  const std::size_t in_block = i % block;
  const std::uint8_t byte = bytes[(i / block) * stride + in_block % stride];
  return static_cast<std::uint8_t>((byte >> ((in_block / stride) * Bits)) & ((1u << Bits) - 1u));
}

namespace detail {
template <int Bits>
void check_split(std::size_t count, std::size_t block, const char* what) {
  if (block == 0 || block % (8 / Bits) != 0)
    throw error(errc::invalid_argument, std::string(what) + ": block of " + std::to_string(block) +
                                            " values is not a whole number of bytes at " + std::to_string(Bits) +
                                            " bits");
  if (count % block != 0)
    throw error(errc::shape_mismatch, std::string(what) + ": " + std::to_string(count) +
                                          " values are not a whole number of blocks of " + std::to_string(block));
}
}  // namespace detail

template <int Bits>
  requires split_width<Bits>
void pack_split(std::span<const std::uint8_t> values, std::size_t block, std::span<std::uint8_t> out) {
  detail::check_split<Bits>(values.size(), block, "pack_split");
  detail::check_values<Bits>(values);
  const std::size_t n = packed_size(values.size(), Bits);
  check_room(out.size(), n, "pack_split");
  const std::size_t stride = block * Bits / 8;
  for (std::size_t b = 0; b < n; ++b) out[b] = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t in_block = i % block;
    out[(i / block) * stride + in_block % stride] |=
        static_cast<std::uint8_t>(values[i] << ((in_block / stride) * Bits));
  }
}

template <int Bits>
  requires split_width<Bits>
void unpack_split(std::span<const std::uint8_t> bytes, std::size_t block, std::span<std::uint8_t> values) {
  detail::check_split<Bits>(values.size(), block, "unpack_split");
  check_room(bytes.size(), packed_size(values.size(), Bits), "unpack_split");
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = read_split<Bits>(bytes.data(), block, i);
}

}  // namespace qtl
