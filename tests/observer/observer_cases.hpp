// Shared by the observer tests: the torch.ao golden batches (tests/golden/observer_vectors.py),
// heavy-tailed data, and the SQNR a quantizer reaches with an observer's params.
#pragma once

#include <qtl/core/bit_cast.hpp>
#include <qtl/metrics.hpp>
#include <qtl/quantizer.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "golden/golden.hpp"

namespace qtl::test {

inline const golden_file& observer_golden() {
  static const auto file = golden_file::load("observers.qtlg");
  return file;
}

inline std::uint32_t bits_of(float x) { return bit_cast<std::uint32_t>(x); }

// The golden cases: the names of the batch sets.
inline std::vector<std::string> observer_cases() {
  const auto raw = observer_golden().get<std::uint8_t>("cases");
  std::vector<std::string> names{""};
  for (const auto c : raw) {
    if (c == ' ')
      names.emplace_back();
    else
      names.back().push_back(static_cast<char>(c));
  }
  return names;
}

// Batches of case `name`: [count, rows, cols] floats.
struct golden_batches {
  std::vector<float> data;
  std::size_t count, rows, cols;
  matrix_view<const float> operator[](std::size_t i) const { return {data.data() + i * rows * cols, rows, cols}; }
};

inline golden_batches observer_batches(const std::string& name) {
  const auto& shape = observer_golden().shape(name + ".batches");
  return {observer_golden().get<float>(name + ".batches"), static_cast<std::size_t>(shape[0]),
          static_cast<std::size_t>(shape[1]), static_cast<std::size_t>(shape[2])};
}

inline float golden_eps() { return observer_golden().get<float>("eps").at(0); }

// Student-t samples (3 degrees of freedom, heavy tails) as rows x cols.
inline std::vector<float> student_t(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> t(3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = scale * t(rng);
  return v;
}

// LLM-style activations: normal values with a few channels (columns) 30-60x larger.
inline std::vector<float> outlier_channels(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(rows * cols);
  for (auto& x : v) x = normal(rng);
  for (std::size_t c = 3; c < cols; c += cols / 4)
    for (std::size_t r = 0; r < rows; ++r) v[r * cols + c] *= 30.0f + static_cast<float>(c % 31);
  return v;
}

// SQNR (dB) of x fake-quantized by q with the params that observer obs chose after seeing x.
template <class Quantizer, class Observer>
double sqnr_with(const Quantizer& q, Observer obs, matrix_view<const float> x) {
  obs.observe(x);
  std::vector<float> out(x.size());
  const auto p = q.params_from(obs);
  q.fake_quantize(x, std::span<const quant_params>(p), matrix_view<float>(out.data(), x.rows(), x.cols()));
  return sqnr_db(x, matrix_view<const float>(out.data(), x.rows(), x.cols()));
}

}  // namespace qtl::test
