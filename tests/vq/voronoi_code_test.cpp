// qtl/vq/voronoi_code.hpp: every index decodes to a distinct lattice point inside the cell of
// r L and back; Z^n's code is the integers in (-r/2, r/2]; E8's code for r = 2 has the norms
// of E8 modulo 2 E8; blocks code to their nearest point unless it lies outside the code;
// overloaded blocks end where no shortest-vector move improves them; the lattices' shortest
// vectors; at 2 bits a value, E8's code beats the best scalar quantizer on Gaussian data;
// bad input.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "error_code.hpp"
#include "qtl/core/error.hpp"
#include "qtl/vq/voronoi_code.hpp"

namespace {

using qtl::vq::lattice_d;
using qtl::vq::lattice_e8;
using qtl::vq::lattice_z;
using qtl::vq::voronoi_code;

template <std::size_t N>
double norm(const std::array<double, N>& p) {
  double s = 0;
  for (const double v : p) s += v * v;
  return s;
}

template <std::size_t N>
double distance(const std::array<double, N>& a, const std::array<double, N>& b) {
  double s = 0;
  for (std::size_t i = 0; i < N; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

// A lattice's shortest vectors: `count` distinct points of the lattice (index() refuses
// others), all of norm `norm`.
template <class L, int Bits>
void check_shortest_vectors(std::size_t count, double shortest) {
  std::set<std::array<double, L::dimension>> distinct;
  for (const auto& v : L::shortest_vectors) {
    (void)voronoi_code<L, Bits>::index(v);
    REQUIRE(norm(v) == shortest);
    distinct.insert(v);
  }
  CHECK(distinct.size() == count);
}

// Every index in turn, its entries the base-r digits of 0 .. r^n - 1.
template <class C, class F>
void for_each_index(F f) {
  std::size_t total = 1;
  for (std::size_t i = 0; i < C::dimension; ++i) total *= C::modulus;
  for (std::size_t t = 0; t < total; ++t) {
    typename C::index_type k{};
    std::size_t digits = t;
    for (std::size_t i = 0; i < C::dimension; ++i, digits /= C::modulus)
      k[i] = static_cast<std::uint8_t>(digits % C::modulus);
    f(k);
  }
}

// The points of the code: r^n distinct lattice points (index() refuses others), each the
// point of its own index, none farther from the origin than from its nearest point of r L.
template <class C, class L>
std::set<typename C::point_type> check_code() {
  std::set<typename C::point_type> points;
  for_each_index<C>([&](const typename C::index_type& k) {
    const auto p = C::point(k);
    REQUIRE(C::index(p) == k);
    REQUIRE(C::contains(p));
    auto coarse = p;
    for (double& v : coarse) v /= C::modulus;
    auto q = L::nearest(coarse);
    for (std::size_t i = 0; i < C::dimension; ++i) q[i] = p[i] - C::modulus * q[i];
    REQUIRE(norm(p) <= norm(q) + 1e-12);  // p is in the Voronoi cell of the origin in r L
    points.insert(p);
  });
  return points;
}

template <class C>
double coded_error(const std::vector<float>& x, std::size_t rows, std::size_t cols, float scale) {
  const C code(scale);
  std::vector<std::uint8_t> bytes(rows * C::code_size(cols));
  std::vector<float> back(x.size());
  (void)code.encode({x.data(), rows, cols}, bytes);
  code.decode(bytes, {back.data(), rows, cols});
  double e = 0;
  for (std::size_t i = 0; i < x.size(); ++i) e += (x[i] - back[i]) * (x[i] - back[i]);
  return e / static_cast<double>(x.size());
}

std::vector<float> gaussian(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(count);
  for (float& v : x) v = normal(rng);
  return x;
}

}  // namespace

TEST_CASE("voronoi_code: every index decodes to a distinct point in the cell and back", "[vq][voronoi]") {
  CHECK(check_code<voronoi_code<lattice_e8, 1>, lattice_e8>().size() == 256);
  CHECK(check_code<voronoi_code<lattice_e8, 2>, lattice_e8>().size() == 65536);
  CHECK(check_code<voronoi_code<lattice_d<4>, 2>, lattice_d<4>>().size() == 256);
  CHECK(check_code<voronoi_code<lattice_d<3>, 3>, lattice_d<3>>().size() == 512);
}

TEST_CASE("voronoi_code of Z^n is the integers above -r/2 up to r/2", "[vq][voronoi]") {
  std::set<std::array<double, 2>> expected;
  for (int a = -3; a <= 4; ++a)
    for (int b = -3; b <= 4; ++b) expected.insert({double(a), double(b)});
  CHECK(check_code<voronoi_code<lattice_z<2>, 3>, lattice_z<2>>() == expected);
}

TEST_CASE("voronoi_code of Z^n clips each value to its levels, as a scalar quantizer does", "[vq][voronoi]") {
  // Z^4's code at 2 bits is {-1, 0, 1, 2}^4: a block outside it, shrunk and then moved along
  // +-e_i, ends at every value rounded and clipped (the nearest point of the box).
  const std::vector<float> x = gaussian(300 * 4, 17);
  const voronoi_code<lattice_z<4>, 2> code(0.5f);
  std::vector<std::uint8_t> bytes(300);
  std::vector<float> back(x.size());
  CHECK(code.encode({x.data(), 300, 4}, bytes) > 0);
  code.decode(bytes, {back.data(), 300, 4});
  for (std::size_t i = 0; i < x.size(); ++i)
    REQUIRE(back[i] == 0.5f * std::clamp(std::nearbyint(x[i] / 0.5f), -1.0f, 2.0f));
}

TEST_CASE("voronoi_code of E8 with r = 2 holds one point of each class of E8 / 2 E8", "[vq][voronoi]") {
  // The 256 classes: 0; 120 of minimal vectors (norm 2, a pair +-v each); 135 of norm-4
  // vectors (16 each). Conway and Sloane, SPLAG ch. 20, and their 1983 paper.
  std::map<double, int> norms;
  for (const auto& p : check_code<voronoi_code<lattice_e8, 1>, lattice_e8>()) ++norms[norm(p)];
  CHECK(norms == std::map<double, int>{{0.0, 1}, {2.0, 120}, {4.0, 135}});
}

TEST_CASE("lattices list their shortest vectors, as many as their kissing numbers", "[vq][voronoi]") {
  check_shortest_vectors<lattice_z<3>, 2>(6, 1.0);
  check_shortest_vectors<lattice_d<4>, 2>(24, 2.0);
  check_shortest_vectors<lattice_d<5>, 2>(40, 2.0);
  check_shortest_vectors<lattice_e8, 2>(240, 2.0);
  // None shorter: E8's code at 1 bit holds a point of every norm below 4 there is (above).
}

TEST_CASE("voronoi_code codes a block as its nearest point when the code holds it", "[vq][voronoi]") {
  using code = voronoi_code<lattice_e8, 3>;
  const std::vector<float> x = gaussian(40 * 16, 11);
  for (const float scale : {0.25f, 1.0f}) {
    const code c(scale);
    std::vector<std::uint8_t> bytes(40 * code::code_size(16));
    REQUIRE(bytes.size() == 40 * 6);  // 16 values of 3 bits
    const std::size_t overloads = c.encode({x.data(), 40, 16}, bytes);
    std::vector<float> back(x.size());
    c.decode(bytes, {back.data(), 40, 16});
    std::size_t outside = 0;
    for (std::size_t b = 0; b < x.size(); b += 8) {
      code::point_type block{};
      for (std::size_t i = 0; i < 8; ++i) block[i] = static_cast<double>(x[b + i]) / scale;
      const auto nearest = lattice_e8::nearest(block);
      code::point_type decoded{};
      for (std::size_t i = 0; i < 8; ++i) decoded[i] = static_cast<double>(back[b + i]) / scale;
      for (std::size_t i = 0; i < 8; ++i) decoded[i] = std::round(decoded[i] * 2) / 2;
      REQUIRE(code::contains(decoded));
      for (std::size_t i = 0; i < 8; ++i) REQUIRE(back[b + i] == static_cast<float>(decoded[i] * scale));
      if (code::contains(nearest)) {
        REQUIRE(decoded == nearest);
        continue;
      }
      ++outside;  // overloaded: no move along a shortest vector that stays in the code comes nearer
      const double d = distance(block, decoded);
      for (const auto& v : lattice_e8::shortest_vectors) {
        auto q = decoded;
        for (std::size_t i = 0; i < 8; ++i) q[i] += v[i];
        REQUIRE((distance(block, q) >= d || !code::contains(q)));
      }
    }
    CHECK(overloads == outside);
    if (scale == 1.0f) CHECK(overloads == 0);
    if (scale == 0.25f) CHECK(overloads > 0);
  }
}

TEST_CASE("voronoi_code of E8 at 2 bits a value beats every scalar 2-bit quantizer on Gaussian data", "[vq][voronoi]") {
  // Max (1960): the optimal 4-level quantizer of a unit Gaussian has a mean squared error of
  // 0.1175. E8's code (16 bits for 8 values) at its best scale reaches about 0.097 (0.104
  // without the descent along its shortest vectors); Z^8's (the uniform levels -1, 0, 1, 2)
  // stays above the scalar optimum.
  const std::vector<float> x = gaussian(2000 * 8, 21);
  double e8 = 1e9, z8 = 1e9;
  for (float scale = 0.8f; scale < 1.3f; scale += 0.05f) {
    e8 = std::min(e8, coded_error<voronoi_code<lattice_e8, 2>>(x, 2000, 8, scale));
    z8 = std::min(z8, coded_error<voronoi_code<lattice_z<8>, 2>>(x, 2000, 8, scale));
  }
  CHECK(e8 < 0.1);
  CHECK(z8 > 0.1175);
}

TEST_CASE("voronoi_code refuses bad input and writes nothing", "[vq][voronoi][errors]") {
  using qtl::test::error_code_of;
  using code = voronoi_code<lattice_d<4>, 2>;
  CHECK(error_code_of([] { (void)code{0.0f}; }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([] { (void)code{INFINITY}; }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([] { (void)code::index({1, 0, 0, 0}); }) == qtl::errc::invalid_argument);  // odd sum
  CHECK(error_code_of([] { (void)code::index({0.5, 0.5, 0, 0}); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([] { (void)code::index({NAN, 0, 0, 0}); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([] { (void)code::index({1e300, 1e300, 0, 0}); }) == qtl::errc::invalid_argument);
  CHECK(error_code_of([] { (void)code::point({4, 0, 0, 0}); }) == qtl::errc::out_of_range);
  CHECK_FALSE(code::contains({1e300, 1e300, 0, 0}));
  CHECK_FALSE(code::contains({6, 0, 0, 0}));  // a point of D_4, nearer to 8 e_1 of 4 D_4 than to 0
  const code d4(0.5f);
  std::vector<float> x(2 * 8, 0.1f);
  std::vector<std::uint8_t> codes(2 * code::code_size(8), 7);
  CHECK(error_code_of([&] { (void)d4.encode({x.data(), 2, 6}, std::span(codes).first(4)); }) ==
        qtl::errc::invalid_argument);
  CHECK(error_code_of([&] { (void)d4.encode({x.data(), 2, 8}, std::span(codes).first(3)); }) ==
        qtl::errc::shape_mismatch);
  x[11] = NAN;
  CHECK(error_code_of([&] { (void)d4.encode({x.data(), 2, 8}, codes); }) == qtl::errc::non_finite);
  CHECK(std::all_of(codes.begin(), codes.end(), [](std::uint8_t c) { return c == 7; }));
  std::vector<float> out(16);
  CHECK(error_code_of([&] { d4.decode(codes, {out.data(), 2, 4}); }) == qtl::errc::shape_mismatch);
  x[11] = 1e30f;  // finite and far outside: coded as a shrunk point of the code
  CHECK(d4.encode({x.data(), 2, 8}, codes) == 1);
}
