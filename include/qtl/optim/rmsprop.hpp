// qtl::optim::rmsprop: RMSprop (Tieleman & Hinton 2012) as torch.optim.RMSprop without
// momentum or centring (bitsandbytes has neither): a running mean of the squared gradient
// divides the step. One state (bitsandbytes quantizes it with the signed 8-bit map, though
// it is never negative; qtl does the same, for the same bytes). The arithmetic is
// bitsandbytes' CPU RMSprop8bit step.
#pragma once

#include <cmath>
#include <cstdint>

#include "qtl/optim/update_rule.hpp"

namespace qtl::optim {

struct rmsprop {
  static constexpr std::string_view name = "rmsprop";
  static constexpr int states = 1;
  static constexpr std::array<bool, 1> signed_state = {true};

  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;

  template <class F>
  void for_each_hyperparameter(F&& f) {
    f("lr", lr), f("alpha", alpha), f("eps", eps), f("weight_decay", weight_decay);
  }

  void validate() const {
    detail::require_nonnegative(name, "lr", lr);
    detail::require(alpha > 0 && alpha < 1, name, "alpha", alpha, "in (0, 1)");
    detail::require_positive(name, "eps", eps);
    detail::require_nonnegative(name, "weight_decay", weight_decay);
  }

  struct step_constants {
    float alpha, one_minus_alpha, eps, weight_decay, minus_lr;
  };

  [[nodiscard]] step_constants constants(std::int64_t) const noexcept {
    return {static_cast<float>(alpha), static_cast<float>(1.0 - alpha), static_cast<float>(eps),
            static_cast<float>(weight_decay), static_cast<float>(-lr)};
  }

  // g += wd·p; v = α·v + (1-α)·g²; p -= lr·g / (√v + ε).
  template <class V>
  static void update(const step_constants& c, V& p, V g, std::array<V, 1>& s) noexcept {
    g = arith::fma(V(c.weight_decay), p, g);
    s[0] = arith::fma(arith::product(V(c.one_minus_alpha), g), g, arith::product(s[0], V(c.alpha)));
    p = arith::divide(arith::product(V(c.minus_lr), g), arith::sqrt(s[0]) + V(c.eps)) + p;
  }
};

}  // namespace qtl::optim
