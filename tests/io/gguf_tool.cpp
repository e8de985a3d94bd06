// The C++ side of tests/golden/gguf_interop.py, which checks qtl's GGUF reader and writer
// against the `gguf` Python package:
//   gguf_tool dump FILE    prints FILE as JSON as qtl reads it (tensor bytes in hex)
//   gguf_tool write FILE   writes the fixed file the script expects (see sample_value)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "qtl/io/gguf.hpp"
#include "qtl/layout/ggml.hpp"

namespace gguf = qtl::io::gguf;

namespace {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += {'\\', c};
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;  // UTF-8 passes through
    }
  }
  return out + "\"";
}

template <class T>
std::string json_number(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(v));
    return buf;
  } else {
    return std::to_string(v);
  }
}

std::string json(const gguf::value& v);

std::string json_item(const auto& x) {
  using T = std::decay_t<decltype(x)>;
  if constexpr (std::is_same_v<T, bool>)
    return x ? "true" : "false";
  else if constexpr (std::is_same_v<T, std::string>)
    return json_string(x);
  else if constexpr (std::is_same_v<T, gguf::array>)
    return json(gguf::value(x));
  else if constexpr (std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::int8_t>)
    return std::to_string(int{x});
  else
    return json_number(x);
}

std::string json(const gguf::value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(x)>, gguf::array>) {
          return std::visit(
              [](const auto& items) {
                std::string out = "[";
                for (std::size_t i = 0; i < items.size(); ++i)
                  out += (i ? ", " : "") +
                         json_item(static_cast<typename std::decay_t<decltype(items)>::value_type>(items[i]));
                return out + "]";
              },
              x.items);
        } else {
          return json_item(x);
        }
      },
      v);
}

int dump(const char* path) {
  const gguf::file f = gguf::open(path);
  std::cout << "{\"version\": " << f.version() << ", \"alignment\": " << f.alignment() << ",\n \"metadata\": {";
  bool first = true;
  for (const auto& e : f.metadata()) {
    std::cout << (first ? "\n  " : ",\n  ") << json_string(e.key)
              << ": {\"type\": " << json_string(gguf::metadata::describe(e.value)) << ", \"value\": " << json(e.value)
              << "}";
    first = false;
  }
  std::cout << "},\n \"tensors\": [";
  first = true;
  for (const auto& t : f.tensors()) {
    std::cout << (first ? "\n  " : ",\n  ") << "{\"name\": " << json_string(t.name)
              << ", \"type\": " << static_cast<std::uint32_t>(t.type) << ", \"dims\": [";
    for (std::size_t i = 0; i < t.dims.size(); ++i) std::cout << (i ? ", " : "") << t.dims[i];
    std::cout << "], \"offset\": " << t.offset << ", \"data\": \"";
    for (const std::byte b : t.data) {
      char buf[3];
      std::snprintf(buf, sizeof buf, "%02x", std::to_integer<unsigned>(b));
      std::cout << buf;
    }
    std::cout << "\"}";
    first = false;
  }
  std::cout << "]}\n";
  return 0;
}

// Exact in float and in numpy: ((37 i) mod 101 - 50) / 16.
std::vector<float> sample_values(std::size_t n) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<int>(37 * i % 101) - 50) / 16.0f;
  return x;
}

template <class B>
std::vector<std::byte> sample_quantized(std::size_t n) {
  std::vector<std::uint8_t> q(n / B::elements * sizeof(B));
  qtl::ggml::quantize<B>(sample_values(n), std::span<std::uint8_t>(q));
  std::vector<std::byte> out(q.size());
  std::memcpy(out.data(), q.data(), q.size());
  return out;
}

int write(const char* path) {
  using qtl::ggml::type_id;
  gguf::metadata m;
  m.set("general.architecture", std::string("qtl-test"));
  m.set("general.alignment", std::uint32_t{64});
  m.set("qtl.u8", std::uint8_t{200});
  m.set("qtl.i8", std::int8_t{-100});
  m.set("qtl.u16", std::uint16_t{60000});
  m.set("qtl.i16", std::int16_t{-30000});
  m.set("qtl.u32", std::uint32_t{4000000000u});
  m.set("qtl.i32", std::int32_t{-2000000000});
  m.set("qtl.f32", 0.375f);
  m.set("qtl.bool", true);
  m.set("qtl.string", std::string("h\xc3\xa9llo"));
  m.set("qtl.u64", std::uint64_t{1} << 60);
  m.set("qtl.i64", -(std::int64_t{1} << 60));
  m.set("qtl.f64", -2.5);
  m.set("qtl.tokens", gguf::array{std::vector<std::string>{"<s>", "</s>", "\xe2\x96\x81the"}});
  m.set("qtl.scores", gguf::array{std::vector<float>{0.0f, -1.5f, 2.25f}});
  m.set("qtl.flags", gguf::array{std::vector<bool>{true, false}});
  m.set("qtl.ids", gguf::array{std::vector<std::int64_t>{-1, 1ll << 40}});
  m.set("qtl.nested", gguf::array{std::vector<gguf::array>{gguf::array{std::vector<std::int32_t>{1, 2}},
                                                           gguf::array{std::vector<std::int32_t>{3}}}});
  const auto f32 = sample_values(64 * 2);
  std::vector<std::byte> f32_bytes(f32.size() * 4);
  std::memcpy(f32_bytes.data(), f32.data(), f32_bytes.size());
  std::vector<std::byte> f16_bytes;
  for (const float v : sample_values(32)) {
    const auto h = qtl::float_to_half_bits(v);
    f16_bytes.push_back(static_cast<std::byte>(h & 0xff));
    f16_bytes.push_back(static_cast<std::byte>(h >> 8));
  }
  const auto q8 = sample_quantized<qtl::ggml::block_q8_0>(64 * 2);
  const auto q4 = sample_quantized<qtl::ggml::block_q4_0>(64 * 2);
  const auto tq2 = sample_quantized<qtl::ggml::block_tq2_0>(256);
  const std::vector<gguf::tensor> tensors = {
      {{"f32", type_id::f32, {64, 2}}, 0, f32_bytes}, {{"f16", type_id::f16, {32}}, 0, f16_bytes},
      {{"q8_0", type_id::q8_0, {64, 2}}, 0, q8},      {{"q4_0", type_id::q4_0, {64, 2}}, 0, q4},
      {{"tq2_0", type_id::tq2_0, {256}}, 0, tq2},
  };
  gguf::write(path, m, tensors);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "dump") != 0 && std::strcmp(argv[1], "write") != 0)) {
    std::cerr << "usage: gguf_tool dump|write FILE\n";
    return 2;
  }
  try {
    return std::strcmp(argv[1], "dump") == 0 ? dump(argv[2]) : write(argv[2]);
  } catch (const qtl::error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
