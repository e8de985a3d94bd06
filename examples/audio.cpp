// Telephone-quality audio coding with qtl: a one-second 8 kHz tone with a rising pitch,
// coded as G.711 μ-law and A-law (8 bits per sample) and as IMA ADPCM (4 bits per sample),
// then decoded; prints the bytes and the signal-to-noise ratio of each.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "qtl/format/g711.hpp"
#include "qtl/predictive/ima_adpcm.hpp"

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
  return encoder.predicted == decoder.predicted && encoder.index == decoder.index ? 0 : 1;
}
