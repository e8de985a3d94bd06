// Quantize a weight matrix with a few of qtl's named quantizers, pack the codes and
// compare the reconstruction: the five-minute tour of the library.
#include <qtl/qtl.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

template <class Quantizer>
void report(const char* name, const Quantizer& q, qtl::matrix_view<const float> w) {
  using format = typename Quantizer::format_type;
  const auto codes = q.quantize(w);                                   // codes + params per group
  const auto packed = qtl::packed_tensor<format>::pack(codes);        // format::bits per code
  std::vector<float> back(w.size());
  const qtl::matrix_view<float> out(back.data(), w.rows(), w.cols());
  q.dequantize(packed.unpack(), out);
  // packed codes plus a 32-bit scale and zero point per group
  const double bytes = static_cast<double>(packed.bytes().size() + 8 * packed.params().size());
  std::printf("%-28s %6.2f dB  cos %.5f  max err %.4f  %5.2f bits/weight\n", name, qtl::sqnr_db(w, out),
              qtl::cosine_similarity(w, out), qtl::max_abs_error(w, out), 8.0 * bytes / static_cast<double>(w.size()));
}

int main() {
  constexpr std::size_t rows = 256, cols = 1024;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> weights(rows * cols);
  for (auto& x : weights) x = normal(rng);
  for (std::size_t i = 0; i < weights.size(); i += 4099) weights[i] *= 25.0f;  // outliers
  const qtl::matrix_view<const float> w(weights.data(), rows, cols);

  std::printf("%zu x %zu weights, normal(0, 0.02) with outliers\n", rows, cols);
  report("int8 per-tensor symmetric", qtl::int8_per_tensor_symmetric{}, w);
  report("int8 per-channel affine", qtl::int8_per_channel_affine{}, w);
  report("int4 g128 symmetric", qtl::int4_g128_symmetric{}, w);
  report("int4 g32 symmetric", qtl::int4_g32_symmetric{}, w);
  report("int4 g32 affine", qtl::int4_g32_affine{}, w);
  report("ternary absmean (b1.58)", qtl::ternary_absmean{}, w);
  // A composition of your own: 3-bit codes, groups of 64, stochastic rounding.
  using int3_g64 = qtl::quantizer<qtl::int_format<3, true>, qtl::symmetric, qtl::per_group<64>, qtl::stochastic<>>;
  report("int3 g64 stochastic", int3_g64{}, w);
  // Non-uniform levels: powers of two (a shift per value) and a 4-bit mu-law compander.
  report("pow2 4-bit g32 (log2)", qtl::quantizer<qtl::pow2<4>, qtl::codebook, qtl::per_group<32>>{}, w);
  report("mu-law 4-bit g32", qtl::quantizer<qtl::mu_law<4>, qtl::codebook, qtl::per_group<32>>{}, w);
  return 0;
}
