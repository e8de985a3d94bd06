// safetensors model files: a validating zero-copy reader (over bytes, or over a mapped
// file) and writers (all at once, or tensor by tensor for models larger than RAM). The io
// layer, after quantize/pack. Layout: u64 little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets"}, "__metadata__": {string: string}}, then the
// tensors' bytes, contiguous, in offset order, covering the data section exactly.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qtl/core/error.hpp"
#include "qtl/io/mapped_file.hpp"
#include "qtl/io/output_file.hpp"

namespace qtl::io::safetensors {

enum class dtype : std::uint8_t {
  boolean, u8, i8, f8_e4m3, f8_e5m2, u16, i16, f16, bf16, u32, i32, f32, u64, i64, f64
};

struct dtype_info {
  dtype type;
  std::string_view name;  // as spelled in the header
  std::size_t size;       // bytes per element
};
// Indexed by the enum's value.
inline constexpr std::array<dtype_info, 15> dtypes{{
    {dtype::boolean, "BOOL", 1}, {dtype::u8, "U8", 1},      {dtype::i8, "I8", 1},   {dtype::f8_e4m3, "F8_E4M3", 1},
    {dtype::f8_e5m2, "F8_E5M2", 1}, {dtype::u16, "U16", 2}, {dtype::i16, "I16", 2}, {dtype::f16, "F16", 2},
    {dtype::bf16, "BF16", 2},    {dtype::u32, "U32", 4},    {dtype::i32, "I32", 4}, {dtype::f32, "F32", 4},
    {dtype::u64, "U64", 8},      {dtype::i64, "I64", 8},    {dtype::f64, "F64", 8},
}};

constexpr std::string_view name(dtype type) noexcept { return dtypes[static_cast<std::size_t>(type)].name; }
constexpr std::size_t size_of(dtype type) noexcept { return dtypes[static_cast<std::size_t>(type)].size; }
constexpr std::optional<dtype> parse_dtype(std::string_view name) noexcept {
  for (const auto& d : dtypes)
    if (d.name == name) return d.type;
  return std::nullopt;
}

// The reference implementation's cap: a longer header is refused, not allocated.
inline constexpr std::uint64_t max_header_size = 100'000'000;
inline constexpr std::string_view metadata_key = "__metadata__";

using metadata_map = std::map<std::string, std::string, std::less<>>;

namespace detail {

// product(shape) * element size, or nullopt when it overflows 64 bits. Multiplied left to
// right, then by the size, as the reference checks it: [2^64-1, 0] is empty, [2^63, 2, 0] overflows.
inline std::optional<std::uint64_t> byte_size(std::span<const std::uint64_t> shape, dtype type) noexcept {
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t n = 1;
  for (const std::uint64_t d : shape) {
    if (d != 0 && n > max / d) return std::nullopt;
    n *= d;
  }
  if (n > max / size_of(type)) return std::nullopt;
  return n * size_of(type);
}

// A name as a JSON string literal: quoted and escaped, so a message stays on one line.
inline std::string quoted(std::string_view name) {
  return nlohmann::json(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline std::string shape_string(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace detail

// What the header says about one tensor.
struct tensor_info {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::uint64_t> shape;  // {} is a scalar (one element)

  // product(shape) * size_of(type); throws errc::invalid_argument when that overflows
  [[nodiscard]] std::uint64_t byte_size() const {
    const auto n = detail::byte_size(shape, type);
    if (!n)
      throw error(errc::invalid_argument, "safetensors: tensor " + detail::quoted(name) + ": shape " +
                                              detail::shape_string(shape) + " overflows 64 bits of bytes");
    return *n;
  }
};

// A tensor and its bytes: what the reader hands out (pointing into the file) and what
// write() takes.
struct tensor_view : tensor_info {
  std::span<const std::byte> data;
};

// A whole safetensors file held in memory, parsed and validated; tensor data are views into
// `bytes`, which must outlive the reader. Throws qtl::error: errc::corrupt_file for a
// truncated file or a header that lies, errc::unsupported for a dtype qtl does not know;
// messages start with `source`. Refuses what the reference implementation refuses, and
// also duplicate keys (which the reference silently collapses), nesting deeper than a header
// has, and the dtypes missing from `dtypes` (F4, F6_*, F8_E8M0, C64).
class reader {
 public:
  explicit reader(std::span<const std::byte> bytes, std::string source = "<memory>") : source_(std::move(source)) {
    if (bytes.size() < 8)
      fail("file of " + std::to_string(bytes.size()) + " bytes is shorter than the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | std::to_integer<std::uint64_t>(bytes[static_cast<std::size_t>(i)]);
    if (n > max_header_size)
      fail("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(max_header_size) +
           " bytes");
    if (n > bytes.size() - 8)
      fail("header length " + std::to_string(n) + " runs past the end of the " + std::to_string(bytes.size()) +
           "-byte file");
    const auto header = bytes.subspan(8, n);
    const auto data = bytes.subspan(8 + n);
    const auto root = parse_json({reinterpret_cast<const char*>(header.data()), header.size()});
    if (!root.is_object()) fail("header is not a JSON object");

    for (const auto& [key, value] : root.items()) {
      if (key == metadata_key) {
        read_metadata(value);
        continue;
      }
      tensors_.push_back(read_tensor(key, value, data));
    }
    // File order: the data are contiguous from 0 in offset order, ties (empty tensors) by name.
    std::stable_sort(tensors_.begin(), tensors_.end(), [](const tensor_view& a, const tensor_view& b) {
      return a.data.data() < b.data.data() || (a.data.data() == b.data.data() && a.data.size() < b.data.size());
    });
    std::uint64_t covered = 0;
    for (const auto& t : tensors_) {
      const auto begin = static_cast<std::uint64_t>(t.data.data() - data.data());
      if (begin < covered)
        fail("tensor " + detail::quoted(t.name) + " at data offset " + std::to_string(begin) +
             " overlaps the tensor before it, which ends at " + std::to_string(covered));
      if (begin > covered)
        fail("hole in the data section: bytes " + std::to_string(covered) + ".." + std::to_string(begin) +
             " belong to no tensor (before " + detail::quoted(t.name) + ")");
      covered = begin + t.data.size();
    }
    if (covered != data.size())
      fail("tensors cover " + std::to_string(covered) + " bytes of the " + std::to_string(data.size()) +
           "-byte data section");
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  }

  // In file order.
  [[nodiscard]] std::span<const tensor_view> tensors() const noexcept { return tensors_; }
  [[nodiscard]] const tensor_view* find(std::string_view name) const noexcept {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  // throws errc::out_of_range naming the tensor when the file has none of that name
  [[nodiscard]] const tensor_view& at(std::string_view name) const {
    if (const auto* t = find(name)) return *t;
    throw error(errc::out_of_range, source_ + ": no tensor " + detail::quoted(name));
  }
  [[nodiscard]] const metadata_map& metadata() const noexcept { return metadata_; }
  [[nodiscard]] const std::string& source() const noexcept { return source_; }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw error(errc::corrupt_file, source_ + ": " + what); }

  // nlohmann_json keeps the last of duplicate keys: the callback sees every key and refuses
  // a repeat, and stops at nesting deeper than a header has (before anything deep is built).
  nlohmann::json parse_json(std::string_view text) const {
    using event = nlohmann::json::parse_event_t;
    constexpr int max_depth = 3;  // root, tensor entry, shape/offsets array
    std::vector<std::set<std::string, std::less<>>> keys;  // per depth: the keys of the open object
    const auto check = [&](int depth, event e, nlohmann::json& parsed) {
      const auto d = static_cast<std::size_t>(depth);
      if (e == event::object_start || e == event::array_start) {
        if (depth >= max_depth) fail("header nests deeper than " + std::to_string(max_depth) + " levels");
        if (e == event::object_start) {
          keys.resize(std::max(keys.size(), d + 2));
          keys[d + 1].clear();
        }
      } else if (e == event::key && !keys[d].insert(parsed.get<std::string>()).second) {
        fail("header repeats the key " + detail::quoted(parsed.get<std::string>()));
      }
      return true;
    };
    try {
      return nlohmann::json::parse(text.begin(), text.end(), check);
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("header is not valid JSON: ") + e.what());
    }
  }

  void read_metadata(const nlohmann::json& value) {
    if (value.is_null()) return;  // the reference writes none, or accepts null, for "no metadata"
    if (!value.is_object()) fail("\"__metadata__\" is not an object");
    for (const auto& [key, v] : value.items()) {
      if (!v.is_string()) fail("\"__metadata__\" value of " + detail::quoted(key) + " is not a string");
      metadata_.emplace(key, v.get<std::string>());
    }
  }

  tensor_view read_tensor(const std::string& key, const nlohmann::json& entry, std::span<const std::byte> data) const {
    const std::string tensor = "tensor " + detail::quoted(key);
    if (!entry.is_object()) fail(tensor + " is not an object");
    const auto field = [&](const char* field_name) -> const nlohmann::json& {
      const auto it = entry.find(field_name);
      if (it == entry.end()) fail(tensor + " has no \"" + field_name + "\"");
      return *it;
    };
    const auto unsigned_array = [&](const char* field_name) {
      const auto& a = field(field_name);
      std::vector<std::uint64_t> out;
      if (a.is_array()) {
        for (const auto& v : a) {
          if (!v.is_number_unsigned()) break;
          out.push_back(v.get<std::uint64_t>());
        }
      }
      if (!a.is_array() || out.size() != a.size())
        fail(tensor + ": \"" + field_name + "\" is not an array of unsigned integers");
      return out;
    };

    const auto& type_name = field("dtype");
    if (!type_name.is_string()) fail(tensor + ": \"dtype\" is not a string");
    auto shape = unsigned_array("shape");
    const auto offsets = unsigned_array("data_offsets");
    if (offsets.size() != 2)
      fail(tensor + ": \"data_offsets\" has " + std::to_string(offsets.size()) + " entries, not 2");
    const auto type = parse_dtype(type_name.get<std::string>());
    if (!type)
      throw error(errc::unsupported,
                  source_ + ": " + tensor + ": unknown dtype " + detail::quoted(type_name.get<std::string>()));

    const auto bytes = detail::byte_size(shape, *type);
    if (!bytes) fail(tensor + ": shape " + detail::shape_string(shape) + " overflows 64 bits of bytes");
    const auto [begin, end] = std::pair(offsets[0], offsets[1]);
    if (end < begin)
      fail(tensor + ": data_offsets [" + std::to_string(begin) + "," + std::to_string(end) + "] end before they begin");
    if (end > data.size())
      fail(tensor + ": data_offsets [" + std::to_string(begin) + "," + std::to_string(end) + "] run past the " +
           std::to_string(data.size()) + "-byte data section");
    if (end - begin != *bytes)
      fail(tensor + ": data_offsets [" + std::to_string(begin) + "," + std::to_string(end) + "] hold " +
           std::to_string(end - begin) + " bytes, " + std::string(name(*type)) + " " + detail::shape_string(shape) +
           " needs " + std::to_string(*bytes));
    tensor_view t;
    t.name = key;
    t.type = *type;
    t.shape = std::move(shape);
    t.data = data.subspan(begin, end - begin);
    return t;
  }

  std::string source_;
  std::vector<tensor_view> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  metadata_map metadata_;
};

// A safetensors file mapped read-only: tensors are views into the mapping (pages are read
// on first touch), valid while the file object lives (moving it keeps them valid).
class file {
 public:
  explicit file(const std::filesystem::path& path) : mapped_(path), reader_(mapped_.bytes(), path.string()) {}

  [[nodiscard]] std::span<const tensor_view> tensors() const noexcept { return reader_.tensors(); }
  [[nodiscard]] const tensor_view* find(std::string_view name) const noexcept { return reader_.find(name); }
  [[nodiscard]] const tensor_view& at(std::string_view name) const { return reader_.at(name); }
  [[nodiscard]] const metadata_map& metadata() const noexcept { return reader_.metadata(); }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return mapped_.path(); }
  // Drops a tensor's pages from resident memory (mapped_file::release) once it is used.
  void release(const tensor_view& t) const noexcept { mapped_.release(t.data); }

 private:
  mapped_file mapped_;
  reader reader_;
};

// Writes a safetensors file tensor by tensor: the header (all names, dtypes and shapes)
// goes first, then each tensor's bytes in the given order, in one write or several; the
// file appears at `path` on commit() only, whole (nothing is left if commit() is never
// reached). Throws errc::invalid_argument for a bad tensor list and errc::shape_mismatch
// when the bytes given disagree with the declared sizes.
class writer {
 public:
  writer(const std::filesystem::path& path, std::span<const tensor_info> tensors, const metadata_map& metadata = {})
      : path_(path.string()), out_(path) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header[std::string(metadata_key)] = metadata;
    std::set<std::string_view> names;
    std::uint64_t offset = 0;
    for (const auto& t : tensors) {
      if (t.name == metadata_key) invalid("a tensor may not be named \"__metadata__\"");
      if (!names.insert(t.name).second) invalid("tensor " + detail::quoted(t.name) + " appears twice");
      const std::uint64_t size = t.byte_size();
      if (size > std::numeric_limits<std::uint64_t>::max() - offset) invalid("the tensors' sizes overflow 64 bits");
      header[t.name] = {{"dtype", name(t.type)}, {"shape", t.shape}, {"data_offsets", {offset, offset + size}}};
      ends_.push_back({t.name, offset + size});
      offset += size;
    }
    std::string text;
    try {
      text = header.dump();
    } catch (const nlohmann::json::exception& e) {
      invalid(std::string("a tensor name or metadata string is not UTF-8: ") + e.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');  // the data start 8-byte aligned, as the reference writes
    if (text.size() > max_header_size)
      invalid("header of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
              std::to_string(max_header_size));
    std::array<std::byte, 8> length{};
    for (std::size_t i = 0; i < 8; ++i) length[i] = static_cast<std::byte>(text.size() >> (8 * i));
    out_.write(length);
    out_.write(std::as_bytes(std::span(text)));
    data_start_ = out_.written();
  }

  // The next bytes of the current tensor; may complete it, never runs into the next one.
  void write(std::span<const std::byte> bytes) {
    std::uint64_t done = out_.written() - data_start_;
    while (next_ < ends_.size() && done == ends_[next_].second) ++next_;  // skip finished and empty tensors
    if (bytes.empty()) return;
    if (next_ == ends_.size())
      throw error(errc::shape_mismatch,
                  path_ + ": " + std::to_string(bytes.size()) + " bytes given after the last tensor");
    const std::uint64_t left = ends_[next_].second - done;
    if (bytes.size() > left)
      throw error(errc::shape_mismatch, path_ + ": tensor " + detail::quoted(ends_[next_].first) + ": " +
                                            std::to_string(bytes.size()) + " bytes given, " + std::to_string(left) +
                                            " remain of it");
    out_.write(bytes);
  }
  // Checks that every tensor got all its bytes, then makes the file appear.
  void commit() {
    const std::uint64_t done = out_.written() - data_start_;
    const std::uint64_t total = ends_.empty() ? 0 : ends_.back().second;
    if (done != total) {
      while (next_ < ends_.size() && done >= ends_[next_].second) ++next_;
      throw error(errc::shape_mismatch, path_ + ": tensor " + detail::quoted(ends_[next_].first) + " is missing " +
                                            std::to_string(ends_[next_].second - done) + " bytes at commit");
    }
    out_.commit();
  }

 private:
  [[noreturn]] void invalid(const std::string& what) const { throw error(errc::invalid_argument, path_ + ": " + what); }

  std::string path_;
  output_file out_;
  std::vector<std::pair<std::string, std::uint64_t>> ends_;  // name, end offset in the data section
  std::size_t next_ = 0;                                       // the tensor being written
  std::size_t data_start_ = 0;
};

// Writes the tensors, in the given order, and the metadata to `path`, all or nothing.
inline void write(const std::filesystem::path& path, std::span<const tensor_view> tensors,
                  const metadata_map& metadata = {}) {
  std::vector<tensor_info> infos(tensors.begin(), tensors.end());
  for (const auto& t : tensors)
    if (t.data.size() != t.byte_size())
      throw error(errc::shape_mismatch, path.string() + ": tensor " + detail::quoted(t.name) + " has " +
                                            std::to_string(t.data.size()) + " bytes, " + std::string(name(t.type)) +
                                            " " + detail::shape_string(t.shape) + " needs " +
                                            std::to_string(t.byte_size()));
  writer out(path, infos, metadata);
  for (const auto& t : tensors) out.write(t.data);
  out.commit();
}

}  // namespace qtl::io::safetensors
