// The bitsandbytes 8-bit optimizer cases (tests/golden/optim_vectors.py), for one arch:
// optim_golden_test.cpp runs them with the default arch, objects compiled with each x86
// arch's flags run them there (tests/CMakeLists.txt), and tests/neon/neon_optim_test.cpp
// on aarch64 under qemu. Returns what differs, empty when all
// agree: the 8-bit state byte for byte after the first and the fifth step, the parameters
// exactly where the step has no square root, else within 2 ulp (torch's CPU sqrt, MKL's
// vsSqrt, is not correctly rounded and differs with the CPU; qtl's is).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/layout/bitsandbytes.hpp"
#include "qtl/optim/adagrad.hpp"
#include "qtl/optim/adam.hpp"
#include "qtl/optim/lion.hpp"
#include "qtl/optim/optimizer.hpp"
#include "qtl/optim/rmsprop.hpp"
#include "qtl/optim/sgd.hpp"

namespace optim_cases {

inline const qtl::test::golden_file& golden() {
  static const auto file = qtl::test::golden_file::load("optim.qtlg");
  return file;
}

inline constexpr std::size_t size = 4500;
inline constexpr int steps = 5;

// The largest distance in units in the last place between two float vectors.
inline std::int64_t max_ulp(const std::vector<float>& a, const std::vector<float>& b) {
  std::int64_t worst = a.size() == b.size() ? 0 : INT64_MAX;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    std::int32_t x, y;
    std::memcpy(&x, &a[i], 4), std::memcpy(&y, &b[i], 4);
    const auto ordered = [](std::int32_t v) { return v < 0 ? std::int64_t{INT32_MIN} - v : std::int64_t{v}; };
    worst = std::max(worst, std::abs(ordered(x) - ordered(y)));
  }
  return worst;
}

template <class Rule, class Arch>
void compare(const std::string& name, Rule rule, std::int64_t params_ulp, unsigned threads,
             std::vector<std::string>& failures, std::size_t& checks) {
  qtl::optim::optimizer<Rule, Arch> opt(size, rule, {.threads = threads});
  auto params = golden().get<float>("params0");
  const auto grads = golden().get<float>("grads");
  for (int t = 1; t <= steps; ++t) {
    opt.step(std::span<float>(params), std::span<const float>(grads).subspan(static_cast<std::size_t>(t - 1) * size, size));
    if (t != 1 && t != steps) continue;
    checks += 1 + 2 * static_cast<std::size_t>(Rule::states);
    const std::string at = " after step " + std::to_string(t) + " on " + std::to_string(threads) + " threads";
    for (int k = 0; k < Rule::states; ++k) {
      const std::string n = std::to_string(k + 1), suffix = "_" + std::to_string(t);
      if (opt.state(k).codes != golden().get<std::uint8_t>(name + "/state" + n + suffix))
        failures.push_back(name + ": state" + n + " codes differ" + at);
      if (opt.state(k).absmax != golden().get<float>(name + "/absmax" + n + suffix))
        failures.push_back(name + ": absmax" + n + " differs" + at);
    }
    const auto ulp = max_ulp(params, golden().get<float>(name + "/params" + std::to_string(t)));
    if (ulp > params_ulp)
      failures.push_back(name + ": parameters " + std::to_string(ulp) + " ulp apart" + at);
  }
}

// The arch's encoder (AVX-512: the grid-threshold search) against bnb::quantize_blockwise
// for values over the whole map in blocks of 256 and of 37 (tails), and against the map's
// own encode for a block holding NaN and Inf (bnb's quantizer refuses them; the step's
// state can hold them when an update overflows).
template <class Arch>
void compare_encoder(std::vector<std::string>& failures, std::size_t& checks) {
  std::vector<float> x;
  for (std::uint32_t bits = 0; bits <= 0x3f800000u; bits += 1021) {
    float v;
    std::memcpy(&v, &bits, 4);
    x.push_back(v), x.push_back(-3.0f * v);
  }
  for (const bool is_signed : {true, false}) {
    std::vector<float> special(256);
    for (std::size_t i = 0; i < special.size(); ++i) special[i] = 0.01f * static_cast<float>(i) - 1.0f;
    special[3] = std::nanf(""), special[40] = INFINITY, special[41] = -INFINITY;
    auto s = qtl::optim::state_tensor::zeros(special.size(), qtl::optim::state_bits::eight, is_signed, 256);
    qtl::optim::detail::encode_block<Arch>(special.data(), special.size(), s, 0);
    bool same = s.absmax[0] == 1.55f;  // the largest finite magnitude: 0.01 * 255 - 1
    for (std::size_t i = 0; i < special.size(); ++i)
      same = same && s.codes[i] == (is_signed ? qtl::dynamic_map<true>::encode(special[i] * (1.0f / 1.55f))
                                              : qtl::dynamic_map<false>::encode(special[i] * (1.0f / 1.55f)));
    ++checks;
    if (!same) failures.push_back(std::string("encoder differs on NaN and Inf, ") + (is_signed ? "signed" : "unsigned") + " map");
  }
  for (const bool is_signed : {true, false})
    for (const std::int64_t blocksize : {256, 37}) {
      ++checks;
      auto s = qtl::optim::state_tensor::zeros(x.size(), qtl::optim::state_bits::eight, is_signed, blocksize);
      const auto bs = static_cast<std::size_t>(blocksize);
      for (std::size_t b = 0; b < x.size(); b += bs)
        qtl::optim::detail::encode_block<Arch>(x.data() + b, std::min(bs, x.size() - b), s, b);
      std::vector<std::uint8_t> codes(x.size());
      std::vector<float> absmax(s.absmax.size());
      qtl::bnb::quantize_blockwise(std::span<const float>(x), blocksize, codes, absmax,
                                   is_signed ? qtl::bnb::dynamic_map_kind::signed_map : qtl::bnb::dynamic_map_kind::unsigned_map);
      if (s.codes != codes || s.absmax != absmax)
        failures.push_back(std::string("encoder differs from bnb::quantize_blockwise, ") + (is_signed ? "signed" : "unsigned") +
                           " map, blocks of " + std::to_string(blocksize));
    }
}

// The division by a step's fixed divisor (Adam's bias correction) equals a / d on every
// mantissa of a, for bias corrections of the first steps and arbitrary divisors.
template <class Arch>
void compare_divide(std::vector<std::string>& failures, std::size_t& checks) {
  using batch = qtl::simd::floats<Arch>;
  for (const float d : {0.0316227749f, 0.0447101295f, 0.316069663f, 0.999500215f, 0.7f, 0.123456789f, 1.0f}) {
    ++checks;
    const qtl::optim::arith::step_divisor divisor(d);
    std::size_t wrong = 0;
    alignas(64) float a[batch::size], q[batch::size];
    for (std::uint32_t m = 0; m < (1u << 23); m += 61 * batch::size) {
      for (std::size_t j = 0; j < batch::size; ++j) {
        const std::uint32_t bits = 0x3f800000u | ((m + static_cast<std::uint32_t>(j)) & 0x7fffffu);
        std::memcpy(&a[j], &bits, 4);
      }
      qtl::optim::arith::divide(batch::load_aligned(a), divisor).store_aligned(q);
      for (std::size_t j = 0; j < batch::size; ++j) wrong += q[j] != a[j] / d;
    }
    for (const float special : {0.0f, INFINITY, 1e19f, 3.7e-23f}) {
      const float r = qtl::optim::arith::divide(batch(special), divisor).get(0);
      wrong += !(r == special / d);
    }
    if (wrong != 0) failures.push_back("division by " + std::to_string(d) + ": " + std::to_string(wrong) + " quotients differ");
  }
}

template <class Arch>
std::vector<std::string> failures(unsigned threads, std::size_t& checks) {
  std::vector<std::string> f;
  if constexpr (qtl::optim::arith::fused_arch<Arch>) compare_divide<Arch>(f, checks);
  compare_encoder<Arch>(f, checks);
  compare<qtl::optim::adam, Arch>("adam8", {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.995, .eps = 1e-6}, 2, threads, f, checks);
  compare<qtl::optim::adamw, Arch>("adamw8", {.lr = 1e-2, .weight_decay = 0.1}, 2, threads, f, checks);
  compare<qtl::optim::lion, Arch>("lion8", {.lr = 1e-3, .weight_decay = 0.05}, 0, threads, f, checks);
  compare<qtl::optim::sgd, Arch>("sgd8", {.lr = 1e-2, .momentum = 0.9, .weight_decay = 1e-3}, 0, threads, f, checks);
  compare<qtl::optim::rmsprop, Arch>("rmsprop8", {.lr = 1e-3, .alpha = 0.9}, 2, threads, f, checks);
  compare<qtl::optim::adagrad, Arch>("adagrad8", {.lr = 1e-2}, 2, threads, f, checks);
  return f;
}

}  // namespace optim_cases
