// qtl::nonfinite_policy: what quantizers and observers do with NaN and Inf input.
// The default is to refuse them with an error that names the first bad element.
#pragma once

namespace qtl {

enum class nonfinite_policy {
  error,      // throw qtl::error (errc::non_finite) naming the first bad element
  propagate,  // statistics skip them; fake_quantize passes them through unchanged; as codes
              // (which hold no NaN) NaN quantizes like 0 and +-Inf saturate to the end codes
};

}  // namespace qtl
