// Compile check: the QTL_HOST_DEVICE parts of the foundation (16-bit floats, formats,
// rounding, schemes, bit reads) and of the interchange formats and layouts (minifloats,
// E8M0, MX elements, NF4/FP4, dynamic maps, BitNet's I2_S and GPU W2 addressing) build
// as CUDA device code with nvcc.
#include <qtl/core/bfloat16.hpp>
#include <qtl/core/half.hpp>
#include <qtl/core/view.hpp>
#include <qtl/format/bnb_fp4.hpp>
#include <qtl/format/code_bits.hpp>
#include <qtl/format/dynamic_map.hpp>
#include <qtl/format/e8m0.hpp>
#include <qtl/format/int_format.hpp>
#include <qtl/format/minifloat.hpp>
#include <qtl/format/nf4.hpp>
#include <qtl/format/ternary.hpp>
#include <qtl/layout/bitnet/gpu_w2.hpp>
#include <qtl/layout/bitnet/i2_s.hpp>
#include <qtl/layout/mx.hpp>
#include <qtl/pack/bit_pack.hpp>
#include <qtl/scheme.hpp>

__global__ void quantize_rows(qtl::matrix_view<const float> x, qtl::quant_params p, signed char* codes,
                              unsigned short* halves, const unsigned char* packed, unsigned char* unpacked) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= x.cols()) return;
  const float v = x(0, i);
  halves[i] = static_cast<unsigned short>(qtl::half(v).bits ^ qtl::bfloat16(v).bits);
  int q = qtl::symmetric{}.quantize<qtl::int8>(v, p, qtl::nearest_even{}, i);
  q += qtl::affine{}.quantize<qtl::uint4>(v, p, qtl::stochastic<>{7}, i);
  q += qtl::absmean{}.quantize<qtl::ternary>(v, p, qtl::floor{}, i);
  q += qtl::code_to_bits<qtl::int4>(qtl::mid_rise{}.quantize<qtl::int4>(v, p, qtl::nearest_away{}, i));
  codes[i] = static_cast<signed char>(q);
  unpacked[i] = qtl::read_sequential<3>(packed, i) + qtl::read_split<4>(packed, 32, i);
}

__global__ void decode_formats(const unsigned char* codes, float* out, unsigned char* encoded, const unsigned char* w2,
                               unsigned cols) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned char c = codes[i];
  float v = qtl::fp8_e4m3::decode(c) + qtl::fp8_e5m2::decode(c) + qtl::fp4_e2m1::decode(c & 15);
  v += qtl::nf4::decode(c & 15) + qtl::bnb_fp4::decode(c & 15) + qtl::dynamic_map_signed::decode(c);
  v *= qtl::e8m0::decode(qtl::mx::shared_scale<qtl::fp6_e3m2>(v));
  out[i] = v + qtl::mx::decode_element<qtl::mx::int8_element>(c);
  encoded[i] = qtl::fp8_e4m3::encode(v, qtl::minifloat_overflow::saturate) ^ qtl::nf4::encode(v) ^
               qtl::mx::encode_element<qtl::fp4_e2m1>(v) ^ qtl::bitnet::i2_s::encode(qtl::bitnet::i2_s::decode(c & 3));
  const unsigned r = i / cols, col = i % cols;
  const unsigned char byte = w2[qtl::bitnet::gpu_w2::byte_of(r, col, cols)];
  encoded[i] ^= static_cast<unsigned char>((byte >> qtl::bitnet::gpu_w2::shift_of(col)) & 3);
}
