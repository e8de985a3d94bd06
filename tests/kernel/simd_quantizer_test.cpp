// kernel::simd_quantizer against the scalar quantizer, byte for byte, on every x86 arch
// this CPU runs (the cases: kernel/simd_quantizer_cases.hpp, compiled per arch in
// kernel/simd_quantizer_<arch>.cpp); NEON runs them under qemu (tests/neon/).
#include <qtl/kernel/arch.hpp>

#include <catch2/catch_test_macros.hpp>
#include <cstddef>
#include <string>
#include <vector>

#include "kernel/require_cases.hpp"

#if defined(QTL_TEST_X86_SIMD)
namespace qtl_test {
std::vector<std::string> simd_quantizer_failures_avx2(std::size_t& checks);
std::vector<std::string> simd_quantizer_failures_avx512_vnni(std::size_t& checks);
}  // namespace qtl_test

namespace {

void run_cases(qtl::kernel::arch_id arch, std::vector<std::string> (*run)(std::size_t&)) {
  if (!qtl::kernel::cpu_supports(arch)) SKIP("this CPU has no " << qtl::kernel::arch_name(arch));
  qtl_test::require_cases(200000, run);
}

}  // namespace

TEST_CASE("simd_quantizer is byte-identical to the scalar quantizer on avx2", "[simd_quantizer]") {
  run_cases(qtl::kernel::arch_id::avx2, qtl_test::simd_quantizer_failures_avx2);
}

TEST_CASE("simd_quantizer is byte-identical to the scalar quantizer on avx512_vnni", "[simd_quantizer]") {
#if defined(QTL_TEST_AVX512_VNNI)
  run_cases(qtl::kernel::arch_id::avx512_vnni, qtl_test::simd_quantizer_failures_avx512_vnni);
#else
  SKIP(qtl_test::avx512_vnni_cases_not_built);
#endif
}
#endif
