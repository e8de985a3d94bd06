// Writing GGUF version 3: metadata of every value type, tensor infos, then each tensor's
// bytes at a multiple of general.alignment (32 unless the metadata sets the key),
// zero-padded as ggml writes them. writer streams a model one tensor at a time (the infos,
// with their sizes, go first); write() and encode() take whole tensors. Every argument is
// checked before the first byte goes out, with the reader's own rules, so what qtl writes
// qtl reads back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/io/gguf/read.hpp"
#include "qtl/io/gguf/tensor.hpp"
#include "qtl/io/gguf/value.hpp"
#include "qtl/io/output_file.hpp"

namespace qtl::io::gguf {

namespace detail {

// resize + memcpy rather than insert(end, first, last): g++ 12 -O2 reports a false
// -Wstringop-overflow for the insert into the empty header vector (GCC bug 106199).
inline void put_bytes(std::vector<std::byte>& out, std::string_view s) {
  if (s.empty()) return;
  const std::size_t at = out.size();
  out.resize(at + s.size());
  std::memcpy(out.data() + at, s.data(), s.size());
}

template <class T>
void put(std::vector<std::byte>& out, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    out.push_back(std::byte{v ? std::uint8_t{1} : std::uint8_t{0}});
  } else if constexpr (std::is_same_v<T, std::string>) {
    put(out, std::uint64_t{v.size()});
    put_bytes(out, v);
  } else {
    using bits_type =
        std::conditional_t<sizeof(T) == 8, std::uint64_t,
                           std::conditional_t<sizeof(T) == 4, std::uint32_t,
                                              std::conditional_t<sizeof(T) == 2, std::uint16_t, std::uint8_t>>>;
    const auto bits = std::bit_cast<bits_type>(v);
    for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<std::byte>(bits >> (8 * i)));
  }
}

inline void put_array(std::vector<std::byte>& out, const array& a, int depth, std::string_view key) {
  if (depth > max_array_depth)
    throw error(errc::invalid_argument,
                "gguf: metadata key " + quote(key) + ": arrays nested deeper than " + std::to_string(max_array_depth));
  put(out, static_cast<std::uint32_t>(a.element_type()));
  put(out, std::uint64_t{a.size()});
  std::visit(
      [&](const auto& items) {
        for (const auto& item : items) {
          if constexpr (std::is_same_v<std::decay_t<decltype(item)>, array>) {
            put_array(out, item, depth + 1, key);
          } else {
            put(out, item);
          }
        }
      },
      a.items);
}

// The checked plan of a file: header, metadata, tensor infos and the padding up to the
// data section, and the size of each tensor.
struct plan {
  std::vector<std::byte> head;
  std::vector<std::uint64_t> sizes;
  std::uint32_t alignment = default_alignment;
};

template <class Info>
plan make_plan(const metadata& meta, std::span<const Info> tensors) {
  plan p;
  p.alignment =
      alignment_of(meta, [](const std::string& problem) { throw error(errc::invalid_argument, "gguf: " + problem); });
  put_bytes(p.head, std::string_view(magic, sizeof magic));
  put(p.head, version);
  put(p.head, std::uint64_t{tensors.size()});
  put(p.head, std::uint64_t{meta.size()});
  for (const metadata::entry& e : meta) {
    if (e.key.empty()) throw error(errc::invalid_argument, "gguf: an empty metadata key");
    put(p.head, e.key);
    put(p.head, static_cast<std::uint32_t>(type_of(e.value)));
    std::visit(
        [&](const auto& x) {
          if constexpr (std::is_same_v<std::decay_t<decltype(x)>, array>) {
            put_array(p.head, x, 1, e.key);
          } else {
            put(p.head, x);
          }
        },
        e.value);
  }
  std::set<std::string_view> names;
  std::uint64_t offset = 0;
  for (const tensor_info& t : tensors) {
    if (!names.insert(t.name).second)
      throw error(errc::invalid_argument, "gguf: a duplicate tensor name " + quote(t.name));
    const std::uint64_t size = byte_size(t);
    put(p.head, t.name);
    put(p.head, static_cast<std::uint32_t>(t.dims.size()));
    for (const std::uint64_t d : t.dims) put(p.head, d);
    put(p.head, static_cast<std::uint32_t>(t.type));
    put(p.head, offset);
    p.sizes.push_back(size);
    const std::uint64_t padded = size + (p.alignment - size % p.alignment) % p.alignment;
    if (padded < size || offset > std::numeric_limits<std::uint64_t>::max() - padded)
      throw error(errc::invalid_argument, "gguf: the tensors add up to more than 2^64 bytes");
    offset += padded;
  }
  if (!tensors.empty()) p.head.resize(p.head.size() + (p.alignment - p.head.size() % p.alignment) % p.alignment);
  return p;
}

inline void check_tensor_bytes(const tensor_info& t, std::uint64_t expected, std::size_t given) {
  if (given != expected)
    throw error(errc::shape_mismatch, "gguf: tensor " + quote(t.name) + " needs " + std::to_string(expected) +
                                          " bytes, got " + std::to_string(given));
}

// What encode() writes into: the part of output_file's interface the writer uses.
struct memory_sink {
  std::vector<std::byte> bytes;
  void write(std::span<const std::byte> b) { bytes.insert(bytes.end(), b.begin(), b.end()); }
  void pad_to(std::size_t alignment) {
    bytes.resize(bytes.size() + (alignment - bytes.size() % alignment) % alignment);
  }
};

// The plan of a file of whole tensors, their byte counts checked.
inline plan checked_plan(const metadata& meta, std::span<const tensor> tensors) {
  plan p = make_plan(meta, tensors);
  for (std::size_t i = 0; i < tensors.size(); ++i) check_tensor_bytes(tensors[i], p.sizes[i], tensors[i].data.size());
  return p;
}

template <class Sink>
void write_all(Sink& sink, const plan& p, std::span<const tensor> tensors) {
  sink.write(p.head);
  for (const tensor& t : tensors) {
    sink.write(t.data);
    sink.pad_to(p.alignment);
  }
}

}  // namespace detail

// Streams a GGUF file: the constructor checks everything and writes the header and every
// tensor info; write() then takes each tensor's bytes in the declared order; commit()
// renames the finished file onto `target`. Without commit() nothing is left behind.
class writer {
 public:
  writer(const std::filesystem::path& target, const metadata& meta, std::vector<tensor_info> tensors)
      : tensors_(std::move(tensors)), plan_(detail::make_plan<tensor_info>(meta, tensors_)), out_(target) {
    out_.write(plan_.head);
  }

  // The bytes of the next declared tensor, which must be called `name`.
  void write(std::string_view name, std::span<const std::byte> bytes) {
    if (next_ == tensors_.size())
      throw error(errc::invalid_argument,
                  "gguf::writer: tensor " + detail::quote(name) + " after the last declared one");
    const tensor_info& t = tensors_[next_];
    if (name != t.name)
      throw error(errc::invalid_argument,
                  "gguf::writer: tensor " + detail::quote(name) + " where " + detail::quote(t.name) + " comes next");
    detail::check_tensor_bytes(t, plan_.sizes[next_], bytes.size());
    out_.write(bytes);
    out_.pad_to(plan_.alignment);
    ++next_;
  }

  [[nodiscard]] std::size_t tensors_written() const noexcept { return next_; }

  // errc::invalid_argument (and no file) when a declared tensor was not written.
  void commit() {
    if (next_ != tensors_.size())
      throw error(errc::invalid_argument,
                  "gguf::writer: tensor " + detail::quote(tensors_[next_].name) + " was declared but not written");
    out_.commit();
  }

 private:
  std::vector<tensor_info> tensors_;
  detail::plan plan_;
  output_file out_;
  std::size_t next_ = 0;
};

// The whole file in memory (the offsets of `tensors` are ignored: tensors are laid out
// in order).
inline std::vector<std::byte> encode(const metadata& meta, std::span<const tensor> tensors) {
  const detail::plan p = detail::checked_plan(meta, tensors);
  detail::memory_sink sink;
  detail::write_all(sink, p, tensors);
  return std::move(sink.bytes);
}

// The whole file to `target`, atomically (output_file).
inline void write(const std::filesystem::path& target, const metadata& meta, std::span<const tensor> tensors) {
  const detail::plan p = detail::checked_plan(meta, tensors);  // before the file is created
  output_file out(target);
  detail::write_all(out, p, tensors);
  out.commit();
}

}  // namespace qtl::io::gguf
