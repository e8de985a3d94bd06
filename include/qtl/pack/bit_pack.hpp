// Sub-byte packing of unsigned N-bit values (N = 1..8) into bytes, in two orders:
// sequential (little end first) and split (ggml's split-nibble order, generalised).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

namespace detail {

// Eight Bits-bit values are exactly Bits bytes: in a 64-bit word, three steps each halve
// the number of fields and double their width (values in bytes -> pairs in 16-bit units
// -> quads in 32-bit units -> all eight in the low 8 * Bits bits), and back. Each step
// keeps a unit's low field and moves its high field (at half the unit) down beside it.
constexpr std::uint64_t field_mask(int unit_bits, int field_bits) noexcept {
  std::uint64_t m = 0;
  for (int at = 0; at < 64; at += unit_bits) m |= ((std::uint64_t{1} << field_bits) - 1) << at;
  return m;
}

template <int Unit, int Field>
constexpr std::uint64_t join_fields(std::uint64_t x) noexcept {
  constexpr std::uint64_t low = field_mask(Unit, Field);
  return (x & low) | ((x >> (Unit / 2 - Field)) & (low << Field));
}

template <int Unit, int Field>
constexpr std::uint64_t split_fields(std::uint64_t x) noexcept {
  constexpr std::uint64_t low = field_mask(Unit, Field);
  return (x & low) | ((x & (low << Field)) << (Unit / 2 - Field));
}

template <int Bits>
constexpr std::uint64_t gather_eight(std::uint64_t x) noexcept {
  if constexpr (Bits == 8) return x;
  else return join_fields<64, 4 * Bits>(join_fields<32, 2 * Bits>(join_fields<16, Bits>(x)));
}

template <int Bits>
constexpr std::uint64_t spread_eight(std::uint64_t x) noexcept {
  if constexpr (Bits == 8) return x;
  else return split_fields<16, Bits>(split_fields<32, 2 * Bits>(split_fields<64, 4 * Bits>(x)));
}

// pack_sequential without its checks: values < 2^Bits; writes all packed_size(n, Bits) bytes.
template <int Bits>
void pack_sequential_unchecked(const std::uint8_t* values, std::size_t n, std::uint8_t* out) noexcept {
  std::size_t i = 0;
  if constexpr (std::endian::native == std::endian::little) {
    for (; i + 8 <= n; i += 8, out += Bits) {
      std::uint64_t x;
      std::memcpy(&x, values + i, 8);
      x = gather_eight<Bits>(x);
      std::memcpy(out, &x, Bits);
    }
  }
  const std::size_t tail = packed_size(n - i, Bits);
  for (std::size_t b = 0; b < tail; ++b) out[b] = 0;
  for (std::size_t k = 0; i < n; ++i, ++k) {
    const std::size_t bit = k * Bits;
    const unsigned word = static_cast<unsigned>(values[i]) << (bit % 8);
    out[bit / 8] |= static_cast<std::uint8_t>(word);
    if ((bit % 8) + Bits > 8) out[bit / 8 + 1] |= static_cast<std::uint8_t>(word >> 8);
  }
}

template <int Bits>
void unpack_sequential_unchecked(const std::uint8_t* bytes, std::size_t n, std::uint8_t* values) noexcept {
  std::size_t i = 0;
  if constexpr (std::endian::native == std::endian::little) {
    for (; i + 8 <= n; i += 8, bytes += Bits) {
      std::uint64_t x = 0;
      std::memcpy(&x, bytes, Bits);
      x = spread_eight<Bits>(x);
      std::memcpy(values + i, &x, 8);
    }
  }
  for (std::size_t k = 0; i < n; ++i, ++k) values[i] = read_sequential<Bits>(bytes, k);
}

}  // namespace detail

template <int Bits>
  requires code_width<Bits>
void pack_sequential(std::span<const std::uint8_t> values, std::span<std::uint8_t> out) {
  detail::check_values<Bits>(values);
  check_room(out.size(), packed_size(values.size(), Bits), "pack_sequential");
  detail::pack_sequential_unchecked<Bits>(values.data(), values.size(), out.data());
}

template <int Bits>
  requires code_width<Bits>
void unpack_sequential(std::span<const std::uint8_t> bytes, std::span<std::uint8_t> values) {
  check_room(bytes.size(), packed_size(values.size(), Bits), "unpack_sequential");
  detail::unpack_sequential_unchecked<Bits>(bytes.data(), values.size(), values.data());
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

namespace detail {

// pack_split / unpack_split without their checks (n a multiple of block): plane by plane,
// loops the compiler vectorizes.
template <int Bits>
void pack_split_unchecked(const std::uint8_t* values, std::size_t n, std::size_t block, std::uint8_t* out) noexcept {
  const std::size_t stride = block * Bits / 8;
  for (std::size_t b = 0; b < n; b += block, values += block, out += stride) {
    for (std::size_t j = 0; j < stride; ++j) out[j] = values[j];
    for (std::size_t plane = 1; plane < 8 / Bits; ++plane)
      for (std::size_t j = 0; j < stride; ++j)
        out[j] = static_cast<std::uint8_t>(out[j] | values[plane * stride + j] << (plane * Bits));
  }
}

template <int Bits>
void unpack_split_unchecked(const std::uint8_t* bytes, std::size_t n, std::size_t block, std::uint8_t* values) noexcept {
  const std::size_t stride = block * Bits / 8;
  for (std::size_t b = 0; b < n; b += block, values += block, bytes += stride)
    for (std::size_t plane = 0; plane < 8 / Bits; ++plane)
      for (std::size_t j = 0; j < stride; ++j)
        values[plane * stride + j] = static_cast<std::uint8_t>((bytes[j] >> (plane * Bits)) & ((1u << Bits) - 1u));
}

}  // namespace detail

template <int Bits>
  requires split_width<Bits>
void pack_split(std::span<const std::uint8_t> values, std::size_t block, std::span<std::uint8_t> out) {
  detail::check_split<Bits>(values.size(), block, "pack_split");
  detail::check_values<Bits>(values);
  check_room(out.size(), packed_size(values.size(), Bits), "pack_split");
  detail::pack_split_unchecked<Bits>(values.data(), values.size(), block, out.data());
}

template <int Bits>
  requires split_width<Bits>
void unpack_split(std::span<const std::uint8_t> bytes, std::size_t block, std::span<std::uint8_t> values) {
  detail::check_split<Bits>(values.size(), block, "unpack_split");
  check_room(bytes.size(), packed_size(values.size(), Bits), "unpack_split");
  detail::unpack_split_unchecked<Bits>(bytes.data(), values.size(), block, values.data());
}

}  // namespace qtl
