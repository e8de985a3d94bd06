// qtl/predictive/ima_adpcm.hpp against Python's audioop lin2adpcm/adpcm2lin
// (tests/golden/audio_vectors.py): bytes and final states for a plucked string with a
// chirp, full-scale noise (step index and prediction clamped at both ends), an odd length
// and a spoken sentence (tests/golden/speech.wav), in one call and continued over two;
// bad states and sizes refused.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/view.hpp"
#include "qtl/predictive/ima_adpcm.hpp"

namespace {

namespace adpcm = qtl::ima_adpcm;

std::vector<std::int32_t> pair(const adpcm::state& s) { return {s.predicted, s.index}; }

}  // namespace

TEST_CASE("IMA ADPCM equals audioop's lin2adpcm and adpcm2lin", "[predictive][adpcm][golden]") {
  const auto golden = qtl::test::golden_file::load("audio.qtlg");
  for (const std::string name : {"adpcm.pluck", "adpcm.noise", "adpcm.odd", "adpcm.speech"}) {
    INFO(name);
    const auto input = golden.get<std::int16_t>(name + ".input");
    const auto expected = golden.get<std::uint8_t>(name + ".encoded");

    adpcm::state encoder;
    auto encoded = adpcm::encode(input, encoder);
    CHECK(pair(encoder) == golden.get<std::int32_t>(name + ".encoded_state"));
    if (input.size() % 2 == 1) {  // audioop drops the last code; qtl keeps it in a high nibble
      REQUIRE(encoded.size() == expected.size() + 1);
      CHECK((encoded.back() & 0x0F) == 0);
      encoded.pop_back();
    }
    CHECK(encoded == expected);

    adpcm::state decoder;
    CHECK(adpcm::decode(expected, decoder) == golden.get<std::int16_t>(name + ".decoded"));
    CHECK(pair(decoder) == golden.get<std::int32_t>(name + ".decoded_state"));

    // Two calls carrying the state give the bytes of one.
    const std::size_t half = input.size() / 4 * 4;
    adpcm::state carried;
    auto first = adpcm::encode(std::span(input).first(half), carried);
    const auto second = adpcm::encode(std::span(input).subspan(half), carried);
    first.insert(first.end(), second.begin(), second.end());
    if (input.size() % 2 == 1) first.pop_back();
    CHECK(first == golden.get<std::uint8_t>(name + ".continued"));
    CHECK(pair(carried) == golden.get<std::int32_t>(name + ".continued_state"));
  }
}

TEST_CASE("IMA ADPCM decodes what it encodes to the encoder's own reconstruction", "[predictive][adpcm]") {
  std::vector<std::int16_t> x(999);
  for (std::size_t i = 0; i < x.size(); ++i)  // a 100 Hz tone at 8 kHz
    x[i] = static_cast<std::int16_t>(std::lround(12000.0 * std::sin(2.0 * 3.14159265358979 * static_cast<double>(i) / 80.0)));
  adpcm::state encoder{1200, 40};
  const auto packed = adpcm::encode(x, encoder);
  REQUIRE(packed.size() == 500);
  adpcm::state decoder{1200, 40};
  const auto y = adpcm::decode(packed, x.size(), decoder);
  REQUIRE(y.size() == x.size());
  CHECK(pair(decoder) == pair(encoder));
  // The prediction tracks the signal once the step has adapted.
  long long error = 0, energy = 0;
  for (std::size_t i = 100; i < x.size(); ++i) error += (y[i] - x[i]) * (y[i] - x[i]), energy += x[i] * x[i];
  CHECK(error * 100 < energy);  // 20 dB
}

TEST_CASE("IMA ADPCM refuses a bad state and a sample count the bytes cannot hold", "[predictive][adpcm]") {
  const std::vector<std::int16_t> x(8, 100);
  const std::vector<std::uint8_t> bytes(4, 0x11);
  adpcm::state bad_index{0, 89};
  CHECK_THROWS_AS(adpcm::encode(x, bad_index), qtl::error);
  adpcm::state bad_prediction{40000, 3};
  CHECK_THROWS_AS(adpcm::decode(bytes, bad_prediction), qtl::error);
  adpcm::state s;
  CHECK_THROWS_AS(adpcm::decode(bytes, 9, s), qtl::error);
  CHECK_THROWS_AS(adpcm::decode(bytes, 6, s), qtl::error);
  CHECK(adpcm::decode(bytes, 7, s).size() == 7);
  CHECK(pair(bad_index) == std::vector<std::int32_t>{0, 89});  // a refused call changes nothing
}

TEST_CASE("IMA ADPCM along rows: each row its own stream from a fresh state", "[predictive][adpcm]") {
  const std::size_t rows = 3, cols = 301;  // odd: each row ends in a half-used byte
  std::vector<std::int16_t> x(rows * cols);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<std::int16_t>(9000 * std::sin(0.05 * static_cast<double>(i)) + static_cast<double>(i % 7) * 300);
  const auto packed = adpcm::encode_rows(qtl::matrix_view<const std::int16_t>(x.data(), rows, cols));
  const std::size_t row_bytes = (cols + 1) / 2;
  REQUIRE(packed.size() == rows * row_bytes);
  std::vector<std::int16_t> expected_back;
  for (std::size_t r = 0; r < rows; ++r) {
    adpcm::state s;
    const auto row = adpcm::encode(std::span(x).subspan(r * cols, cols), s);
    CHECK(std::equal(row.begin(), row.end(), packed.begin() + static_cast<std::ptrdiff_t>(r * row_bytes)));
    adpcm::state d;
    const auto back = adpcm::decode(row, cols, d);
    expected_back.insert(expected_back.end(), back.begin(), back.end());
  }
  CHECK(adpcm::decode_rows(packed, rows, cols) == expected_back);
  try {
    (void)adpcm::decode_rows(packed, rows, cols + 2);
    FAIL("no error");
  } catch (const qtl::error& e) {
    CHECK(e.code() == qtl::errc::shape_mismatch);
  }
}
