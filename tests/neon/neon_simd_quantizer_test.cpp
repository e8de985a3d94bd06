// kernel::simd_quantizer on NEON against the scalar quantizer, byte for byte, on aarch64
// under qemu (tests/neon/CMakeLists.txt, scripts/test_neon.sh): the cases of
// tests/kernel/simd_quantizer_cases.hpp. A plain program: prints each failure, returns
// non-zero if any. Only tests/neon/CMakeLists.txt defines QTL_NEON_TEST_PROGRAM.
#if defined(QTL_NEON_TEST_PROGRAM)
#include "kernel/simd_quantizer_cases.hpp"
#include "neon/case_program.hpp"

int main() {
  return qtl_test::run_neon_cases("simd_quantizer", 200000, qtl_test::simd_cases::failures<qtl::kernel::neon>);
}
#endif
