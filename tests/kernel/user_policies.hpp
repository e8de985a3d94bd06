// A user's format, written without a batch decode and without a constexpr one: the SIMD
// kernels run its scalar step lane by lane (kernel/simd_quantizer_cases.hpp,
// kernel/composed_gemv_cases.hpp).
#pragma once

#include <cstdint>

namespace qtl_test {

struct odd_format {  // 7 codes in 3 bits, levels spaced unevenly
  using code_type = std::int8_t;
  static constexpr int bits = 3;
  static constexpr int min_code = -3;
  static constexpr int max_code = 3;
  static constexpr int levels = 7;
  static float decode(int code) noexcept { return static_cast<float>(code * (code < 0 ? -code : code)) / 3.0f; }
};

}  // namespace qtl_test
