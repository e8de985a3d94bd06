// Runs a kernel case list (tests/kernel/*_cases.hpp: failures(checks)) under Catch2: each
// failure is reported, and fewer checks than expected fails too (a list that stopped
// running its cases). The NEON programs' counterpart is tests/neon/case_program.hpp.
#pragma once

#include <catch2/catch_test_macros.hpp>
#include <cstddef>
#include <string>
#include <vector>

namespace qtl_test {

// Why an avx512_vnni case list is missing from this build: its objects are compiled only
// with QTL_TEST_AVX512_VNNI (tests/CMakeLists.txt; by default where the CPU has it).
inline constexpr const char* avx512_vnni_cases_not_built =
    "the avx512_vnni cases are not built (QTL_TEST_AVX512_VNNI=OFF: the configuring CPU has no avx512_vnni)";

template <class Run>
void require_cases(std::size_t min_checks, Run&& run) {
  std::size_t checks = 0;
  const std::vector<std::string> failures = run(checks);
  INFO(checks << " checks");
  for (const std::string& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
  CHECK(checks > min_checks);  // every case ran
}

}  // namespace qtl_test
