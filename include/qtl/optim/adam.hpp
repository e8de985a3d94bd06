// qtl::optim::adam and adamw: Adam (Kingma & Ba 2015) with L2 weight decay folded into the
// gradient, as torch.optim.Adam, and AdamW (Loshchilov & Hutter 2019) with the decay
// applied to the weight, as torch.optim.AdamW. Two states: the running means of the
// gradient (signed 8-bit map) and of its square (unsigned map).
//
// The arithmetic is bitsandbytes' CPU Adam8bit/AdamW8bit step (bnb 0.50.2): bnb's "adam"
// always decays the weight, so bnb's Adam8bit with weight_decay > 0 is qtl's adamw.
#pragma once

#include <cmath>
#include <cstdint>

#include "qtl/optim/update_rule.hpp"

namespace qtl::optim {

template <bool Decoupled>
struct basic_adam {
  static constexpr std::string_view name = Decoupled ? "adamw" : "adam";
  static constexpr int states = 2;
  static constexpr std::array<bool, 2> signed_state = {true, false};

  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = Decoupled ? 1e-2 : 0.0;

  template <class F>
  void for_each_hyperparameter(F&& f) {
    f("lr", lr), f("beta1", beta1), f("beta2", beta2), f("eps", eps), f("weight_decay", weight_decay);
  }

  void validate() const {
    detail::require_nonnegative(name, "lr", lr);
    detail::require(beta1 >= 0 && beta1 < 1, name, "beta1", beta1, "in [0, 1)");
    detail::require(beta2 >= 0 && beta2 < 1, name, "beta2", beta2, "in [0, 1)");
    detail::require_positive(name, "eps", eps);
    detail::require_nonnegative(name, "weight_decay", weight_decay);
  }

  struct step_constants {
    float beta1, one_minus_beta1, beta2, one_minus_beta2;
    arith::step_divisor correction2;
    float eps, weight_decay, decay, step_size;
  };

  // Step t (from 1): the bias corrections in double, then each constant rounded to float
  // once, where torch turns the Python scalar into the tensor's float.
  [[nodiscard]] step_constants constants(std::int64_t t) const noexcept {
    const double k = static_cast<double>(t);
    const double correction1 = 1.0 - std::pow(beta1, k);
    const double correction2 = std::sqrt(1.0 - std::pow(beta2, k));
    return {static_cast<float>(beta1), static_cast<float>(1.0 - beta1), static_cast<float>(beta2),
            static_cast<float>(1.0 - beta2), arith::step_divisor(static_cast<float>(correction2)), static_cast<float>(eps),
            static_cast<float>(weight_decay), static_cast<float>(1.0 - lr * weight_decay),
            static_cast<float>(-lr / correction1)};
  }

  // m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g², p += -lr/(1-β1ᵗ) · m / (√v / √(1-β2ᵗ) + ε).
  template <class V>
  static void update(const step_constants& c, V& p, V g, std::array<V, 2>& s) noexcept {
    if constexpr (!Decoupled)
      if (c.weight_decay > 0.0f) g = arith::fma(V(c.weight_decay), p, g);
    s[0] = arith::fma(V(c.one_minus_beta1), g, arith::product(s[0], V(c.beta1)));
    s[1] = arith::fma(arith::product(V(c.one_minus_beta2), g), g, arith::product(s[1], V(c.beta2)));
    const V denominator = arith::divide(arith::sqrt(s[1]), c.correction2) + V(c.eps);
    if constexpr (Decoupled)
      if (c.weight_decay > 0.0f) p = arith::product(p, V(c.decay));
    p = arith::divide(arith::product(V(c.step_size), s[0]), denominator) + p;
  }
};

using adam = basic_adam<false>;
using adamw = basic_adam<true>;

}  // namespace qtl::optim
