// qtl/codebook/scalar_codebook.hpp: encode is the nearest level (ties to the lower) for
// values around every threshold and beyond the ends, decode the level; bad levels, codes,
// sizes and non-finite values refused.
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "qtl/codebook/scalar_codebook.hpp"
#include "error_code.hpp"
#include "qtl/core/error.hpp"

namespace {

// Index of the nearest level: the number of midpoints, in double, below x.
std::size_t by_midpoints(std::span<const float> levels, float x) {
  std::size_t below = 0;
  for (std::size_t j = 0; j + 1 < levels.size(); ++j) below += (double{levels[j]} + levels[j + 1]) / 2 < x ? 1 : 0;
  return below;
}
// ... and by distance, measured in long double, the lowest on a tie (for moderate x).
std::size_t by_distance(std::span<const float> levels, float x) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < levels.size(); ++j)
    if (std::abs(static_cast<long double>(x) - levels[j]) < std::abs(static_cast<long double>(x) - levels[best])) best = j;
  return best;
}

}  // namespace

TEST_CASE("A scalar codebook encodes to the nearest level", "[codebook]") {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const std::size_t size : {2u, 3u, 16u, 100u, 256u}) {
    INFO(size << " levels");
    std::vector<float> levels(size);
    float v = -3.0f;
    for (auto& l : levels) l = v += 0.001f + std::abs(normal(rng)) / static_cast<float>(size);
    const qtl::scalar_codebook book(levels);
    for (std::size_t i = 0; i + 1 < size; ++i) {  // each threshold: the midpoint in double, rounded down
      const double midpoint = (double{levels[i]} + levels[i + 1]) / 2;
      REQUIRE(double{book.thresholds()[i]} <= midpoint);
      REQUIRE(double{std::nextafter(book.thresholds()[i], INFINITY)} > midpoint);
    }
    CHECK(book.bits() == static_cast<int>(std::ceil(std::log2(static_cast<double>(size)))));
    std::vector<float> probes = {-1e30f, 1e30f, levels.front() - 1, levels.back() + 1,
                                 std::numeric_limits<float>::denorm_min(), 0.0f, -0.0f};
    for (std::size_t i = 0; i + 1 < size; ++i) {  // around each exact midpoint, ulp by ulp
      float m = static_cast<float>((double{levels[i]} + levels[i + 1]) / 2);
      for (int k = 0; k < 3; ++k) m = std::nextafter(m, -INFINITY);
      for (int k = 0; k < 7; ++k, m = std::nextafter(m, INFINITY)) probes.push_back(m);
      probes.push_back(levels[i]);
    }
    for (int i = 0; i < 2000; ++i) probes.push_back(2 * normal(rng));
    const auto codes = book.encode(probes);
    const auto back = book.decode(codes);
    for (std::size_t i = 0; i < probes.size(); ++i) {
      INFO("value " << probes[i]);
      REQUIRE(codes[i] == by_midpoints(levels, probes[i]));
      if (std::abs(probes[i]) < 100) REQUIRE(codes[i] == by_distance(levels, probes[i]));
      CHECK(back[i] == levels[codes[i]]);
    }
  }
  // An exact tie takes the lower level.
  const qtl::scalar_codebook book({-1.0f, 0.0f, 1.0f});
  CHECK(book.encode(0.5f) == 1);
  CHECK(book.encode(-0.5f) == 0);
  CHECK(book.encode(std::nextafter(0.5f, 1.0f)) == 2);
}

TEST_CASE("A scalar codebook refuses bad levels, codes and values", "[codebook][errors]") {
  CHECK(qtl::test::error_code_of([] { qtl::scalar_codebook({1.0f}); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([] { qtl::scalar_codebook(std::vector<float>(257, 0.0f)); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([] { qtl::scalar_codebook({1.0f, 1.0f}); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([] { qtl::scalar_codebook({2.0f, 1.0f}); }) == qtl::errc::invalid_argument);
  CHECK(qtl::test::error_code_of([] { qtl::scalar_codebook({0.0f, INFINITY}); }) == qtl::errc::non_finite);
  const qtl::scalar_codebook book({-1.0f, 0.0f, 1.0f});
  std::vector<std::uint8_t> codes = {0, 1, 2};
  const std::vector<std::uint8_t> original = codes;
  CHECK(qtl::test::error_code_of([&] { book.encode(std::vector<float>{0.0f, NAN, 1.0f}, codes); }) == qtl::errc::non_finite);
  CHECK(codes == original);  // nothing written
  CHECK(qtl::test::error_code_of([&] { book.encode(std::vector<float>{0.0f, 1.0f}, codes); }) == qtl::errc::shape_mismatch);
  CHECK(qtl::test::error_code_of([&] { (void)book.decode(std::vector<std::uint8_t>{0, 3}); }) == qtl::errc::out_of_range);
  std::vector<float> out(2);
  CHECK(qtl::test::error_code_of([&] { book.decode(codes, out); }) == qtl::errc::shape_mismatch);
}
