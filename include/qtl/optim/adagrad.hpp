// qtl::optim::adagrad: AdaGrad (Duchi, Hazan & Singer 2011) as torch.optim.Adagrad with no
// learning-rate decay and a zero initial accumulator (what bitsandbytes supports; a decay
// is a schedule, optim/schedule.hpp). One state, the sum of squared gradients (signed
// 8-bit map, as bitsandbytes). The arithmetic is bitsandbytes' CPU Adagrad8bit step.
#pragma once

#include <cmath>
#include <cstdint>

#include "qtl/optim/update_rule.hpp"

namespace qtl::optim {

struct adagrad {
  static constexpr std::string_view name = "adagrad";
  static constexpr int states = 1;
  static constexpr std::array<bool, 1> signed_state = {true};

  double lr = 1e-2;
  double eps = 1e-10;
  double weight_decay = 0.0;

  template <class F>
  void for_each_hyperparameter(F&& f) {
    f("lr", lr), f("eps", eps), f("weight_decay", weight_decay);
  }

  void validate() const {
    detail::require_nonnegative(name, "lr", lr);
    detail::require_positive(name, "eps", eps);
    detail::require_nonnegative(name, "weight_decay", weight_decay);
  }

  struct step_constants {
    float eps, weight_decay, minus_lr;
  };

  [[nodiscard]] step_constants constants(std::int64_t) const noexcept {
    return {static_cast<float>(eps), static_cast<float>(weight_decay), static_cast<float>(-lr)};
  }

  // g += wd·p; G += g²; p -= lr·g / (√G + ε).
  template <class V>
  static void update(const step_constants& c, V& p, V g, std::array<V, 1>& s) noexcept {
    g = arith::fma(V(c.weight_decay), p, g);
    s[0] = arith::fma(g, g, s[0]);
    p = arith::divide(arith::product(V(c.minus_lr), g), arith::sqrt(s[0]) + V(c.eps)) + p;
  }
};

}  // namespace qtl::optim
