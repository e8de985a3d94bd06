// kernel::simd_quantizer<Q, Arch> against Q's scalar path, byte for byte, over the product
// of the built-in policies (and a user format, scheme and rounding that have no batch
// step): statistics, params, codes, packed bytes in both orders, dequantized floats,
// fake-quantized floats, on odd shapes, tails, strided rows and unaligned pointers; a
// codebook chosen at run time (lut_codebook); companders on their cell boundaries; and
// the same errors on bad input. Free of any test framework: the Catch2 test
// (simd_quantizer_test.cpp, one object per x86 arch) and the NEON program under qemu
// (neon/neon_simd_quantizer_test.cpp) both run failures<Arch>().
#pragma once

#include <qtl/format/bnb_fp4.hpp>
#include <qtl/format/compander.hpp>
#include <qtl/format/index_format.hpp>
#include <qtl/format/minifloat.hpp>
#include <qtl/format/nf4.hpp>
#include <qtl/format/pow2.hpp>
#include <qtl/kernel/simd_quantizer.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <typeinfo>
#include <vector>

#include "kernel/case_report.hpp"
#include "kernel/scheme_for.hpp"
#include "kernel/user_policies.hpp"
#include "policy_product.hpp"

namespace qtl_test::simd_cases {

// ---- A user's policies, written without batch steps: the kernel runs their scalar steps
// lane by lane (odd_format: kernel/user_policies.hpp).

struct half_range {  // symmetric over half the codes, for any format
  static constexpr bool needs_abs_sum = false;
  template <qtl::format F>
  qtl::quant_params params(const qtl::tensor_stats& s) const noexcept {
    const float scale = s.absmax() / static_cast<float>(F::max_code / 2 + 1);
    return {scale, scale > 0.0f ? 1.0f / scale : 0.0f, (F::min_code + F::max_code + 1) / 2};
  }
  template <qtl::format F, class R>
  int quantize(float x, const qtl::quant_params& p, const R& round, std::uint64_t index) const noexcept {
    const float v = round(x * p.inv_scale, index) + static_cast<float>(p.zero_point);
    return static_cast<int>(v < F::min_code ? F::min_code : (v > F::max_code ? F::max_code : v));
  }
  template <qtl::format F>
  float dequantize(int code, const qtl::quant_params& p) const noexcept {
    return (F::decode(code) - F::decode(p.zero_point)) * p.scale;
  }
};

struct half_down {  // round to nearest, ties toward -inf
  float operator()(float v, std::uint64_t) const noexcept { return std::ceil(v - 0.5f); }
};

// ---- What is checked: every policy's batch step against its scalar step (each rounding;
// each format x scheme pair under three roundings), then the kernel's walk over every
// format x scheme pair (groups along rows), every granularity (four pairs) and every
// rounding (one pair). The product of all four runs to thousands of compositions: minutes
// of compile time for no path the steps and the walk do not already cover.
using formats = std::tuple<qtl::int8, qtl::uint8, qtl::int4, qtl::uint4, qtl::int_format<3, true>,
                           qtl::int_format<3, false>, qtl::int2, qtl::int_format<1, false>, qtl::ternary, qtl::nf4,
                           qtl::bnb_fp4, qtl::fp8_e4m3, qtl::pow2<4>, qtl::mu_law<5>, odd_format>;
using schemes = std::tuple<qtl::symmetric, qtl::affine, qtl::absmax, qtl::absmean, qtl::mid_rise, qtl::dead_zone,
                           qtl::codebook, half_range>;
using roundings = std::tuple<qtl::nearest_even, qtl::nearest_away, qtl::floor, qtl::ceil, qtl::toward_zero,
                             qtl::stochastic<>, half_down>;
using step_roundings = std::tuple<qtl::nearest_even, qtl::stochastic<>, half_down>;
using pairs = typename product<formats, schemes, std::tuple<qtl::per_group<>>, std::tuple<qtl::nearest_even>>::type;
using steps = typename product<formats, schemes, std::tuple<qtl::per_group<>>, step_roundings>::type;
using by_granularity =
    cat<typename product<std::tuple<qtl::int8, qtl::ternary>, std::tuple<qtl::symmetric, qtl::absmean>,
                         std::tuple<qtl::per_tensor, qtl::per_channel<0>, qtl::per_channel<1>, qtl::per_token>,
                         std::tuple<qtl::nearest_even>>::type,
        typename product<std::tuple<qtl::uint4, qtl::nf4>, std::tuple<qtl::affine, qtl::codebook>,
                         std::tuple<qtl::per_tensor, qtl::per_channel<0>, qtl::per_channel<1>, qtl::per_token>,
                         std::tuple<qtl::stochastic<>>>::type>;
using by_rounding = typename product<std::tuple<qtl::int4>, std::tuple<qtl::affine>, std::tuple<qtl::per_group<>>,
                                     roundings>::type;
// Companders with 3 and 255 codes (registers and gathers), beside mu_law<5> above.
using compander_pairs = typename product<std::tuple<qtl::mu_law<3>, qtl::a_law<8>>, std::tuple<qtl::codebook>,
                                         std::tuple<qtl::per_group<>>, std::tuple<qtl::nearest_even>>::type;
// A codebook chosen at run time (lut_codebook, levels from kernel/scheme_for.hpp): up to 16
// levels in registers, more by gathers; sizes that are not powers of two.
using lut_pairs = typename product<std::tuple<qtl::int_format<1, false>, qtl::index_format<3>, qtl::index_format<10>,
                                              qtl::uint4, qtl::index_format<17>, qtl::uint8>,
                                   std::tuple<qtl::lut_codebook>, std::tuple<qtl::per_group<>>,
                                   std::tuple<qtl::nearest_even>>::type;

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

inline bool same_stats(const std::vector<qtl::tensor_stats>& a, const std::vector<qtl::tensor_stats>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i].min, &b[i].min, sizeof(float)) != 0 || std::memcmp(&a[i].max, &b[i].max, sizeof(float)) != 0 ||
        std::memcmp(&a[i].abs_sum, &b[i].abs_sum, sizeof(double)) != 0 || a[i].count != b[i].count)
      return false;
  return true;
}

// kind 0: normal with outliers and signed zeros; 1: multiples of 1/8 (exact ties); 2: all zero.
inline std::vector<float> sample(std::size_t n, int kind, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> eighths(-40, 40);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (kind == 0) v[i] = i % 37 == 5 ? 12.0f * normal(rng) : normal(rng);
    else if (kind == 1) v[i] = static_cast<float>(eighths(rng)) * 0.125f;
    else v[i] = i % 3 == 0 ? -0.0f : 0.0f;
  }
  if (kind == 0 && n > 3) v[3] = -0.0f;
  return v;
}

template <class Q>
Q make(std::size_t group) {
  using G = typename Q::granularity_type;
  using R = typename Q::rounding_type;
  R round{};
  if constexpr (requires { round.seed; }) round.seed = 7;
  const auto scheme = scheme_for<typename Q::scheme_type, typename Q::format_type>();
  if constexpr (std::same_as<G, qtl::per_group<>>) return Q(scheme, G{group}, round);
  else return Q(scheme, G{}, round);
}

// Values that probe rounding: ties, the largest float below 1/2, signed zeros, integers
// near 2^23, huge and tiny magnitudes, and normal values.
inline std::vector<float> probes() {
  std::vector<float> v = {0.0f, -0.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0x1.fffffep-2f, -0x1.fffffep-2f,
                          0x1p23f, 0x1p23f + 1.0f, -0x1p23f - 1.0f, 0x1.fffffep22f, 8388607.5f, -8388607.5f,
                          1e30f, -1e30f, 1e-40f, -1e-40f, 3.4e38f, -3.4e38f};
  for (int k = -40; k <= 40; ++k) v.push_back(static_cast<float>(k) * 0.25f);
  const std::vector<float> n = sample(197, 0, 9);
  for (float x : n) v.push_back(x * 37.0f);
  return v;
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class Arch, class R>
void check_rounding(report& rep) {
  using floats = qtl::simd::floats<Arch>;
  R round{};
  if constexpr (requires { round.seed; }) round.seed = 11;
  std::vector<float> v = probes();
  v.resize((v.size() + floats::size - 1) / floats::size * floats::size, 0.75f);
  alignas(64) float out[floats::size];
  for (std::size_t i = 0; i < v.size(); i += floats::size) {
    qtl::simd::round(round, floats::load_unaligned(&v[i]), 1000 + i).store_aligned(out);
    for (std::size_t l = 0; l < floats::size; ++l)
      rep.expect(same_bits(out[l], round(v[i + l], 1000 + i + l)),
                 std::string(typeid(R).name()) + ": batch rounding of " + std::to_string(v[i + l]));
  }
}

// The scheme's batch quantize and dequantize against its scalar ones, lane by lane, with
// params from data of each kind and all-zero params.
template <class Arch, class Q>
void check_steps(report& rep) {
  using F = typename Q::format_type;
  using S = typename Q::scheme_type;
  using R = typename Q::rounding_type;
  using floats = qtl::simd::floats<Arch>;
  using ints = qtl::simd::ints<Arch>;
  const Q q = make<Q>(64);
  const S& s = q.scheme_policy();
  const R& round = q.rounding_policy();
  const std::string name = typeid(Q).name();
  std::vector<float> x = probes();
  x.resize((x.size() + floats::size - 1) / floats::size * floats::size, 0.75f);
  for (int kind = 0; kind <= 3; ++kind) {
    qtl::quant_params p{};
    if (kind < 3) p = q.params(sample(64, kind, 4)).front();
    const float spread = kind == 0 ? 3.0f : 1.0f;
    alignas(64) std::int32_t codes[floats::size];
    alignas(64) float back[floats::size];
    for (std::size_t i = 0; i < x.size(); i += floats::size) {
      const floats v = floats::load_unaligned(&x[i]) * floats(spread * 0.1f);
      qtl::simd::quantize<F>(s, v, p, round, 77 + i).store_aligned(codes);
      for (std::size_t l = 0; l < floats::size; ++l) {
        const float xl = x[i + l] * (spread * 0.1f);
        rep.expect(codes[l] == s.template quantize<F>(xl, p, round, 77 + i + l),
                   name + ": batch quantize of " + std::to_string(xl));
      }
    }
    for (int c0 = F::min_code; c0 <= F::max_code; c0 += static_cast<int>(floats::size)) {
      alignas(64) std::int32_t in[floats::size];
      for (std::size_t l = 0; l < floats::size; ++l)
        in[l] = std::min(c0 + static_cast<int>(l), F::max_code);
      qtl::simd::dequantize<F, S, R>(s, ints::load_aligned(in), p).store_aligned(back);
      for (std::size_t l = 0; l < floats::size; ++l)
        rep.expect(same_bits(back[l], s.template dequantize<F>(in[l], p)),
                   name + ": batch dequantize of code " + std::to_string(in[l]));
    }
  }
}

// A run-time codebook's batch quantize on every threshold and its float neighbours, at
// scale 1 (exact ties take the lower level), against scalar_codebook::encode.
template <class Arch, class Q>
void check_lut_bounds(report& rep) {
  using floats = qtl::simd::floats<Arch>;
  const Q q = make<Q>(64);
  const qtl::scalar_codebook& book = q.scheme_policy().book();
  std::vector<float> x;
  for (float t : book.thresholds()) {
    float m = std::nextafter(std::nextafter(t, -INFINITY), -INFINITY);
    for (int k = 0; k < 5; ++k, m = std::nextafter(m, INFINITY)) x.push_back(m);
  }
  x.resize((x.size() + floats::size - 1) / floats::size * floats::size, 0.0f);
  const qtl::quant_params unit{1.0f, 1.0f, 0};
  alignas(64) std::int32_t codes[floats::size];
  for (std::size_t i = 0; i < x.size(); i += floats::size) {
    qtl::simd::quantize<typename Q::format_type>(q.scheme_policy(), floats::load_unaligned(&x[i]), unit,
                                                 q.rounding_policy(), 0)
        .store_aligned(codes);
    for (std::size_t l = 0; l < floats::size; ++l)
      rep.expect(codes[l] == book.encode(x[i + l]),
                 std::string(typeid(Q).name()) + ": batch quantize at a threshold, " + std::to_string(x[i + l]));
  }
}

// A compander's batch encode and decode against its scalar ones: values on every cell
// boundary and their float neighbours, both signs, zeros, infinities and NaN; every code.
template <class Arch, class F>
void check_compander(report& rep) {
  using floats = qtl::simd::floats<Arch>;
  using ints = qtl::simd::ints<Arch>;
  const std::string name = typeid(F).name();
  std::vector<float> x = {0.0f, -0.0f, INFINITY, -INFINITY, std::nanf(""), 1.0f, -1.0f, 3e38f};
  for (int k = 0; k < F::top; ++k) {
    float m = static_cast<float>(F::curve_type::expand((double(k) + 0.5) / F::top));
    m = std::nextafter(std::nextafter(m, -INFINITY), -INFINITY);
    for (int i = 0; i < 5; ++i, m = std::nextafter(m, INFINITY)) x.insert(x.end(), {m, -m});
  }
  x.resize((x.size() + floats::size - 1) / floats::size * floats::size, 0.5f);
  alignas(64) std::int32_t codes[floats::size];
  alignas(64) float back[floats::size];
  for (std::size_t i = 0; i < x.size(); i += floats::size) {
    qtl::simd::encode<F, Arch>(floats::load_unaligned(&x[i])).store_aligned(codes);
    for (std::size_t l = 0; l < floats::size; ++l)
      rep.expect(codes[l] == F::encode(x[i + l]), name + ": batch encode of " + std::to_string(x[i + l]));
  }
  for (int c0 = F::min_code; c0 <= F::max_code; c0 += static_cast<int>(floats::size)) {
    alignas(64) std::int32_t in[floats::size];
    for (std::size_t l = 0; l < floats::size; ++l) in[l] = std::min(c0 + static_cast<int>(l), F::max_code);
    qtl::simd::decode<F, Arch>(ints::load_aligned(in)).store_aligned(back);
    for (std::size_t l = 0; l < floats::size; ++l)
      rep.expect(same_bits(back[l], F::decode(in[l])), name + ": batch decode of code " + std::to_string(in[l]));
  }
}

// One composition on one shape: x has rows x cols values, rows `stride` apart, starting
// one float into its buffer (unaligned).
template <class Arch, class Q>
void check_shape(const Q& q, std::size_t rows, std::size_t cols, int kind, report& rep, const std::string& name) {
  using F = typename Q::format_type;
  const qtl::kernel::simd_quantizer<Q, Arch> k(q);
  const std::size_t stride = cols + 3;
  const std::vector<float> buffer = sample(1 + rows * stride, kind, static_cast<unsigned>(rows * 131 + cols));
  const qtl::matrix_view<const float> x(buffer.data() + 1, rows, cols, stride);
  const std::string at = name + " on " + std::to_string(rows) + "x" + std::to_string(cols) + " kind " + std::to_string(kind);

  rep.expect(same_stats(q.statistics(x), k.statistics(x)), at + ": statistics");
  rep.expect(same_bytes(q.params(x), k.params(x)), at + ": params");
  const auto tr = q.quantize(x);
  const auto tk = k.quantize(x);
  rep.expect(same_bytes(tr.codes, tk.codes) && same_bytes(tr.params, tk.params), at + ": quantize");
  const auto given = k.quantize(x, tr.params);
  rep.expect(same_bytes(tr.codes, given.codes), at + ": quantize with given params");

  const auto pr = qtl::packed_tensor<F>::pack(tr);
  const auto pk = k.quantize_packed(x);
  rep.expect(same_bytes(pr.bytes(), pk.bytes()) && same_bytes(pr.params(), pk.params()), at + ": packed sequential");
  const qtl::kernel::simd_quantizer<Q, Arch> threaded(q, qtl::kernel::executor(3));  // ranges of rows on 3 threads
  rep.expect(same_bytes(pr.bytes(), threaded.quantize_packed(x).bytes()), at + ": packed on 3 threads");
  if constexpr (qtl::split_width<F::bits>) {
    if (cols % 32 == 0) {
      const auto sr = qtl::packed_tensor<F>::pack(tr, qtl::pack_order::split, 32);
      const auto sk = k.quantize_packed(x, tr.params, qtl::pack_order::split, 32);
      rep.expect(same_bytes(sr.bytes(), sk.bytes()), at + ": packed split");
      std::vector<float> ys(rows * cols), yr(rows * cols);
      q.dequantize(tr, qtl::matrix_view<float>(yr.data(), rows, cols));
      k.dequantize(sk, qtl::matrix_view<float>(ys.data(), rows, cols));
      rep.expect(same_bytes(yr, ys), at + ": dequantize split");
    }
  }

  std::vector<float> yr(rows * cols), yk(rows * cols), yp(rows * cols);
  q.dequantize(tr, qtl::matrix_view<float>(yr.data(), rows, cols));
  k.dequantize(tr, qtl::matrix_view<float>(yk.data(), rows, cols));
  k.dequantize(pk, qtl::matrix_view<float>(yp.data(), rows, cols));
  rep.expect(same_bytes(yr, yk), at + ": dequantize codes");
  rep.expect(same_bytes(yr, yp), at + ": dequantize packed");

  std::vector<float> fr(rows * cols), fk(rows * cols);
  q.fake_quantize(x, qtl::matrix_view<float>(fr.data(), rows, cols));
  k.fake_quantize(x, qtl::matrix_view<float>(fk.data(), rows, cols));
  rep.expect(same_bytes(fr, fk), at + ": fake_quantize");
}

// Bad input: the fast path refuses it as the reference does, and a NaN under propagate
// gives the reference's result.
template <class Arch, class Q>
void check_errors(const Q& q, report& rep, const std::string& name) {
  using F = typename Q::format_type;
  const qtl::kernel::simd_quantizer<Q, Arch> k(q);
  const std::size_t rows = 2, cols = 64;
  std::vector<float> v = sample(rows * cols, 0, 5);
  v[77] = std::nanf("");
  const qtl::matrix_view<const float> x(v.data(), rows, cols);
  rep.expect(error_of([&] { (void)k.quantize(x); }) == qtl::errc::non_finite, name + ": NaN refused");
  rep.expect(error_of([&] { (void)k.quantize_packed(x); }) == qtl::errc::non_finite, name + ": NaN refused (packed)");
  const Q lenient(q.scheme_policy(), q.granularity_policy(), q.rounding_policy(), qtl::nonfinite_policy::propagate);
  const qtl::kernel::simd_quantizer<Q, Arch> kl(lenient);
  rep.expect(same_bytes(lenient.quantize(x).codes, kl.quantize(x).codes), name + ": NaN propagated");
  std::vector<float> fr(v.size()), fk(v.size());
  lenient.fake_quantize(x, qtl::matrix_view<float>(fr.data(), rows, cols));
  kl.fake_quantize(x, qtl::matrix_view<float>(fk.data(), rows, cols));
  rep.expect(std::memcmp(fr.data(), fk.data(), fr.size() * sizeof(float)) == 0, name + ": NaN fake-quantized");

  const qtl::matrix_view<const float> fine(v.data(), 1, cols);
  const std::vector<qtl::quant_params> none;
  rep.expect(error_of([&] { (void)k.quantize(fine, none); }) == qtl::errc::shape_mismatch, name + ": params count");
  std::vector<float> out(cols - 1);
  rep.expect(error_of([&] { k.fake_quantize(fine, qtl::matrix_view<float>(out.data(), 1, cols - 1)); }) ==
                 qtl::errc::shape_mismatch,
             name + ": output shape");
  if constexpr (F::levels < (1 << F::bits)) {  // a packed code that is not a code of F
    auto t = k.quantize_packed(fine);
    std::vector<std::uint8_t> bytes = t.bytes();
    bytes[0] = 0xff;
    const qtl::packed_tensor<F> bad(1, cols, t.view().grid(), t.params(), bytes);
    std::vector<float> y(cols);
    rep.expect(error_of([&] { k.dequantize(bad, qtl::matrix_view<float>(y.data(), 1, cols)); }) ==
                   qtl::errc::out_of_range,
               name + ": packed code out of range");
  }
}

template <class Arch, class... R>
void run_roundings(std::tuple<R...>*, report& rep) {
  (check_rounding<Arch, R>(rep), ...);
}
template <class Arch, class... Q>
void run_steps(std::tuple<Q...>*, report& rep) {
  (check_steps<Arch, Q>(rep), ...);
}

template <class Arch, class... Q>
void run_lut_bounds(std::tuple<Q...>*, report& rep) {
  (check_lut_bounds<Arch, Q>(rep), ...);
}

template <class Arch, class... Q>
void run_all(std::tuple<Q...>*, report& rep, bool groups) {
  const auto one = [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const std::string name = typeid(T).name();
    if (groups) {
      for (const auto& [rows, cols, group] : {std::tuple{3, 96, 32}, std::tuple{2, 256, 128}, std::tuple{4, 40, 8},
                                               std::tuple{1, 33, 33}, std::tuple{2, 100, 50}})
        for (int kind : {0, 1, 2})
          check_shape<Arch>(make<T>(static_cast<std::size_t>(group)), static_cast<std::size_t>(rows),
                            static_cast<std::size_t>(cols), kind, rep, name + " G=" + std::to_string(group));
      rep.expect(error_of([&] { (void)qtl::kernel::simd_quantizer<T, Arch>(make<T>(48)).quantize(std::vector<float>(64)); }) ==
                     qtl::errc::group_size,
                 name + ": group size that does not divide");
      check_errors<Arch>(make<T>(32), rep, name);
    } else {
      for (const auto& [rows, cols] : {std::pair{3, 96}, std::pair{5, 37}, std::pair{1, 200}})
        for (int kind : {0, 1, 2})
          check_shape<Arch>(make<T>(0), static_cast<std::size_t>(rows), static_cast<std::size_t>(cols), kind, rep, name);
    }
  };
  (one(static_cast<Q*>(nullptr)), ...);
}

// Every case on Arch: the failures found (none: all byte-identical), and how many checks ran.
template <class Arch>
std::vector<std::string> failures(std::size_t& checks) {
  report rep;
  run_roundings<Arch>(static_cast<roundings*>(nullptr), rep);
  run_steps<Arch>(static_cast<steps*>(nullptr), rep);
  run_all<Arch>(static_cast<pairs*>(nullptr), rep, true);
  run_all<Arch>(static_cast<by_rounding*>(nullptr), rep, true);
  run_steps<Arch>(static_cast<lut_pairs*>(nullptr), rep);
  run_lut_bounds<Arch>(static_cast<lut_pairs*>(nullptr), rep);
  check_compander<Arch, qtl::mu_law<3>>(rep);
  check_compander<Arch, qtl::mu_law<5>>(rep);
  check_compander<Arch, qtl::a_law<8>>(rep);
  run_steps<Arch>(static_cast<compander_pairs*>(nullptr), rep);
  run_all<Arch>(static_cast<compander_pairs*>(nullptr), rep, true);
  run_all<Arch>(static_cast<lut_pairs*>(nullptr), rep, true);
  run_all<Arch>(static_cast<by_granularity*>(nullptr), rep, false);
  checks = rep.checks;
  return rep.failures;
}

}  // namespace qtl_test::simd_cases
