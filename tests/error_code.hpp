// qtl::test::error_code_of(f): the errc of the qtl::error f() throws; fails the test when
// f() returns normally or throws anything else.
#pragma once

#include <catch2/catch_test_macros.hpp>

#include "qtl/core/error.hpp"

namespace qtl::test {

template <class F>
qtl::errc error_code_of(F&& f) {
  try {
    f();
  } catch (const qtl::error& e) {
    return e.code();
  }
  FAIL("no qtl::error thrown");
  return qtl::errc::io;  // not reached
}

}  // namespace qtl::test
