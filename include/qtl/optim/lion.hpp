// qtl::optim::lion: Lion (Chen et al. 2023, "Symbolic Discovery of Optimization
// Algorithms"): the sign of an interpolation of momentum and gradient, decoupled weight
// decay. One state (signed 8-bit map). The arithmetic is bitsandbytes' CPU Lion8bit step.
#pragma once

#include <cmath>
#include <cstdint>

#include "qtl/optim/update_rule.hpp"

namespace qtl::optim {

struct lion {
  static constexpr std::string_view name = "lion";
  static constexpr int states = 1;
  static constexpr std::array<bool, 1> signed_state = {true};

  double lr = 1e-4;
  double beta1 = 0.9;
  double beta2 = 0.99;
  double weight_decay = 0.0;

  template <class F>
  void for_each_hyperparameter(F&& f) {
    f("lr", lr), f("beta1", beta1), f("beta2", beta2), f("weight_decay", weight_decay);
  }

  void validate() const {
    detail::require_nonnegative(name, "lr", lr);
    detail::require(beta1 >= 0 && beta1 <= 1, name, "beta1", beta1, "in [0, 1]");
    detail::require(beta2 >= 0 && beta2 <= 1, name, "beta2", beta2, "in [0, 1]");
    detail::require_nonnegative(name, "weight_decay", weight_decay);
  }

  struct step_constants {
    float beta1, one_minus_beta1, beta2, one_minus_beta2, weight_decay, decay, minus_lr;
  };

  [[nodiscard]] step_constants constants(std::int64_t) const noexcept {
    return {static_cast<float>(beta1),        static_cast<float>(1.0 - beta1),
            static_cast<float>(beta2),        static_cast<float>(1.0 - beta2),
            static_cast<float>(weight_decay), static_cast<float>(1.0 - lr * weight_decay),
            static_cast<float>(-lr)};
  }

  // p -= lr · sign(β1·m + (1-β1)·g), then m = β2·m + (1-β2)·g.
  template <class V>
  static void update(const step_constants& c, V& p, V g, std::array<V, 1>& s) noexcept {
    if (c.weight_decay > 0.0f) p = arith::product(p, V(c.decay));
    const V direction = arith::sign(arith::product(s[0], V(c.beta1)) + arith::product(g, V(c.one_minus_beta1)));
    p = arith::fma(V(c.minus_lr), direction, p);
    s[0] = arith::fma(V(c.one_minus_beta2), g, arith::product(s[0], V(c.beta2)));
  }
};

}  // namespace qtl::optim
