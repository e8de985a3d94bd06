// qtl::kernel::simd_quantizer<Q, Arch>: any quantizer<Format, Scheme, Granularity,
// Rounding> on SIMD batches, with the same results as Q's scalar reference path, byte for
// byte (codes, params, packed bytes, floats). This file owns the walk (rows, the runs of a
// row that share one group, 32-value steps, scalar tails); the policies own the inner
// steps (their batch forms, or their scalar steps lane by lane where they have none:
// core/simd.hpp).
//   - float input and output take the SIMD path; half, bfloat16 and double go to Q.
//   - Any NaN or Inf hands the whole call to Q, which throws or propagates as it does.
//   - Params from data: granularities whose groups lie within one row (per_token,
//     per_channel<0>, per_group<G>) read each row once (statistics, params and codes of
//     a row while it is in cache); per_tensor and per_channel<1> read the input twice.
//   - quantize_packed writes packed_tensor bytes (sequential or split order) row by row,
//     without a one-byte-per-code copy of the tensor.
// Arch = scalar is Q itself.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "qtl/core/simd.hpp"
#include "qtl/format/code_bits.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/code_lanes.hpp"
#include "qtl/kernel/executor.hpp"
#include "qtl/observer/run_statistics.hpp"
#include "qtl/pack/bit_pack.hpp"
#include "qtl/pack/packed_tensor.hpp"
#include "qtl/quantizer.hpp"

namespace qtl::kernel {

template <class Q>
inline constexpr bool is_quantizer_v = false;
template <class F, class S, class G, class R>
inline constexpr bool is_quantizer_v<quantizer<F, S, G, R>> = true;

// A quantizer<...> composition.
template <class Q>
concept composed_quantizer = is_quantizer_v<Q>;

namespace detail {

// Whether scheme S reads tensor_stats::abs_sum (a scheme that does not say so is assumed to).
template <class S>
constexpr bool needs_abs_sum() noexcept {
  if constexpr (requires { S::needs_abs_sum; }) return S::needs_abs_sum;
  else return true;
}

template <class X>
constexpr bool float_tensor = std::same_as<view_value_t<X>, float>;

}  // namespace detail

template <composed_quantizer Q, class Arch = default_arch>
class simd_quantizer {
 public:
  using format_type = typename Q::format_type;
  using scheme_type = typename Q::scheme_type;
  using granularity_type = typename Q::granularity_type;
  using rounding_type = typename Q::rounding_type;
  using code_type = typename Q::code_type;
  using arch_type = Arch;

  simd_quantizer() = default;
  // exec: who runs the row ranges (a thread count, or any executor: kernel/executor.hpp).
  explicit simd_quantizer(Q q, executor exec = executor(1)) : q_(std::move(q)), exec_(std::move(exec)) {}

  // The scalar reference path this one matches.
  [[nodiscard]] const Q& reference() const noexcept { return q_; }
  [[nodiscard]] group_grid grid(std::size_t rows, std::size_t cols) const { return q_.grid(rows, cols); }

  template <element_tensor X>
  [[nodiscard]] std::vector<tensor_stats> statistics(const X& x) const {
    if constexpr (!fast || !detail::float_tensor<X>) {
      return q_.statistics(x);
    } else {
      const auto m = as_matrix(x);
      const group_grid g = grid(m.rows(), m.cols());
      std::vector<tensor_stats> stats(g.size());
      if (!add_statistics<true>(g, m, stats)) return q_.statistics(x);
      return stats;
    }
  }

  template <element_tensor X>
  [[nodiscard]] std::vector<quant_params> params(const X& x) const {
    if constexpr (!fast || !detail::float_tensor<X>) {
      return q_.params(x);
    } else {
      const auto m = as_matrix(x);
      const group_grid g = grid(m.rows(), m.cols());
      std::vector<tensor_stats> stats(g.size());
      if (!add_statistics<detail::needs_abs_sum<scheme_type>()>(g, m, stats)) return q_.params(x);
      return q_.params(std::span<const tensor_stats>(stats));
    }
  }

  // ---- Codes one byte each, as quantizer::quantize.
  template <element_tensor X>
  [[nodiscard]] quantized_tensor<format_type> quantize(const X& x) const {
    if constexpr (!fast || !detail::float_tensor<X>) return q_.quantize(x);
    else return quantize_rows(x, nullptr, row_codes{});
  }
  template <element_tensor X>
  [[nodiscard]] quantized_tensor<format_type> quantize(const X& x, std::vector<quant_params> p) const {
    if constexpr (!fast || !detail::float_tensor<X>) return q_.quantize(x, std::move(p));
    else return quantize_rows(x, &p, row_codes{});
  }
  template <element_tensor X, code_tensor Codes>
  void quantize_into(const X& x, std::span<const quant_params> p, Codes&& codes) const {
    const auto m = as_matrix(x);
    const auto out = as_matrix(codes);
    if constexpr (!fast || !detail::float_tensor<X> || !std::same_as<view_value_t<Codes>, code_type>) {
      q_.quantize_into(x, p, codes);
    } else {
      require_same_shape(m, out, "quantize: input vs codes");
      const group_grid g = grid(m.rows(), m.cols());
      qtl::detail::check_params(p, g.size(), format_type::min_code, format_type::max_code);
      if (!all_finite(m)) return q_.quantize_into(x, p, codes);
      for_rows(m.rows(), m.cols(), [&](std::size_t r, std::uint8_t* bits) {
        quantize_row(g, m, r, p, bits);
        code_type* row = &out(r, 0);
        for (std::size_t c = 0; c < m.cols(); ++c) row[c] = static_cast<code_type>(bits_to_code<format_type>(bits[c]));
        return true;
      });
    }
  }

  // ---- Codes packed to Format::bits bits in one pass (params from x, or given).
  template <element_tensor X>
  [[nodiscard]] packed_tensor<format_type> quantize_packed(const X& x, pack_order order = pack_order::sequential,
                                                           std::size_t block = 0) const {
    if constexpr (!fast || !detail::float_tensor<X>) return packed_tensor<format_type>::pack(q_.quantize(x), order, block);
    else return quantize_rows(x, nullptr, row_packer{order, block});
  }
  template <element_tensor X>
  [[nodiscard]] packed_tensor<format_type> quantize_packed(const X& x, std::vector<quant_params> p,
                                                           pack_order order = pack_order::sequential,
                                                           std::size_t block = 0) const {
    if constexpr (!fast || !detail::float_tensor<X>)
      return packed_tensor<format_type>::pack(q_.quantize(x, std::move(p)), order, block);
    else return quantize_rows(x, &p, row_packer{order, block});
  }

  // ---- Dequantize codes (unpacked or packed) into float out.
  template <element_tensor Out>
  void dequantize(const quantized_tensor<format_type>& q, Out&& out) const {
    dequantize(q.code_view(), std::span<const quant_params>(q.params), out);
  }
  template <code_tensor Codes, element_tensor Out>
  void dequantize(const Codes& codes, std::span<const quant_params> p, Out&& out) const {
    if constexpr (!fast || !detail::float_tensor<Out> || !std::same_as<view_value_t<Codes>, code_type>) {
      q_.dequantize(codes, p, out);
    } else {
      const auto in = as_matrix(codes);
      const auto y = as_matrix(out);
      require_same_shape(in, y, "dequantize: codes vs output");
      const group_grid g = grid(in.rows(), in.cols());
      qtl::detail::check_params(p, g.size(), format_type::min_code, format_type::max_code);
      const bool ok = for_rows(in.rows(), in.cols(), [&](std::size_t r, std::uint8_t* bits) {
        const code_type* row = &in(r, 0);
        for (std::size_t c = 0; c < in.cols(); ++c) {
          if (row[c] < format_type::min_code || row[c] > format_type::max_code) return false;
          bits[c] = code_to_bits<format_type>(row[c]);
        }
        dequantize_row(g, r, p, bits, &y(r, 0));
        return true;
      });
      if (!ok) q_.dequantize(codes, p, out);  // throws, naming the first bad code
    }
  }
  template <element_tensor Out>
  void dequantize(const packed_tensor_view<format_type>& t, Out&& out) const {
    if constexpr (!fast || !detail::float_tensor<Out>) {
      q_.dequantize(t.unpack(), out);
    } else {
      const auto y = as_matrix(out);
      if (y.rows() != t.rows() || y.cols() != t.cols())
        throw error(errc::shape_mismatch, "dequantize: packed tensor is " + std::to_string(t.rows()) + "x" +
                                              std::to_string(t.cols()) + ", output " + std::to_string(y.rows()) + "x" +
                                              std::to_string(y.cols()));
      const group_grid& g = t.grid();
      qtl::detail::check_params(t.params(), g.size(), format_type::min_code, format_type::max_code);
      // 8- and 4-bit codes of every level, sequential, groups on whole bytes: read in place.
      const bool in_place = t.order() == pack_order::sequential && F::levels == (1 << F::bits) &&
                            (F::bits == 8 || (F::bits == 4 && (g.group.cols % 2 == 0 || g.cols == 1)));
      const bool ok = for_rows(t.rows(), t.cols(), [&](std::size_t r, std::uint8_t* bits) {
        const std::uint8_t* row = t.bytes().data() + r * t.row_bytes();
        if (in_place) {
          if constexpr (F::bits == 4 || F::bits == 8) dequantize_row<F::bits>(g, r, t.params(), row, &y(r, 0));
          return true;
        }
        unpack_row(t, r, bits);
        if (format_type::levels < (1 << format_type::bits) && !codes_in_range(bits, t.cols())) return false;
        dequantize_row(g, r, t.params(), bits, &y(r, 0));
        return true;
      });
      if (!ok) q_.dequantize(t.unpack(), out);  // throws, naming the first bad code
    }
  }
  template <element_tensor Out>
  void dequantize(const packed_tensor<format_type>& t, Out&& out) const {
    dequantize(t.view(), out);
  }

  // ---- Quantize then dequantize, in float (the QAT forward pass).
  template <element_tensor X, element_tensor Out>
  void fake_quantize(const X& x, Out&& out) const {
    fake_quantize(x, std::span<const quant_params>(params(x)), out);
  }
  template <element_tensor X, element_tensor Out>
  void fake_quantize(const X& x, std::span<const quant_params> p, Out&& out) const {
    if constexpr (!fast || !detail::float_tensor<X> || !detail::float_tensor<Out>) {
      q_.fake_quantize(x, p, out);
    } else {
      const auto m = as_matrix(x);
      const auto y = as_matrix(out);
      require_same_shape(m, y, "fake_quantize: input vs output");
      const group_grid g = grid(m.rows(), m.cols());
      qtl::detail::check_params(p, g.size(), format_type::min_code, format_type::max_code);
      if (!all_finite(m)) return q_.fake_quantize(x, p, out);
      for_rows(m.rows(), m.cols(), [&](std::size_t r, std::uint8_t* bits) {
        quantize_row(g, m, r, p, bits);
        dequantize_row(g, r, p, bits, &y(r, 0));
        return true;
      });
    }
  }

 private:
  using F = format_type;
  using floats = simd::floats<Arch>;
  using ints = simd::ints<Arch>;
  static constexpr bool fast = !std::same_as<Arch, scalar>;
  static constexpr std::size_t lanes = floats::size;
  static constexpr std::size_t per32 = 32 / lanes;

  // ---- Statistics: observer/run_statistics.hpp's batch form, run by run.
  // Adds m's rows into stats; false on a non-finite value.
  template <bool AbsSum>
  bool add_statistics(const group_grid& g, matrix_view<const float> m, std::span<tensor_stats> stats) const {
    for (std::size_t r = 0; r < m.rows(); ++r) {
      const float* row = &m(r, 0);
      for (std::size_t group = 0; group < g.cols; ++group) {
        tensor_stats run;
        if (!batch_run_statistics<Arch, AbsSum>(row + group * g.group.cols, g.group.cols, run)) return false;
        stats[(r / g.group.rows) * g.cols + group].merge(run);
      }
    }
    return true;
  }

  static bool all_finite(matrix_view<const float> m) noexcept {
    for (std::size_t r = 0; r < m.rows(); ++r) {
      const float* row = &m(r, 0);
      floats bad(0.0f);
      std::size_t i = 0;
      for (; i + lanes <= m.cols(); i += lanes) {
        const floats v = floats::load_unaligned(row + i);
        bad = bad + (v - v);
      }
      if (!(xsimd::reduce_add(bad) == 0.0f)) return false;
      for (; i < m.cols(); ++i)
        if (!std::isfinite(row[i])) return false;
    }
    return true;
  }

  // ---- The inner steps: x[0, n) to code bits (code - min_code), and back to floats.
  // Out = 8: one byte per code; Out = 4: two codes a byte in sequential order, written
  // straight into a packed row (n a multiple of 32).
  template <int Out = 8>
  void quantize_run(const float* x, std::size_t n, const quant_params& p, std::uint64_t first,
                    std::uint8_t* bits) const noexcept {
    const auto& s = q_.scheme_policy();
    const auto& round = q_.rounding_policy();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
      ints q[per32];
      for (std::size_t k = 0; k < per32; ++k)
        q[k] = simd::quantize<F>(s, floats::load_unaligned(x + i + k * lanes), p, round, first + i + k * lanes) -
               ints(F::min_code);
      if constexpr (Out == 4) code_lanes<Arch>::store_nibbles(q, bits + i / 2);
      else code_lanes<Arch>::store(q, bits + i);
    }
    for (; i < n; ++i) bits[i] = code_to_bits<F>(s.template quantize<F>(x[i], p, round, first + i));
  }

  // In = 8: one byte per code; In = 4: a packed row's nibbles (sequential order).
  template <int In = 8>
  void dequantize_run(const std::uint8_t* bits, std::size_t n, const quant_params& p, float* y) const noexcept {
    const auto& s = q_.scheme_policy();
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes) {
      const ints raw = In == 4 ? code_lanes<Arch>::load_nibbles(bits + i / 2) : code_lanes<Arch>::load(bits + i);
      simd::dequantize<F, scheme_type, rounding_type>(s, raw + ints(F::min_code), p).store_unaligned(y + i);
    }
    for (; i < n; ++i) {
      const std::uint8_t b = In == 4 ? read_sequential<4>(bits, i) : bits[i];
      y[i] = s.template dequantize<F>(bits_to_code<F>(b), p);
    }
  }

  // Row r of m into bits, run by run, with the params of each run's group. prefetch: the
  // row to read next, asked for line by line meanwhile, so that memory keeps streaming
  // while this row (already in cache) is quantized.
  template <int Out = 8>
  void quantize_row(const group_grid& g, matrix_view<const float> m, std::size_t r, std::span<const quant_params> p,
                    std::uint8_t* bits, const float* prefetch = nullptr) const noexcept {
    const float* row = &m(r, 0);
    const std::size_t first = (r / g.group.rows) * g.cols;
    for (std::size_t group = 0; group < g.cols; ++group) {
      const std::size_t c = group * g.group.cols;
      if (prefetch)
        for (std::size_t k = c; k < c + g.group.cols; k += 64 / sizeof(float)) __builtin_prefetch(prefetch + k);
      quantize_run<Out>(row + c, g.group.cols, p[first + group], static_cast<std::uint64_t>(r * m.cols() + c),
                        bits + c * Out / 8);
    }
  }

  template <int In = 8>
  void dequantize_row(const group_grid& g, std::size_t r, std::span<const quant_params> p, const std::uint8_t* bits,
                      float* y) const noexcept {
    const std::size_t first = (r / g.group.rows) * g.cols;
    for (std::size_t group = 0; group < g.cols; ++group) {
      const std::size_t c = group * g.group.cols;
      dequantize_run<In>(bits + c * In / 8, g.group.cols, p[first + group], y + c);
    }
  }

  static bool codes_in_range(const std::uint8_t* bits, std::size_t n) noexcept {
    bool ok = true;
    for (std::size_t c = 0; c < n; ++c) ok &= bits[c] < F::levels;
    return ok;
  }

  // ---- Where quantized rows go: one byte per code, or packed.
  struct row_codes {
    quantized_tensor<F> t;
    void start(std::size_t rows, std::size_t cols, const group_grid& g) {
      t.rows = rows;
      t.cols = cols;
      t.grid = g;
      t.codes.resize(rows * cols);
    }
    static constexpr std::uint8_t* direct(std::size_t, const group_grid&) noexcept { return nullptr; }
    void put(std::size_t r, const std::uint8_t* bits) {
      code_type* row = t.codes.data() + r * t.cols;
      for (std::size_t c = 0; c < t.cols; ++c) row[c] = static_cast<code_type>(bits_to_code<F>(bits[c]));
    }
    quantized_tensor<F> finish(std::vector<quant_params> p) {
      t.params = std::move(p);
      return std::move(t);
    }
  };

  struct row_packer {
    row_packer(pack_order o, std::size_t b) : order(o), block(b) {}
    pack_order order;
    std::size_t block;
    std::size_t rows = 0, cols = 0, row_bytes = 0;
    group_grid grid;
    std::vector<std::uint8_t> bytes;
    void start(std::size_t r, std::size_t c, const group_grid& g) {
      qtl::detail::check_order<F>(order, block, r, c);  // before any work
      rows = r;
      cols = c;
      grid = g;
      row_bytes = packed_size(c, F::bits);
      bytes.resize(rows * row_bytes);
    }
    // Row r's packed bytes when quantize_run can write them itself (8 or 4 bits in
    // sequential order, groups of whole 32-value steps), else nullptr.
    std::uint8_t* direct(std::size_t r, const group_grid& g) noexcept {
      const bool whole_steps = g.group.cols % 32 == 0;
      if (order != pack_order::sequential || !whole_steps || (F::bits != 8 && F::bits != 4)) return nullptr;
      return bytes.data() + r * row_bytes;
    }
    void put(std::size_t r, const std::uint8_t* bits) {
      std::uint8_t* out = bytes.data() + r * row_bytes;
      if constexpr (split_width<F::bits>)
        if (order == pack_order::split) return qtl::detail::pack_split_unchecked<F::bits>(bits, cols, block, out);
      qtl::detail::pack_sequential_unchecked<F::bits>(bits, cols, out);
    }
    packed_tensor<F> finish(std::vector<quant_params> p) {
      return packed_tensor<F>(rows, cols, grid, std::move(p), std::move(bytes), order, block);
    }
  };

  static void unpack_row(const packed_tensor_view<F>& t, std::size_t r, std::uint8_t* bits) noexcept {
    const std::uint8_t* row = t.bytes().data() + r * t.row_bytes();
    if constexpr (split_width<F::bits>)
      if (t.order() == pack_order::split) return qtl::detail::unpack_split_unchecked<F::bits>(row, t.cols(), t.block(), bits);
    qtl::detail::unpack_sequential_unchecked<F::bits>(row, t.cols(), bits);
  }

  // The one quantize walk: params given (p) or from x, rows into sink. Groups within one
  // row: each row's statistics, params and codes while it is in cache.
  template <class X, class Sink>
  auto quantize_rows(const X& x, std::vector<quant_params>* given, Sink sink) const {
    const matrix_view<const float> m = as_matrix(x);
    const group_grid g = grid(m.rows(), m.cols());
    sink.start(m.rows(), m.cols(), g);
    std::vector<quant_params> p;
    const auto fallback = [&] {
      auto ref = given ? q_.quantize(x, std::move(*given)) : q_.quantize(x);
      if constexpr (std::same_as<Sink, row_codes>) return ref;
      else return packed_tensor<F>::pack(ref, sink.order, sink.block);
    };
    if (given) {
      qtl::detail::check_params(*given, g.size(), F::min_code, F::max_code);
      if (!all_finite(m)) return fallback();
      p = std::move(*given);
    } else if (g.group.rows == 1) {
      p.resize(g.size());
      const bool ok = for_rows(m.rows(), m.cols(), [&](std::size_t r, std::uint8_t* bits) {
        tensor_stats stats[max_groups_on_stack];
        std::vector<tensor_stats> more(g.cols > max_groups_on_stack ? g.cols : 0);
        const std::span<tensor_stats> row_stats = more.empty() ? std::span(stats, g.cols) : std::span(more);
        const group_grid row_grid{1, g.cols, g.group};
        const matrix_view<const float> row(&m(r, 0), 1, m.cols());
        if (!add_statistics<detail::needs_abs_sum<scheme_type>()>(row_grid, row, row_stats)) return false;
        for (std::size_t k = 0; k < g.cols; ++k) {
          quant_params& q = p[r * g.cols + k];
          q = q_.scheme_policy().template params<F>(row_stats[k]);
          if (!valid(q)) return false;  // the reference names the group
        }
        put_row(g, m, r, p, bits, sink, r + 1 < m.rows() ? &m(r + 1, 0) : nullptr);
        return true;
      });
      if (!ok) return fallback();
      return sink.finish(std::move(p));
    } else {
      p = params(x);
      qtl::detail::check_params(p, g.size(), F::min_code, F::max_code);
    }
    for_rows(m.rows(), m.cols(), [&](std::size_t r, std::uint8_t* bits) {
      put_row(g, m, r, p, bits, sink);
      return true;
    });
    return sink.finish(std::move(p));
  }

  static constexpr std::size_t max_groups_on_stack = 64;

  // body(r, bits) for rows [0, n) on the executor's threads, each range with its own
  // buffer of cols bytes; false once any body returns false (the rest are skipped).
  template <class Body>
  bool for_rows(std::size_t n, std::size_t cols, Body&& body) const {
    std::atomic<bool> ok{true};
    exec_(n, [&](std::size_t begin, std::size_t end) {
      std::vector<std::uint8_t> bits(cols);
      for (std::size_t r = begin; r < end && ok.load(std::memory_order_relaxed); ++r)
        if (!body(r, bits.data())) ok = false;
    });
    return ok;
  }

  // Row r quantized into the sink: straight into its bytes where it can take them, else
  // through bits.
  template <class Sink>
  void put_row(const group_grid& g, matrix_view<const float> m, std::size_t r, std::span<const quant_params> p,
               std::uint8_t* bits, Sink& sink, const float* prefetch = nullptr) const {
    if (std::uint8_t* out = sink.direct(r, g)) {
      if constexpr (F::bits == 4) return quantize_row<4>(g, m, r, p, out, prefetch);
      else if constexpr (F::bits == 8) return quantize_row<8>(g, m, r, p, out, prefetch);
    }
    quantize_row(g, m, r, p, bits, prefetch);
    sink.put(r, bits);
  }

  static bool valid(const quant_params& q) noexcept {
    return q.scale >= 0.0f && std::isfinite(q.scale) && std::isfinite(q.inv_scale) && q.zero_point >= F::min_code &&
           q.zero_point <= F::max_code;
  }

  Q q_{};
  executor exec_{1};
};

}  // namespace qtl::kernel
