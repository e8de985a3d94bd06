// GGUF metadata: a typed value (the thirteen GGUF value types, arrays of any of them,
// nested arrays included) and the ordered key -> value map of a file's header.
// The variant's alternative index is the GGUF type id, so reading and writing map ids to
// types with no table in between.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "qtl/core/error.hpp"

namespace qtl::io::gguf {

// GGUF metadata value types (gguf.md, gguf_metadata_value_type).
enum class value_type : std::uint32_t {
  uint8 = 0,
  int8 = 1,
  uint16 = 2,
  int16 = 3,
  uint32 = 4,
  int32 = 5,
  float32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  uint64 = 10,
  int64 = 11,
  float64 = 12,
};
inline constexpr std::uint32_t value_type_count = 13;

constexpr std::string_view to_string(value_type t) noexcept {
  constexpr std::string_view names[] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
                                        "bool",  "string", "array",  "uint64", "int64",  "float64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < value_type_count ? names[i] : "unknown";
}

struct array;

// Elements of an array, one vector per element type (in type id order).
using array_items = std::variant<std::vector<std::uint8_t>, std::vector<std::int8_t>, std::vector<std::uint16_t>,
                                 std::vector<std::int16_t>, std::vector<std::uint32_t>, std::vector<std::int32_t>,
                                 std::vector<float>, std::vector<bool>, std::vector<std::string>, std::vector<array>,
                                 std::vector<std::uint64_t>, std::vector<std::int64_t>, std::vector<double>>;

// An array of one element type; the elements of a nested array are arrays, each with its
// own element type.
struct array {
  array_items items;

  [[nodiscard]] value_type element_type() const noexcept { return static_cast<value_type>(items.index()); }
  [[nodiscard]] std::size_t size() const noexcept {
    return std::visit([](const auto& v) { return v.size(); }, items);
  }
  friend bool operator==(const array&, const array&) = default;
};

using value = std::variant<std::uint8_t, std::int8_t, std::uint16_t, std::int16_t, std::uint32_t, std::int32_t, float,
                           bool, std::string, array, std::uint64_t, std::int64_t, double>;

inline value_type type_of(const value& v) noexcept { return static_cast<value_type>(v.index()); }

// Arrays nest at most this deep (an array of arrays of scalars is depth 2): deeper input
// would only serve to exhaust a reader's stack.
inline constexpr int max_array_depth = 8;

namespace detail {

// A key or name from a file, quoted for a one-line message: bytes outside printable
// ASCII as \xNN, and cut after 80 bytes.
inline std::string quote(std::string_view s) {
  constexpr std::size_t shown = 80;
  std::string out = "'";
  for (const char c : s.substr(0, shown)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\' && c != '\'') {
      out += c;
    } else {
      constexpr char hex[] = "0123456789abcdef";
      out += {'\\', 'x', hex[u >> 4], hex[u & 15]};
    }
  }
  return out + (s.size() > shown ? "'..." : "'");
}

template <class T, class Variant>
struct is_alternative;
template <class T, class... Ts>
struct is_alternative<T, std::variant<Ts...>> : std::bool_constant<(std::is_same_v<T, Ts> || ...)> {};

}  // namespace detail

// A type get<T> accepts: a value alternative, or std::vector of an array element type.
template <class T>
concept metadata_type = detail::is_alternative<T, value>::value || detail::is_alternative<T, array_items>::value;

// The key -> value pairs of a GGUF header, in file order; keys are unique.
class metadata {
 public:
  struct entry {
    std::string key;
    gguf::value value;
    friend bool operator==(const entry&, const entry&) = default;
  };

  // Adds the pair, or replaces the value of an existing key in its place.
  void set(std::string key, gguf::value v) {
    if (const auto it = index_.find(key); it != index_.end()) {
      entries_[it->second].value = std::move(v);
      return;
    }
    index_.emplace(key, entries_.size());
    entries_.push_back({std::move(key), std::move(v)});
  }

  [[nodiscard]] const gguf::value* find(std::string_view key) const {
    const auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries_[it->second].value;
  }
  [[nodiscard]] bool contains(std::string_view key) const { return find(key) != nullptr; }

  // The value of `key` as T (an alternative of gguf::value, or std::vector<E> for an array
  // of E); errc::out_of_range when the key is absent, errc::invalid_argument when it
  // holds another type.
  template <metadata_type T>
  [[nodiscard]] const T& get(std::string_view key) const {
    const gguf::value* v = find(key);
    if (v == nullptr) throw error(errc::out_of_range, "gguf: no metadata key " + detail::quote(key));
    if constexpr (detail::is_alternative<T, gguf::value>::value) {
      if (const T* p = std::get_if<T>(v)) return *p;
    } else if (const auto* a = std::get_if<array>(v)) {
      if (const T* p = std::get_if<T>(&a->items)) return *p;
    }
    throw error(errc::invalid_argument,
                "gguf: metadata key " + detail::quote(key) + " holds " + describe(*v) + ", not the type asked for");
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] auto begin() const noexcept { return entries_.begin(); }
  [[nodiscard]] auto end() const noexcept { return entries_.end(); }

  friend bool operator==(const metadata& a, const metadata& b) { return a.entries_ == b.entries_; }

  // "uint32", "array of string", "array of array of float32"...
  static std::string describe(const gguf::value& v) {
    const auto* a = std::get_if<array>(&v);
    if (a == nullptr) return std::string(to_string(type_of(v)));
    std::string out = "array of ";
    while (a->element_type() == value_type::array && a->size() > 0) {
      out += "array of ";
      a = &std::get<std::vector<array>>(a->items).front();
    }
    return out + std::string(to_string(a->element_type()));
  }

 private:
  std::vector<entry> entries_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

}  // namespace qtl::io::gguf
