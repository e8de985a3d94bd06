#include <qtl/core/tensor_stats.hpp>

#include <catch2/catch_test_macros.hpp>

TEST_CASE("tensor_stats: running min, max, absmax and absmean", "[tensor_stats]") {
  qtl::tensor_stats s;
  REQUIRE(s.empty());
  REQUIRE(s.absmax() == 0.0f);
  REQUIRE(s.absmean() == 0.0f);
  for (float v : {1.5f, -4.0f, 0.5f}) s.add(v);
  REQUIRE(s.min == -4.0f);
  REQUIRE(s.max == 1.5f);
  REQUIRE(s.absmax() == 4.0f);
  REQUIRE(s.absmean() == 2.0f);
  REQUIRE(s.count == 3);

  qtl::tensor_stats t;
  t.add(6.0f);
  s.merge(t);
  REQUIRE(s.max == 6.0f);
  REQUIRE(s.absmax() == 6.0f);
  REQUIRE(s.absmean() == 3.0f);
  s.merge(qtl::tensor_stats{});  // merging an empty group changes nothing
  REQUIRE(s.count == 4);
  REQUIRE(s.min == -4.0f);
}
