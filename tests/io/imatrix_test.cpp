#include "qtl/io/imatrix.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace imatrix = qtl::io::imatrix;
namespace gguf = qtl::io::gguf;
using qtl::ggml::type_id;

namespace {

template <class T>
void put(std::vector<std::byte>& out, const T& v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}
void put_text(std::vector<std::byte>& out, const std::string& s) {
  put(out, static_cast<std::int32_t>(s.size()));
  for (const char c : s) out.push_back(static_cast<std::byte>(c));
}

// llama-imatrix's legacy .dat: per entry the sums (importance * ncall), then the trailer.
std::vector<std::byte> dat_file(std::int32_t ncall, const std::vector<float>& values, bool trailer = true) {
  std::vector<std::byte> out;
  put(out, std::int32_t{1});
  put_text(out, "blk.0.attn_q.weight");
  put(out, ncall);
  put(out, static_cast<std::int32_t>(values.size()));
  for (const float v : values) put(out, v);
  if (trailer) {
    put(out, std::int32_t{10});
    put_text(out, "wiki.train.raw");
  }
  return out;
}

std::vector<std::byte> as_bytes(const std::vector<float>& v) {
  std::vector<std::byte> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// llama-imatrix's GGUF form: two experts of 4 columns, the second never routed to.
std::vector<std::byte> gguf_file(bool with_keys, bool with_counts) {
  gguf::metadata meta;
  meta.set("general.type", std::string("imatrix"));
  if (with_keys) {
    meta.set("imatrix.datasets", gguf::array{std::vector<std::string>{"wiki.train.raw"}});
    meta.set("imatrix.chunk_count", std::uint32_t{10});
    meta.set("imatrix.chunk_size", std::uint32_t{512});
  }
  static const auto sums = as_bytes({8, 4, 2, 0, 5, 5, 5, 5});
  static const auto counts = as_bytes({4, 0});
  std::vector<gguf::tensor> tensors{{{"blk.0.ffn_up_exps.weight.in_sum2", type_id::f32, {4, 2}}, 0, sums}};
  if (with_counts) tensors.push_back({{"blk.0.ffn_up_exps.weight.counts", type_id::f32, {1, 2}}, 0, counts});
  return gguf::encode(meta, tensors);
}

}  // namespace

TEST_CASE("imatrix: the legacy .dat form divides by ncall and keeps the dataset", "[io][imatrix]") {
  const auto m = imatrix::parse(dat_file(4, {8, 4, 2, 0}));
  const auto* w = m.find("blk.0.attn_q.weight");
  REQUIRE(w != nullptr);
  CHECK(*w == std::vector<float>{2, 1, 0.5f, 0});
  CHECK(m.datasets == std::vector<std::string>{"wiki.train.raw"});
  CHECK(m.find("blk.0.attn_k.weight") == nullptr);
  // ncall 0 keeps the values; the trailer is optional
  CHECK(*imatrix::parse(dat_file(0, {8, 4}, false)).find("blk.0.attn_q.weight") == std::vector<float>{8, 4});
}

TEST_CASE("imatrix: the GGUF form divides each expert's sums by its count (1 for none)", "[io][imatrix]") {
  const auto m = imatrix::parse(gguf_file(true, true), "test.gguf");
  const auto* w = m.find("blk.0.ffn_up_exps.weight");
  REQUIRE(w != nullptr);
  CHECK(*w == std::vector<float>{2, 1, 0.5f, 0, 1, 1, 1, 1});
  CHECK(m.datasets == std::vector<std::string>{"wiki.train.raw"});
}

TEST_CASE("imatrix: bad files are refused with the place named", "[io][imatrix]") {
  const auto refused = [](const std::vector<std::byte>& bytes, const std::string& words) {
    try {
      (void)imatrix::parse(bytes, "bad.imatrix");
      FAIL("parsed: " << words);
    } catch (const qtl::error& e) {
      CHECK(e.code() == qtl::errc::corrupt_file);
      const std::string what = e.what();
      CHECK(what.find("bad.imatrix") != std::string::npos);
      CHECK(what.find(words) != std::string::npos);
    }
  };
  const auto good = dat_file(4, {8, 4, 2, 0});
  for (const std::size_t cut : {0, 3, 10, 30, 40})  // inside the count, the name, the values
    refused(std::vector<std::byte>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)), "ends at byte");
  refused(dat_file(4, {}), "0 values");
  refused(dat_file(1, {1, -2}), "weight 1 is -2");
  auto huge = dat_file(1, {1});
  const std::int32_t many = 1 << 30;  // nval far past the file: refused before any allocation
  std::memcpy(huge.data() + 4 + 4 + 19 + 4, &many, 4);
  refused(huge, "ends at byte");
  refused(gguf_file(false, true), "not an imatrix GGUF");
  refused(gguf_file(true, false), "has no blk.0.ffn_up_exps.weight.counts");
}
