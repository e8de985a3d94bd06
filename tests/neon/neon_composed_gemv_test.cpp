// kernel::composed_gemv on NEON against references from the unpacked codes, on aarch64
// under qemu (tests/neon/CMakeLists.txt, scripts/test_neon.sh): the cases of
// tests/kernel/composed_gemv_cases.hpp. A plain program: prints each failure, returns
// non-zero if any. Only tests/neon/CMakeLists.txt defines QTL_NEON_TEST_PROGRAM.
#if defined(QTL_NEON_TEST_PROGRAM)
#include "kernel/composed_gemv_cases.hpp"
#include "neon/case_program.hpp"

int main() {
  return qtl_test::run_neon_cases("composed_gemv", 250, qtl_test::gemv_cases::failures<qtl::kernel::neon>);
}
#endif
