// qtl/format/g711.hpp against Python's audioop (tests/golden/audio_vectors.py): the μ-law
// and A-law code of every 16-bit sample and the sample of every code.
#include <catch2/catch_test_macros.hpp>

#include <cstdint>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/core/error.hpp"
#include "qtl/format/g711.hpp"

namespace {

using qtl::g711::law;

template <law L>
void check_against_audioop(const std::string& name) {
  const auto golden = qtl::test::golden_file::load("audio.qtlg");
  const auto codes = golden.get<std::uint8_t>(name + ".encode");
  const auto samples = golden.get<std::int16_t>(name + ".decode");
  REQUIRE(codes.size() == 65536);
  REQUIRE(samples.size() == 256);
  std::vector<std::int16_t> every_sample(65536);
  for (std::size_t i = 0; i < every_sample.size(); ++i) every_sample[i] = static_cast<std::int16_t>(static_cast<int>(i) - 32768);
  std::vector<std::uint8_t> encoded(65536);
  qtl::g711::encode<L>(every_sample, encoded);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < encoded.size(); ++i) wrong += encoded[i] != codes[i];
  CHECK(wrong == 0);
  std::vector<std::uint8_t> every_code(256);
  for (std::size_t c = 0; c < 256; ++c) every_code[c] = static_cast<std::uint8_t>(c);
  std::vector<std::int16_t> decoded(256);
  qtl::g711::decode<L>(every_code, decoded);
  CHECK(decoded == samples);
}

}  // namespace

TEST_CASE("G.711 mu-law equals audioop's lin2ulaw and ulaw2lin", "[format][g711][golden]") {
  check_against_audioop<law::mu>("ulaw");
}

TEST_CASE("G.711 A-law equals audioop's lin2alaw and alaw2lin", "[format][g711][golden]") {
  check_against_audioop<law::a>("alaw");
}

TEST_CASE("G.711 codes are compile-time constants and round trips are stable", "[format][g711]") {
  static_assert(qtl::g711::ulaw_encode(0) == 0xFF);
  static_assert(qtl::g711::ulaw_decode(0xFF) == 0);
  static_assert(qtl::g711::alaw_encode(0) == 0xD5);
  // Decoding a code and encoding the sample again gives the code back (each code's
  // sample lies inside its own cell), except μ-law's negative zero 0x7F, which is 0.
  for (int c = 0; c < 256; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    INFO("code " << c);
    if (code != 0x7F) CHECK(qtl::g711::ulaw_encode(qtl::g711::ulaw_decode(code)) == code);
    CHECK(qtl::g711::alaw_encode(qtl::g711::alaw_decode(code)) == code);
  }
}

TEST_CASE("G.711 buffers of different sizes are refused", "[format][g711]") {
  std::vector<std::int16_t> samples(10);
  std::vector<std::uint8_t> codes(9);
  CHECK_THROWS_AS(qtl::g711::encode<law::mu>(samples, codes), qtl::error);
  CHECK_THROWS_AS(qtl::g711::decode<law::a>(codes, samples), qtl::error);
}
