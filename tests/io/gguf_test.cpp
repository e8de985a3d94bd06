#include "qtl/io/gguf.hpp"

#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "qtl/core/half.hpp"
#include "qtl/layout/ggml.hpp"

namespace fs = std::filesystem;
namespace gguf = qtl::io::gguf;
using qtl::errc;
using qtl::ggml::type_id;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "qtl-gguf-test";
  fs::create_directories(dir);
  return dir / name;
}

// Raw little-endian bytes, for files built by hand.
struct raw {
  std::vector<std::byte> b;
  raw& u8(std::uint8_t v) {
    b.push_back(std::byte{v});
    return *this;
  }
  raw& u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  raw& u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  raw& str(const std::string& s) {
    u64(s.size());
    for (const char c : s) u8(static_cast<std::uint8_t>(c));
    return *this;
  }
  raw& head(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
    return str_bytes("GGUF").u32(version).u64(tensors).u64(kvs);
  }
  raw& str_bytes(const std::string& s) {
    for (const char c : s) u8(static_cast<std::uint8_t>(c));
    return *this;
  }
  raw& pad(std::size_t alignment) {
    while (b.size() % alignment != 0) u8(0);
    return *this;
  }
  raw& zeros(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) u8(0);
    return *this;
  }
};

// One tensor info: name, dims, type, offset.
raw& info(raw& r, const std::string& name, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset) {
  r.str(name).u32(static_cast<std::uint32_t>(dims.size()));
  for (const auto d : dims) r.u64(d);
  return r.u32(type).u64(offset);
}

// A file with one kv (general.name = "t") and the given tensor infos, padded, then `data` bytes.
std::vector<std::byte> with_tensors(const std::function<void(raw&)>& infos, std::uint64_t count, std::size_t data) {
  raw r;
  r.head(count, 1).str("general.name").u32(8).str("t");
  infos(r);
  return r.pad(32).zeros(data).b;
}

// parse() throws qtl::error with this code, naming the source and containing `what`.
void check_rejects(const std::vector<std::byte>& bytes, errc code, const std::string& what) {
  try {
    (void)gguf::parse(bytes, "bad.gguf");
    FAIL("parsed: " << what);
  } catch (const qtl::error& e) {
    INFO(e.what());
    CHECK(e.code() == code);
    const std::string message = e.what();
    CHECK(message.find("bad.gguf") != std::string::npos);
    CHECK(message.find(what) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

std::vector<float> random_floats(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = dist(rng);
  return x;
}

template <class B>
std::vector<std::byte> quantized(std::size_t n, std::uint32_t seed) {
  const auto x = random_floats(n, seed);
  std::vector<std::uint8_t> out(n / B::elements * sizeof(B));
  qtl::ggml::quantize<B>(x, std::span<std::uint8_t>(out));
  std::vector<std::byte> bytes(out.size());
  std::memcpy(bytes.data(), out.data(), out.size());
  return bytes;
}

template <class T>
std::vector<std::byte> as_bytes(const std::vector<T>& v) {
  std::vector<std::byte> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

gguf::metadata every_value_type() {
  gguf::metadata m;
  m.set("general.architecture", std::string("llama"));
  m.set("general.alignment", std::uint32_t{64});
  m.set("t.u8", std::uint8_t{255});
  m.set("t.i8", std::int8_t{-128});
  m.set("t.u16", std::uint16_t{65535});
  m.set("t.i16", std::int16_t{-32768});
  m.set("t.u32", std::uint32_t{4000000000u});
  m.set("t.i32", std::int32_t{-2000000000});
  m.set("t.f32", 1.5f);
  m.set("t.bool_true", true);
  m.set("t.bool_false", false);
  m.set("t.string", std::string("h\xc3\xa9llo\0world", 12));
  m.set("t.empty_string", std::string());
  m.set("t.u64", std::numeric_limits<std::uint64_t>::max());
  m.set("t.i64", std::numeric_limits<std::int64_t>::min());
  m.set("t.f64", -0.1);
  m.set("a.u8", gguf::array{std::vector<std::uint8_t>{0, 1, 255}});
  m.set("a.i8", gguf::array{std::vector<std::int8_t>{-1, 2}});
  m.set("a.u16", gguf::array{std::vector<std::uint16_t>{1, 65535}});
  m.set("a.i16", gguf::array{std::vector<std::int16_t>{-3}});
  m.set("a.u32", gguf::array{std::vector<std::uint32_t>{7, 8, 9}});
  m.set("a.i32", gguf::array{std::vector<std::int32_t>{-7, 8}});
  m.set("a.f32", gguf::array{std::vector<float>{0.25f, -1e30f, std::numeric_limits<float>::infinity()}});
  m.set("a.bool", gguf::array{std::vector<bool>{true, false, true}});
  m.set("a.string", gguf::array{std::vector<std::string>{"a", "", "ccc"}});
  m.set("a.u64", gguf::array{std::vector<std::uint64_t>{1ull << 40}});
  m.set("a.i64", gguf::array{std::vector<std::int64_t>{-(1ll << 40)}});
  m.set("a.f64", gguf::array{std::vector<double>{3.25, -2.5}});
  m.set("a.empty", gguf::array{std::vector<std::int32_t>{}});
  m.set("a.nested", gguf::array{std::vector<gguf::array>{
                        gguf::array{std::vector<std::int32_t>{1, 2, 3}},
                        gguf::array{std::vector<std::string>{"x", "yz"}},
                        gguf::array{std::vector<gguf::array>{gguf::array{std::vector<double>{0.5}}}},
                        gguf::array{std::vector<float>{}},
                    }});
  return m;
}

std::vector<gguf::tensor> some_tensors(std::vector<std::vector<std::byte>>& storage) {
  storage = {as_bytes(random_floats(8 * 3, 1)),
             as_bytes(std::vector<std::uint16_t>{0x3c00, 0xc000, 0x0001, 0x7bff, 0, 0x8000, 0x3555, 0x1234}),
             quantized<qtl::ggml::block_q8_0>(64 * 2, 2),
             quantized<qtl::ggml::block_q4_0>(32 * 3, 3),
             quantized<qtl::ggml::block_tq2_0>(256 * 2, 4),
             as_bytes(std::vector<float>{42.0f}),
             {}};
  const std::vector<gguf::tensor_info> infos = {
      {"f32", type_id::f32, {8, 3}},
      {"f16", type_id::f16, {8}},
      {"blk.0.q8_0", type_id::q8_0, {64, 2}},
      {"blk.0.q4_0", type_id::q4_0, {32, 1, 3}},
      {"tq2_0", type_id::tq2_0, {256, 1, 1, 2}},
      {"scalar", type_id::f32, {}},
      {"empty", type_id::q8_0, {32, 0}},
  };
  std::vector<gguf::tensor> out;
  for (std::size_t i = 0; i < infos.size(); ++i) out.push_back({infos[i], 0, storage[i]});
  return out;
}

void check_same_tensors(const gguf::file& f, const std::vector<gguf::tensor>& expected) {
  REQUIRE(f.tensors().size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const gguf::tensor& t = f.tensors()[i];
    INFO(t.name);
    CHECK(static_cast<const gguf::tensor_info&>(t) == static_cast<const gguf::tensor_info&>(expected[i]));
    CHECK(t.offset % f.alignment() == 0);
    REQUIRE(t.data.size() == expected[i].data.size());
    CHECK(std::equal(t.data.begin(), t.data.end(), expected[i].data.begin()));
    CHECK(&f.tensor(t.name) == &t);
  }
}

}  // namespace

TEST_CASE("gguf: every value type, array and nested array round-trips with the tensors, at a custom alignment",
          "[io][gguf]") {
  const auto meta = every_value_type();
  std::vector<std::vector<std::byte>> storage;
  const auto tensors = some_tensors(storage);
  const auto target = scratch("round_trip.gguf");
  gguf::write(target, meta, tensors);

  const gguf::file f = gguf::open(target);
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 64);
  CHECK(f.data_offset() % 64 == 0);
  CHECK(f.metadata() == meta);
  CHECK(f.metadata().begin()->key == "general.architecture");  // file order kept
  check_same_tensors(f, tensors);
  CHECK(f.tensor("scalar").dims.empty());
  CHECK(f.tensor("empty").data.empty());

  // The same bytes in memory, and streamed one tensor at a time.
  const auto encoded = gguf::encode(meta, tensors);
  const qtl::io::mapped_file mapped(target);
  REQUIRE(encoded.size() == mapped.size());
  CHECK(std::memcmp(encoded.data(), mapped.bytes().data(), encoded.size()) == 0);
  CHECK(encoded.size() % 64 == 0);  // padded after the last tensor, as ggml writes

  const auto streamed = scratch("streamed.gguf");
  {
    std::vector<gguf::tensor_info> infos(tensors.begin(), tensors.end());
    gguf::writer w(streamed, meta, infos);
    for (const auto& t : tensors) w.write(t.name, t.data);
    CHECK(w.tensors_written() == tensors.size());
    w.commit();
  }
  const qtl::io::mapped_file streamed_bytes(streamed);
  REQUIRE(streamed_bytes.size() == encoded.size());
  CHECK(std::memcmp(encoded.data(), streamed_bytes.bytes().data(), encoded.size()) == 0);
}

TEST_CASE("gguf: tensors are views into the mapped bytes, kept alive by copies of the file", "[io][gguf]") {
  std::vector<std::vector<std::byte>> storage;
  const auto tensors = some_tensors(storage);
  const auto bytes = gguf::encode({}, tensors);
  const gguf::file parsed = gguf::parse(bytes);
  CHECK(parsed.alignment() == 32);
  for (const auto& t : parsed.tensors()) CHECK(t.data.data() == bytes.data() + parsed.data_offset() + t.offset);

  const auto target = scratch("views.gguf");
  gguf::write(target, {}, tensors);
  std::optional<gguf::file> copy;
  {
    const gguf::file opened = gguf::open(target);
    copy = opened;
  }
  check_same_tensors(*copy, tensors);  // the mapping outlived `opened`
  const auto* q8 = copy->find_tensor("blk.0.q8_0");
  REQUIRE(q8 != nullptr);
  std::vector<float> from_file(128), expected(128);
  qtl::ggml::dequantize<qtl::ggml::block_q8_0>(
      std::span(reinterpret_cast<const std::uint8_t*>(q8->data.data()), q8->data.size()), from_file);
  qtl::ggml::dequantize<qtl::ggml::block_q8_0>(
      std::span(reinterpret_cast<const std::uint8_t*>(storage[2].data()), storage[2].size()), expected);
  CHECK(from_file == expected);
  CHECK(copy->find_tensor("missing") == nullptr);
  CHECK_THROWS_AS(copy->tensor("missing"), qtl::error);
}

TEST_CASE("gguf: a file built byte by byte reads as written, and qtl writes the same bytes", "[io][gguf]") {
  raw r;
  r.head(2, 3).str("general.architecture").u32(8).str("llama");
  r.str("x.counts").u32(9).u32(2).u64(2).u8(1).u8(0).u8(2).u8(0);  // array of uint16 {1, 2}
  r.str("x.grid").u32(9).u32(9).u64(2);                            // array of arrays
  r.u32(1).u64(1).u8(0xff);                                        //   {int8 -1}
  r.u32(8).u64(1).str("ab");                                       //   {"ab"}
  info(r, "tok_embd", {4, 2}, 0, 0);
  info(r, "blk.0.q8", {32}, 8, 32);
  r.pad(32);
  const std::size_t data_offset = r.b.size();
  for (int i = 0; i < 8; ++i) r.u32(std::bit_cast<std::uint32_t>(static_cast<float>(i)));
  r.pad(32);
  r.u8(0x00).u8(0x3c);  // d = 1.0
  for (int i = 0; i < 32; ++i) r.u8(static_cast<std::uint8_t>(i - 16));
  r.pad(32);

  const gguf::file f = gguf::parse(r.b, "hand.gguf");
  CHECK(f.version() == 3);
  CHECK(f.data_offset() == data_offset);
  const auto& m = f.metadata();
  REQUIRE(m.size() == 3);
  CHECK(m.get<std::string>("general.architecture") == "llama");
  CHECK(m.get<std::vector<std::uint16_t>>("x.counts") == std::vector<std::uint16_t>{1, 2});
  const auto& grid = m.get<std::vector<gguf::array>>("x.grid");
  REQUIRE(grid.size() == 2);
  CHECK(std::get<std::vector<std::int8_t>>(grid[0].items) == std::vector<std::int8_t>{-1});
  CHECK(std::get<std::vector<std::string>>(grid[1].items) == std::vector<std::string>{"ab"});
  CHECK(gguf::metadata::describe(*m.find("x.grid")) == "array of array of int8");

  const auto& emb = f.tensor("tok_embd");
  CHECK(emb.type == type_id::f32);
  CHECK(emb.dims == std::vector<std::uint64_t>{4, 2});
  REQUIRE(emb.data.size() == 32);
  float third;
  std::memcpy(&third, emb.data.data() + 8, 4);
  CHECK(third == 2.0f);
  const auto& q8 = f.tensor("blk.0.q8");
  CHECK(q8.offset == 32);
  CHECK(q8.data.size() == 34);
  CHECK(q8.data[2] == std::byte{0xf0});

  const std::vector<gguf::tensor> tensors(f.tensors().begin(), f.tensors().end());
  CHECK(gguf::encode(f.metadata(), tensors) == r.b);

  // Version 2 has the same layout.
  auto v2 = r.b;
  v2[4] = std::byte{2};
  CHECK(gguf::parse(v2).version() == 2);
}

TEST_CASE("gguf: a truncated file is an error at every byte", "[io][gguf]") {
  gguf::metadata m;
  m.set("general.architecture", std::string("test"));
  m.set("general.alignment", std::uint32_t{16});
  m.set("a.nested", gguf::array{std::vector<gguf::array>{gguf::array{std::vector<std::string>{"ab", "c"}}}});
  m.set("a.bool", true);
  m.set("a.f64", 2.0);
  std::vector<std::vector<std::byte>> storage = {as_bytes(random_floats(4, 7)),
                                                 quantized<qtl::ggml::block_q4_0>(32, 8)};
  const std::vector<gguf::tensor> tensors = {{{"a", type_id::f32, {4}}, 0, storage[0]},
                                             {{"b", type_id::q4_0, {32}}, 0, storage[1]}};
  const auto bytes = gguf::encode(m, tensors);
  const gguf::file whole = gguf::parse(bytes);
  const std::size_t end_of_data = whole.data_offset() + whole.tensors()[1].offset + 18;
  CHECK(bytes.size() == end_of_data + 14);  // padded to 16 after the last tensor
  std::size_t rejected = 0, wrong_code = 0;
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::vector<std::byte> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    try {
      (void)gguf::parse(part);
      CHECK(cut >= end_of_data);  // only the trailing padding may go
    } catch (const qtl::error& e) {
      ++rejected;
      if (e.code() != errc::corrupt_file) ++wrong_code;
    }
  }
  CHECK(rejected == end_of_data);
  CHECK(wrong_code == 0);
}

TEST_CASE("gguf: a bad header is errc::corrupt_file naming the file and the problem", "[io][gguf]") {
  check_rejects(raw{}.b, errc::corrupt_file, "magic");
  check_rejects(raw{}.str_bytes("GGUX").u32(3).u64(0).u64(0).b, errc::corrupt_file, "magic");
  check_rejects(raw{}.head(0, 0, 1).b, errc::unsupported, "version 1");
  check_rejects(raw{}.head(0, 0, 4).b, errc::unsupported, "version 4");
  check_rejects(raw{}.head(0, 0, 0x03000000).b, errc::unsupported, "big-endian");
  // counts that lie: far more than the bytes left could hold (nothing is allocated first)
  check_rejects(raw{}.head(0, 1ull << 62).b, errc::corrupt_file, "metadata pairs cannot fit");
  check_rejects(raw{}.head(std::numeric_limits<std::uint64_t>::max(), 0).b, errc::corrupt_file,
                "tensor infos cannot fit");
  check_rejects(raw{}.head(0, 1).u64(1ull << 63).zeros(16).b, errc::corrupt_file,
                "string of 9223372036854775808 bytes runs past the end");
  check_rejects(raw{}.head(0, 1).str("").u32(0).u8(0).b, errc::corrupt_file, "empty key");
  check_rejects(raw{}.head(0, 1).str("k").u32(13).u8(0).b, errc::corrupt_file, "unknown value type 13");
  check_rejects(raw{}.head(0, 1).str("k").u32(7).u8(2).b, errc::corrupt_file, "bool of 2");
  check_rejects(raw{}.head(0, 1).str("k").u32(8).u64(100).str_bytes("short").b, errc::corrupt_file,
                "string of 100 bytes runs past the end");
  check_rejects(raw{}.head(0, 1).str("k").u32(9).u32(4).u64(1ull << 40).u32(0).b, errc::corrupt_file,
                "array of 1099511627776 uint32 cannot fit");
  check_rejects(raw{}.head(0, 1).str("k").u32(9).u32(14).u64(0).b, errc::corrupt_file, "unknown value type 14");
  check_rejects(raw{}.head(0, 2).str("k").u32(0).u8(1).str("k").u32(0).u8(2).b, errc::corrupt_file,
                "'k': a duplicate key");
}

TEST_CASE("gguf: arrays nest at most max_array_depth deep", "[io][gguf]") {
  const auto nested = [](int depth) {
    raw r;
    r.head(0, 1).str("deep").u32(9);
    for (int i = 1; i < depth; ++i) r.u32(9).u64(1);
    return r.u32(0).u64(1).u8(7).b;
  };
  const gguf::file ok = gguf::parse(nested(gguf::max_array_depth));
  CHECK(gguf::metadata::describe(*ok.metadata().find("deep")).starts_with("array of array of"));
  check_rejects(nested(gguf::max_array_depth + 1), errc::corrupt_file, "nested deeper than 8");
  check_rejects(nested(100000), errc::corrupt_file, "nested deeper than 8");

  // The writer refuses what the reader would.
  gguf::array a{std::vector<std::uint8_t>{1}};
  for (int i = 1; i < gguf::max_array_depth; ++i) a = gguf::array{std::vector<gguf::array>{a}};
  gguf::metadata m;
  m.set("deep", a);
  CHECK(gguf::parse(gguf::encode(m, {})).metadata() == m);
  m.set("deep", gguf::array{std::vector<gguf::array>{a}});
  CHECK_THROWS_AS(gguf::encode(m, {}), qtl::error);
}

TEST_CASE("gguf: alignment must be a uint32 power of two", "[io][gguf]") {
  const auto with_alignment = [](auto write_value) {
    raw r;
    r.head(0, 1).str("general.alignment");
    write_value(r);
    return r.b;
  };
  check_rejects(with_alignment([](raw& r) { r.u32(4).u32(0); }), errc::corrupt_file, "not a power of two");
  check_rejects(with_alignment([](raw& r) { r.u32(4).u32(48); }), errc::corrupt_file, "48 is not a power of two");
  check_rejects(with_alignment([](raw& r) { r.u32(10).u64(32); }), errc::corrupt_file, "holds uint64, not uint32");
  CHECK(gguf::parse(with_alignment([](raw& r) { r.u32(4).u32(1); })).alignment() == 1);

  gguf::metadata m;
  m.set("general.alignment", std::uint32_t{24});
  CHECK_THROWS_AS(gguf::encode(m, {}), qtl::error);
  m.set("general.alignment", std::int32_t{32});
  CHECK_THROWS_AS(gguf::encode(m, {}), qtl::error);
}

TEST_CASE("gguf: bad tensor infos and offsets are refused", "[io][gguf]") {
  const auto one = [](std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset, std::size_t data) {
    return with_tensors([&](raw& r) { info(r, "w", dims, type, offset); }, 1, data);
  };
  CHECK(gguf::parse(one({8, 2}, 0, 0, 64)).tensor("w").data.size() == 64);
  check_rejects(one({1, 1, 1, 1, 1}, 0, 0, 4), errc::corrupt_file, "5 dims, more than 4");
  // no dims: one value, as in ggml (ne = {1, 1, 1, 1})
  CHECK(gguf::parse(one({}, 0, 0, 4)).tensor("w").data.size() == 4);
  check_rejects(one({}, 8, 0, 34), errc::corrupt_file, "rows of 1 values, not a multiple of q8_0's block of 32");
  check_rejects(one({33, 2}, 8, 0, 100), errc::corrupt_file, "rows of 33 values");
  check_rejects(one({1ull << 32, 1ull << 32}, 0, 0, 4), errc::corrupt_file, "more than INT64_MAX elements");
  check_rejects(one({1ull << 63}, 0, 0, 4), errc::corrupt_file, "past INT64_MAX");
  check_rejects(one({1ull << 61}, 0, 0, 4), errc::corrupt_file, "run past the end");
  check_rejects(one({8}, 16, 0, 64), errc::unsupported, "ggml type 16");
  check_rejects(one({8}, 1000, 0, 64), errc::unsupported, "ggml type 1000");
  check_rejects(one({8}, 0, 8, 64), errc::corrupt_file, "data offset 8 is not a multiple of the alignment 32");
  check_rejects(one({8}, 0, 32, 32), errc::corrupt_file, "32 bytes at data offset 32 run past the end");
  check_rejects(one({8}, 0, std::numeric_limits<std::uint64_t>::max() - 31, 32), errc::corrupt_file, "run past");
  check_rejects(one({8}, 0, 0, 31), errc::corrupt_file, "run past the end");
  {  // tensors but the file stops before the data section
    raw r;
    r.head(1, 0);
    info(r, "w", {0}, 0, 0);
    check_rejects(r.b, errc::corrupt_file, "past the end");
  }
  const auto two = [](std::uint64_t offset_b, std::uint64_t dims_b, std::string name_b) {
    return with_tensors(
        [&](raw& r) {
          info(r, "a", {16}, 0, 0);
          info(r, name_b, {dims_b}, 0, offset_b);
        },
        2, 256);
  };
  CHECK(gguf::parse(two(64, 16, "b")).tensors().size() == 2);
  CHECK(gguf::parse(two(0, 0, "b")).tensors().size() == 2);  // an empty tensor shares no byte
  check_rejects(two(32, 16, "b"), errc::corrupt_file, "overlaps tensor 'a'");
  check_rejects(two(0, 8, "b"), errc::corrupt_file, "overlaps");
  check_rejects(two(64, 16, "a"), errc::corrupt_file, "duplicate tensor name");
  // names from the file stay on one line
  check_rejects(two(32, 16, std::string("x\ny", 3) + std::string(200, 'z')), errc::corrupt_file, "'x\\x0ay");
}

TEST_CASE("gguf: metadata lookups are typed", "[io][gguf]") {
  const auto m = every_value_type();
  CHECK(m.get<std::uint32_t>("general.alignment") == 64);
  CHECK(m.get<std::vector<std::string>>("a.string") == std::vector<std::string>{"a", "", "ccc"});
  CHECK(m.get<gguf::array>("a.nested").size() == 4);
  CHECK(gguf::type_of(*m.find("t.bool_true")) == gguf::value_type::boolean);
  CHECK(gguf::type_of(gguf::value("text")) == gguf::value_type::string);  // not bool
  CHECK(gguf::type_of(gguf::value(5)) == gguf::value_type::int32);
  CHECK(m.find("nope") == nullptr);
  try {
    (void)m.get<std::string>("general.alignment");
    FAIL();
  } catch (const qtl::error& e) {
    CHECK(e.code() == errc::invalid_argument);
    CHECK(std::string(e.what()).find("holds uint32") != std::string::npos);
  }
  try {
    (void)m.get<std::vector<float>>("nope");
    FAIL();
  } catch (const qtl::error& e) {
    CHECK(e.code() == errc::out_of_range);
  }
  CHECK_THROWS_AS(m.get<std::vector<float>>("a.f64"), qtl::error);
  gguf::metadata n = m;
  n.set("t.u8", std::uint8_t{1});  // replaced in place
  CHECK(n.size() == m.size());
  CHECK(n.get<std::uint8_t>("t.u8") == 1);
  CHECK(n != m);
}

TEST_CASE("gguf: the writer checks everything before writing, and leaves nothing on failure", "[io][gguf]") {
  std::vector<std::byte> bytes34(34), bytes4(4);
  const auto target = scratch("refused.gguf");
  fs::remove(target);
  const auto refuses = [&](const gguf::metadata& m, const std::vector<gguf::tensor>& t, errc code) {
    try {
      gguf::write(target, m, t);
      FAIL("written");
    } catch (const qtl::error& e) {
      INFO(e.what());
      CHECK(e.code() == code);
    }
    CHECK(!fs::exists(target));
  };
  refuses({}, {{{"w", type_id::q8_0, {32}}, 0, bytes4}}, errc::shape_mismatch);
  refuses({}, {{{"w", type_id::q8_0, {16}}, 0, bytes34}}, errc::invalid_argument);
  refuses({}, {{{"w", static_cast<type_id>(16), {32}}, 0, bytes34}}, errc::unsupported);
  refuses({}, {{{"w", type_id::f32, {1}}, 0, bytes4}, {{"w", type_id::f32, {1}}, 0, bytes4}}, errc::invalid_argument);
  refuses({}, {{{"w", type_id::f32, {1, 1, 1, 1, 1}}, 0, bytes4}}, errc::invalid_argument);
  gguf::metadata empty_key;
  empty_key.set("", std::uint8_t{1});
  refuses(empty_key, {}, errc::invalid_argument);

  const std::vector<gguf::tensor_info> infos = {{"a", type_id::f32, {1}}, {"b", type_id::q8_0, {32}}};
  {
    gguf::writer w(target, {}, infos);
    CHECK_THROWS_AS(w.write("b", bytes34), qtl::error);  // out of order
    w.write("a", bytes4);
    CHECK_THROWS_AS(w.write("b", bytes4), qtl::error);  // wrong size
    CHECK_THROWS_AS(w.commit(), qtl::error);            // "b" missing
  }
  CHECK(!fs::exists(target));
  {
    gguf::writer w(target, {}, infos);
    w.write("a", bytes4);
    w.write("b", bytes34);
    CHECK_THROWS_AS(w.write("c", bytes4), qtl::error);
    w.commit();
  }
  const gguf::file f = gguf::open(target);
  CHECK(f.tensors().size() == 2);
  CHECK(f.tensor("b").offset == 32);
}
