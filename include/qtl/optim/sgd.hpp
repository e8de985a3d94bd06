// qtl::optim::sgd: stochastic gradient descent with momentum (heavy ball, or Nesterov's),
// dampening and L2 weight decay folded into the gradient, as torch.optim.SGD. One state,
// the momentum buffer (signed 8-bit map). Without dampening and Nesterov the arithmetic is
// bitsandbytes' CPU SGD8bit step (bnb has neither).
#pragma once

#include <cmath>
#include <cstdint>

#include "qtl/optim/update_rule.hpp"

namespace qtl::optim {

struct sgd {
  static constexpr std::string_view name = "sgd";
  static constexpr int states = 1;
  static constexpr std::array<bool, 1> signed_state = {true};

  double lr = 1e-2;
  double momentum = 0.9;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;

  template <class F>
  void for_each_hyperparameter(F&& f) {
    f("lr", lr), f("momentum", momentum), f("dampening", dampening), f("weight_decay", weight_decay),
        f("nesterov", nesterov);
  }

  void validate() const {
    detail::require_nonnegative(name, "lr", lr);
    detail::require(momentum >= 0 && momentum < 1, name, "momentum", momentum, "in [0, 1)");
    detail::require(dampening >= 0 && dampening <= 1, name, "dampening", dampening, "in [0, 1]");
    detail::require_nonnegative(name, "weight_decay", weight_decay);
    detail::require(!nesterov || (momentum > 0 && dampening == 0), name, "nesterov with momentum", momentum,
                    "> 0 with zero dampening (as torch.optim.SGD requires)");
  }

  struct step_constants {
    bool first, nesterov;
    float momentum, one_minus_dampening, weight_decay, minus_lr;
  };

  [[nodiscard]] step_constants constants(std::int64_t t) const noexcept {
    return {t == 1, nesterov, static_cast<float>(momentum), static_cast<float>(1.0 - dampening),
            static_cast<float>(weight_decay), static_cast<float>(-lr)};
  }

  // g += wd·p; b = g on the first step, else momentum·b + (1 - dampening)·g;
  // p -= lr·b, or lr·(g + momentum·b) with Nesterov.
  template <class V>
  static void update(const step_constants& c, V& p, V g, std::array<V, 1>& s) noexcept {
    g = arith::fma(V(c.weight_decay), p, g);
    s[0] = c.first ? g : arith::fma(V(c.one_minus_dampening), g, arith::product(s[0], V(c.momentum)));
    p = arith::fma(V(c.minus_lr), c.nesterov ? arith::fma(V(c.momentum), s[0], g) : s[0], p);
  }
};

}  // namespace qtl::optim
