// Runtime dispatch of composed kernels: the quantize, dequantize and GEMVs of one
// quantizer<F, S, G, R> for one arch, as a table of function pointers, and the table of
// the best arch the running CPU supports (or the one QTL_ARCH names).
//
// Without CMake's help a program gets the compositions of the arch its own flags
// compile (default_arch) and scalar. qtl_add_composed_dispatch(target NAME n TYPES ...)
// (cmake/qtlDispatch.cmake) compiles the listed quantizers for every arch of the
// platform, each in a source with that arch's flags, and writes a header n.hpp that
// declares them: include it (instead of this header) wherever those compositions are
// selected, so that every translation unit sees the same declarations.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/core/quant_params.hpp"
#include "qtl/core/view.hpp"
#include "qtl/format/int_format.hpp"
#include "qtl/granularity.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/composed_gemv.hpp"
#include "qtl/kernel/executor.hpp"
#include "qtl/kernel/simd_quantizer.hpp"
#include "qtl/pack/packed_tensor.hpp"
#include "qtl/quantized_tensor.hpp"

namespace qtl::kernel {

// The composed kernels of quantizer type Q for one arch. Each entry takes the quantizer
// (its runtime state: a dynamic group size, a codebook) and who runs the row ranges.
template <composed_quantizer Q>
struct composed_kernels {
  using F = typename Q::format_type;
  arch_id arch = arch_id::scalar;
  // simd_quantizer<Q, arch>::quantize: one code a byte, params from x
  quantized_tensor<F> (*quantize)(const Q& q, matrix_view<const float> x, const executor& exec) = nullptr;
  // simd_quantizer<Q, arch>::dequantize of those codes
  void (*dequantize)(const Q& q, const quantized_tensor<F>& codes, matrix_view<float> out, const executor& exec) = nullptr;
  // simd_quantizer<Q, arch>::quantize_packed
  packed_tensor<F> (*quantize_packed)(const Q& q, matrix_view<const float> x, pack_order order,
                                      const executor& exec) = nullptr;
  // simd_quantizer<Q, arch>::dequantize from packed codes
  void (*dequantize_packed)(const Q& q, const packed_tensor_view<F>& w, matrix_view<float> out,
                            const executor& exec) = nullptr;
  // composed_gemv<Q, arch>::gemv (float activations)
  void (*gemv)(const Q& q, const packed_tensor_view<F>& w, std::span<const float> x, std::span<float> y,
               const executor& exec) = nullptr;
  // composed_gemv<Q, arch>::gemv_int8; null unless integer_weights<Q>
  void (*gemv_int8)(const Q& q, const packed_tensor_view<F>& w, std::span<const float> x, std::span<float> y,
                    const executor& exec) = nullptr;
};

namespace detail {

template <class Q, class Arch>
struct composed_entries {
  using F = typename Q::format_type;
  static quantized_tensor<F> quantize(const Q& q, matrix_view<const float> x, const executor& exec) {
    return simd_quantizer<Q, Arch>(q, exec).quantize(x);
  }
  static void dequantize(const Q& q, const quantized_tensor<F>& codes, matrix_view<float> out, const executor& exec) {
    simd_quantizer<Q, Arch>(q, exec).dequantize(codes, out);
  }
  static packed_tensor<F> quantize_packed(const Q& q, matrix_view<const float> x, pack_order order,
                                          const executor& exec) {
    return simd_quantizer<Q, Arch>(q, exec).quantize_packed(x, order);
  }
  static void dequantize_packed(const Q& q, const packed_tensor_view<F>& w, matrix_view<float> out,
                                const executor& exec) {
    simd_quantizer<Q, Arch>(q, exec).dequantize(w, out);
  }
  static void gemv(const Q& q, const packed_tensor_view<F>& w, std::span<const float> x, std::span<float> y,
                   const executor& exec) {
    composed_gemv<Q, Arch>(q, exec).gemv(w, x, y);
  }
  static void gemv_int8(const Q& q, const packed_tensor_view<F>& w, std::span<const float> x, std::span<float> y,
                        const executor& exec) {
    composed_gemv<Q, Arch>(q, exec).gemv_int8(w, x, y);
  }
};

// The inline members of qtl's own types that the SIMD paths use and the scalar path does
// not (constructors, accessors). A linker keeps one copy of each for the whole program,
// the first it sees: the generated baseline source instantiates this (never called) for
// every listed Q and comes first, so that copy is the baseline one
// (tests/dispatch/isolation.sh checks it).
template <composed_quantizer Q>
void baseline_copies(const Q& q) {
  using F = typename Q::format_type;
  std::vector<quant_params> params(1);
  std::vector<group_grid> grids(1);  // and the group_shape inside
  const packed_tensor<F> packed(1, 1, grids[0], params, std::vector<std::uint8_t>(1));
  static_cast<void>(packed.view().order());
  quantized_tensor<F> codes;
  [[maybe_unused]] const quantized_tensor<F> moved(std::move(codes));
  quantized_tensor<int8> activations;
  [[maybe_unused]] const quantized_tensor<int8> moved_activations(std::move(activations));
  static_cast<void>(q.scheme_policy());
  static_cast<void>(q.rounding_policy());
  const typename composed_gemv<Q, scalar>::activation_quantizer a;
  static_cast<void>(a.scheme_policy());
  static_cast<void>(a.rounding_policy());
}

}  // namespace detail

// Not inline: qtl_add_composed_dispatch() instantiates it once per arch in a translation
// unit compiled for that arch; its generated header declares those extern.
template <composed_quantizer Q, class Arch>
composed_kernels<Q> make_composed_kernels() {
  using E = detail::composed_entries<Q, Arch>;
  composed_kernels<Q> k;
  k.arch = id_of<Arch>();
  k.quantize = &E::quantize;
  k.dequantize = &E::dequantize;
  k.quantize_packed = &E::quantize_packed;
  k.dequantize_packed = &E::dequantize_packed;
  k.gemv = &E::gemv;
  if constexpr (integer_weights<Q>) k.gemv_int8 = &E::gemv_int8;
  return k;
}

// Whether Q is compiled for every arch of the platform: set by the header that
// qtl_add_composed_dispatch() writes.
template <class Q>
inline constexpr bool runtime_dispatched = false;

// The archs whose kernels for Q this program contains, best first.
template <composed_quantizer Q>
std::vector<arch_id> composed_archs() {
  if constexpr (runtime_dispatched<Q>) return platform_archs();
  else return archs_with<default_arch>();
}

// Q's kernels for arch a; errc::unsupported if they are not compiled in or the CPU lacks a.
template <composed_quantizer Q>
composed_kernels<Q> composed_kernels_for(arch_id a) {
  bool compiled = false;
  for (const arch_id c : composed_archs<Q>()) compiled = compiled || c == a;
  if (!compiled || !cpu_supports(a))
    throw error(errc::unsupported, "composed kernels for arch " + std::string(arch_name(a)) +
                                       (compiled ? " are not supported by this CPU"
                                                 : " are not compiled into this program (list the quantizer in "
                                                   "qtl_add_composed_dispatch)"));
  if (a == arch_id::scalar) return make_composed_kernels<Q, scalar>();
  if constexpr (runtime_dispatched<Q>) {
#if defined(__x86_64__) || defined(_M_X64)
    return a == arch_id::avx512_vnni ? make_composed_kernels<Q, avx512_vnni>() : make_composed_kernels<Q, avx2>();
#elif defined(__aarch64__)
    return make_composed_kernels<Q, neon>();
#endif
  }
  return make_composed_kernels<Q, default_arch>();
}

// QTL_ARCH if set (an error if Q's kernels for it cannot run here), else the best arch.
template <composed_quantizer Q>
composed_kernels<Q> select_composed_kernels() {
  if (const char* forced = std::getenv("QTL_ARCH"); forced != nullptr && *forced != '\0')
    return composed_kernels_for<Q>(parse_arch(forced));
  for (const arch_id a : composed_archs<Q>())
    if (cpu_supports(a)) return composed_kernels_for<Q>(a);
  return composed_kernels_for<Q>(arch_id::scalar);
}

}  // namespace qtl::kernel
