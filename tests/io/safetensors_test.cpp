#include "qtl/io/safetensors.hpp"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace st = qtl::io::safetensors;
using Catch::Matchers::ContainsSubstring;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "qtl-safetensors-test";
  fs::create_directories(dir);
  return dir / name;
}

std::vector<std::byte> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::transform(chars.begin(), chars.end(), out.begin(), [](char c) { return static_cast<std::byte>(c); });
  return out;
}

// 8-byte little-endian `length` (the header's own unless given), the header text, then `data`.
std::vector<std::byte> file_bytes(const std::string& header, std::size_t data_bytes = 0,
                                  std::uint64_t length = UINT64_MAX) {
  if (length == UINT64_MAX) length = header.size();
  std::vector<std::byte> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>(length >> (8 * i)));
  for (const char c : header) out.push_back(static_cast<std::byte>(c));
  for (std::size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<std::byte>(i * 7 + 1));
  return out;
}

// Parses `bytes`, expecting a qtl::error of `code` whose message contains `what`.
void check_refused(const std::vector<std::byte>& bytes, qtl::errc code, const std::string& what) {
  try {
    const st::reader r(bytes, "bad.safetensors");
    FAIL("accepted: " << what);
  } catch (const qtl::error& e) {
    INFO(e.what());
    CHECK(e.code() == code);
    CHECK_THAT(e.what(), ContainsSubstring("bad.safetensors: ") && ContainsSubstring(what));
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }
}

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed * 17 + (i >> 8)) & 0xff);
  return v;
}

}  // namespace

TEST_CASE("safetensors: dtype names and sizes", "[io][safetensors]") {
  for (std::size_t i = 0; i < st::dtypes.size(); ++i) {
    CHECK(static_cast<std::size_t>(st::dtypes[i].type) == i);
    CHECK(st::parse_dtype(st::dtypes[i].name) == st::dtypes[i].type);
  }
  STATIC_REQUIRE(st::size_of(st::dtype::bf16) == 2);
  STATIC_REQUIRE(st::size_of(st::dtype::f8_e4m3) == 1);
  STATIC_REQUIRE(st::name(st::dtype::boolean) == "BOOL");
  CHECK(!st::parse_dtype("f32"));
  CHECK(!st::parse_dtype("F4"));
}

TEST_CASE("safetensors: a hand-built file, byte by byte", "[io][safetensors]") {
  // header {"b":...,"a":...} in reverse offset order; a is I16 [2] at 0..4, b U8 [3] at 4..7
  const std::string header = R"({"b":{"dtype":"U8","shape":[3],"data_offsets":[4,7]},)"
                             R"("__metadata__":{"format":"pt"},)"
                             R"("a":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}})";
  std::vector<std::byte> bytes = file_bytes(header);
  for (const int b : {0x01, 0x02, 0xff, 0x7f, 9, 8, 7}) bytes.push_back(static_cast<std::byte>(b));
  const st::reader r(bytes);
  REQUIRE(r.tensors().size() == 2);
  const auto& a = r.tensors()[0];  // file order, not header order
  CHECK(a.name == "a");
  CHECK(a.type == st::dtype::i16);
  CHECK(a.shape == std::vector<std::uint64_t>{2});
  REQUIRE(a.data.size() == 4);
  CHECK(a.data.data() == bytes.data() + 8 + header.size());  // zero copy
  CHECK(a.data[3] == std::byte{0x7f});
  const auto& b = r.at("b");
  CHECK(b.name == "b");
  CHECK(b.type == st::dtype::u8);
  CHECK(b.data.size() == 3);
  CHECK(b.data[2] == std::byte{7});
  CHECK(r.find("c") == nullptr);
  CHECK_THROWS_AS(r.at("c"), qtl::error);
  CHECK(r.metadata() == st::metadata_map{{"format", "pt"}});
}

TEST_CASE("safetensors: every dtype round-trips with metadata, scalars and empty tensors", "[io][safetensors]") {
  std::vector<std::vector<std::byte>> storage;
  std::vector<st::tensor_view> tensors;
  unsigned seed = 0;
  for (const auto& d : st::dtypes) {
    for (const std::vector<std::uint64_t>& shape :
         {std::vector<std::uint64_t>{3, 5}, std::vector<std::uint64_t>{}, std::vector<std::uint64_t>{4, 0, 2}}) {
      st::tensor_view t;
      t.name = std::string(d.name) + "/" + std::to_string(shape.size()) + "d";
      t.type = d.type;
      t.shape = shape;
      storage.push_back(pattern(t.byte_size(), ++seed));
      tensors.push_back(t);
    }
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) tensors[i].data = storage[i];
  const st::metadata_map metadata{{"format", "pt"}, {"quote\"d", "line\nbreak"}, {"unicode", "\u00e9\u4e2d"}};
  const auto path = scratch("all_dtypes.safetensors");
  st::write(path, tensors, metadata);

  const auto raw = read_all(path);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | std::to_integer<std::uint64_t>(raw[static_cast<std::size_t>(i)]);
  CHECK(n % 8 == 0);                               // data start 8-byte aligned
  CHECK(raw[8] == std::byte{'{'});
  CHECK((raw[8 + n - 1] == std::byte{' '} || raw[8 + n - 1] == std::byte{'}'}));  // space padding

  st::file f(path);
  CHECK(f.metadata() == metadata);
  REQUIRE(f.tensors().size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = f.at(tensors[i].name);
    INFO(t.name);
    CHECK(t.type == tensors[i].type);
    CHECK(t.shape == tensors[i].shape);
    CHECK(std::equal(t.data.begin(), t.data.end(), storage[i].begin(), storage[i].end()));
    if (t.shape.empty()) CHECK(t.data.size() == st::size_of(t.type));  // a scalar is one element
  }
  // File order is the written order (empty tensors, which share an offset, aside).
  std::vector<std::string> written, read;
  for (const auto& t : tensors)
    if (!t.data.empty()) written.push_back(t.name);
  for (const auto& t : f.tensors())
    if (!t.data.empty()) read.push_back(t.name);
  CHECK(read == written);
  // A moved file keeps its views.
  const auto* first = f.tensors()[0].data.data();
  const st::file moved = std::move(f);
  CHECK(moved.tensors()[0].data.data() == first);
}

TEST_CASE("safetensors: an empty file list and no metadata", "[io][safetensors]") {
  const auto path = scratch("empty.safetensors");
  st::write(path, {});
  const auto raw = read_all(path);
  CHECK(raw.size() == 16);  // "{}" padded to 8
  const st::file f(path);
  CHECK(f.tensors().empty());
  CHECK(f.metadata().empty());
}

TEST_CASE("safetensors: the streaming writer takes each tensor's bytes in pieces and checks them",
          "[io][safetensors]") {
  const auto path = scratch("streamed.safetensors");
  fs::remove(path);
  const std::vector<st::tensor_info> infos{
      {"w", st::dtype::f32, {4, 3}}, {"empty", st::dtype::f16, {0}}, {"b", st::dtype::bf16, {3}}};
  const auto w = pattern(48, 1), b = pattern(6, 2);
  {
    st::writer out(path, infos, {{"k", "v"}});
    out.write(std::span(w).first(20));
    CHECK_THROWS_AS(out.write(std::span(w)), qtl::error);  // 48 bytes where 28 remain of "w"
    out.write(std::span(w).subspan(20));
    CHECK_THROWS_AS(out.commit(), qtl::error);             // "b" has no bytes yet
    CHECK(!fs::exists(path));
    out.write(b);
    CHECK_THROWS_AS(out.write(b), qtl::error);             // past the last tensor
    out.commit();
  }
  const st::file f(path);
  CHECK(f.at("empty").data.empty());
  CHECK(std::equal(f.at("w").data.begin(), f.at("w").data.end(), w.begin(), w.end()));
  CHECK(std::equal(f.at("b").data.begin(), f.at("b").data.end(), b.begin(), b.end()));
  CHECK(f.metadata().at("k") == "v");

  const auto unfinished = scratch("unfinished.safetensors");
  fs::remove(unfinished);
  { st::writer out(unfinished, infos); out.write(w); }  // no commit: nothing appears
  CHECK(!fs::exists(unfinished));
}

TEST_CASE("safetensors: the writer refuses bad tensor lists and leaves no file", "[io][safetensors]") {
  const auto path = scratch("refused.safetensors");
  fs::remove(path);
  const auto bytes = pattern(8, 3);
  const auto refuses = [&](std::vector<st::tensor_view> tensors, qtl::errc code) {
    try {
      st::write(path, tensors);
      FAIL("written");
    } catch (const qtl::error& e) {
      INFO(e.what());
      CHECK(e.code() == code);
    }
    CHECK(!fs::exists(path));
  };
  refuses({{{"a", st::dtype::f32, {3}}, bytes}}, qtl::errc::shape_mismatch);  // 8 bytes for 12
  refuses({{{"a", st::dtype::u8, {8}}, bytes}, {{"a", st::dtype::u8, {8}}, bytes}}, qtl::errc::invalid_argument);
  refuses({{{"__metadata__", st::dtype::u8, {8}}, bytes}}, qtl::errc::invalid_argument);
  refuses({{{"a", st::dtype::f64, {1ull << 32, 1ull << 30}}, bytes}}, qtl::errc::invalid_argument);
  refuses({{{"\xff", st::dtype::u8, {8}}, bytes}}, qtl::errc::invalid_argument);  // not UTF-8
}

TEST_CASE("safetensors: truncated files and lying header lengths", "[io][safetensors]") {
  using qtl::errc;
  check_refused({}, errc::corrupt_file, "shorter than the 8-byte header length");
  check_refused(std::vector<std::byte>(7), errc::corrupt_file, "shorter than the 8-byte header length");
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const auto good = file_bytes(ok, 8);
  CHECK_NOTHROW(st::reader(good));
  // every truncation of a valid file is refused
  for (std::size_t n = 0; n < good.size(); ++n)
    CHECK_THROWS_AS(st::reader(std::span(good).first(n)), qtl::error);
  check_refused(file_bytes(ok, 8, ok.size() + 100), errc::corrupt_file, "runs past the end");
  check_refused(file_bytes(ok, 8, UINT64_MAX - 3), errc::corrupt_file, "exceeds the limit");
  check_refused(file_bytes(ok, 8, 100'000'001), errc::corrupt_file, "exceeds the limit");
  check_refused(file_bytes(ok, 8, ok.size() - 1), errc::corrupt_file, "not valid JSON");
  check_refused(file_bytes(ok, 4), errc::corrupt_file, "run past the 4-byte data section");
  check_refused(file_bytes(ok, 9), errc::corrupt_file, "cover 8 bytes of the 9-byte data section");
}

TEST_CASE("safetensors: malformed headers", "[io][safetensors]") {
  using qtl::errc;
  const auto refused = [](const std::string& header, errc code, const std::string& what, std::size_t data = 0) {
    INFO(header);
    check_refused(file_bytes(header, data), code, what);
  };
  refused(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", errc::corrupt_file, "not valid JSON", 8);
  refused(R"({"a":{"dtype":"F32",})", errc::corrupt_file, "not valid JSON");
  refused("{\"\xff\":1}", errc::corrupt_file, "not valid JSON");  // not UTF-8
  refused("", errc::corrupt_file, "not valid JSON");
  refused("[1,2]", errc::corrupt_file, "not a JSON object");
  refused("7", errc::corrupt_file, "not a JSON object");
  refused(R"({"a":[1]})", errc::corrupt_file, "tensor \"a\" is not an object");
  refused(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", errc::corrupt_file, "has no \"dtype\"");
  refused(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", errc::corrupt_file, "has no \"shape\"", 4);
  refused(R"({"a":{"dtype":"F32","shape":[1]}})", errc::corrupt_file, "has no \"data_offsets\"", 4);
  refused(R"({"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", errc::corrupt_file, "\"dtype\" is not a string", 4);
  refused(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", errc::corrupt_file, "not an array of unsigned", 4);
  refused(R"({"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", errc::corrupt_file, "not an array of unsigned", 4);
  refused(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,4]}})", errc::corrupt_file, "not an array of unsigned", 4);
  refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}})", errc::corrupt_file, "not an array of unsigned", 4);
  refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", errc::corrupt_file, "3 entries, not 2", 8);
  refused(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}})", errc::corrupt_file,
          "not an array of unsigned", 4);
  refused(R"({"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", errc::unsupported, "unknown dtype \"F4\"", 1);
  refused(R"({"a":{"dtype":"float32","shape":[1],"data_offsets":[0,4]}})", errc::unsupported, "unknown dtype", 4);
  refused(R"({"__metadata__":["x"]})", errc::corrupt_file, "\"__metadata__\" is not an object");
  refused(R"({"__metadata__":{"k":1}})", errc::corrupt_file, "value of \"k\" is not a string");
  refused(R"({"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", errc::corrupt_file, "nests deeper", 4);
  refused(std::string(5000, '[') + std::string(5000, ']'), errc::corrupt_file, "nests deeper");
  // accepted: null metadata, fields in any order, unknown extra fields, padding spaces
  CHECK_NOTHROW(st::reader(file_bytes(
      R"({"__metadata__":null,"a":{"data_offsets":[0,4],"extra":{},"shape":[],"dtype":"I32"}}        )", 4)));
}

TEST_CASE("safetensors: duplicate keys are refused at every level", "[io][safetensors]") {
  using qtl::errc;
  const std::string a = R"("a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]})";
  check_refused(file_bytes("{" + a + "," + a + "}", 2), errc::corrupt_file, "repeats the key \"a\"");
  check_refused(file_bytes(R"({"a":{"dtype":"U8","dtype":"I8","shape":[2],"data_offsets":[0,2]}})", 2),
                errc::corrupt_file, "repeats the key \"dtype\"");
  check_refused(file_bytes(R"({"__metadata__":{"k":"1","k":"2"}})"), errc::corrupt_file, "repeats the key \"k\"");
  check_refused(file_bytes(R"({"__metadata__":{},"__metadata__":{}})"), errc::corrupt_file, "repeats the key");
  // the same key in different objects is no duplicate
  CHECK_NOTHROW(st::reader(file_bytes(R"({"__metadata__":{"a":"x"},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                      R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
                                      4)));
}

TEST_CASE("safetensors: offsets that lie", "[io][safetensors]") {
  using qtl::errc;
  const auto two = [](const std::string& a, const std::string& b, std::size_t data) {
    return file_bytes(R"({"a":{"dtype":"U8","shape":[)" + a + R"(},"b":{"dtype":"U8","shape":[)" + b + "}}", data);
  };
  check_refused(two("4],\"data_offsets\":[0,4]", "4],\"data_offsets\":[2,6]", 6), errc::corrupt_file, "overlaps");
  check_refused(two("4],\"data_offsets\":[0,4]", "4],\"data_offsets\":[0,4]", 4), errc::corrupt_file, "overlaps");
  check_refused(two("4],\"data_offsets\":[0,4]", "4],\"data_offsets\":[6,10]", 10), errc::corrupt_file,
                "hole in the data section: bytes 4..6");
  check_refused(two("4],\"data_offsets\":[2,6]", "0],\"data_offsets\":[6,6]", 6), errc::corrupt_file, "hole");
  check_refused(two("4],\"data_offsets\":[4,0]", "4],\"data_offsets\":[0,4]", 8), errc::corrupt_file,
                "end before they begin");
  check_refused(two("3],\"data_offsets\":[0,4]", "4],\"data_offsets\":[4,8]", 8), errc::corrupt_file,
                "hold 4 bytes, U8 [3] needs 3");
  check_refused(two("4],\"data_offsets\":[0,4]", "4],\"data_offsets\":[4,18446744073709551615]", 8),
                errc::corrupt_file, "run past");
  // overflowing shapes, in the element count and in the byte count
  check_refused(file_bytes(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})"),
                errc::corrupt_file, "shape [4294967296,4294967296] overflows");
  check_refused(file_bytes(R"({"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})"),
                errc::corrupt_file, "overflows");
  // the element count is multiplied left to right (as the reference does): a 0 after a
  // dimension that fits makes an empty tensor, a 0 after an overflow comes too late
  const st::reader r(file_bytes(R"({"a":{"dtype":"F64","shape":[18446744073709551615,0],"data_offsets":[0,0]}})"));
  CHECK(r.at("a").data.empty());
  check_refused(file_bytes(R"({"a":{"dtype":"U8","shape":[9223372036854775808,2,0],"data_offsets":[0,0]}})"),
                errc::corrupt_file, "overflows");
}
