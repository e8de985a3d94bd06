// Learned scalar codebooks with qtl: the optimal 3-bit quantizer of a Gaussian (Lloyd-Max)
// against the best uniform one, weighted 1-D k-means on a heavy-tailed sample, and a
// learned 4-bit codebook with per-group scales in quantizer<> (lut_codebook, on the SIMD
// kernel) against NF4; prints the levels and the signal-to-noise ratios on fresh data.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "qtl/codebook/lloyd_max.hpp"
#include "qtl/codebook/lut_codebook.hpp"
#include "qtl/codebook/scalar_codebook.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/kernel/simd_quantizer.hpp"

namespace {

// Signal-to-noise ratio of x coded with book, each value's error weighted by x^power.
double snr_db(const std::vector<float>& x, const qtl::scalar_codebook& book, int power = 0) {
  const auto y = book.decode(book.encode(x));
  double signal = 0, noise = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double w = std::pow(double(x[i]), power);
    signal += w * x[i] * x[i], noise += w * (x[i] - y[i]) * (x[i] - y[i]);
  }
  return 10 * std::log10(signal / noise);
}

double snr_db(const std::vector<float>& x, const std::vector<float>& y) {
  double signal = 0, noise = 0;
  for (std::size_t i = 0; i < x.size(); ++i) signal += double(x[i]) * x[i], noise += double(x[i] - y[i]) * (x[i] - y[i]);
  return 10 * std::log10(signal / noise);
}

// x quantized and dequantized with q on this build's SIMD kernel.
template <class Q>
std::vector<float> round_trip(const Q& q, const std::vector<float>& x) {
  std::vector<float> y(x.size());
  qtl::kernel::simd_quantizer<Q>(q).fake_quantize(x, y);
  return y;
}

void print(const char* name, const qtl::scalar_codebook& book, const std::vector<float>& x) {
  std::printf("%-22s SNR %5.2f dB  levels", name, snr_db(x, book));
  for (const float l : book.levels()) std::printf(" %6.3f", l);
  std::printf("\n");
}

}  // namespace

int main() {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(100000);
  for (auto& v : x) v = normal(rng);

  // Lloyd-Max for N(0, 1): Max's 1960 levels, 14.62 dB. The best uniform 8-level quantizer
  // of a Gaussian has step 0.586 (also Max's table): 0.35 dB less.
  const auto gauss = qtl::lloyd_max::design(qtl::lloyd_max::gaussian{}, 8);
  print("Lloyd-Max N(0,1)", gauss.codebook(), x);
  std::vector<float> uniform(8);
  for (int i = 0; i < 8; ++i) uniform[static_cast<std::size_t>(i)] = 0.586f * (static_cast<float>(i) - 3.5f);
  print("uniform, step 0.586", qtl::scalar_codebook(uniform), x);

  // Weighted 1-D k-means: 16 levels for a heavy-tailed sample, unweighted and with each
  // value weighted by its square. Each wins on the error it was fitted for.
  std::student_t_distribution<float> heavy(3.0f);
  std::vector<float> sample(50000), weight(sample.size());
  for (std::size_t i = 0; i < sample.size(); ++i) sample[i] = heavy(rng), weight[i] = sample[i] * sample[i];
  const auto fitted = qtl::lloyd_max::fit(sample, weight, 16);
  const auto unweighted = qtl::lloyd_max::fit(sample, 16);
  std::vector<float> fresh(sample.size());
  for (auto& v : fresh) v = heavy(rng);
  std::printf("k-means, 16 levels, Student t(3)   plain SNR   SNR weighted by x^2\n");
  std::printf("  unweighted fit (%3d iterations)  %6.2f dB  %6.2f dB\n", unweighted.iterations,
              snr_db(fresh, unweighted.codebook()), snr_db(fresh, unweighted.codebook(), 2));
  std::printf("  weighted fit   (%3d iterations)  %6.2f dB  %6.2f dB\n", fitted.iterations,
              snr_db(fresh, fitted.codebook()), snr_db(fresh, fitted.codebook(), 2));

  // A 4-bit codebook for weights in groups of 64, each group scaled by its absmax: Lloyd-Max
  // fitted to weights divided by their group's absmax (what the codebook will see), in
  // quantizer<> through lut_codebook, against NF4's fixed levels in the same places.
  constexpr std::size_t group = 64;
  std::vector<float> normalized(1 << 16);
  for (auto& v : normalized) v = normal(rng);
  for (std::size_t g = 0; g < normalized.size(); g += group) {
    float absmax = 0;
    for (std::size_t i = g; i < g + group; ++i) absmax = std::max(absmax, std::abs(normalized[i]));
    for (std::size_t i = g; i < g + group; ++i) normalized[i] /= absmax;
  }
  const qtl::lut_codebook learned(qtl::lloyd_max::fit(normalized, 16).codebook());
  const qtl::quantizer<qtl::uint4, qtl::lut_codebook, qtl::per_group<group>> lut_q{learned};
  const qtl::quantizer<qtl::nf4, qtl::codebook, qtl::per_group<group>> nf4_q;
  std::vector<float> weights(1 << 16);
  for (auto& v : weights) v = normal(rng);
  const double lut_snr = snr_db(weights, round_trip(lut_q, weights));
  const double nf4_snr = snr_db(weights, round_trip(nf4_q, weights));
  std::printf("4 bits, groups of %zu, N(0,1) weights: learned levels %.2f dB, NF4 %.2f dB\n", group, lut_snr, nf4_snr);
  return gauss.converged && fitted.converged && lut_snr > nf4_snr ? 0 : 1;
}
