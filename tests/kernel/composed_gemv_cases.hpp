// kernel::composed_gemv<Q, Arch> against references computed here from the unpacked codes:
//   - gemv_int8: the documented formula (the activation codes from quantizer<int8,
//     symmetric, per_token>, exact integer dots per group, times the scales) in double,
//     within the rounding of the kernel's float sums, on Arch and on scalar;
//   - gemv (float and bfloat16 activations): within a float-rounding bound of a double sum
//     of dequantize's values times x.
// Over integer and codebook formats, codebooks chosen at run time (lut_codebook), a user's
// format and scheme without batch steps, symmetric/affine/absmean/codebook, per tensor/channel/
// group (multiples of 32 and not), 2-8 bits, sequential and split packing, batch 1..8,
// odd row counts and unaligned activations; and the errors on bad shapes. Free of any
// test framework: the Catch2 test (composed_gemv_test.cpp) and the NEON program under qemu
// both run failures<Arch>().
#pragma once

#include <qtl/format/index_format.hpp>
#include <qtl/format/minifloat.hpp>
#include <qtl/format/nf4.hpp>
#include <qtl/format/ternary.hpp>
#include <qtl/kernel/composed_gemv.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

#include "kernel/case_report.hpp"
#include "kernel/scheme_for.hpp"
#include "kernel/user_policies.hpp"

namespace qtl_test::gemv_cases {

// A user's scheme without batch steps (and odd_format, a user's format: kernel/
// user_policies.hpp): the float GEMV runs their scalar steps lane by lane.
struct half_scale {  // symmetric, scale from half the largest magnitude, clamped codes
  static constexpr bool needs_abs_sum = false;
  template <qtl::format F>
  qtl::quant_params params(const qtl::tensor_stats& s) const noexcept {
    const float scale = s.absmax() / 2.0f;
    return {scale, scale > 0.0f ? 1.0f / scale : 0.0f, 0};
  }
  template <qtl::format F, class R>
  int quantize(float x, const qtl::quant_params& p, const R& round, std::uint64_t index) const noexcept {
    const float v = round(x * p.inv_scale, index);
    return static_cast<int>(v < F::min_code ? F::min_code : (v > F::max_code ? F::max_code : v));
  }
  template <qtl::format F>
  float dequantize(int code, const qtl::quant_params& p) const noexcept {
    return F::decode(code) * p.scale;
  }
};

inline std::vector<float> normal(std::size_t n, unsigned seed, float outlier = 8.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = i % 29 == 3 ? outlier * d(rng) : d(rng);
  return v;
}

template <class Q>
Q make(std::size_t group) {
  using G = typename Q::granularity_type;
  const auto scheme = scheme_for<typename Q::scheme_type, typename Q::format_type>();
  if constexpr (std::same_as<G, qtl::per_group<>>) return Q(scheme, G{group}, {});
  else return Q(scheme);
}

template <class F>
qtl::packed_tensor<F> pack_as(const qtl::quantized_tensor<F>& q, qtl::pack_order order) {
  return qtl::packed_tensor<F>::pack(q, order, order == qtl::pack_order::split ? 64 : 0);
}

// The int8 path's value in double from the unpacked codes: s_x * sum_g s_g * sum_c (code -
// zero point) * x_code, the activation codes from quantizer<int8, symmetric, per_token>;
// bound: the float sums' rounding over the magnitudes the kernel adds (codes taken as
// bits - bias, the zero-point term apart).
struct int8_expect {
  std::vector<double> value, bound;
};

template <class Q>
int8_expect int8_reference(const qtl::quantized_tensor<typename Q::format_type>& w, const float* x,
                           std::size_t batch) {
  using F = typename Q::format_type;
  constexpr int bias = F::bits == 8 ? 128 : 0;
  const qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_token> aq;
  const auto xq = aq.quantize(qtl::matrix_view<const float>(x, batch, w.cols));
  const qtl::group_grid& g = w.grid;
  int8_expect e{std::vector<double>(batch * w.rows), std::vector<double>(batch * w.rows)};
  for (std::size_t k = 0; k < batch; ++k)
    for (std::size_t r = 0; r < w.rows; ++r) {
      double sum = 0.0, mag = 0.0;
      for (std::size_t group = 0; group < g.cols; ++group) {
        const qtl::quant_params& p = w.params[(r / g.group.rows) * g.cols + group];
        std::int64_t isum = 0, parts = 0, xsum = 0;
        for (std::size_t c = group * g.group.cols; c < (group + 1) * g.group.cols; ++c) {
          const int xc = xq.codes[k * w.cols + c];
          isum += static_cast<std::int64_t>(w.codes[r * w.cols + c] - p.zero_point) * xc;
          parts += std::abs(static_cast<std::int64_t>(w.codes[r * w.cols + c] - F::min_code - bias) * xc);
          xsum += xc;
        }
        sum += static_cast<double>(isum) * p.scale;
        mag += (static_cast<double>(parts) + std::abs(static_cast<double>((p.zero_point - F::min_code - bias) * xsum))) *
               p.scale;
      }
      const double sx = xq.params[k].scale;
      e.value[k * w.rows + r] = sum * sx;
      e.bound[k * w.rows + r] = static_cast<double>(g.cols + 24) * 0x1p-23 * mag * sx + 1e-30;
    }
  return e;
}

inline bool within(const std::vector<float>& y, const int8_expect& e) {
  for (std::size_t i = 0; i < y.size(); ++i)
    if (!(std::fabs(y[i] - e.value[i]) <= e.bound[i])) return false;
  return true;
}

// y against a double sum of the dequantized weights times x: |error| within n ulps of
// the sum of magnitudes (float sums of cols terms in any order). wm: each weight's
// magnitude in the sums the kernel makes (integer weights: the stored bits and the zero
// point's term apart, (|code - min| + |zero point - min|) * scale; else |weight|).
inline bool close(const std::vector<float>& y, const std::vector<float>& wf, const std::vector<double>& wm,
                  const float* x, std::size_t rows, std::size_t cols, std::size_t batch) {
  for (std::size_t k = 0; k < batch; ++k)
    for (std::size_t r = 0; r < rows; ++r) {
      double sum = 0.0, mag = 0.0;
      for (std::size_t c = 0; c < cols; ++c) {
        sum += static_cast<double>(wf[r * cols + c]) * x[k * cols + c];
        mag += wm[r * cols + c] * std::fabs(x[k * cols + c]);
      }
      const double bound = static_cast<double>(cols + 2) * 0x1p-23 * mag + 1e-30;
      if (!(std::fabs(y[k * rows + r] - sum) <= bound)) return false;
    }
  return true;
}

template <class Arch, class Q>
void check(report& rep, std::size_t group, std::size_t rows, std::size_t cols, qtl::pack_order order) {
  const Q q = make<Q>(group);
  const std::string name = std::string(typeid(Q).name()) + " " + std::to_string(rows) + "x" + std::to_string(cols) +
                           (order == qtl::pack_order::split ? " split" : "");
  const std::vector<float> wsrc = normal(rows * cols, static_cast<unsigned>(rows * 31 + cols));
  const auto wq = q.quantize(qtl::matrix_view<const float>(wsrc.data(), rows, cols));
  const auto packed = pack_as(wq, order);
  std::vector<float> wf(rows * cols);
  q.dequantize(wq, qtl::matrix_view<float>(wf.data(), rows, cols));
  std::vector<double> wm(rows * cols);
  for (std::size_t i = 0; i < wm.size(); ++i) {
    wm[i] = std::fabs(static_cast<double>(wf[i]));
    if constexpr (qtl::kernel::integer_weights<Q>) {
      using F = typename Q::format_type;
      const qtl::quant_params& p = wq.params[(i / cols / wq.grid.group.rows) * wq.grid.cols + i % cols / wq.grid.group.cols];
      wm[i] = (std::abs(wq.codes[i] - F::min_code) + std::abs(p.zero_point - F::min_code)) * static_cast<double>(p.scale);
    }
  }
  const qtl::kernel::composed_gemv<Q, Arch> fast(q, qtl::kernel::executor(2));
  const qtl::kernel::composed_gemv<Q, qtl::kernel::scalar> ref(q);
  for (const std::size_t batch : {std::size_t{1}, std::size_t{3}, std::size_t{8}}) {
    // Unaligned activations: one float past an allocation's start.
    const std::vector<float> xbuf = normal(batch * cols + 1, static_cast<unsigned>(batch + cols), 4.0f);
    const std::span<const float> x(xbuf.data() + 1, batch * cols);
    const std::string what = name + " batch " + std::to_string(batch);
    std::vector<float> y(batch * rows, -1.0f), y_ref(batch * rows, -2.0f);
    fast.gemv(packed, x, std::span<float>(y));
    ref.gemv(packed, x, std::span<float>(y_ref));
    rep.expect(close(y, wf, wm, x.data(), rows, cols, batch), what + ": gemv (float) vs double reference");
    rep.expect(close(y_ref, wf, wm, x.data(), rows, cols, batch), what + ": scalar gemv (float) vs double reference");
    std::vector<qtl::bfloat16> xb(x.size());
    std::vector<float> xw(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      xb[i] = qtl::bfloat16(x[i]);
      xw[i] = static_cast<float>(xb[i]);
    }
    fast.gemv(packed, std::span<const qtl::bfloat16>(xb), std::span<float>(y));
    rep.expect(close(y, wf, wm, xw.data(), rows, cols, batch), what + ": gemv (bfloat16) vs double reference");
    if constexpr (qtl::kernel::integer_weights<Q>) {
      const int8_expect expect = int8_reference<Q>(wq, x.data(), batch);
      fast.gemv_int8(packed, x, std::span<float>(y));
      ref.gemv_int8(packed, x, std::span<float>(y_ref));
      rep.expect(within(y, expect), what + ": gemv_int8 vs the formula");
      rep.expect(within(y_ref, expect), what + ": scalar gemv_int8 vs the formula");
    }
  }
}

template <class Arch>
void check_errors(report& rep) {
  using Q = qtl::quantizer<qtl::int4, qtl::symmetric, qtl::per_group<32>>;
  const Q q;
  const std::vector<float> w = normal(4 * 64, 1);
  const auto packed = qtl::packed_tensor<qtl::int4>::pack(q.quantize(qtl::matrix_view<const float>(w.data(), 4, 64)));
  const qtl::kernel::composed_gemv<Q, Arch> k(q);
  std::vector<float> y(4 * 9);
  const std::vector<float> x(64 * 9, 1.0f);
  const auto run = [&](std::size_t xn, std::size_t yn) {
    return error_of([&] { k.gemv(packed, std::span<const float>(x.data(), xn), std::span<float>(y.data(), yn)); });
  };
  const auto run8 = [&](std::size_t xn, std::size_t yn) {
    return error_of(
        [&] { k.gemv_int8(packed, std::span<const float>(x.data(), xn), std::span<float>(y.data(), yn)); });
  };
  rep.expect(run(63, 4) == qtl::errc::shape_mismatch, "x not whole rows");
  rep.expect(run(64 * 9, 36) == qtl::errc::shape_mismatch, "9 activation rows");
  rep.expect(run(128, 7) == qtl::errc::shape_mismatch, "output too small");
  rep.expect(run8(65, 4) == qtl::errc::shape_mismatch, "gemv_int8: x not whole rows");
  rep.expect(run8(128, 7) == qtl::errc::shape_mismatch, "gemv_int8: output too small");
  rep.expect(run(64, 4) == qtl::errc{}, "a good call");
  // Params that do not cover the grid.
  const std::vector<qtl::quant_params> one(1, qtl::quant_params{1.0f, 1.0f, 0});
  rep.expect(error_of([&] {
               const qtl::packed_tensor_view<qtl::int4> bad(packed.view().bytes(), 4, 64, packed.view().grid(), one);
               k.gemv(bad, std::span<const float>(x.data(), 64), std::span<float>(y.data(), 4));
             }) == qtl::errc::shape_mismatch,
             "params short of the grid");
  // A NaN scale in the last group, and a zero point out of the format's range.
  for (const int which : {0, 1}) {
    std::vector<qtl::quant_params> p(packed.view().params().begin(), packed.view().params().end());
    if (which == 0) p.back().scale = std::nanf("");
    else p[3].zero_point = 9;
    const qtl::packed_tensor_view<qtl::int4> bad(packed.view().bytes(), 4, 64, packed.view().grid(), p);
    rep.expect(error_of([&] { k.gemv(bad, std::span<const float>(x.data(), 64), std::span<float>(y.data(), 4)); }) ==
                   qtl::errc::invalid_argument,
               "gemv: invalid params " + std::to_string(which));
    rep.expect(error_of([&] {
                 k.gemv_int8(bad, std::span<const float>(x.data(), 128), std::span<float>(y.data(), 8));
               }) == qtl::errc::invalid_argument,
               "gemv_int8: invalid params " + std::to_string(which));
  }
}

template <class Arch>
std::vector<std::string> failures(std::size_t& checks) {
  using namespace qtl;
  report rep;
  const auto seq = pack_order::sequential;
  // Integer weights: both paths.
  check<Arch, quantizer<int4, symmetric, per_group<>>>(rep, 128, 37, 256, seq);
  check<Arch, quantizer<int4, symmetric, per_group<>>>(rep, 32, 9, 96, seq);
  check<Arch, quantizer<int4, symmetric, per_group<>>>(rep, 48, 5, 144, seq);  // groups not multiples of 32
  check<Arch, quantizer<uint4, affine, per_group<>>>(rep, 64, 11, 192, seq);
  check<Arch, quantizer<uint4, affine, per_channel<0>>>(rep, 0, 6, 100, seq);  // 32-steps and a tail
  check<Arch, quantizer<int4, symmetric, per_group<>>>(rep, 64, 6, 128, pack_order::split);
  check<Arch, quantizer<int8, symmetric, per_channel<0>>>(rep, 0, 13, 160, seq);
  check<Arch, quantizer<uint8, affine, per_group<>>>(rep, 64, 7, 192, seq);
  check<Arch, quantizer<int8, absmax, per_tensor>>(rep, 0, 5, 96, seq);
  check<Arch, quantizer<int_format<3, false>, affine, per_group<>>>(rep, 128, 9, 256, seq);
  check<Arch, quantizer<int_format<3, true>, symmetric, per_channel<1>>>(rep, 0, 4, 40, seq);
  check<Arch, quantizer<int2, symmetric, per_group<>>>(rep, 32, 10, 128, seq);
  check<Arch, quantizer<int2, affine, per_group<>>>(rep, 64, 10, 128, pack_order::split);
  check<Arch, quantizer<ternary, absmean, per_tensor>>(rep, 0, 17, 224, seq);
  check<Arch, quantizer<int_format<6, true>, dead_zone, per_group<>>>(rep, 32, 3, 64, seq);
  // A user's format and scheme (no batch steps), and an integer format under a user's
  // scheme (not mid-tread: float path only).
  check<Arch, quantizer<odd_format, half_scale, per_group<>>>(rep, 32, 7, 96, seq);
  check<Arch, quantizer<int4, half_scale, per_group<>>>(rep, 64, 5, 128, seq);
  // Codebooks and minifloats: the float path.
  check<Arch, quantizer<nf4, codebook, per_group<>>>(rep, 64, 19, 256, seq);
  check<Arch, quantizer<int4, mid_rise, per_group<>>>(rep, 64, 3, 64, seq);  // not mid-tread: float path only
  check<Arch, quantizer<fp8_e4m3, codebook, per_tensor>>(rep, 0, 9, 136, seq);
  // Codebooks chosen at run time (kernel/scheme_for.hpp): registers and gathers.
  check<Arch, quantizer<uint4, lut_codebook, per_group<>>>(rep, 64, 7, 192, seq);
  check<Arch, quantizer<index_format<10>, lut_codebook, per_channel<0>>>(rep, 0, 5, 100, seq);
  check<Arch, quantizer<uint8, lut_codebook, per_group<>>>(rep, 32, 6, 128, pack_order::split);
  check_errors<Arch>(rep);
  checks = rep.checks;
  return rep.failures;
}

}  // namespace qtl_test::gemv_cases
