// qtl/optim/state.hpp: the grid-table encoder gives bnb::quantize_blockwise's codes (which
// the bitsandbytes golden test pins) for every value a block can hold, on the scalar and
// the SIMD path; decode inverts it.
#include <catch2/catch_test_macros.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "qtl/kernel/arch.hpp"
#include "qtl/layout/bitsandbytes.hpp"
#include "qtl/optim/state.hpp"

namespace {

using qtl::optim::state_bits;
using qtl::optim::state_tensor;

// Many values across the map's range: every float32 in [-1, 1] with a 12-bit stride over the
// bit patterns (the grid cells near zero are finer than any stride of the map), scaled.
std::vector<float> sweep() {
  std::vector<float> v;
  for (std::uint32_t bits = 0; bits <= 0x3f800000u; bits += 4099) {
    float f;
    std::memcpy(&f, &bits, 4);
    v.push_back(f), v.push_back(-f);
  }
  v.push_back(1.0f), v.push_back(-1.0f), v.push_back(0.0f), v.push_back(-0.0f);
  return v;
}

template <bool Signed>
void check_encoder() {
  const auto x = sweep();
  for (const std::int64_t blocksize : {256, 4096, 7}) {
    auto s = state_tensor::zeros(x.size(), state_bits::eight, Signed, blocksize);
    const auto bs = static_cast<std::size_t>(blocksize);
    for (std::size_t b = 0; b < x.size(); b += bs)
      qtl::optim::detail::encode_block<qtl::kernel::default_arch>(x.data() + b, std::min(bs, x.size() - b), s, b);
    std::vector<std::uint8_t> codes(x.size());
    std::vector<float> absmax(s.absmax.size());
    qtl::bnb::quantize_blockwise(std::span<const float>(x), blocksize, codes, absmax,
                                 Signed ? qtl::bnb::dynamic_map_kind::signed_map : qtl::bnb::dynamic_map_kind::unsigned_map);
    INFO("block size " << blocksize << (Signed ? ", signed map" : ", unsigned map"));
    CHECK(s.codes == codes);
    CHECK(s.absmax == absmax);
    std::vector<float> back(x.size()), expected(x.size());
    for (std::size_t b = 0; b < x.size(); b += bs) qtl::optim::detail::decode_block(s, b, std::min(bs, x.size() - b), back.data() + b);
    qtl::bnb::dequantize_blockwise(codes, absmax, blocksize, std::span<float>(expected),
                                   Signed ? qtl::bnb::dynamic_map_kind::signed_map : qtl::bnb::dynamic_map_kind::unsigned_map);
    CHECK(back == expected);
  }
}

}  // namespace

TEST_CASE("The grid-table encoder gives bnb::quantize_blockwise's codes and absmax", "[optim]") {
  check_encoder<true>();
  check_encoder<false>();
}

TEST_CASE("An all-zero block is code 0 with absmax 0; NaN encodes as code 0", "[optim]") {
  auto s = state_tensor::zeros(300, state_bits::eight, true, 256);
  std::vector<float> x(300, 0.0f);
  x[290] = 0.5f;
  x[291] = std::numeric_limits<float>::quiet_NaN();
  qtl::optim::detail::encode_block<qtl::kernel::default_arch>(x.data(), 256, s, 0);
  qtl::optim::detail::encode_block<qtl::kernel::default_arch>(x.data() + 256, 44, s, 256);
  CHECK(s.absmax[0] == 0.0f);
  CHECK(s.codes[0] == 0);
  CHECK(s.absmax[1] == 0.5f);
  CHECK(s.codes[290] == 255);
  CHECK(s.codes[291] == 0);
  CHECK(s.bytes() == 300 + 2 * sizeof(float));
}

// Every code at every position of the 64-code runs and in the tail, at lengths around the
// run size; where the CPU has AVX-512 VBMI decode_block takes the byte-permute decoder for
// the runs, so its result must equal the map's value times the absmax bit for bit.
TEST_CASE("decode_block gives each code's map value times the absmax at every position and length", "[optim]") {
#if defined(__x86_64__) && defined(__GNUC__)
  INFO("byte-permute (VBMI) decoder " << (qtl::optim::detail::cpu_has_vbmi() ? "in use" : "not available on this CPU"));
#endif
  for (const bool signed_map : {true, false}) {
    const auto& values = signed_map ? qtl::optim::detail::map_values<true>() : qtl::optim::detail::map_values<false>();
    for (const std::size_t n : {std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65}, std::size_t{256}, std::size_t{300}}) {
      for (std::size_t shift = 0; shift < 256; shift += 37) {
        auto s = state_tensor::zeros(n, state_bits::eight, signed_map, 512);
        for (std::size_t i = 0; i < n; ++i) s.codes[i] = static_cast<std::uint8_t>((i * 7 + shift) % 256);
        s.absmax[0] = -0.3125f - static_cast<float>(shift);
        std::vector<float> out(n);
        qtl::optim::detail::decode_block(s, 0, n, out.data());
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < n; ++i)
          wrong += std::bit_cast<std::uint32_t>(out[i]) != std::bit_cast<std::uint32_t>(values[s.codes[i]] * s.absmax[0]);
        INFO((signed_map ? "signed" : "unsigned") << " map, " << n << " codes, shift " << shift);
        CHECK(wrong == 0);
      }
    }
  }
}
