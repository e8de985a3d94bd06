#include "quantizer_properties.hpp"

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>

using more_formats = qtl_test::quantizers_over<qtl::int4, qtl::ternary>;
static_assert(std::tuple_size_v<more_formats> == (6 + 6) * 3 * 3);

TEMPLATE_LIST_TEST_CASE("quantizer properties (int4, ternary): codes in range, bounded error, saturation, "
                        "idempotent fake_quantize, zeros and empty input",
                        "[quantizer][properties]", more_formats) {
  qtl_test::check(qtl_test::run<TestType>());
}
