// Telephone-quality audio coding with qtl: a one-second 8 kHz tone with a rising pitch,
// coded as G.711 μ-law and A-law (8 bits per sample), as IMA ADPCM and as DPCM with a
// least-squares predictor (4 bits per sample), then decoded; prints the bytes and the
// signal-to-noise ratio of each.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "qtl/format/g711.hpp"
#include "qtl/predictive/dpcm.hpp"
#include "qtl/predictive/ima_adpcm.hpp"
#include "qtl/predictive/least_squares_predictor.hpp"

namespace {

double snr_db(const std::vector<std::int16_t>& x, const std::vector<std::int16_t>& y) {
  double signal = 0, noise = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    signal += double(x[i]) * x[i];
    noise += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
  }
  return 10.0 * std::log10(signal / noise);
}

template <qtl::g711::law L>
void g711_case(const char* name, const std::vector<std::int16_t>& x) {
  std::vector<std::uint8_t> codes(x.size());
  std::vector<std::int16_t> y(x.size());
  qtl::g711::encode<L>(x, codes);
  qtl::g711::decode<L>(codes, y);
  std::printf("%-10s %6zu bytes  SNR %5.1f dB\n", name, codes.size(), snr_db(x, y));
}

}  // namespace

int main() {
  const double pi = 3.14159265358979;
  std::vector<std::int16_t> x(8000);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double t = double(i) / 8000.0;
    x[i] = static_cast<std::int16_t>(std::lround(9000.0 * std::sin(2 * pi * (300.0 * t + 400.0 * t * t))));
  }
  std::printf("input      %6zu bytes of 16-bit PCM\n", x.size() * 2);
  g711_case<qtl::g711::law::mu>("mu-law", x);
  g711_case<qtl::g711::law::a>("A-law", x);

  qtl::ima_adpcm::state encoder, decoder;  // both start at (0, 0) and end equal
  const auto packed = qtl::ima_adpcm::encode(x, encoder);
  const auto y = qtl::ima_adpcm::decode(packed, x.size(), decoder);
  std::printf("IMA ADPCM  %6zu bytes  SNR %5.1f dB  (final state %d, %d on both ends)\n", packed.size(), snr_db(x, y),
              decoder.predicted, decoder.index);

  // DPCM: a second-order predictor fitted to the signal, its 4-bit codes spanning +-3 times
  // the prediction residual's rms (the coefficients and the step travel with the codes).
  const std::vector<float> xf(x.begin(), x.end());
  qtl::dpcm::coder coder{qtl::dpcm::fit_predictor(xf, 2), 1.0, 4};
  double residual = 0;
  for (std::size_t i = 2; i < xf.size(); ++i) {
    const double e = xf[i] - coder.predictor[0] * xf[i - 1] - coder.predictor[1] * xf[i - 2];
    residual += e * e;
  }
  coder.step = 3 * std::sqrt(residual / double(xf.size() - 2)) / 8;
  qtl::dpcm::state dpcm_encoder, dpcm_decoder;
  const auto codes = qtl::dpcm::encode(xf, coder, dpcm_encoder);
  const auto yf = qtl::dpcm::decode(codes, coder, dpcm_decoder);
  std::vector<std::int16_t> y2(yf.size());
  for (std::size_t i = 0; i < yf.size(); ++i) y2[i] = static_cast<std::int16_t>(std::lround(yf[i]));
  std::printf("DPCM       %6zu bytes  SNR %5.1f dB  (at 4 bits a code; predictor %.3f, %.3f; step %.1f)\n",
              codes.size() / 2, snr_db(x, y2), coder.predictor[0], coder.predictor[1], coder.step);
  return encoder.predicted == decoder.predicted && encoder.index == decoder.index &&
                 dpcm_encoder.history == dpcm_decoder.history
             ? 0
             : 1;
}
