// Importance matrices as llama.cpp's llama-imatrix writes them and llama-quantize reads
// them (`--imatrix FILE`): per weight tensor name, one weight per column.
//  - GGUF form: tensors <name>.in_sum2 (F32, the sums of squared activations, one row per
//    expert) and <name>.counts (F32, one count per expert), and the metadata keys
//    imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size; weight = sum / count
//    (1 where the count is 0).
//  - legacy .dat form: int32 entry count, then per entry int32 name length, the name,
//    int32 ncall, int32 nval, nval floats; weight = value / ncall (as is when ncall is 0);
//    an optional trailer (chunk count, dataset name) follows.
// Anything else, or a file that ends early, is an error naming the file and the place.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "model_file.hpp"
#include "qtl/io/mapped_file.hpp"

namespace qtl::tool {

struct importance_matrix {
  std::map<std::string, std::vector<float>, std::less<>> entries;
  std::vector<std::string> datasets;

  [[nodiscard]] const std::vector<float>* find(std::string_view tensor) const {
    const auto it = entries.find(tensor);
    return it == entries.end() ? nullptr : &it->second;
  }
};

namespace detail {

inline importance_matrix read_gguf_imatrix(const std::filesystem::path& path) {
  const auto f = gg::open(path);
  const auto& meta = f.metadata();
  if (!meta.find("imatrix.datasets") || !meta.find("imatrix.chunk_count") || !meta.find("imatrix.chunk_size"))
    throw failure(path, "not an imatrix GGUF (no imatrix.datasets, imatrix.chunk_count or imatrix.chunk_size)");
  importance_matrix m;
  if (const auto* d = meta.find("imatrix.datasets"))
    if (const auto* a = std::get_if<gg::array>(d))
      if (const auto* names = std::get_if<std::vector<std::string>>(&a->items)) m.datasets = *names;
  const auto floats = [&](const gg::tensor& t) {
    if (t.type != ggml::type_id::f32) throw failure(path, "tensor " + t.name + " is not F32");
    std::vector<float> v(t.data.size() / sizeof(float));
    std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
    return v;
  };
  for (const auto& t : f.tensors()) {
    if (!t.name.ends_with(".in_sum2")) continue;
    const std::string name = t.name.substr(0, t.name.size() - 8);
    const auto* counts_tensor = f.find_tensor(name + ".counts");
    if (counts_tensor == nullptr) throw failure(path, "tensor " + t.name + " has no " + name + ".counts");
    const auto sums = floats(t), counts = floats(*counts_tensor);
    if (counts.empty() || sums.size() % counts.size() != 0)
      throw failure(path, name + ": " + std::to_string(sums.size()) + " sums for " + std::to_string(counts.size()) +
                              " counts");
    const std::size_t per_expert = sums.size() / counts.size();
    auto& e = m.entries[name];
    e.resize(sums.size());
    for (std::size_t j = 0; j < counts.size(); ++j)
      for (std::size_t i = 0; i < per_expert; ++i)
        e[j * per_expert + i] = counts[j] > 0.0f ? sums[j * per_expert + i] / counts[j] : 1.0f;
  }
  for (const auto& t : f.tensors())
    if (t.name.ends_with(".counts") && !m.entries.contains(t.name.substr(0, t.name.size() - 7)))
      throw failure(path, "tensor " + t.name + " has no matching .in_sum2");
  if (m.entries.empty()) throw failure(path, "imatrix GGUF without entries");
  return m;
}

// Reads the legacy .dat form, each field checked against the bytes left.
class dat_reader {
 public:
  dat_reader(const std::filesystem::path& path, std::span<const std::byte> bytes) : path_(path), bytes_(bytes) {}

  std::int32_t int32(const char* what) {
    std::int32_t v;
    take(&v, sizeof v, what);
    return v;
  }
  void need(std::size_t n, const std::string& what) const {
    if (n > bytes_.size() - at_)
      throw failure(path_, "imatrix ends at byte " + std::to_string(bytes_.size()) + " inside " + what);
  }
  void take(void* out, std::size_t n, const std::string& what) {
    need(n, what);
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
  }
  [[nodiscard]] std::size_t left() const noexcept { return bytes_.size() - at_; }
  [[noreturn]] void fail(const std::string& problem) const { throw failure(path_, problem); }

 private:
  std::filesystem::path path_;
  std::span<const std::byte> bytes_;
  std::size_t at_ = 0;
};

inline importance_matrix read_dat_imatrix(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  dat_reader in(path, bytes);
  const std::int32_t n = in.int32("the entry count");
  if (n < 1) in.fail("imatrix has " + std::to_string(n) + " entries");
  importance_matrix m;
  for (std::int32_t i = 0; i < n; ++i) {
    const std::string entry = "entry " + std::to_string(i);
    const std::int32_t len = in.int32(entry.c_str());
    if (len < 0) in.fail(entry + ": name length " + std::to_string(len));
    in.need(static_cast<std::size_t>(len), entry + "'s name");
    std::string name(static_cast<std::size_t>(len), '\0');
    in.take(name.data(), name.size(), entry);
    const std::int32_t ncall = in.int32(name.c_str());
    const std::int32_t nval = in.int32(name.c_str());
    if (nval < 1) in.fail(name + ": " + std::to_string(nval) + " values");
    in.need(static_cast<std::size_t>(nval) * sizeof(float), name + "'s " + std::to_string(nval) + " values");
    std::vector<float> v(static_cast<std::size_t>(nval));
    in.take(v.data(), v.size() * sizeof(float), name);
    if (ncall > 0)
      for (auto& x : v) x /= static_cast<float>(ncall);
    m.entries[name] = std::move(v);
  }
  if (in.left() >= 8) {  // optional trailer: chunk count, then the dataset's name
    in.int32("the chunk count");
    const std::int32_t len = in.int32("the dataset name");
    if (len > 0 && static_cast<std::size_t>(len) <= in.left()) {
      std::string dataset(static_cast<std::size_t>(len), '\0');
      in.take(dataset.data(), dataset.size(), "the dataset name");
      m.datasets.push_back(std::move(dataset));
    }
  }
  return m;
}

}  // namespace detail

inline importance_matrix read_imatrix(const std::filesystem::path& path) {
  const io::mapped_file file(path);
  const auto bytes = file.bytes();
  importance_matrix m = bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0
                            ? detail::read_gguf_imatrix(path)
                            : detail::read_dat_imatrix(path, bytes);
  for (const auto& [name, v] : m.entries)
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!(v[i] >= 0.0f) || !std::isfinite(v[i]))
        throw failure(path, name + ": importance " + std::to_string(i) + " is " + std::to_string(v[i]));
  return m;
}

}  // namespace qtl::tool
