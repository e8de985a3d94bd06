// Importance matrices as llama.cpp's llama-imatrix writes them and llama-quantize reads
// them (its --imatrix): per weight tensor name, one weight per column (times the experts
// of a 3-D tensor), to pass to ggml::quantize(x, out, row_length, importance).
//  - GGUF form: tensors <name>.in_sum2 (F32 sums of squared activations, one row per
//    expert) and <name>.counts (F32, one count per expert), and the keys
//    imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size; weight = sum / count,
//    1 where a count is 0.
//  - legacy .dat form: int32 entry count, then per entry int32 name length, the name,
//    int32 ncall, int32 nval, nval floats; weight = value / ncall (as stored when ncall is
//    0); an optional trailer (int32 chunk count, int32 length, dataset name).
// Every field is checked against the bytes: a file that ends early, a GGUF without the
// imatrix keys or with sums and counts that do not pair, and a negative or non-finite
// weight are a qtl::error (errc::corrupt_file) naming the source and the place.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/io/gguf.hpp"
#include "qtl/io/mapped_file.hpp"

namespace qtl::io::imatrix {

struct matrix {
  std::map<std::string, std::vector<float>, std::less<>> entries;
  std::vector<std::string> datasets;

  [[nodiscard]] const std::vector<float>* find(std::string_view tensor) const {
    const auto it = entries.find(tensor);
    return it == entries.end() ? nullptr : &it->second;
  }
};

namespace detail {

[[noreturn]] inline void fail(std::string_view source, const std::string& problem) {
  throw error(errc::corrupt_file, std::string(source) + ": " + problem);
}

inline matrix from_gguf(const gguf::file& f, std::string_view source) {
  const auto& meta = f.metadata();
  if (!meta.find("imatrix.datasets") || !meta.find("imatrix.chunk_count") || !meta.find("imatrix.chunk_size"))
    fail(source, "not an imatrix GGUF (no imatrix.datasets, imatrix.chunk_count or imatrix.chunk_size)");
  matrix m;
  if (const auto* a = std::get_if<gguf::array>(meta.find("imatrix.datasets")))
    if (const auto* names = std::get_if<std::vector<std::string>>(&a->items)) m.datasets = *names;
  const auto floats = [&](const gguf::tensor& t) {
    if (t.type != ggml::type_id::f32) fail(source, "tensor " + t.name + " is not F32");
    std::vector<float> v(t.data.size() / sizeof(float));
    if (!v.empty()) std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
    return v;
  };
  constexpr std::string_view sums_suffix = ".in_sum2", counts_suffix = ".counts";
  for (const auto& t : f.tensors()) {
    if (!t.name.ends_with(sums_suffix)) continue;
    const std::string name = t.name.substr(0, t.name.size() - sums_suffix.size());
    const std::string counts_name = name + std::string(counts_suffix);
    const gguf::tensor* counts_tensor = nullptr;
    for (const auto& c : f.tensors())
      if (c.name == counts_name) counts_tensor = &c;
    if (counts_tensor == nullptr) fail(source, "tensor " + t.name + " has no " + counts_name);
    const auto sums = floats(t), counts = floats(*counts_tensor);
    if (counts.empty() || sums.size() % counts.size() != 0)
      fail(source, name + ": " + std::to_string(sums.size()) + " sums for " + std::to_string(counts.size()) + " counts");
    const std::size_t per_expert = sums.size() / counts.size();
    auto& e = m.entries[name];
    e.resize(sums.size());
    for (std::size_t j = 0; j < counts.size(); ++j)
      for (std::size_t i = 0; i < per_expert; ++i)
        e[j * per_expert + i] = counts[j] > 0.0f ? sums[j * per_expert + i] / counts[j] : 1.0f;
  }
  for (const auto& t : f.tensors())
    if (t.name.ends_with(counts_suffix) && !m.entries.contains(t.name.substr(0, t.name.size() - counts_suffix.size())))
      fail(source, "tensor " + t.name + " has no matching " + std::string(sums_suffix));
  if (m.entries.empty()) fail(source, "imatrix GGUF without entries");
  return m;
}

// The legacy form's fields, each checked against the bytes left.
class dat_cursor {
 public:
  dat_cursor(std::span<const std::byte> bytes, std::string_view source) : bytes_(bytes), source_(source) {}

  void need(std::size_t n, const std::string& what) const {
    if (n > bytes_.size() - at_)
      fail(source_, "imatrix ends at byte " + std::to_string(bytes_.size()) + " inside " + what);
  }
  void take(void* out, std::size_t n, const std::string& what) {
    need(n, what);
    if (n == 0) return;  // memcpy takes no null pointer, even for 0 bytes
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
  }
  std::int32_t int32(const std::string& what) {
    std::int32_t v;
    take(&v, sizeof v, what);
    return v;
  }
  std::string text(std::int32_t length, const std::string& what) {
    if (length < 0) fail(source_, what + ": length " + std::to_string(length));
    need(static_cast<std::size_t>(length), what);
    std::string s(static_cast<std::size_t>(length), '\0');
    take(s.data(), s.size(), what);
    return s;
  }
  [[nodiscard]] std::size_t left() const noexcept { return bytes_.size() - at_; }
  [[nodiscard]] std::string_view source() const noexcept { return source_; }

 private:
  std::span<const std::byte> bytes_;
  std::string_view source_;
  std::size_t at_ = 0;
};

inline matrix from_dat(std::span<const std::byte> bytes, std::string_view source) {
  dat_cursor in(bytes, source);
  const std::int32_t n = in.int32("the entry count");
  if (n < 1) fail(source, "imatrix with " + std::to_string(n) + " entries");
  matrix m;
  for (std::int32_t i = 0; i < n; ++i) {
    const std::string entry = "entry " + std::to_string(i);
    std::string name = in.text(in.int32(entry), entry + "'s name");
    const std::int32_t ncall = in.int32(name);
    const std::int32_t nval = in.int32(name);
    if (nval < 1) fail(source, name + ": " + std::to_string(nval) + " values");
    in.need(static_cast<std::size_t>(nval) * sizeof(float), name + "'s " + std::to_string(nval) + " values");
    std::vector<float> v(static_cast<std::size_t>(nval));
    in.take(v.data(), v.size() * sizeof(float), name);
    if (ncall > 0)
      for (auto& x : v) x /= static_cast<float>(ncall);
    m.entries[std::move(name)] = std::move(v);
  }
  if (in.left() >= 8) {  // the optional trailer
    (void)in.int32("the chunk count");
    const std::int32_t length = in.int32("the dataset name");
    if (length > 0) m.datasets.push_back(in.text(length, "the dataset name"));
  }
  return m;
}

inline void check_weights(const matrix& m, std::string_view source) {
  for (const auto& [name, v] : m.entries)
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!(v[i] >= 0.0f) || !std::isfinite(v[i]))
        fail(source, name + ": weight " + std::to_string(i) + " is " + std::to_string(v[i]));
}

}  // namespace detail

// Either form, told apart by the GGUF magic.
inline matrix parse(std::span<const std::byte> bytes, std::string_view source = "<memory>") {
  matrix m = bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0
                 ? detail::from_gguf(gguf::parse(bytes, source), source)
                 : detail::from_dat(bytes, source);
  detail::check_weights(m, source);
  return m;
}

inline matrix read(const std::filesystem::path& path) {
  const mapped_file file(path);
  return parse(file.bytes(), path.string());
}

}  // namespace qtl::io::imatrix
