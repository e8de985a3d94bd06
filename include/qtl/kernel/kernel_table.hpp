// The kernels of one arch as a table of function pointers: what runtime dispatch picks
// between. make_table<Arch>() builds it (compile-time arch: make_table<default_arch>());
// kernel/dispatch.hpp selects one for the running CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/block_dot.hpp"
#include "qtl/kernel/block_quantize.hpp"
#include "qtl/kernel/dequantize_step.hpp"
#include "qtl/kernel/group_dot.hpp"
#include "qtl/kernel/i2_s_dot.hpp"
#include "qtl/kernel/i2_s_pack.hpp"
#include "qtl/kernel/nf4_dot.hpp"
#include "qtl/kernel/simd_block_quantize.hpp"
#include "qtl/kernel/tl_dot.hpp"
#include "qtl/kernel/arm/block_dot.hpp"
#include "qtl/kernel/arm/block_quantize.hpp"
#include "qtl/kernel/arm/dequantize.hpp"
#include "qtl/kernel/arm/group_dot.hpp"
#include "qtl/kernel/arm/i2_s_dot.hpp"
#include "qtl/kernel/arm/nf4_dot.hpp"
#include "qtl/kernel/arm/tl_dot.hpp"
#include "qtl/kernel/x86/block_dot.hpp"
#include "qtl/kernel/x86/block_quantize.hpp"
#include "qtl/kernel/x86/dequantize.hpp"
#include "qtl/kernel/x86/group_dot.hpp"
#include "qtl/kernel/x86/i2_s_dot.hpp"
#include "qtl/kernel/x86/nf4_dot.hpp"
#include "qtl/kernel/x86/tl_dot.hpp"
#include "qtl/layout/ggml/blocks.hpp"

namespace qtl::kernel {

// Rows [begin, end) of y = W a (see gemv_rows in block_dot.hpp).
template <class W, class A>
using gemv_fn = void (*)(const W* w, std::size_t rows, std::size_t blocks_per_row, const A* a, std::size_t batch,
                         float* y, std::size_t begin, std::size_t end) noexcept;

// Row groups [begin, end) of y = W a for prepared weights (see gemv_groups in group_dot.hpp).
template <class B>
using group_gemv_fn = void (*)(const row_group<B>* w, std::size_t rows, std::size_t blocks_per_row,
                               const group_activation<B>* a, const std::int32_t* a_sums, std::size_t batch, float* y,
                               std::size_t begin, std::size_t end) noexcept;

// Rows [begin, end) of y = W a for BitNet I2_S weights (see i2_s_gemv_rows in i2_s_dot.hpp).
using i2_s_gemv_fn = void (*)(const std::uint8_t* w, float w_scale, std::size_t rows, std::size_t cols,
                              const std::int8_t* a, const float* a_scales, std::size_t batch, float* y,
                              std::size_t begin, std::size_t end) noexcept;

// Rows [begin, end) of y = W a for TL weights and the activations' tables (see
// tl_gemv_rows in tl_dot.hpp).
using tl_gemv_fn = void (*)(const std::uint8_t* w, float w_scale, std::size_t rows, std::size_t cols,
                            const std::uint8_t* lut, const float* a_scales, std::size_t batch, float* y,
                            std::size_t begin, std::size_t end) noexcept;
// blocks ggml blocks into blocks * B::elements floats (see dequantize_blocks).
template <class B>
using dequantize_fn = void (*)(const B* in, std::size_t blocks, float* out) noexcept;

// blocks I2_S blocks of 128 codes times the tensor's scale (see dequantize_i2_s_blocks).
using i2_s_dequantize_fn = void (*)(const std::uint8_t* codes, std::size_t blocks, float scale, float* out) noexcept;

// n bitsandbytes 4-bit values, packed two a byte, absmax per blocksize (see dequantize_4bit_values).
using dequantize_4bit_fn = void (*)(const std::uint8_t* packed, const float* absmax, std::size_t blocksize,
                                    std::size_t n, float* out) noexcept;

// n one-byte minifloat codes (see minifloat_decode_values).
using decode_fn = void (*)(const std::uint8_t* codes, std::size_t n, float* out) noexcept;
// Blocks [0, n) of float values (finite) into ggml blocks (see quantize_blocks in block_quantize.hpp).
template <class B>
using quantize_fn = void (*)(const float* x, B* out, std::size_t n) noexcept;

// BitNet per-token int8 activations (see quantize_tokens in block_quantize.hpp).
using quantize_tokens_fn = void (*)(const float* x, std::size_t rows, std::size_t cols, std::size_t row_stride,
                                    std::int8_t* codes, std::size_t codes_stride, float* scales) noexcept;

// n float values (finite) into bitsandbytes 4-bit codes, packed two a byte, and one absmax
// per blocksize (see quantize_4bit_values in block_quantize.hpp).
using quantize_4bit_fn = void (*)(const float* x, std::size_t n, std::size_t blocksize, std::uint8_t* packed,
                                  float* absmax) noexcept;
// rows x cols ternary codes (rows `stride` apart) into I2_S code bytes (see pack_i2_s_rows
// in i2_s_pack.hpp); whether n codes are -1..1; BitNet's ternary weight codes of n floats.
using i2_s_pack_fn = void (*)(const std::int8_t* codes, std::size_t rows, std::size_t cols, std::size_t stride,
                              std::uint8_t* out) noexcept;
using ternary_check_fn = bool (*)(const std::int8_t* codes, std::size_t n) noexcept;
using ternary_codes_fn = void (*)(const float* w, std::size_t n, float s, std::int8_t* codes) noexcept;

// Minifloat element codes of x[0, n) (see encode_minifloat in block_quantize.hpp).
using encode_fn = void (*)(const float* x, std::uint8_t* codes, std::size_t n, bool saturate) noexcept;
// Rows [begin, end) of y = W x for bitsandbytes 4-bit weights (NF4 or FP4: `levels`) and
// float or bfloat16 activations (see gemv_4bit_rows in nf4_dot.hpp).
template <class X>
using gemv_4bit_fn = void (*)(const std::uint8_t* packed, const float* absmax, const float* levels,
                              std::size_t blocksize, std::size_t rows, std::size_t cols, const X* x, std::size_t batch,
                              float* y, std::size_t begin, std::size_t end) noexcept;

struct kernel_table {
  arch_id arch = arch_id::scalar;
  gemv_fn<ggml::block_q8_0, ggml::block_q8_0> gemv_q8_0 = nullptr;   // W8A8
  gemv_fn<ggml::block_q4_0, ggml::block_q8_0> gemv_q4_0 = nullptr;   // W4A8
  gemv_fn<ggml::block_q4_1, ggml::block_q8_1> gemv_q4_1 = nullptr;   // W4A8 with a min
  gemv_fn<ggml::block_q5_0, ggml::block_q8_0> gemv_q5_0 = nullptr;   // W5A8
  gemv_fn<ggml::block_q5_1, ggml::block_q8_1> gemv_q5_1 = nullptr;   // W5A8 with a min
  gemv_fn<ggml::block_iq4_nl, ggml::block_q8_0> gemv_iq4_nl = nullptr;  // non-linear W4A8
  gemv_fn<ggml::block_tq2_0, ggml::block_q8_k> gemv_tq2_0 = nullptr;  // ternary W2A8
  gemv_fn<ggml::block_q2_k, ggml::block_q8_k> gemv_q2_k = nullptr;    // K-quants x Q8_K
  gemv_fn<ggml::block_q3_k, ggml::block_q8_k> gemv_q3_k = nullptr;
  gemv_fn<ggml::block_q4_k, ggml::block_q8_k> gemv_q4_k = nullptr;
  gemv_fn<ggml::block_q5_k, ggml::block_q8_k> gemv_q5_k = nullptr;
  gemv_fn<ggml::block_q6_k, ggml::block_q8_k> gemv_q6_k = nullptr;
  group_gemv_fn<ggml::block_q8_0> gemv_q8_0_prepared = nullptr;     // the same, 8 rows interleaved
  group_gemv_fn<ggml::block_q4_0> gemv_q4_0_prepared = nullptr;
  group_gemv_fn<ggml::block_iq4_nl> gemv_iq4_nl_prepared = nullptr;
  group_gemv_fn<ggml::block_q4_k> gemv_q4_k_prepared = nullptr;
  i2_s_gemv_fn gemv_i2_s = nullptr;                                   // BitNet I2_S x int8
  tl_gemv_fn gemv_tl = nullptr;                                       // BitNet TL x int8 tables
  dequantize_fn<ggml::block_q8_0> dequantize_q8_0 = nullptr;    // quantized -> float32, bit-exact
  dequantize_fn<ggml::block_q4_0> dequantize_q4_0 = nullptr;    // with the scalar reference
  dequantize_fn<ggml::block_q4_1> dequantize_q4_1 = nullptr;
  dequantize_fn<ggml::block_iq4_nl> dequantize_iq4_nl = nullptr;
  dequantize_fn<ggml::block_tq2_0> dequantize_tq2_0 = nullptr;
  i2_s_dequantize_fn dequantize_i2_s = nullptr;
  dequantize_4bit_fn dequantize_nf4 = nullptr;
  dequantize_4bit_fn dequantize_fp4 = nullptr;   // bitsandbytes' FP4
  decode_fn dequantize_fp8_e4m3 = nullptr;
  decode_fn dequantize_fp8_e5m2 = nullptr;
  quantize_fn<ggml::block_q8_0> quantize_q8_0 = nullptr;              // activations of Q8_0, Q4_0, IQ4_NL
  quantize_fn<ggml::block_q8_1> quantize_q8_1 = nullptr;              // activations of Q4_1
  quantize_fn<ggml::block_q8_k> quantize_q8_k = nullptr;              // activations of TQ2_0
  quantize_tokens_fn quantize_i8_per_token = nullptr;                 // BitNet activations
  quantize_fn<ggml::block_q4_0> quantize_q4_0 = nullptr;              // weights
  quantize_fn<ggml::block_q4_1> quantize_q4_1 = nullptr;
  quantize_fn<ggml::block_tq2_0> quantize_tq2_0 = nullptr;
  quantize_4bit_fn quantize_nf4 = nullptr;                            // bitsandbytes NF4 weights
  quantize_4bit_fn quantize_fp4 = nullptr;                            // bitsandbytes FP4 weights
  quantize_fn<ggml::block_iq4_nl> quantize_iq4_nl = nullptr;          // llama-quantize's scale search
  i2_s_pack_fn pack_i2_s = nullptr;                                   // BitNet weights, x86 I2_S
  ternary_check_fn all_ternary = nullptr;                             // pack_i2_s's pre-pass
  ternary_codes_fn quantize_ternary = nullptr;                        // bitnet::quantize_weight per value
  encode_fn encode_fp8_e4m3 = nullptr;                                // FP8 element codes
  encode_fn encode_fp8_e5m2 = nullptr;
  bool (*all_finite)(const float* x, std::size_t n) noexcept = nullptr;  // the checks' pre-pass
  gemv_4bit_fn<float> gemv_4bit_f32 = nullptr;                        // bnb NF4/FP4 x float
  gemv_4bit_fn<bfloat16> gemv_4bit_bf16 = nullptr;                    // bnb NF4/FP4 x bfloat16
};

// Not inline: the runtime-dispatch sources (src/dispatch/) instantiate it once per arch
// in a translation unit compiled for that arch; elsewhere it is declared extern.
template <class Arch>
kernel_table make_table() {
  kernel_table t;
  t.arch = id_of<Arch>();
  t.gemv_q8_0 = &gemv_rows<Arch, ggml::block_q8_0, ggml::block_q8_0>;
  t.gemv_q4_0 = &gemv_rows<Arch, ggml::block_q4_0, ggml::block_q8_0>;
  t.gemv_q4_1 = &gemv_rows<Arch, ggml::block_q4_1, ggml::block_q8_1>;
  t.gemv_q5_0 = &gemv_rows<Arch, ggml::block_q5_0, ggml::block_q8_0>;
  t.gemv_q5_1 = &gemv_rows<Arch, ggml::block_q5_1, ggml::block_q8_1>;
  t.gemv_iq4_nl = &gemv_rows<Arch, ggml::block_iq4_nl, ggml::block_q8_0>;
  t.gemv_tq2_0 = &gemv_rows<Arch, ggml::block_tq2_0, ggml::block_q8_k>;
  t.gemv_q2_k = &gemv_rows<Arch, ggml::block_q2_k, ggml::block_q8_k>;
  t.gemv_q3_k = &gemv_rows<Arch, ggml::block_q3_k, ggml::block_q8_k>;
  t.gemv_q4_k = &gemv_rows<Arch, ggml::block_q4_k, ggml::block_q8_k>;
  t.gemv_q5_k = &gemv_rows<Arch, ggml::block_q5_k, ggml::block_q8_k>;
  t.gemv_q6_k = &gemv_rows<Arch, ggml::block_q6_k, ggml::block_q8_k>;
  t.gemv_q8_0_prepared = &gemv_groups<Arch, ggml::block_q8_0>;
  t.gemv_q4_0_prepared = &gemv_groups<Arch, ggml::block_q4_0>;
  t.gemv_iq4_nl_prepared = &gemv_groups<Arch, ggml::block_iq4_nl>;
  t.gemv_q4_k_prepared = &gemv_groups<Arch, ggml::block_q4_k>;
  t.gemv_i2_s = &i2_s_gemv_rows<Arch>;
  t.gemv_tl = &tl_gemv_rows<Arch>;
  t.dequantize_q8_0 = &dequantize_blocks<Arch, ggml::block_q8_0>;
  t.dequantize_q4_0 = &dequantize_blocks<Arch, ggml::block_q4_0>;
  t.dequantize_q4_1 = &dequantize_blocks<Arch, ggml::block_q4_1>;
  t.dequantize_iq4_nl = &dequantize_blocks<Arch, ggml::block_iq4_nl>;
  t.dequantize_tq2_0 = &dequantize_blocks<Arch, ggml::block_tq2_0>;
  t.dequantize_i2_s = &dequantize_i2_s_blocks<Arch>;
  t.dequantize_nf4 = &dequantize_4bit_values<Arch, nf4>;
  t.dequantize_fp4 = &dequantize_4bit_values<Arch, bnb_fp4>;
  t.dequantize_fp8_e4m3 = &minifloat_decode_values<Arch, fp8_e4m3>;
  t.dequantize_fp8_e5m2 = &minifloat_decode_values<Arch, fp8_e5m2>;
  t.quantize_q8_0 = &quantize_blocks<Arch, ggml::block_q8_0>;
  t.quantize_q8_1 = &quantize_blocks<Arch, ggml::block_q8_1>;
  t.quantize_q8_k = &quantize_blocks<Arch, ggml::block_q8_k>;
  t.quantize_i8_per_token = &quantize_tokens<Arch>;
  t.quantize_q4_0 = &quantize_blocks<Arch, ggml::block_q4_0>;
  t.quantize_q4_1 = &quantize_blocks<Arch, ggml::block_q4_1>;
  t.quantize_tq2_0 = &quantize_blocks<Arch, ggml::block_tq2_0>;
  t.quantize_nf4 = &quantize_4bit_values<Arch, nf4>;
  t.quantize_fp4 = &quantize_4bit_values<Arch, bnb_fp4>;
  t.quantize_iq4_nl = &quantize_blocks<Arch, ggml::block_iq4_nl>;
  t.pack_i2_s = &pack_i2_s_rows<Arch>;
  t.all_ternary = &all_ternary<Arch>;
  t.quantize_ternary = &ternary_weight_codes<Arch>;
  t.encode_fp8_e4m3 = &encode_minifloat<Arch, fp8_e4m3>;
  t.encode_fp8_e5m2 = &encode_minifloat<Arch, fp8_e5m2>;
  t.all_finite = &all_finite<Arch>;
  t.gemv_4bit_f32 = &gemv_4bit_rows<Arch, float>;
  t.gemv_4bit_bf16 = &gemv_4bit_rows<Arch, bfloat16>;
  return t;
}

#if defined(QTL_RUNTIME_DISPATCH)
// Built by qtl_add_runtime_dispatch() in translation units with each arch's flags.
extern template kernel_table make_table<scalar>();
#if defined(__x86_64__) || defined(_M_X64)
extern template kernel_table make_table<avx2>();
extern template kernel_table make_table<avx512_vnni>();
#endif
#if defined(__aarch64__)
extern template kernel_table make_table<neon>();
#endif
#endif

}  // namespace qtl::kernel
