// qtl::qat::bitnet_weights / bitnet_activations: BitNet b1.58's training-time quantizers
// (Ma et al. 2024): qtl's own compositions on the SIMD path, with the plain straight-through estimator.
#pragma once

#include "qtl/kernel/simd_quantizer.hpp"
#include "qtl/qat/straight_through.hpp"
#include "qtl/quantizer.hpp"

namespace qtl::qat {

// Weights: W / mean|W| rounded to {-1, 0, 1} and scaled back (mean clamped below at 1e-5).
// The gradient passes unchanged, as in BitNet's `w + (quant(w) - w).detach()`.
inline straight_through<kernel::simd_quantizer<ternary_absmean>> bitnet_weights() {
  return straight_through<kernel::simd_quantizer<ternary_absmean>>(
      kernel::simd_quantizer<ternary_absmean>(ternary_absmean(absmean{1e-5f})), ste::plain);
}

// Activations: each token (row) scaled by 127 / max|x|, rounded into -128..127 and scaled
// back; gradient unchanged. (A row of zeros stays zero, where BitNet clamps max|x| at 1e-5.)
inline straight_through<kernel::simd_quantizer<int8_per_token_absmax>> bitnet_activations() {
  return straight_through<kernel::simd_quantizer<int8_per_token_absmax>>({}, ste::plain);
}

}  // namespace qtl::qat
