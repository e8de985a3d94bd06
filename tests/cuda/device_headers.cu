// Compile check: the QTL_HOST_DEVICE parts of the foundation (16-bit floats, formats,
// rounding, schemes, bit reads) build as CUDA device code with nvcc.
#include <qtl/core/bfloat16.hpp>
#include <qtl/core/half.hpp>
#include <qtl/core/view.hpp>
#include <qtl/format/code_bits.hpp>
#include <qtl/format/int_format.hpp>
#include <qtl/format/ternary.hpp>
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
