#include <qtl/pack/packed_tensor.hpp>
#include <qtl/quantizer.hpp>

#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <vector>

namespace {
std::vector<float> wave(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(0.71f * static_cast<float>(i)) * (1.0f + (i % 7));
  return v;
}
}  // namespace

TEMPLATE_TEST_CASE("packed_tensor: pack then unpack gives back the codes", "[pack]",
                   (qtl::quantizer<qtl::int8, qtl::symmetric, qtl::per_channel<0>>),
                   (qtl::quantizer<qtl::uint4, qtl::affine, qtl::per_group<32>>),
                   (qtl::quantizer<qtl::int_format<3, true>, qtl::symmetric, qtl::per_tensor>),
                   (qtl::quantizer<qtl::ternary, qtl::absmean, qtl::per_tensor>),
                   (qtl::quantizer<qtl::int_format<1, false>, qtl::affine, qtl::per_tensor>)) {
  using F = typename TestType::format_type;
  const auto w = wave(5 * 96);
  const TestType q;
  const auto codes = q.quantize(qtl::matrix_view<const float>(w.data(), 5, 96));
  const auto packed = qtl::packed_tensor<F>::pack(codes);
  REQUIRE(packed.bytes().size() == 5 * qtl::packed_size(96, F::bits));
  const auto back = packed.unpack();
  REQUIRE(back.codes == codes.codes);
  REQUIRE(back.params == codes.params);
  for (std::size_t r = 0; r < 5; ++r)
    for (std::size_t c = 0; c < 96; ++c) REQUIRE(packed.code(r, c) == codes.code(r, c));
}

TEST_CASE("packed_tensor: rows of odd length start on a byte", "[pack]") {
  const auto w = wave(3 * 7);
  const qtl::quantizer<qtl::int_format<5, true>, qtl::symmetric, qtl::per_channel<0>> q;
  const auto codes = q.quantize(qtl::matrix_view<const float>(w.data(), 3, 7));
  const auto packed = qtl::packed_tensor<qtl::int_format<5, true>>::pack(codes);
  REQUIRE(packed.view().row_bytes() == 5);  // 35 bits
  REQUIRE(packed.unpack().codes == codes.codes);
}

TEST_CASE("packed_tensor: split order stores Q4_0-style nibbles", "[pack]") {
  const auto w = wave(2 * 64);
  const qtl::int4_g32_symmetric q;
  const auto codes = q.quantize(qtl::matrix_view<const float>(w.data(), 2, 64));
  const auto packed = qtl::packed_tensor<qtl::int4>::pack(codes, qtl::pack_order::split, 32);
  // element 16 of block 1 of row 1 is the high nibble of byte 32 + 16 + 0
  const int expected = packed.bytes()[32 + 16] >> 4;
  REQUIRE(qtl::code_to_bits<qtl::int4>(codes.code(1, 48)) == expected);
  REQUIRE(packed.unpack().codes == codes.codes);
}

TEST_CASE("packed_tensor: bad views are errors", "[pack]") {
  const auto w = wave(2 * 64);
  const qtl::int4_g32_symmetric q;
  const auto codes = q.quantize(qtl::matrix_view<const float>(w.data(), 2, 64));
  const auto packed = qtl::packed_tensor<qtl::int4>::pack(codes);
  const std::span<const std::uint8_t> all(packed.bytes());
  using view = qtl::packed_tensor_view<qtl::int4>;
  REQUIRE_THROWS_AS(view(all.first(63), 2, 64, codes.grid, packed.params()), qtl::error);  // truncated bytes
  REQUIRE_THROWS_AS(view(all, 2, 64, codes.grid, std::span(packed.params()).first(3)), qtl::error);
  REQUIRE_THROWS_AS(view(all, 2, 64, codes.grid, packed.params(), qtl::pack_order::split, 48), qtl::error);
  REQUIRE_THROWS_AS((qtl::packed_tensor<qtl::int_format<3, true>>::pack(
                        qtl::quantized_tensor<qtl::int_format<3, true>>{1, 8, qtl::make_grid(qtl::per_tensor{}, 1, 8),
                                                                        std::vector<std::int8_t>(8), {{}}},
                        qtl::pack_order::split, 8)),
                    qtl::error);
}
