// Shared by the observer tests: the torch.ao golden batches (tests/golden/observer_vectors.py),
// heavy-tailed data, and the SQNR a quantizer reaches with an observer's params.
#pragma once

#include <catch2/catch_test_macros.hpp>
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

// The qparams torch.ao derives from a range, as qtl quantizers: per_tensor_affine with
// quint8 and per_tensor_symmetric with qint8 (full range), per tensor and per row.
template <granularity G>
struct torch_quantizers {
  quantizer<uint8, affine, G> affine_u8{affine{golden_eps()}};
  quantizer<int8, symmetric, G> symmetric_s8{symmetric{symmetric_range::full, golden_eps()}};
};

// Checks an observer's per-group range and the qparams torch_quantizers<G> derive from it,
// bit for bit, against the golden entries <key>.min, .max, .affine.scale,
// .affine.zero_point and .symmetric.scale.
template <granularity G, class Observer>
void check_range_golden(const std::string& key, const Observer& obs) {
  const auto& g = observer_golden();
  const torch_quantizers<G> q;
  const auto stats = obs.stats();
  const auto p_affine = q.affine_u8.params_from(obs);
  const auto p_symmetric = q.symmetric_s8.params_from(obs);
  const auto min = g.get<float>(key + ".min"), max = g.get<float>(key + ".max");
  const auto scale = g.get<float>(key + ".affine.scale");
  const auto zp = g.get<std::int32_t>(key + ".affine.zero_point");
  const auto sym = g.get<float>(key + ".symmetric.scale");
  REQUIRE(stats.size() == min.size());
  for (std::size_t i = 0; i < stats.size(); ++i) {
    CHECK(bits_of(stats[i].min) == bits_of(min[i]));
    CHECK(bits_of(stats[i].max) == bits_of(max[i]));
    CHECK(bits_of(p_affine[i].scale) == bits_of(scale[i]));
    CHECK(p_affine[i].zero_point == zp[i]);
    CHECK(bits_of(p_symmetric[i].scale) == bits_of(sym[i]));
  }
}

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
