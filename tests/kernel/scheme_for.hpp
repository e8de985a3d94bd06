// The scheme a kernel case composes with format F: S{} for the schemes without run-time
// state; for lut_codebook, a table of F::levels uneven, asymmetric levels, scaled by
// absmax for power-of-two sizes and taken as they are (lut_scaling::unit) for the others,
// so that the cases cover both scalings, the register and the gather paths.
#pragma once

#include <qtl/codebook/lut_codebook.hpp>

#include <cmath>
#include <vector>

namespace qtl_test {

template <class S, class F>
S scheme_for() {
  if constexpr (std::same_as<S, qtl::lut_codebook>) {
    std::vector<float> levels(static_cast<std::size_t>(F::levels));
    for (std::size_t i = 0; i < levels.size(); ++i) {
      const double u = -1.0 + 2.0 * (static_cast<double>(i) + 0.3) / static_cast<double>(levels.size());
      levels[i] = static_cast<float>(1.7 * u * std::sqrt(std::abs(u)) + 0.05);  // denser near the middle
    }
    const bool power_of_two = (F::levels & (F::levels - 1)) == 0;
    return qtl::lut_codebook(qtl::scalar_codebook(levels), power_of_two ? qtl::lut_scaling::absmax : qtl::lut_scaling::unit);
  } else {
    return S{};
  }
}

}  // namespace qtl_test
