// Uses qtl as a downstream project would: quantize, pack, dequantize, check the error.
#include <qtl/qtl.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  std::vector<float> w(4 * 64);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * static_cast<float>(i));
  const qtl::matrix_view<const float> x(w.data(), 4, 64);

  const qtl::int4_g32_symmetric quantizer;
  const auto codes = quantizer.quantize(x);
  const auto packed = qtl::packed_tensor<qtl::int4>::pack(codes, qtl::pack_order::split, 32);
  std::vector<float> back(w.size());
  quantizer.dequantize(packed.unpack(), qtl::matrix_view<float>(back.data(), 4, 64));

  const double sqnr = qtl::sqnr_db(x, qtl::matrix_view<const float>(back.data(), 4, 64));
  std::printf("qtl %d.%d.%d consumer: int4 g32 SQNR %.2f dB, %zu packed bytes\n", QTL_VERSION_MAJOR,
              QTL_VERSION_MINOR, QTL_VERSION_PATCH, sqnr, packed.bytes().size());
  return sqnr > 15.0 && packed.bytes().size() == w.size() / 2 ? 0 : 1;
}
