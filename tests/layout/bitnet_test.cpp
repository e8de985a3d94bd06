#include "qtl/layout/bitnet.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/core/bit_cast.hpp"
#include "qtl/core/error.hpp"
#include "layout/ternary_cases.hpp"

namespace bitnet = qtl::bitnet;
using qtl::matrix_view;

namespace {

const qtl::test::golden_file& golden() {
  static const auto file = qtl::test::golden_file::load("bitnet.qtlg");
  return file;
}

std::uint32_t bits(float x) { return qtl::bit_cast<std::uint32_t>(x); }

float golden_scalar(const std::string& name) { return golden().get<float>(name).at(0); }

std::size_t dim(const std::string& name, std::size_t d) { return static_cast<std::size_t>(golden().shape(name).at(d)); }

using qtl::test::random_ternary;

// The reference mean of |w| the way a plain C++ port would take it: in double.
float double_mean_s(const std::vector<float>& w) {
  double sum = 0.0;
  for (float x : w) sum += std::fabs(x);
  return 1.0f / static_cast<float>(sum / static_cast<double>(w.size()));
}

float sequential_float_mean_s(const std::vector<float>& w) {
  float sum = 0.0f;
  for (float x : w) sum += std::fabs(x);
  return 1.0f / (sum / static_cast<float>(w.size()));
}

}  // namespace

TEST_CASE("bitnet weight_quant: scales and codes bit-exact with torch", "[bitnet]") {
  for (const std::string name : {"w_normal", "w_ties", "w_zero", "w_tiny", "w_outlier", "w_order"}) {
    INFO(name);
    const auto w = golden().get<float>(name + ".w");
    const std::size_t rows = dim(name + ".w", 0), cols = dim(name + ".w", 1);
    std::vector<std::int8_t> codes(w.size(), 42);
    const auto ws = bitnet::quantize_weights(matrix_view<const float>(w.data(), rows, cols),
                                             matrix_view<std::int8_t>(codes.data(), rows, cols));
    CHECK(bits(ws.s) == bits(golden_scalar(name + ".s")));
    CHECK(bits(ws.scale) == bits(golden_scalar(name + ".scale")));
    CHECK(codes == golden().get<std::int8_t>(name + ".codes"));
  }
}

TEST_CASE("bitnet weight_quant: ties at 0.5 round to even, so to 0", "[bitnet]") {
  const auto w = golden().get<float>("w_ties.w");
  std::vector<std::int8_t> codes(w.size());
  const auto ws = bitnet::quantize_weights(matrix_view<const float>(w.data(), 4, 16), matrix_view<std::int8_t>(codes.data(), 4, 16));
  REQUIRE(ws.s == 4.0f);
  int ties = 0;
  for (std::size_t i = 0; i < w.size(); ++i)
    if (std::fabs(w[i]) == 0.125f) {
      ++ties;
      CHECK(codes[i] == 0);
    }
  CHECK(ties == 16);
}

TEST_CASE("bitnet absmean: the mean needs torch's float32 order", "[bitnet]") {
  // Guards that the golden tensors discriminate: a double or left-to-right float mean misses.
  for (const std::string name : {"w_order", "w_big"}) {
    INFO(name);
    const auto w = golden().get<float>(name + ".w");
    const float want = golden().contains(name + ".s") ? golden_scalar(name + ".s") : golden_scalar(name + ".s.t1");
    CHECK(bits(double_mean_s(w)) != bits(want));
    CHECK(bits(sequential_float_mean_s(w)) != bits(want));
  }
}

TEST_CASE("bitnet absmean: torch's thread-count dependent order from 32768 values on", "[bitnet]") {
  const auto w = golden().get<float>("w_big.w");
  const std::size_t rows = dim("w_big.w", 0), cols = dim("w_big.w", 1);
  REQUIRE(w.size() >= qtl::torch_grain_size);
  REQUIRE(bits(golden_scalar("w_big.s.t1")) != bits(golden_scalar("w_big.s.t2")));
  for (int threads : {1, 2, 3}) {
    INFO("threads " << threads);
    const auto suffix = ".t" + std::to_string(threads);
    const auto ws = bitnet::absmean_weight_scale(matrix_view<const float>(w.data(), rows, cols), threads);
    CHECK(bits(ws.s) == bits(golden_scalar("w_big.s" + suffix)));
    CHECK(bits(ws.scale) == bits(golden_scalar("w_big.scale" + suffix)));
  }
  std::vector<std::int8_t> codes(w.size());
  bitnet::quantize_weights(matrix_view<const float>(w.data(), rows, cols), matrix_view<std::int8_t>(codes.data(), rows, cols), 1);
  CHECK(codes == golden().get<std::int8_t>("w_big.codes"));
}

TEST_CASE("bitnet absmean: a strided view reads the same values as torch's contiguous copy", "[bitnet]") {
  const auto w = golden().get<float>("w_order.w");
  const std::size_t rows = dim("w_order.w", 0), cols = dim("w_order.w", 1), stride = cols + 5;
  std::vector<float> padded(rows * stride, 1e30f);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) padded[r * stride + c] = w[r * cols + c];
  const auto ws = bitnet::absmean_weight_scale(matrix_view<const float>(padded.data(), rows, cols, stride));
  CHECK(bits(ws.s) == bits(golden_scalar("w_order.s")));
}

TEST_CASE("bitnet activation_quant: per-token scales and codes bit-exact with torch", "[bitnet]") {
  const auto x = golden().get<float>("act.x");
  const std::size_t rows = dim("act.x", 0), cols = dim("act.x", 1);
  std::vector<std::int8_t> codes(x.size(), 42);
  std::vector<float> scales(rows, -1.0f);
  bitnet::quantize_activations(matrix_view<const float>(x.data(), rows, cols), matrix_view<std::int8_t>(codes.data(), rows, cols),
                               scales);
  CHECK(codes == golden().get<std::int8_t>("act.codes"));
  const auto want = golden().get<float>("act.s");
  REQUIRE(scales.size() == want.size());
  for (std::size_t r = 0; r < rows; ++r) {
    INFO("token " << r);
    CHECK(bits(scales[r]) == bits(want[r]));
  }
  // Row 5's max is one where 127 / m in one rounding is not torch's reciprocal() * 127.
  float m = 0.0f;
  for (std::size_t c = 0; c < cols; ++c) m = std::fmax(m, std::fabs(x[5 * cols + c]));
  CHECK(bits(127.0f / m) != bits(want[5]));
  // Row 3 has s = 127 and values landing on .5: ties to even.
  REQUIRE(want[3] == 127.0f);
  int ties = 0;
  for (std::size_t c = 0; c < cols; ++c) {
    const float v = x[3 * cols + c] * 127.0f;
    if (v - std::floor(v) == 0.5f) {
      ++ties;
      CHECK(static_cast<int>(codes[3 * cols + c]) % 2 == 0);
    }
  }
  CHECK(ties > 8);
}

TEST_CASE("bitnet I2_S: bytes bit-exact with BitNet's quantize_i2_s (x86 and ARM blocks)", "[bitnet]") {
  const auto w = golden().get<float>("i2s.w");
  const std::size_t rows = dim("i2s.w", 0), cols = dim("i2s.w", 1);
  std::vector<std::int8_t> codes(w.size());
  const auto ws = bitnet::quantize_weights(matrix_view<const float>(w.data(), rows, cols),
                                           matrix_view<std::int8_t>(codes.data(), rows, cols));
  REQUIRE(codes == golden().get<std::int8_t>("i2s.codes"));
  const matrix_view<const std::int8_t> cv(codes.data(), rows, cols);

  std::vector<std::uint8_t> x86(bitnet::i2_s::bytes(rows, cols), 0xEE);
  bitnet::pack_i2_s(cv, ws.scale, x86);
  CHECK(x86 == golden().get<std::uint8_t>("i2s.x86"));

  std::vector<std::uint8_t> arm(bitnet::i2_s_arm::bytes(rows, cols), 0xEE);
  bitnet::pack_i2_s<bitnet::i2_s_arm>(cv, ws.scale, arm);
  CHECK(arm == golden().get<std::uint8_t>("i2s.arm"));
  CHECK(arm != x86);

  std::vector<std::int8_t> back(codes.size(), 42);
  const float scale = bitnet::unpack_i2_s(x86, matrix_view<std::int8_t>(back.data(), rows, cols));
  CHECK(back == codes);
  CHECK(bits(scale) == bits(ws.scale));
  std::fill(back.begin(), back.end(), std::int8_t{42});
  CHECK(bits(bitnet::unpack_i2_s<bitnet::i2_s_arm>(arm, matrix_view<std::int8_t>(back.data(), rows, cols))) == bits(ws.scale));
  CHECK(back == codes);
}

TEST_CASE("bitnet I2_S: hand-checked block", "[bitnet]") {
  std::vector<std::int8_t> codes(128, 0);  // code 1 everywhere: bytes 0b01010101
  codes[0] = 1;                            // byte 0, bits 7-6 = 2
  codes[33] = -1;                          // byte 1, bits 5-4 = 0
  codes[127] = 1;                          // byte 31, bits 1-0 = 2
  std::vector<std::uint8_t> out(bitnet::i2_s::bytes(1, 128), 0xEE);
  REQUIRE(out.size() == 64);
  bitnet::pack_i2_s(matrix_view<const std::int8_t>(codes.data(), 1, 128), 0.5f, out);
  std::vector<std::uint8_t> want(64, 0x00);
  for (std::size_t b = 0; b < 32; ++b) want[b] = 0x55;
  want[0] = 0x95;
  want[1] = 0x45;
  want[31] = 0x56;
  want[35] = 0x3F;  // 0.5f = 0x3F000000, little-endian
  CHECK(out == want);
}

TEST_CASE("bitnet I2_S: pack/unpack round trips", "[bitnet]") {
  std::uint32_t seed = 1;
  for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{1, 128}, {3, 256}, {5, 384}, {16, 1024}}) {
    INFO(rows << " x " << cols);
    const auto codes = random_ternary(rows * cols, seed++);
    const matrix_view<const std::int8_t> cv(codes.data(), rows, cols);
    std::vector<std::uint8_t> packed(bitnet::i2_s::bytes(rows, cols));
    bitnet::pack_i2_s(cv, 0.75f, packed);
    std::vector<std::int8_t> back(codes.size(), 42);
    CHECK(bitnet::unpack_i2_s(packed, matrix_view<std::int8_t>(back.data(), rows, cols)) == 0.75f);
    CHECK(back == codes);

    std::vector<std::uint8_t> arm(bitnet::i2_s_arm::bytes(rows, cols));
    bitnet::pack_i2_s<bitnet::i2_s_arm>(cv, 0.75f, arm);
    std::fill(back.begin(), back.end(), std::int8_t{42});
    bitnet::unpack_i2_s<bitnet::i2_s_arm>(arm, matrix_view<std::int8_t>(back.data(), rows, cols));
    CHECK(back == codes);
  }
  // ARM's block of 64 allows rows x86's does not.
  const auto codes = random_ternary(2 * 64, 99);
  std::vector<std::uint8_t> arm(bitnet::i2_s_arm::bytes(2, 64));
  bitnet::pack_i2_s<bitnet::i2_s_arm>(matrix_view<const std::int8_t>(codes.data(), 2, 64), 1.0f, arm);
  std::vector<std::int8_t> back(codes.size());
  bitnet::unpack_i2_s<bitnet::i2_s_arm>(arm, matrix_view<std::int8_t>(back.data(), 2, 64));
  CHECK(back == codes);
}

TEST_CASE("bitnet GPU W2: bytes bit-exact with BitNet's pack_weight.py", "[bitnet]") {
  for (const std::string name : {"w2a", "w2b"}) {
    INFO(name);
    const auto codes = golden().get<std::int8_t>(name + ".codes");
    const std::size_t rows = dim(name + ".codes", 0), cols = dim(name + ".codes", 1);
    std::vector<std::uint8_t> packed(bitnet::gpu_w2::bytes(rows, cols), 0xEE);
    bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), rows, cols), packed);
    CHECK(packed == golden().get<std::uint8_t>(name + ".packed"));
    std::vector<std::int8_t> back(codes.size(), 42);
    bitnet::unpack_gpu_w2(packed, matrix_view<std::int8_t>(back.data(), rows, cols));
    CHECK(back == codes);
  }
}

TEST_CASE("bitnet GPU W2: hand-checked tile (interleave and 16x32 permutation)", "[bitnet]") {
  std::vector<std::int8_t> codes(16 * 32, 0);  // code 2 everywhere: bytes 0b10101010
  codes[0 * 32 + 1] = 1;    // word 0, code 1 -> byte 1, bits 1-0 = 3
  codes[0 * 32 + 4] = -1;   // word 0, code 4 -> byte 0, bits 3-2 = 1 (interleave: slot 1 holds code 4)
  codes[8 * 32 + 0] = 1;    // row 8 -> word 16 -> byte 64, bits 1-0 = 3
  codes[0 * 32 + 16] = -1;  // columns 16..31 of row 0 -> word 8 -> byte 32, bits 1-0 = 1
  codes[15 * 32 + 31] = 1;  // row 15, column 31 -> word 31, code 15 -> byte 127, bits 7-6 = 3
  codes[9 * 32 + 22] = -1;  // row 9, column 22 -> word 16 + 8 + 1 = 25, code 6 -> byte 102, bits 3-2 = 1
  std::vector<std::uint8_t> out(128, 0);
  bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), 16, 32), out);
  std::vector<std::uint8_t> want(128, 0xAA);
  want[1] = 0xAB;
  want[0] = 0xA6;
  want[64] = 0xAB;
  want[32] = 0xA9;
  want[127] = 0xEA;
  want[102] = 0xA6;
  CHECK(out == want);
}

TEST_CASE("bitnet GPU W2: the W2A8 kernel's addressing and decode read the matrix back", "[bitnet]") {
  // ladder_int8xint2_kernel: block b (16 rows), thread (x < 8, y < 16), K step k0 of 128;
  // thread x takes activations k0 * 128 + x * 16 .. + 15 and one 32-bit word of B, decoded
  // by (word >> 2i) & 0x03030303 - 0x02020202 into values 4i .. 4i + 3.
  constexpr std::size_t rows = 32, cols = 256;
  REQUIRE(bitnet::gpu_w2::gemv_accepts(rows, cols));
  const auto codes = random_ternary(rows * cols, 7);
  std::vector<std::uint8_t> packed(bitnet::gpu_w2::bytes(rows, cols));
  bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), rows, cols), packed);
  for (std::size_t b = 0; b < rows / 16; ++b)
    for (std::size_t y = 0; y < 16; ++y)
      for (std::size_t k0 = 0; k0 < cols / 128; ++k0)
        for (std::size_t x = 0; x < 8; ++x) {
          const std::size_t offset = b * 16 * cols / 4 + k0 * 8 * 16 * 16 / 4 + (x >> 1) * 32 * 16 / 4 +
                                     (y >> 3) * (32 * 16 / 2) / 4 + (x & 1) * (32 * 16 / 4) / 4 + (y & 7) * (32 / 2) / 4;
          std::uint32_t word = 0;
          for (std::size_t k = 0; k < 4; ++k) word |= static_cast<std::uint32_t>(packed[offset + k]) << (8 * k);
          for (std::size_t i = 0; i < 4; ++i) {
            const std::uint32_t four = (word >> (2 * i)) & 0x03030303u;
            for (std::size_t lane = 0; lane < 4; ++lane) {
              const int value = static_cast<int>((four >> (8 * lane)) & 0xFFu) - 2;
              const std::size_t row = b * 16 + y, col = k0 * 128 + x * 16 + 4 * i + lane;
              REQUIRE(value == codes[row * cols + col]);
            }
          }
        }
}

TEST_CASE("bitnet GPU W2: pack/unpack round trips", "[bitnet]") {
  std::uint32_t seed = 100;
  for (auto [rows, cols] :
       {std::pair<std::size_t, std::size_t>{16, 32}, {16, 128}, {32, 64}, {48, 96}, {64, 256}, {112, 160}}) {
    INFO(rows << " x " << cols);
    const auto codes = random_ternary(rows * cols, seed++);
    std::vector<std::uint8_t> packed(bitnet::gpu_w2::bytes(rows, cols));
    bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), rows, cols), packed);
    std::vector<std::int8_t> back(codes.size(), 42);
    bitnet::unpack_gpu_w2(packed, matrix_view<std::int8_t>(back.data(), rows, cols));
    CHECK(back == codes);
  }
  CHECK(!bitnet::gpu_w2::gemv_accepts(48, 96));
  CHECK(!bitnet::gpu_w2::gemv_accepts(40, 128));
}

namespace {

// f must throw qtl::error with this code and leave buffer (watched live) as it was.
template <class F, class T>
void check_throws_untouched(F&& f, qtl::errc code, const std::vector<T>& buffer) {
  const auto before = buffer;
  try {
    f();
    FAIL("no qtl::error thrown");
  } catch (const qtl::error& e) {
    INFO(e.what());
    CHECK(e.code() == code);
  }
  CHECK(buffer == before);
}

}  // namespace

TEST_CASE("bitnet layouts: bad shapes, short buffers and bad codes throw and write nothing", "[bitnet]") {
  using qtl::errc;
  auto codes = random_ternary(64 * 256, 5);
  std::vector<std::uint8_t> out(bitnet::i2_s::bytes(64, 256), 0x5C);
  std::vector<std::int8_t> sink(codes.size(), 42);

  // I2_S: K not a multiple of the block; short buffer; a code outside -1..1
  check_throws_untouched([&] { bitnet::pack_i2_s(matrix_view<const std::int8_t>(codes.data(), 2, 100), 1.0f, out); },
                         errc::group_size, out);
  check_throws_untouched([&] { bitnet::pack_i2_s<bitnet::i2_s_arm>(matrix_view<const std::int8_t>(codes.data(), 1, 96), 1.0f, out); },
                         errc::group_size, out);
  std::vector<std::uint8_t> short_out(bitnet::i2_s::bytes(4, 256) - 1, 0x5C);
  check_throws_untouched([&] { bitnet::pack_i2_s(matrix_view<const std::int8_t>(codes.data(), 4, 256), 1.0f, short_out); },
                         errc::shape_mismatch, short_out);
  codes[300] = 2;
  check_throws_untouched([&] { bitnet::pack_i2_s(matrix_view<const std::int8_t>(codes.data(), 4, 256), 1.0f, out); },
                         errc::out_of_range, out);
  check_throws_untouched([&] { bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), 16, 32 * 10), out); },
                         errc::out_of_range, out);
  codes[300] = 0;

  // I2_S unpack: short input; code 3
  std::vector<std::uint8_t> packed(bitnet::i2_s::bytes(4, 256));
  bitnet::pack_i2_s(matrix_view<const std::int8_t>(codes.data(), 4, 256), 1.0f, packed);
  const std::span<const std::uint8_t> truncated(packed.data(), packed.size() - 1);
  check_throws_untouched([&] { bitnet::unpack_i2_s(truncated, matrix_view<std::int8_t>(sink.data(), 4, 256)); },
                         errc::shape_mismatch, sink);
  packed[17] |= 0x30;
  check_throws_untouched([&] { bitnet::unpack_i2_s(packed, matrix_view<std::int8_t>(sink.data(), 4, 256)); },
                         errc::invalid_argument, sink);

  // GPU W2: M not a multiple of 16; K not a multiple of 32; short buffer; code 0 on unpack
  check_throws_untouched([&] { bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), 20, 64), out); },
                         errc::shape_mismatch, out);
  check_throws_untouched([&] { bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), 16, 48), out); },
                         errc::shape_mismatch, out);
  std::vector<std::uint8_t> w2_short(bitnet::gpu_w2::bytes(32, 64) - 4, 0x5C);
  check_throws_untouched([&] { bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), 32, 64), w2_short); },
                         errc::shape_mismatch, w2_short);
  std::vector<std::uint8_t> w2(bitnet::gpu_w2::bytes(32, 64));
  bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), 32, 64), w2);
  check_throws_untouched([&] { bitnet::unpack_gpu_w2(std::span<const std::uint8_t>(w2.data(), w2.size() - 1),
                                                     matrix_view<std::int8_t>(sink.data(), 32, 64)); },
                         errc::shape_mismatch, sink);
  w2[200] &= 0xF3;  // one 2-bit slot to 0
  check_throws_untouched([&] { bitnet::unpack_gpu_w2(w2, matrix_view<std::int8_t>(sink.data(), 32, 64)); },
                         errc::invalid_argument, sink);
  try {
    bitnet::pack_gpu_w2(matrix_view<const std::int8_t>(codes.data(), 20, 64), out);
  } catch (const qtl::error& e) {
    CHECK(std::string(e.what()).find("M % 16 == 0") != std::string::npos);
  }
}

TEST_CASE("bitnet quantizers: bad input throws and writes nothing", "[bitnet]") {
  using qtl::errc;
  std::vector<float> x(4 * 32, 0.25f);
  std::vector<std::int8_t> codes(x.size(), 42);
  std::vector<float> scales(4, -1.0f);

  x[77] = std::nanf("");
  check_throws_untouched([&] { bitnet::quantize_weights(matrix_view<const float>(x.data(), 4, 32), matrix_view<std::int8_t>(codes.data(), 4, 32)); },
                         errc::non_finite, codes);
  x[77] = INFINITY;
  check_throws_untouched([&] {
    bitnet::quantize_activations(matrix_view<const float>(x.data(), 4, 32), matrix_view<std::int8_t>(codes.data(), 4, 32), scales);
  }, errc::non_finite, scales);
  CHECK(codes == std::vector<std::int8_t>(x.size(), 42));
  CHECK(scales == std::vector<float>(4, -1.0f));
  x[77] = 0.5f;

  check_throws_untouched([&] {
    bitnet::quantize_activations(matrix_view<const float>(x.data(), 4, 32), matrix_view<std::int8_t>(codes.data(), 4, 32),
                                 std::span<float>(scales.data(), 3));
  }, errc::shape_mismatch, codes);
  check_throws_untouched([&] { bitnet::quantize_weights(matrix_view<const float>(x.data(), 4, 32), matrix_view<std::int8_t>(codes.data(), 4, 31)); },
                         errc::shape_mismatch, codes);
  check_throws_untouched([&] { bitnet::absmean_weight_scale(matrix_view<const float>(x.data(), 0, 32)); },
                         errc::invalid_argument, codes);
}
