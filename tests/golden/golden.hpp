// Reader for the golden-vector files written by tests/golden/golden_file.py.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#ifndef QTL_GOLDEN_DIR
#error "QTL_GOLDEN_DIR must name the folder of the committed golden files"
#endif

namespace qtl::test {

static_assert(std::endian::native == std::endian::little, "golden files are little-endian");

template <class T>
constexpr std::string_view golden_dtype() {
  if constexpr (std::is_same_v<T, float>) return "f4";
  else if constexpr (std::is_same_v<T, double>) return "f8";
  else if constexpr (std::is_same_v<T, std::uint8_t>) return "u1";
  else if constexpr (std::is_same_v<T, std::int8_t>) return "i1";
  else if constexpr (std::is_same_v<T, std::uint16_t>) return "u2";
  else if constexpr (std::is_same_v<T, std::int16_t>) return "i2";
  else if constexpr (std::is_same_v<T, std::uint32_t>) return "u4";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "i4";
  else if constexpr (std::is_same_v<T, std::uint64_t>) return "u8";
  else if constexpr (std::is_same_v<T, std::int64_t>) return "i8";
  else static_assert(!sizeof(T), "no golden dtype for this type");
}

class golden_file {
 public:
  struct array {
    std::string dtype;
    std::vector<std::uint64_t> shape;
    std::vector<unsigned char> bytes;
  };

  // Loads NAME from QTL_GOLDEN_DIR (a committed file).
  static golden_file load(const std::string& name) { return golden_file(std::string(QTL_GOLDEN_DIR) + "/" + name); }

  explicit golden_file(const std::string& path) : path_(path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open golden file " + path);
    const std::vector<unsigned char> data{std::istreambuf_iterator<char>(in), {}};
    std::size_t pos = 0;
    auto take = [&](std::size_t n) {
      if (data.size() - pos < n) throw std::runtime_error("truncated golden file " + path);
      const unsigned char* p = data.data() + pos;
      pos += n;
      return p;
    };
    auto number = [&]<class U>(U) {
      U value;
      std::memcpy(&value, take(sizeof(U)), sizeof(U));
      return value;
    };
    if (std::memcmp(take(4), "QTLG", 4) != 0) throw std::runtime_error("not a golden file " + path);
    if (number(std::uint32_t{}) != 1) throw std::runtime_error("unknown golden version in " + path);
    const auto count = number(std::uint32_t{});
    for (std::uint32_t i = 0; i < count; ++i) {
      const auto length = number(std::uint16_t{});
      const auto* name = take(length);
      array a;
      const auto* dtype = take(2);
      a.dtype.assign(dtype, dtype + 2);
      const auto ndim = number(std::uint8_t{});
      std::uint64_t elements = 1;
      for (int d = 0; d < ndim; ++d) elements *= a.shape.emplace_back(number(std::uint64_t{}));
      const std::size_t item = static_cast<std::size_t>(a.dtype[1] - '0');
      const auto* bytes = take(elements * item);
      a.bytes.assign(bytes, bytes + elements * item);
      arrays_.emplace(std::string(name, name + length), std::move(a));
    }
  }

  bool contains(const std::string& name) const { return arrays_.contains(name); }

  const array& at(const std::string& name) const {
    const auto it = arrays_.find(name);
    if (it == arrays_.end()) throw std::runtime_error(path_ + " has no array " + name);
    return it->second;
  }

  const std::vector<std::uint64_t>& shape(const std::string& name) const { return at(name).shape; }

  template <class T>
  std::vector<T> get(const std::string& name) const {
    const array& a = at(name);
    if (a.dtype != golden_dtype<T>())
      throw std::runtime_error(path_ + ": " + name + " is " + a.dtype + ", not " + std::string(golden_dtype<T>()));
    std::vector<T> values(a.bytes.size() / sizeof(T));
    std::memcpy(values.data(), a.bytes.data(), a.bytes.size());
    return values;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> result;
    for (const auto& entry : arrays_) result.push_back(entry.first);
    return result;
  }

 private:
  std::string path_;
  std::map<std::string, array> arrays_;
};

}  // namespace qtl::test
