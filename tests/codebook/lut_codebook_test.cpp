// qtl/codebook/lut_codebook.hpp: a run-time codebook in quantizer<> codes as its
// scalar_codebook does (thresholds and their neighbours, beyond the ends), under both
// scalings, through quantizer and simd_quantizer's entry points (this object's arch;
// kernel/simd_quantizer_cases.hpp holds the per-arch batch-step cases); Lloyd-Max levels
// through the quantizer reach Max's distortion; wrong formats, codes past the table, NaN
// and groups that do not divide are refused.
#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "error_code.hpp"
#include "qtl/codebook/lloyd_max.hpp"
#include "qtl/codebook/lut_codebook.hpp"
#include "qtl/format/index_format.hpp"
#include "qtl/kernel/simd_quantizer.hpp"

namespace {

// n uneven levels, asymmetric about 0.
std::vector<float> uneven_levels(std::size_t n) {
  std::vector<float> levels(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double u = -1.0 + 2.0 * (static_cast<double>(i) + 0.4) / static_cast<double>(n);
    levels[i] = static_cast<float>(2.5 * u * std::abs(u) - 0.1);
  }
  return levels;
}

// Every threshold and its two float neighbours on each side, every level, values beyond
// the ends, zeros and normal values.
std::vector<float> probes(const qtl::scalar_codebook& book) {
  std::vector<float> v = {0.0f, -0.0f, 1e30f, -1e30f, std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max()};
  for (float t : book.thresholds()) {
    float m = std::nextafter(std::nextafter(t, -INFINITY), -INFINITY);
    for (int k = 0; k < 5; ++k, m = std::nextafter(m, INFINITY)) v.push_back(m);
  }
  for (float l : book.levels()) v.push_back(l);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  while (v.size() % 96 != 0) v.push_back(normal(rng));
  return v;
}

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <int N>
void check_unit_scaling() {
  INFO(N << " levels");
  const qtl::scalar_codebook book(uneven_levels(N));
  using Q = qtl::quantizer<qtl::index_format<N>, qtl::lut_codebook, qtl::per_tensor>;
  const Q q{qtl::lut_codebook(book, qtl::lut_scaling::unit)};
  const std::vector<float> x = probes(book);
  const qtl::matrix_view<const float> m(x.data(), x.size() / 96, 96);
  const auto t = q.quantize(m);
  REQUIRE(t.params.size() == 1);
  CHECK(t.params[0].scale == 1.0f);
  CHECK(t.codes == book.encode(x));  // the scalar codebook's nearest level, ties to the lower
  std::vector<float> y(x.size());
  q.dequantize(t, qtl::matrix_view<float>(y.data(), m.rows(), m.cols()));
  CHECK(y == book.decode(t.codes));

  const qtl::kernel::simd_quantizer<Q> k(q);
  const auto tk = k.quantize(m);
  CHECK(tk.codes == t.codes);
  const auto packed = k.quantize_packed(m);
  CHECK(packed.bytes() == qtl::packed_tensor<qtl::index_format<N>>::pack(t).bytes());
  std::vector<float> yk(x.size()), fk(x.size());
  k.dequantize(packed, qtl::matrix_view<float>(yk.data(), m.rows(), m.cols()));
  CHECK(same_bytes(yk, y));
  k.fake_quantize(m, qtl::matrix_view<float>(fk.data(), m.rows(), m.cols()));
  CHECK(same_bytes(fk, y));
}

template <int N>
void check_absmax_scaling() {
  INFO(N << " levels");
  const qtl::scalar_codebook book(uneven_levels(N));
  const float largest = std::max(std::abs(book.levels().front()), std::abs(book.levels().back()));
  using Q = qtl::quantizer<qtl::index_format<N>, qtl::lut_codebook, qtl::per_group<32>>;
  const Q q{qtl::lut_codebook(book), qtl::per_group<32>{}};
  std::mt19937 rng(N);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(4 * 96);
  for (float& v : x) v = normal(rng);
  std::fill(x.begin() + 32, x.begin() + 64, 0.0f);  // an all-zero group
  const qtl::matrix_view<const float> m(x.data(), 4, 96);
  const auto t = q.quantize(m);
  std::vector<float> y(x.size());
  q.dequantize(t, qtl::matrix_view<float>(y.data(), 4, 96));
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t g = 0; g < 3; ++g) {
      const qtl::quant_params& p = t.params[r * 3 + g];
      float absmax = 0.0f;
      for (std::size_t c = 32 * g; c < 32 * g + 32; ++c) absmax = std::max(absmax, std::abs(x[r * 96 + c]));
      REQUIRE(p.scale == absmax / largest);
      for (std::size_t c = 32 * g; c < 32 * g + 32; ++c) {
        const std::size_t i = r * 96 + c;
        REQUIRE(t.codes[i] == book.encode(x[i] * p.inv_scale));
        REQUIRE(y[i] == book.levels()[t.codes[i]] * p.scale);
      }
    }
  const qtl::kernel::simd_quantizer<Q> k(q, qtl::kernel::executor(2));
  const auto tk = k.quantize(m);
  CHECK(tk.codes == t.codes);
  CHECK(same_bytes(tk.params, t.params));
  std::vector<float> fk(x.size());
  k.fake_quantize(m, qtl::matrix_view<float>(fk.data(), 4, 96));
  CHECK(same_bytes(fk, y));
}

}  // namespace

TEST_CASE("A run-time codebook in quantizer<> codes as its scalar codebook, on SIMD too", "[codebook][lut]") {
  check_unit_scaling<2>();
  check_unit_scaling<3>();
  check_unit_scaling<10>();
  check_unit_scaling<16>();
  check_unit_scaling<17>();
  check_unit_scaling<100>();
  check_unit_scaling<256>();
  check_absmax_scaling<5>();
  check_absmax_scaling<16>();
  check_absmax_scaling<64>();
}

TEST_CASE("Lloyd-Max levels through quantizer<> reach Max's distortion", "[codebook][lut]") {
  // Max (1960), 8 levels of N(0, 1): distortion 0.03455.
  const auto design = qtl::lloyd_max::design(qtl::lloyd_max::gaussian{}, 8);
  using Q = qtl::quantizer<qtl::index_format<8>, qtl::lut_codebook, qtl::per_tensor>;
  const Q q{qtl::lut_codebook(design.codebook(), qtl::lut_scaling::unit)};
  std::mt19937 rng(1960);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(200000);
  for (float& v : x) v = normal(rng);
  std::vector<float> y(x.size());
  qtl::kernel::simd_quantizer<Q>(q).fake_quantize(x, y);
  double mse = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) mse += (double{x[i]} - y[i]) * (double{x[i]} - y[i]);
  mse /= static_cast<double>(x.size());
  CHECK(std::abs(mse - 0.03455) < 0.001);
  // The uniform 3-bit quantizer with Max's best step (0.5860) does worse: 0.03744.
  CHECK(mse < 0.0365);
}

TEST_CASE("A run-time codebook refuses formats, codes and values that do not fit", "[codebook][lut][errors]") {
  using qtl::test::error_code_of;
  const qtl::scalar_codebook ten(uneven_levels(10));
  using Q10 = qtl::quantizer<qtl::index_format<10>, qtl::lut_codebook, qtl::per_group<32>>;
  // The format must have one code per level, from 0.
  CHECK(error_code_of([&] { qtl::quantizer<qtl::uint4, qtl::lut_codebook, qtl::per_tensor>{qtl::lut_codebook(ten)}; }) ==
        qtl::errc::invalid_argument);
  CHECK(error_code_of([&] {
          qtl::quantizer<qtl::int4, qtl::lut_codebook, qtl::per_tensor>{qtl::lut_codebook(qtl::scalar_codebook(uneven_levels(16)))};
        }) == qtl::errc::invalid_argument);
  const Q10 q{qtl::lut_codebook(ten), qtl::per_group<32>{}};
  const qtl::kernel::simd_quantizer<Q10> k(q);
  std::vector<float> x(64, 0.25f);
  const qtl::matrix_view<const float> m(x.data(), 1, 64);
  // Codes 10..15 fit in 4 bits but are not codes of this table.
  auto t = q.quantize(m);
  t.codes[7] = 12;
  std::vector<float> y(64);
  CHECK(error_code_of([&] { q.dequantize(t, qtl::matrix_view<float>(y.data(), 1, 64)); }) == qtl::errc::out_of_range);
  const auto packed = k.quantize_packed(m);
  std::vector<std::uint8_t> bytes = packed.bytes();
  bytes[3] = 0xcc;
  const qtl::packed_tensor<qtl::index_format<10>> bad(1, 64, packed.view().grid(), packed.params(), bytes);
  CHECK(error_code_of([&] { k.dequantize(bad, qtl::matrix_view<float>(y.data(), 1, 64)); }) == qtl::errc::out_of_range);
  // NaN, and groups that do not tile the row.
  x[9] = std::nanf("");
  CHECK(error_code_of([&] { (void)k.quantize(m); }) == qtl::errc::non_finite);
  CHECK(error_code_of([&] { (void)q.quantize(std::vector<float>(48, 1.0f)); }) == qtl::errc::group_size);
  // Copies share the table.
  const qtl::lut_codebook a(ten);
  const qtl::lut_codebook b = a;
  CHECK(&a.book() == &b.book());
  CHECK(a.scaling() == qtl::lut_scaling::absmax);
}
