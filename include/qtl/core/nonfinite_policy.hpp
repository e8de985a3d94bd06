// qtl::nonfinite_policy: what quantizers and observers do with NaN and Inf input.
// The default is to refuse them with an error that names the first bad element.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "qtl/core/error.hpp"

namespace qtl {

enum class nonfinite_policy {
  error,      // throw qtl::error (errc::non_finite) naming the first bad element
  propagate,  // statistics skip them; fake_quantize passes them through unchanged; as codes
              // (which hold no NaN) NaN quantizes like 0 and +-Inf saturate to the end codes
};

namespace detail {

inline std::string where(std::size_t r, std::size_t c, std::size_t cols) {
  return "element " + std::to_string(r * cols + c) + " (row " + std::to_string(r) + ", col " + std::to_string(c) + ")";
}

// True when v may enter statistics; throws under nonfinite_policy::error.
inline bool check_finite(float v, nonfinite_policy policy, std::size_t r, std::size_t c, std::size_t cols) {
  if (std::isfinite(v)) return true;
  if (policy == nonfinite_policy::error)
    throw error(errc::non_finite, where(r, c, cols) + " is " + (std::isnan(v) ? "NaN" : "Inf"));
  return false;
}

}  // namespace detail

}  // namespace qtl
