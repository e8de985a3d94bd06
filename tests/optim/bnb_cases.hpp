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

template <class Arch>
std::vector<std::string> failures(unsigned threads, std::size_t& checks) {
  std::vector<std::string> f;
  compare<qtl::optim::adam, Arch>("adam8", {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.995, .eps = 1e-6}, 2, threads, f, checks);
  compare<qtl::optim::adamw, Arch>("adamw8", {.lr = 1e-2, .weight_decay = 0.1}, 2, threads, f, checks);
  compare<qtl::optim::lion, Arch>("lion8", {.lr = 1e-3, .weight_decay = 0.05}, 0, threads, f, checks);
  compare<qtl::optim::sgd, Arch>("sgd8", {.lr = 1e-2, .momentum = 0.9, .weight_decay = 1e-3}, 0, threads, f, checks);
  compare<qtl::optim::rmsprop, Arch>("rmsprop8", {.lr = 1e-3, .alpha = 0.9}, 2, threads, f, checks);
  compare<qtl::optim::adagrad, Arch>("adagrad8", {.lr = 1e-2}, 2, threads, f, checks);
  return f;
}

}  // namespace optim_cases
