// What the framework-free kernel cases (kernel/simd_quantizer_cases.hpp,
// kernel/composed_gemv_cases.hpp) record: failures (the first 40) and the number of checks,
// and the error code a call throws.
#pragma once

#include <qtl/core/error.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace qtl_test {

struct report {
  std::vector<std::string> failures;
  std::size_t checks = 0;
  void expect(bool ok, const std::string& what) {
    ++checks;
    if (!ok && failures.size() < 40) failures.push_back(what);
  }
};

// The code of the qtl::error fn() throws, or errc{} if it returns.
template <class Fn>
qtl::errc error_of(Fn&& fn) {
  try {
    fn();
  } catch (const qtl::error& e) {
    return e.code();
  }
  return qtl::errc{};
}

}  // namespace qtl_test
