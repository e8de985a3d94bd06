// GGUF tensors: name, ggml type and shape (tensor_info, what a writer declares) and, once
// read, the tensor's bytes in the file (tensor). Also the one shape check shared by the
// reader and the writer, so a file qtl writes is a file qtl reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/io/gguf/value.hpp"
#include "qtl/layout/ggml/blocks.hpp"

namespace qtl::io::gguf {

inline constexpr std::uint32_t default_alignment = 32;  // without a general.alignment key
inline constexpr std::size_t max_dims = 4;              // GGML_MAX_DIMS

struct tensor_info {
  std::string name;
  ggml::type_id type = ggml::type_id::f32;
  std::vector<std::uint64_t> dims;  // ggml order: dims[0] varies fastest; none = one value
  friend bool operator==(const tensor_info&, const tensor_info&) = default;
};

struct tensor : tensor_info {
  std::uint64_t offset = 0;         // from the start of the data section
  std::span<const std::byte> data;  // into the parsed bytes (zero-copy)
  // tensor_info's == would ignore the bytes: compare those explicitly
  friend bool operator==(const tensor&, const tensor&) = delete;
};

namespace detail {

// The bytes of a tensor of this type and shape; throws make_error(code, problem) when
// ggml could not hold it: more than 4 dims, a dim or an element count past
// INT64_MAX, an unknown type (errc::unsupported), rows not a whole number of blocks.
template <class MakeError>
std::uint64_t checked_byte_size(const tensor_info& t, MakeError&& make_error) {
  const std::string who = "tensor " + detail::quote(t.name);
  if (t.dims.size() > max_dims)
    throw make_error(errc::invalid_argument,
                     who + " has " + std::to_string(t.dims.size()) + " dims, more than " + std::to_string(max_dims));
  constexpr std::uint64_t limit = std::numeric_limits<std::int64_t>::max();
  std::uint64_t elements = 1;
  bool empty = false;
  for (const std::uint64_t d : t.dims) {
    if (d > limit)
      throw make_error(errc::invalid_argument, who + " has a dim of " + std::to_string(d) + ", past INT64_MAX");
    empty = empty || d == 0;
  }
  if (!empty)
    for (const std::uint64_t d : t.dims) {
      if (elements > limit / d) throw make_error(errc::invalid_argument, who + " has more than INT64_MAX elements");
      elements *= d;
    }
  const auto traits = ggml::traits(t.type);
  if (!traits)
    throw make_error(errc::unsupported, who + " has ggml type " + std::to_string(static_cast<std::uint32_t>(t.type)) +
                                            ", which qtl does not know");
  const std::uint64_t row = t.dims.empty() ? 1 : t.dims[0];
  if (row % traits->elements != 0)
    throw make_error(errc::invalid_argument, who + " has rows of " + std::to_string(row) +
                                                 " values, not a multiple of " + std::string(traits->name) +
                                                 "'s block of " + std::to_string(traits->elements));
  if (empty) return 0;
  const std::uint64_t blocks = elements / traits->elements;
  if (blocks > std::numeric_limits<std::size_t>::max() / traits->bytes)
    throw make_error(errc::invalid_argument, who + " is larger than memory can address");
  return blocks * traits->bytes;
}

}  // namespace detail

// Bytes of a tensor's data; errc::invalid_argument or errc::unsupported as above.
inline std::uint64_t byte_size(const tensor_info& t) {
  return detail::checked_byte_size(
      t, [](errc code, const std::string& problem) { return error(code, "gguf: " + problem); });
}

}  // namespace qtl::io::gguf
