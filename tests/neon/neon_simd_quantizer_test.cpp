// kernel::simd_quantizer on NEON against the scalar quantizer, byte for byte, on aarch64
// under qemu (tests/neon/CMakeLists.txt, scripts/test_neon.sh): the cases of
// tests/kernel/simd_quantizer_cases.hpp. A plain program: prints each failure, returns
// non-zero if any. Only tests/neon/CMakeLists.txt defines QTL_NEON_TEST_PROGRAM.
#if defined(QTL_NEON_TEST_PROGRAM)
#include <cstdio>

#include "kernel/simd_quantizer_cases.hpp"

#if !defined(QTL_KERNEL_NEON)
#error "build for aarch64 with NEON (cmake/aarch64-linux-gnu.cmake)"
#endif

int main() {
  std::size_t checks = 0;
  const std::vector<std::string> failures = qtl_test::simd_cases::failures<qtl::kernel::neon>(checks);
  for (const std::string& f : failures) std::printf("FAIL: %s\n", f.c_str());
  std::printf("simd_quantizer on neon: %zu checks, %zu failures\n", checks, failures.size());
  return failures.empty() && checks > 200000 ? 0 : 1;
}
#endif
