// Reading GGUF (version 3, and version 2, whose little-endian layout is the same):
// parse() checks every count, length, type and offset of a file's bytes against the
// bytes themselves before it allocates or points at anything, and returns the metadata
// and zero-copy tensor views; open() does the same over a read-only mapping it keeps
// alive. Bad input is qtl::error(errc::corrupt_file) naming the file, the place and the
// problem (errc::unsupported for a version or tensor type qtl does not know).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/io/gguf/tensor.hpp"
#include "qtl/io/gguf/value.hpp"
#include "qtl/io/mapped_file.hpp"

namespace qtl::io::gguf {

inline constexpr char magic[4] = {'G', 'G', 'U', 'F'};
inline constexpr std::uint32_t version = 3;  // written; 2 and 3 are read

namespace detail {

// Little-endian reads over a span; every read checks the bytes left. fail() names the
// source, what is being read (`context`) and the byte position.
class cursor {
 public:
  cursor(std::span<const std::byte> bytes, std::string_view source) : bytes_(bytes), source_(source) {}

  std::string context = "header";

  [[nodiscard]] std::size_t position() const noexcept { return pos_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  [[nodiscard]] const std::string& source() const noexcept { return source_; }

  std::span<const std::byte> take(std::uint64_t n, std::string_view what) {
    if (n > remaining())
      fail(std::string(what) + " of " + std::to_string(n) + " bytes runs past the end of the file (" +
           std::to_string(remaining()) + " left)");
    const auto out = bytes_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }

  template <class T>
  T scalar() {
    using bits_type =
        std::conditional_t<sizeof(T) == 8, std::uint64_t,
                           std::conditional_t<sizeof(T) == 4, std::uint32_t,
                                              std::conditional_t<sizeof(T) == 2, std::uint16_t, std::uint8_t>>>;
    const auto b = take(sizeof(T), "a value");
    bits_type bits = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      bits |= static_cast<bits_type>(std::to_integer<std::uint8_t>(b[i])) << (8 * i);
    return std::bit_cast<T>(bits);
  }

  std::string string() {
    const auto n = scalar<std::uint64_t>();
    const auto b = take(n, "a string");
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

  [[noreturn]] void fail(const std::string& problem, errc code = errc::corrupt_file) const {
    throw error(code, source_ + ": " + context + ": " + problem + " (at byte " + std::to_string(pos_) + ")");
  }

 private:
  std::span<const std::byte> bytes_;
  std::string source_;
  std::size_t pos_ = 0;
};

// Calls f(std::type_identity<T>{}) with T the value alternative of type id t (< 13).
template <class F>
decltype(auto) with_value_type(value_type t, F&& f) {
  switch (t) {
    case value_type::uint8:
      return f(std::type_identity<std::uint8_t>{});
    case value_type::int8:
      return f(std::type_identity<std::int8_t>{});
    case value_type::uint16:
      return f(std::type_identity<std::uint16_t>{});
    case value_type::int16:
      return f(std::type_identity<std::int16_t>{});
    case value_type::uint32:
      return f(std::type_identity<std::uint32_t>{});
    case value_type::int32:
      return f(std::type_identity<std::int32_t>{});
    case value_type::float32:
      return f(std::type_identity<float>{});
    case value_type::boolean:
      return f(std::type_identity<bool>{});
    case value_type::string:
      return f(std::type_identity<std::string>{});
    case value_type::array:
      return f(std::type_identity<array>{});
    case value_type::uint64:
      return f(std::type_identity<std::uint64_t>{});
    case value_type::int64:
      return f(std::type_identity<std::int64_t>{});
    case value_type::float64:
      break;
  }
  return f(std::type_identity<double>{});
}

// The fewest bytes one T takes in a file: bounds an array's count before reserving.
template <class T>
inline constexpr std::size_t min_encoded_size = std::is_same_v<T, std::string> ? 8
                                                : std::is_same_v<T, array>     ? 4 + 8
                                                                               : sizeof(T);

inline value_type read_value_type(cursor& in) {
  const auto t = in.scalar<std::uint32_t>();
  if (t >= value_type_count) in.fail("unknown value type " + std::to_string(t));
  return static_cast<value_type>(t);
}

inline array read_array(cursor& in, int depth);

template <class T>
T read_one(cursor& in, int depth) {
  if constexpr (std::is_same_v<T, std::string>) {
    return in.string();
  } else if constexpr (std::is_same_v<T, array>) {
    return read_array(in, depth + 1);
  } else if constexpr (std::is_same_v<T, bool>) {
    const auto b = in.scalar<std::uint8_t>();
    if (b > 1) in.fail("a bool of " + std::to_string(b) + " (must be 0 or 1)");
    return b == 1;
  } else {
    return in.scalar<T>();
  }
}

inline array read_array(cursor& in, int depth) {
  if (depth > max_array_depth) in.fail("arrays nested deeper than " + std::to_string(max_array_depth));
  const value_type t = read_value_type(in);
  const auto n = in.scalar<std::uint64_t>();
  return with_value_type(t, [&]<class T>(std::type_identity<T>) {
    if (n > in.remaining() / min_encoded_size<T>)
      in.fail("an array of " + std::to_string(n) + " " + std::string(to_string(t)) + " cannot fit in the " +
              std::to_string(in.remaining()) + " bytes left");
    std::vector<T> items;
    items.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) items.push_back(read_one<T>(in, depth));
    return array{std::move(items)};
  });
}

inline value read_value(cursor& in, value_type t) {
  return with_value_type(t, [&]<class T>(std::type_identity<T>) { return value(read_one<T>(in, 0)); });
}

// general.alignment when present (a u32 power of two), else 32; `fail` throws.
template <class Fail>
std::uint32_t alignment_of(const metadata& meta, Fail&& fail) {
  const value* v = meta.find("general.alignment");
  if (v == nullptr) return default_alignment;
  const auto* a = std::get_if<std::uint32_t>(v);
  if (a == nullptr) fail("general.alignment holds " + metadata::describe(*v) + ", not uint32");
  if (!std::has_single_bit(*a)) fail("general.alignment " + std::to_string(*a) + " is not a power of two");
  return *a;
}

}  // namespace detail

// A parsed GGUF file. From open() it keeps the mapping alive (copies share it); from
// parse() its tensors point into the caller's bytes, which must outlive it.
class file {
 public:
  [[nodiscard]] std::uint32_t version() const noexcept { return version_; }
  [[nodiscard]] std::uint32_t alignment() const noexcept { return alignment_; }
  [[nodiscard]] std::size_t data_offset() const noexcept { return data_offset_; }  // from the file's start
  [[nodiscard]] const gguf::metadata& metadata() const noexcept { return metadata_; }
  [[nodiscard]] std::span<const gguf::tensor> tensors() const noexcept { return tensors_; }

  [[nodiscard]] const gguf::tensor* find_tensor(std::string_view name) const {
    const auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &tensors_[it->second];
  }
  // errc::out_of_range when absent
  [[nodiscard]] const gguf::tensor& tensor(std::string_view name) const {
    if (const gguf::tensor* t = find_tensor(name)) return *t;
    throw error(errc::out_of_range, source_ + ": no tensor " + detail::quote(name));
  }
  // Drops a tensor's pages from resident memory once it is used (mapped_file::release);
  // nothing for a file from parse().
  void release(const gguf::tensor& t) const noexcept {
    if (mapping_) mapping_->release(t.data);
  }

 private:
  friend file parse(std::span<const std::byte> bytes, std::string_view source);
  friend file open(const std::filesystem::path& path);

  std::string source_;
  std::shared_ptr<const mapped_file> mapping_;
  std::uint32_t version_ = gguf::version;
  std::uint32_t alignment_ = default_alignment;
  std::size_t data_offset_ = 0;
  gguf::metadata metadata_;
  std::vector<gguf::tensor> tensors_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
};

// Parses and checks a whole GGUF file held in memory; `source` names it in errors.
inline file parse(std::span<const std::byte> bytes, std::string_view source = "<memory>") {
  detail::cursor in(bytes, source);
  file f;
  f.source_ = source;
  if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
    in.fail("not a GGUF file (no \"GGUF\" magic)");
  (void)in.take(sizeof magic, "the magic");
  f.version_ = in.scalar<std::uint32_t>();
  if (f.version_ != 2 && f.version_ != 3)
    in.fail("unsupported GGUF version " + std::to_string(f.version_) + " (qtl reads 2 and 3" +
                (f.version_ % 0x10000 == 0 ? "; a big-endian file?)" : ")"),
            errc::unsupported);
  const auto tensor_count = in.scalar<std::uint64_t>();
  const auto kv_count = in.scalar<std::uint64_t>();

  constexpr std::size_t min_kv_size = 8 + 4 + 1;               // empty key, type, one byte
  constexpr std::size_t min_tensor_info_size = 8 + 4 + 4 + 8;  // empty name, no dims
  if (kv_count > in.remaining() / min_kv_size)
    in.fail(std::to_string(kv_count) + " metadata pairs cannot fit in the " + std::to_string(in.remaining()) +
            " bytes left");
  for (std::uint64_t i = 0; i < kv_count; ++i) {
    in.context = "metadata pair " + std::to_string(i);
    std::string key = in.string();
    if (key.empty()) in.fail("an empty key");
    in.context = "metadata key " + detail::quote(key);
    if (f.metadata_.contains(key)) in.fail("a duplicate key");
    const value_type t = detail::read_value_type(in);
    f.metadata_.set(std::move(key), detail::read_value(in, t));
  }
  in.context = "header";
  f.alignment_ = detail::alignment_of(f.metadata_, [&](const std::string& problem) { in.fail(problem); });

  if (tensor_count > in.remaining() / min_tensor_info_size)
    in.fail(std::to_string(tensor_count) + " tensor infos cannot fit in the " + std::to_string(in.remaining()) +
            " bytes left");
  f.tensors_.reserve(static_cast<std::size_t>(tensor_count));
  std::vector<std::uint64_t> sizes;
  sizes.reserve(static_cast<std::size_t>(tensor_count));
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    in.context = "tensor info " + std::to_string(i);
    gguf::tensor t;
    t.name = in.string();
    in.context = "tensor " + detail::quote(t.name);
    if (f.by_name_.contains(t.name)) in.fail("a duplicate tensor name");
    const auto n_dims = in.scalar<std::uint32_t>();
    if (n_dims > max_dims) in.fail(std::to_string(n_dims) + " dims, more than " + std::to_string(max_dims));
    t.dims.resize(n_dims);
    for (auto& d : t.dims) d = in.scalar<std::uint64_t>();
    t.type = static_cast<ggml::type_id>(in.scalar<std::uint32_t>());
    t.offset = in.scalar<std::uint64_t>();
    sizes.push_back(detail::checked_byte_size(t, [&](errc code, const std::string& problem) {
      return error(code == errc::unsupported ? code : errc::corrupt_file, f.source_ + ": " + problem);
    }));
    f.by_name_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment (ggml requires it only
  // when there are tensors).
  in.context = "data section";
  const std::size_t end_of_infos = in.position();
  f.data_offset_ = end_of_infos + (f.alignment_ - end_of_infos % f.alignment_) % f.alignment_;
  if (tensor_count > 0 && f.data_offset_ > bytes.size())
    in.fail("the data section would start at byte " + std::to_string(f.data_offset_) + ", past the end of the " +
            std::to_string(bytes.size()) + "-byte file");
  const std::uint64_t data_size = tensor_count > 0 ? bytes.size() - f.data_offset_ : 0;
  const auto bad = [&](const gguf::tensor& t, const std::string& problem) {
    return error(errc::corrupt_file, f.source_ + ": tensor " + detail::quote(t.name) + ": " + problem);
  };
  for (std::size_t i = 0; i < f.tensors_.size(); ++i) {
    gguf::tensor& t = f.tensors_[i];
    if (t.offset % f.alignment_ != 0)
      throw bad(t, "data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                       std::to_string(f.alignment_));
    if (t.offset > data_size || sizes[i] > data_size - t.offset)
      throw bad(t, std::to_string(sizes[i]) + " bytes at data offset " + std::to_string(t.offset) +
                       " run past the end of the " + std::to_string(data_size) + "-byte data section");
    t.data = bytes.subspan(static_cast<std::size_t>(f.data_offset_ + t.offset), static_cast<std::size_t>(sizes[i]));
  }
  // No two tensors share a byte: in offset order, each starts where the ones before end.
  std::vector<std::size_t> order(f.tensors_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return f.tensors_[a].offset < f.tensors_[b].offset; });
  const gguf::tensor* last = nullptr;
  for (const std::size_t i : order) {
    const gguf::tensor& t = f.tensors_[i];
    if (t.data.empty()) continue;
    if (last != nullptr && t.offset < last->offset + last->data.size())
      throw bad(t, "data at offset " + std::to_string(t.offset) + " overlaps tensor " + detail::quote(last->name) +
                       "'s, which ends at " + std::to_string(last->offset + last->data.size()));
    last = &t;
  }
  return f;
}

// Maps and parses the file at `path` (errc::io when it cannot be read).
inline file open(const std::filesystem::path& path) {
  auto mapping = std::make_shared<const mapped_file>(path);
  file f = parse(mapping->bytes(), path.string());
  f.mapping_ = std::move(mapping);
  return f;
}

}  // namespace qtl::io::gguf
