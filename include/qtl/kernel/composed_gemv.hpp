// qtl::kernel::composed_gemv<Q, Arch>: y = W x for a weight matrix quantized by any
// quantizer<Format, Scheme, Granularity, Rounding> and packed (a packed_tensor, as
// simd_quantizer::quantize_packed writes it), with batch x cols activations (batch
// 1..max_gemv_batch: the small-batch GEMM reads and decodes each weight run once for all
// its activation rows). W is rows x cols (out x in); y is batch x rows.
//   - gemv(w, x, y), x float or bfloat16: each weight decoded in registers by the scheme's
//     batch dequantize (the values dequantize writes), times x, summed in float lanes.
//     Any composition. The float sums run in lane order, not element order. Integer
//     weights under a mid-tread scheme (integer_weights, below) factor each group's scale
//     and zero point out of the lanes instead.
//   - gemv_int8(w, x, y): integer formats (codes are their values: int_format, ternary)
//     under a mid-tread scheme (value = (code - zero_point) * scale: symmetric, affine,
//     absmax, absmean, dead_zone). x is quantized per token to int8 (quantizer<int8,
//     symmetric, per_token>, -127..127); each weight group's dot is exact in int32 lanes,
//     and y = s_x * sum over groups of s_g * (isum_g - off_g * xsum_g), the zero-point term
//     off_g * xsum_g from the group's activation sum. Only the float sums' order is the
//     arch's: the lanes of each group are scaled into float lanes (ggml's order of work).
// Weight bytes are read in place for 4- and 8-bit sequential codes (4-bit int8 path: groups
// of a multiple of 32 values); other widths and split order are unpacked a row at a time.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/simd.hpp"
#include "qtl/format/code_bits.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/code_dot.hpp"
#include "qtl/kernel/code_lanes.hpp"
#include "qtl/kernel/executor.hpp"
#include "qtl/kernel/gemv_batch.hpp"
#include "qtl/kernel/simd_quantizer.hpp"
#include "qtl/pack/bit_pack.hpp"
#include "qtl/pack/packed_tensor.hpp"
#include "qtl/quantizer.hpp"

namespace qtl::kernel {

namespace detail {

template <class F>
constexpr bool codes_are_values() noexcept {
  for (int c = F::min_code; c <= F::max_code; ++c)
    if (F::decode(c) != static_cast<float>(c)) return false;
  return true;
}

template <class S>
constexpr bool mid_tread_scheme() noexcept {
  if constexpr (requires { S::mid_tread; }) return S::mid_tread;
  else return false;
}

}  // namespace detail

// Formats whose codes are their own values (checked at compile time over every code), and
// weights the integer GEMV takes: such codes under a scheme that dequantizes as
// (code - zero_point) * scale.
template <class F>
concept integer_codes = format<F> && requires { typename std::bool_constant<detail::codes_are_values<F>()>; } &&
                        detail::codes_are_values<F>();

template <class Q>
concept integer_weights = composed_quantizer<Q> && integer_codes<typename Q::format_type> &&
                          detail::mid_tread_scheme<typename Q::scheme_type>();

template <composed_quantizer Q, class Arch = default_arch>
class composed_gemv {
 public:
  using format_type = typename Q::format_type;
  using scheme_type = typename Q::scheme_type;
  using arch_type = Arch;
  using F = format_type;
  // How activations are quantized for gemv_int8.
  using activation_quantizer = quantizer<int8, symmetric, per_token>;

  composed_gemv() = default;
  // q: the weights' quantizer (its scheme dequantizes them); exec: who runs the row ranges.
  explicit composed_gemv(Q q, executor exec = executor(1)) : q_(std::move(q)), exec_(std::move(exec)) {}

  // Float activations, weights dequantized in registers.
  void gemv(const packed_tensor_view<F>& w, std::span<const float> x, std::span<float> y) const {
    const std::size_t batch = check(w, x.size(), y.size(), "gemv");
    if (w.rows() == 0) return;
    const std::vector<float> sums = group_sums(w, x.data(), batch);
    const bool ok = by_batch(batch, [&]<std::size_t N>(std::size_t first) {
      const float* xs = sums.empty() ? nullptr : sums.data() + first * w.grid().cols;
      return float_rows<N>(w, x.data() + first * w.cols(), xs, y.data() + first * w.rows());
    });
    if (!ok) bad_params(w);
  }
  // bfloat16 activations, widened to float once.
  void gemv(const packed_tensor_view<F>& w, std::span<const bfloat16> x, std::span<float> y) const {
    check(w, x.size(), y.size(), "gemv");
    std::vector<float> wide(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) wide[i] = static_cast<float>(x[i]);
    gemv(w, std::span<const float>(wide), y);
  }

  // Activations quantized per token to int8, integer dot products.
  void gemv_int8(const packed_tensor_view<F>& w, std::span<const float> x, std::span<float> y) const
    requires integer_weights<Q>
  {
    const std::size_t batch = check(w, x.size(), y.size(), "gemv_int8");
    if (w.rows() == 0) return;
    const simd_quantizer<activation_quantizer, Arch> aq;
    const auto xq = aq.quantize(matrix_view<const float>(x.data(), batch, w.cols()));
    const activations a = prepare(w, xq);
    const bool ok = by_batch(batch, [&]<std::size_t N>(std::size_t first) {
      float* out = y.data() + first * w.rows();
      if (a.nibbles == 64) return int8_rows<N, code_step::nibbles64>(w, a, first, out);
      if (a.nibbles == 32) return int8_rows<N, code_step::nibbles>(w, a, first, out);
      if constexpr (F::bits == 8) return int8_rows<N, code_step::biased>(w, a, first, out);
      else return int8_rows<N, code_step::bytes>(w, a, first, out);
    });
    if (!ok) bad_params(w);
  }

  template <class X>
  void gemv(const packed_tensor<F>& w, std::span<const X> x, std::span<float> y) const {
    gemv(w.view(), x, y);
  }
  void gemv_int8(const packed_tensor<F>& w, std::span<const float> x, std::span<float> y) const
    requires integer_weights<Q>
  {
    gemv_int8(w.view(), x, y);
  }

 private:
  static constexpr bool fast = !std::same_as<Arch, scalar>;

  // Shapes before any work. The params' values are checked as each group is read (one
  // pass over them, not two): bad_params() throws for a bad one, naming it, after the rows
  // (y is then unspecified).
  std::size_t check(const packed_tensor_view<F>& w, std::size_t x_size, std::size_t y_size, const char* what) const {
    const std::size_t batch = detail::checked_batch(what, w.rows(), w.cols(), x_size, y_size);
    if (w.params().size() != w.grid().size())
      qtl::detail::check_params(w.params(), w.grid().size(), F::min_code, F::max_code);  // throws
    return batch;
  }
  [[noreturn]] static void bad_params(const packed_tensor_view<F>& w) {
    qtl::detail::check_params(w.params(), w.grid().size(), F::min_code, F::max_code);
    throw error(errc::invalid_argument, "gemv: invalid quant_params");  // not reached: the check names the group
  }
  static bool valid(const quant_params& p) noexcept {
    return p.scale >= 0.0f && p.scale <= std::numeric_limits<float>::max() &&
           std::abs(p.inv_scale) <= std::numeric_limits<float>::max() && p.zero_point >= F::min_code &&
           p.zero_point <= F::max_code;
  }

  // body.template operator()<N>(first row) for the activation rows in steps of up to 8;
  // false if any body saw bad params.
  template <class Body>
  static bool by_batch(std::size_t batch, Body&& body) {
    bool ok = true;
    for (std::size_t first = 0; first < batch; first += 8) {
      switch (batch - first < 8 ? batch - first : 8) {
        case 1: ok &= body.template operator()<1>(first); break;
        case 2: ok &= body.template operator()<2>(first); break;
        case 3: ok &= body.template operator()<3>(first); break;
        case 4: ok &= body.template operator()<4>(first); break;
        case 5: ok &= body.template operator()<5>(first); break;
        case 6: ok &= body.template operator()<6>(first); break;
        case 7: ok &= body.template operator()<7>(first); break;
        default: ok &= body.template operator()<8>(first); break;
      }
    }
    return ok;
  }

  // body(r, row's first params, buffer) for every row, on the executor's threads; false
  // if any row's params were invalid.
  template <class Body>
  bool for_rows(const packed_tensor_view<F>& w, Body&& body) const {
    std::atomic<bool> ok{true};
    const group_grid& g = w.grid();
    exec_(w.rows(), [&](std::size_t begin, std::size_t end) {
      std::vector<std::uint8_t> buf(w.cols());
      bool fine = true;
      for (std::size_t r = begin; r < end; ++r) fine &= body(r, w.params().data() + (r / g.group.rows) * g.cols, buf.data());
      if (!fine) ok = false;
    });
    return ok;
  }

  // Row r's codes as bytes `bits` (code - min_code): in place for 8-bit sequential rows,
  // else unpacked into buf. nibbles: 4-bit sequential rows read in place as nibbles.
  static const std::uint8_t* row_bits(const packed_tensor_view<F>& w, std::size_t r, bool nibbles,
                                      std::uint8_t* buf) noexcept {
    const std::uint8_t* row = w.bytes().data() + r * w.row_bytes();
    if (nibbles || (F::bits == 8 && w.order() == pack_order::sequential)) return row;
    if constexpr (split_width<F::bits>)
      if (w.order() == pack_order::split) {
        qtl::detail::unpack_split_unchecked<F::bits>(row, w.cols(), w.block(), buf);
        return buf;
      }
    qtl::detail::unpack_sequential_unchecked<F::bits>(row, w.cols(), buf);
    return buf;
  }

  // ---- Float activations: N activation rows x (N x cols) into y (N x rows).
  // Integer weights under a mid-tread scheme factor each group's scale and zero point out
  // (s_g * (sum bits * x - (zero_point - min_code) * sum x)): the lanes convert the stored
  // bits and multiply, nothing more. Other weights go value by value through dequantize.
  static constexpr bool factored = fast && integer_weights<Q>;

  // The activations' sum over each weight group (batch x groups per row), for factored.
  static std::vector<float> group_sums(const packed_tensor_view<F>& w, const float* x, std::size_t batch) {
    if constexpr (!factored) return {};
    const group_grid& g = w.grid();
    std::vector<float> sums(batch * g.cols, 0.0f);
    for (std::size_t k = 0; k < batch; ++k)
      for (std::size_t c = 0; c < w.cols(); ++c) sums[k * g.cols + c / g.group.cols] += x[k * w.cols() + c];
    return sums;
  }

  template <std::size_t N>
  bool float_rows(const packed_tensor_view<F>& w, const float* x, const float* xsum, float* y) const {
    const group_grid& g = w.grid();
    const std::size_t run = g.group.cols;
    // 4-bit sequential codes read as nibbles where every run starts on a whole byte.
    const bool nibbles = F::bits == 4 && w.order() == pack_order::sequential && (run % 2 == 0 || g.cols == 1);
    return for_rows(w, [&](std::size_t r, const quant_params* p, std::uint8_t* buf) {
      const std::uint8_t* bits = row_bits(w, r, nibbles, buf);
      float sum[N] = {};
      bool ok = true;
      if constexpr (factored) {
        lane_sums<N> acc;
        for (std::size_t group = 0; group < g.cols; ++group) {
          const quant_params& q = p[group];
          ok &= valid(q);
          lane_sums<N> part;
          float rest[N] = {};
          float_run<N, true>(bits, nibbles, group * run, run, q, x, w.cols(), part, rest);
          const float off = static_cast<float>(q.zero_point - F::min_code);
          for (std::size_t k = 0; k < N; ++k) {
            acc.add_scaled(k, part, q.scale);
            sum[k] += (rest[k] - off * xsum[k * g.cols + group]) * q.scale;
          }
        }
        for (std::size_t k = 0; k < N; ++k) sum[k] += acc.total(k);
      } else if constexpr (fast) {
        lane_sums<N> acc;
        for (std::size_t group = 0; group < g.cols; ++group) {
          ok &= valid(p[group]);
          float_run<N, false>(bits, nibbles, group * run, run, p[group], x, w.cols(), acc, sum);
        }
        for (std::size_t k = 0; k < N; ++k) sum[k] += acc.total(k);
      } else {
        for (std::size_t group = 0; group < g.cols; ++group) {
          ok &= valid(p[group]);
          float_tail<N, false>(bits, nibbles, group * run, group * run + run, p[group], x, w.cols(), sum);
        }
      }
      for (std::size_t k = 0; k < N; ++k) y[k * w.rows() + r] = sum[k];
      return ok;
    });
  }

  // Float lanes per activation row over a whole weight row (reduced once, at its end); two
  // chains for one or two rows, so that each FMA need not wait for the previous one.
  template <std::size_t N>
  struct lane_sums {
    using floats = simd::floats<Arch>;
    static constexpr std::size_t chains = N <= 2 ? 2 : 1;
    floats acc[N][chains];
    lane_sums() {
      for (auto& row : acc)
        for (auto& a : row) a = floats(0.0f);
    }
    // acc[k] += part[k] * s, chain by chain.
    void add_scaled(std::size_t k, const lane_sums& part, float s) {
      for (std::size_t c = 0; c < chains; ++c) acc[k][c] = xsimd::fma(part.acc[k][c], floats(s), acc[k][c]);
    }
    float total(std::size_t k) const {
      floats t = acc[k][0];
      for (std::size_t c = 1; c < chains; ++c) t += acc[k][c];
      return xsimd::reduce_add(t);
    }
  };

  // acc / sum[k] += the dot of weights [c, c + n) of a row (bits) with activation row k;
  // Raw: of the stored bits themselves (the factored form), else of dequantized values.
  template <std::size_t N, bool Raw>
  void float_run(const std::uint8_t* bits, bool nibbles, std::size_t c, std::size_t n, const quant_params& p,
                 const float* x, std::size_t cols, lane_sums<N>& acc, float (&sum)[N]) const noexcept {
    using floats = simd::floats<Arch>;
    using ints = simd::ints<Arch>;
    constexpr std::size_t lanes = floats::size, chains = lane_sums<N>::chains;
    const auto& s = q_.scheme_policy();
    std::size_t i = c;
    const std::size_t end = c + n;
    for (; i + chains * lanes <= end; i += chains * lanes)
      for (std::size_t h = 0; h < chains; ++h) {
        const std::size_t at = i + h * lanes;
        const ints raw = nibbles ? code_lanes<Arch>::load_nibbles(bits + at / 2) : code_lanes<Arch>::load(bits + at);
        floats v;
        if constexpr (Raw) v = xsimd::batch_cast<float>(raw);
        else v = simd::dequantize<F, scheme_type, typename Q::rounding_type>(s, raw + ints(F::min_code), p);
        for (std::size_t k = 0; k < N; ++k)
          acc.acc[k][h] = xsimd::fma(v, floats::load_unaligned(x + k * cols + at), acc.acc[k][h]);
      }
    float_tail<N, Raw>(bits, nibbles, i, end, p, x, cols, sum);
  }

  // sum[k] += the dot of weights [i, end) with activation row k, one value at a time.
  template <std::size_t N, bool Raw>
  void float_tail(const std::uint8_t* bits, bool nibbles, std::size_t i, std::size_t end, const quant_params& p,
                  const float* x, std::size_t cols, float (&sum)[N]) const noexcept {
    const auto& s = q_.scheme_policy();
    for (; i < end; ++i) {
      const std::uint8_t b = nibbles ? read_sequential<4>(bits, i) : bits[i];
      const float v = Raw ? static_cast<float>(b) : s.template dequantize<F>(bits_to_code<F>(b), p);
      for (std::size_t k = 0; k < N; ++k) sum[k] += v * x[k * cols + i];
    }
  }

  // ---- int8 activations.
  struct activations {
    std::size_t nibbles = 0;           // 4-bit weights read in place: x evens first per 32 or 64
    std::vector<std::int8_t> codes;    // batch x cols
    std::vector<float> scale;          // per activation row
    std::vector<std::int64_t> sums;    // batch x groups per row: sum of the group's codes
  };

  activations prepare(const packed_tensor_view<F>& w, const quantized_tensor<int8>& xq) const {
    const group_grid& g = w.grid();
    const std::size_t cols = w.cols(), run = g.group.cols, batch = xq.rows;
    activations a;
    if (F::bits == 4 && w.order() == pack_order::sequential && run % 32 == 0) a.nibbles = run % 64 == 0 ? 64 : 32;
    a.codes.resize(xq.codes.size());
    a.scale.resize(batch);
    a.sums.assign(batch * g.cols, 0);
    for (std::size_t k = 0; k < batch; ++k) {
      const std::int8_t* in = xq.codes.data() + k * cols;
      std::int8_t* out = a.codes.data() + k * cols;
      a.scale[k] = xq.params[k].scale;
      for (std::size_t c = 0; c < cols; ++c) a.sums[k * g.cols + c / run] += in[c];
      if (!a.nibbles) {
        std::copy(in, in + cols, out);
        continue;
      }
      const std::size_t half = a.nibbles / 2;
      for (std::size_t b = 0; b < cols; b += a.nibbles)
        for (std::size_t j = 0; j < half; ++j) {
          out[b + j] = in[b + 2 * j];
          out[b + half + j] = in[b + 2 * j + 1];
        }
    }
    return a;
  }

  enum class code_step { nibbles, nibbles64, bytes, biased };

  template <std::size_t N, code_step Step>
  bool int8_rows(const packed_tensor_view<F>& w, const activations& a, std::size_t first, float* y) const {
    using D = code_dot<Arch>;
    const group_grid& g = w.grid();
    const std::size_t cols = w.cols(), run = g.group.cols;
    // bits - bias fits int8: 8-bit codes are taken as bits - 128.
    constexpr int bias = Step == code_step::biased ? 128 : 0;
    const std::int8_t* x = a.codes.data() + first * cols;
    const std::int64_t* xsum = a.sums.data() + first * g.cols;
    return for_rows(w, [&](std::size_t r, const quant_params* p, std::uint8_t* buf) {
      const std::uint8_t* bits = row_bits(w, r, Step == code_step::nibbles || Step == code_step::nibbles64, buf);
      typename D::float_type lanes_sum[N];
      float rest[N] = {};  // the zero-point terms and any tails, in group order
      for (auto& f : lanes_sum) f = D::fzero();
      bool ok = true;
      for (std::size_t group = 0; group < g.cols; ++group) {
        const std::size_t c = group * run;
        typename D::acc_type lanes[N];
        for (auto& l : lanes) l = D::zero();
        std::size_t i = c;
        constexpr std::size_t step = Step == code_step::nibbles64 ? 64 : 32;
        for (; i + step <= c + run; i += step)
          for (std::size_t k = 0; k < N; ++k) {
            if constexpr (Step == code_step::nibbles64) D::nibbles64(lanes[k], bits + i / 2, x + k * cols + i);
            else if constexpr (Step == code_step::nibbles) D::nibbles(lanes[k], bits + i / 2, x + k * cols + i);
            else if constexpr (Step == code_step::biased) D::biased(lanes[k], bits + i, x + k * cols + i);
            else D::bytes(lanes[k], bits + i, x + k * cols + i);
          }
        const quant_params& q = p[group];
        ok &= valid(q);
        const std::int64_t off = static_cast<std::int64_t>(q.zero_point) - F::min_code - bias;
        for (std::size_t k = 0; k < N; ++k) {
          D::scaled(lanes_sum[k], lanes[k], q.scale);
          std::int64_t isum = -off * xsum[k * g.cols + group];
          for (std::size_t t = i; t < c + run; ++t) isum += (static_cast<int>(bits[t]) - bias) * x[k * cols + t];
          rest[k] = std::fma(static_cast<float>(isum), q.scale, rest[k]);
        }
      }
      for (std::size_t k = 0; k < N; ++k) y[k * w.rows() + r] = (D::total(lanes_sum[k]) + rest[k]) * a.scale[first + k];
      return ok;
    });
  }

  Q q_{};
  executor exec_{1};
};

}  // namespace qtl::kernel
