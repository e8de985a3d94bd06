// ggml's quantized block structs, byte for byte (ggml-common.h), with the ggml type id
// that GGUF files store for each. Scales are IEEE half bits (ggml_half).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace qtl::ggml {

// GGUF / ggml tensor type ids (ggml.h, enum ggml_type) of the types qtl reads or writes.
enum class type_id : std::uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
  q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
  iq4_nl = 20, i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, bf16 = 30,
  tq1_0 = 34, tq2_0 = 35, mxfp4 = 39,
};

inline constexpr std::size_t qk_k = 256;  // super-block size of the K-quants and TQ types

// Each block: `elements` values; `type` its ggml type id; `name` as ggml spells it.
struct block_q4_0 {  // 4.5 bits/value: d * (q - 8)
  static constexpr std::size_t elements = 32;
  static constexpr type_id type = type_id::q4_0;
  static constexpr std::string_view name = "q4_0";
  std::uint16_t d;
  std::uint8_t qs[16];  // value j in the low nibble of qs[j], value j + 16 in the high
};

struct block_q4_1 {  // 5 bits/value: d * q + m
  static constexpr std::size_t elements = 32;
  static constexpr type_id type = type_id::q4_1;
  static constexpr std::string_view name = "q4_1";
  std::uint16_t d, m;
  std::uint8_t qs[16];
};

struct block_q5_0 {  // 5.5 bits/value: d * (q - 16)
  static constexpr std::size_t elements = 32;
  static constexpr type_id type = type_id::q5_0;
  static constexpr std::string_view name = "q5_0";
  std::uint16_t d;
  std::uint8_t qh[4];  // bit j (little-endian uint32) is bit 4 of value j
  std::uint8_t qs[16];
};

struct block_q5_1 {  // 6 bits/value: d * q + m
  static constexpr std::size_t elements = 32;
  static constexpr type_id type = type_id::q5_1;
  static constexpr std::string_view name = "q5_1";
  std::uint16_t d, m;
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};

struct block_q8_0 {  // 8.5 bits/value: d * q
  static constexpr std::size_t elements = 32;
  static constexpr type_id type = type_id::q8_0;
  static constexpr std::string_view name = "q8_0";
  std::uint16_t d;
  std::int8_t qs[32];
};

struct block_q8_1 {  // activations for Q4_1/Q5_1 dot products: s = d * sum(qs)
  static constexpr std::size_t elements = 32;
  static constexpr type_id type = type_id::q8_1;
  static constexpr std::string_view name = "q8_1";
  std::uint16_t d, s;
  std::int8_t qs[32];
};

struct block_iq4_nl {  // 4.5 bits/value: d * kvalues_iq4nl[q]
  static constexpr std::size_t elements = 32;
  static constexpr type_id type = type_id::iq4_nl;
  static constexpr std::string_view name = "iq4_nl";
  std::uint16_t d;
  std::uint8_t qs[16];
};

struct block_mxfp4 {  // ggml's MXFP4: E8M0 exponent, E2M1 codes in Q4_0's nibble order
  static constexpr std::size_t elements = 32;
  static constexpr type_id type = type_id::mxfp4;
  static constexpr std::string_view name = "mxfp4";
  std::uint8_t e;
  std::uint8_t qs[16];
};

struct block_q2_k {  // 2.625 bits/value: 16 sub-blocks of 16 with 4-bit scales and mins
  static constexpr std::size_t elements = qk_k;
  static constexpr type_id type = type_id::q2_k;
  static constexpr std::string_view name = "q2_K";
  std::uint8_t scales[qk_k / 16];  // scale in the low nibble, min in the high
  std::uint8_t qs[qk_k / 4];
  std::uint16_t d, dmin;
};

struct block_q3_k {  // 3.4375 bits/value: 16 sub-blocks of 16 with 6-bit signed scales
  static constexpr std::size_t elements = qk_k;
  static constexpr type_id type = type_id::q3_k;
  static constexpr std::string_view name = "q3_K";
  std::uint8_t hmask[qk_k / 8];  // bit 2 of each code
  std::uint8_t qs[qk_k / 4];     // bits 0-1
  std::uint8_t scales[12];
  std::uint16_t d;
};

struct block_q4_k {  // 4.5 bits/value: 8 sub-blocks of 32 with 6-bit scales and mins
  static constexpr std::size_t elements = qk_k;
  static constexpr type_id type = type_id::q4_k;
  static constexpr std::string_view name = "q4_K";
  std::uint16_t d, dmin;
  std::uint8_t scales[12];
  std::uint8_t qs[128];
};

struct block_q5_k {  // 5.5 bits/value: Q4_K plus one high bit per value
  static constexpr std::size_t elements = qk_k;
  static constexpr type_id type = type_id::q5_k;
  static constexpr std::string_view name = "q5_K";
  std::uint16_t d, dmin;
  std::uint8_t scales[12];
  std::uint8_t qh[qk_k / 8];
  std::uint8_t qs[qk_k / 2];
};

struct block_q6_k {  // 6.5625 bits/value: 16 sub-blocks of 16 with int8 scales
  static constexpr std::size_t elements = qk_k;
  static constexpr type_id type = type_id::q6_k;
  static constexpr std::string_view name = "q6_K";
  std::uint8_t ql[128];  // low 4 bits
  std::uint8_t qh[64];   // high 2 bits
  std::int8_t scales[16];
  std::uint16_t d;
};

struct block_q8_k {  // activations for K-quant dot products
  static constexpr std::size_t elements = qk_k;
  static constexpr type_id type = type_id::q8_k;
  static constexpr std::string_view name = "q8_K";
  float d;
  std::int8_t qs[qk_k];
  std::int16_t bsums[qk_k / 16];  // sums of qs over groups of 16
};

struct block_tq1_0 {  // 1.6875 bits/value: ternary, 5 trits per byte in base 3
  static constexpr std::size_t elements = qk_k;
  static constexpr type_id type = type_id::tq1_0;
  static constexpr std::string_view name = "tq1_0";
  std::uint8_t qs[(qk_k - 4 * qk_k / 64) / 5];  // 48 bytes: 240 values
  std::uint8_t qh[qk_k / 64];                   // 4 bytes: the last 16 values, 4 per byte
  std::uint16_t d;
};

struct block_tq2_0 {  // 2.0625 bits/value: ternary, 2 bits per value (q - 1)
  static constexpr std::size_t elements = qk_k;
  static constexpr type_id type = type_id::tq2_0;
  static constexpr std::string_view name = "tq2_0";
  std::uint8_t qs[qk_k / 4];
  std::uint16_t d;
};

static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22 &&
              sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34 && sizeof(block_q8_1) == 36 &&
              sizeof(block_iq4_nl) == 18 && sizeof(block_mxfp4) == 17);
static_assert(sizeof(block_q2_k) == 84 && sizeof(block_q3_k) == 110 && sizeof(block_q5_k) == 176);
static_assert(sizeof(block_q4_k) == 144 && sizeof(block_q6_k) == 210 && sizeof(block_q8_k) == 292 &&
              sizeof(block_tq1_0) == 54 && sizeof(block_tq2_0) == 66);

// What a GGUF reader needs to size a tensor of any type id above: `elements` values take
// `bytes` bytes (1 and the scalar's size for the plain types).
struct type_traits {
  std::string_view name;
  std::size_t elements;
  std::size_t bytes;
};

template <class B>
constexpr type_traits traits_of_block() noexcept {
  return {B::name, B::elements, sizeof(B)};
}

// std::nullopt for an id qtl does not know (removed, IQ, or newer than qtl).
constexpr std::optional<type_traits> traits(type_id id) noexcept {
  switch (id) {
    case type_id::f32: return type_traits{"f32", 1, 4};
    case type_id::f16: return type_traits{"f16", 1, 2};
    case type_id::q4_0: return traits_of_block<block_q4_0>();
    case type_id::q4_1: return traits_of_block<block_q4_1>();
    case type_id::q5_0: return traits_of_block<block_q5_0>();
    case type_id::q5_1: return traits_of_block<block_q5_1>();
    case type_id::q8_0: return traits_of_block<block_q8_0>();
    case type_id::q8_1: return traits_of_block<block_q8_1>();
    case type_id::q2_k: return traits_of_block<block_q2_k>();
    case type_id::q3_k: return traits_of_block<block_q3_k>();
    case type_id::q4_k: return traits_of_block<block_q4_k>();
    case type_id::q5_k: return traits_of_block<block_q5_k>();
    case type_id::q6_k: return traits_of_block<block_q6_k>();
    case type_id::q8_k: return traits_of_block<block_q8_k>();
    case type_id::iq4_nl: return traits_of_block<block_iq4_nl>();
    case type_id::i8: return type_traits{"i8", 1, 1};
    case type_id::i16: return type_traits{"i16", 1, 2};
    case type_id::i32: return type_traits{"i32", 1, 4};
    case type_id::i64: return type_traits{"i64", 1, 8};
    case type_id::f64: return type_traits{"f64", 1, 8};
    case type_id::bf16: return type_traits{"bf16", 1, 2};
    case type_id::tq1_0: return traits_of_block<block_tq1_0>();
    case type_id::tq2_0: return traits_of_block<block_tq2_0>();
    case type_id::mxfp4: return traits_of_block<block_mxfp4>();
  }
  return std::nullopt;
}

static_assert(traits(type_id::q2_k)->bytes == 84 && traits(type_id::q3_k)->bytes == 110 &&
              traits(type_id::q5_k)->bytes == 176 && traits(type_id::tq2_0)->bytes == 66 &&
              !traits(static_cast<type_id>(16)).has_value());

}  // namespace qtl::ggml
