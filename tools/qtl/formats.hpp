// The target formats of `qtl quantize`: what each is called, which container holds it,
// the tensors it turns one weight into (names, dtypes, shapes: known before any data,
// for the streaming writers) and the encoder that fills them and returns the
// dequantized values (for SQNR).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "model_file.hpp"
#include "tool_compositions.hpp"  // qtl_add_composed_dispatch (tools/CMakeLists.txt): kernel/composed_dispatch.hpp
#include "qtl/format/bnb_fp4.hpp"
#include "qtl/format/minifloat.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/kernel/dequantize.hpp"
#include "qtl/kernel/parallel_for.hpp"
#include "qtl/kernel/quantize.hpp"
#include "qtl/layout/bitsandbytes.hpp"

namespace qtl::tool {

enum class family { ggml, bnb_4bit, integer, fp8 };

struct format_info {
  std::string_view name;
  family kind;
  ggml::type_id ggml_type = ggml::type_id::f32;  // family::ggml only
  std::optional<std::uint32_t> file_type;        // llama.cpp's general.file_type (LLAMA_FTYPE_MOSTLY_*)
  double warn_sqnr_db;                           // default warning threshold
  int bits = 0;                                  // family::integer only
};

inline constexpr std::array<format_info, 22> formats{{
    {"f32", family::ggml, ggml::type_id::f32, 0, 100.0},  // plain conversions, as llama-quantize's F32/F16/BF16
    {"f16", family::ggml, ggml::type_id::f16, 1, 50.0},
    {"bf16", family::ggml, ggml::type_id::bf16, 32, 40.0},
    {"q8_0", family::ggml, ggml::type_id::q8_0, 7, 30.0},
    {"q6_K", family::ggml, ggml::type_id::q6_k, 18, 25.0},
    {"q5_K", family::ggml, ggml::type_id::q5_k, 16, 20.0},  // Q5_K_S: every tensor Q5_K
    {"q4_K", family::ggml, ggml::type_id::q4_k, 14, 15.0},  // Q4_K_S
    {"q3_K", family::ggml, ggml::type_id::q3_k, 11, 10.0},  // Q3_K_S
    {"q2_K", family::ggml, ggml::type_id::q2_k, 10, 5.0},
    {"q4_0", family::ggml, ggml::type_id::q4_0, 2, 15.0},
    {"q4_1", family::ggml, ggml::type_id::q4_1, 3, 15.0},
    {"q5_0", family::ggml, ggml::type_id::q5_0, 8, 20.0},
    {"q5_1", family::ggml, ggml::type_id::q5_1, 9, 20.0},
    {"iq4_nl", family::ggml, ggml::type_id::iq4_nl, 25, 15.0},
    {"tq1_0", family::ggml, ggml::type_id::tq1_0, 36, 5.0},
    {"tq2_0", family::ggml, ggml::type_id::tq2_0, 37, 5.0},
    {"mxfp4", family::ggml, ggml::type_id::mxfp4, 38, 15.0},
    {"nf4", family::bnb_4bit, {}, {}, 15.0},
    {"fp4", family::bnb_4bit, {}, {}, 12.0},
    {"int8", family::integer, {}, {}, 30.0, 8},
    {"int4", family::integer, {}, {}, 15.0, 4},
    {"fp8_e4m3", family::fp8, {}, {}, 25.0},
}};

// By name, in any case: llama-quantize's Q4_K is q4_K here.
inline const format_info* find_format(std::string_view name) {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  for (const auto& f : formats)
    if (std::ranges::equal(f.name, name, {}, lower, lower)) return &f;
  return nullptr;
}

// llama-quantize's type for a tensor whose rows are not whole blocks of f
// (tensor_type_fallback in llama.cpp's llama-quant.cpp): the 256-value types go to a
// 32-value one; nullptr where there is none (then the tensor is kept).
inline const format_info* fallback_format(const format_info& f) {
  using ggml::type_id;
  switch (f.kind == family::ggml ? f.ggml_type : type_id::f32) {
    case type_id::q2_k:
    case type_id::q3_k:
    case type_id::tq1_0:
    case type_id::tq2_0:
      return find_format("q4_0");
    case type_id::q4_k:
      return find_format("q5_0");
    case type_id::q5_k:
      return find_format("q5_1");
    case type_id::q6_k:
      return find_format("q8_0");
    default:
      return nullptr;
  }
}
inline container container_for(const format_info& f) {
  return f.kind == family::ggml ? container::gguf : container::safetensors;
}

struct encode_options {
  std::int64_t group_size = 0;  // --group-size; 0: each format's default (group_size())
  bool asymmetric = false;      // integer formats
  unsigned threads = 1;
};

// The block or group size f uses for a tensor with rows of `cols`: --group-size, else the
// format's default: 64 for nf4/fp4 (bitsandbytes'), 128 for int4 (the W4A16 convention),
// a whole row for int8 (per channel). ggml and fp8 fix their own.
inline std::int64_t group_size(const format_info& f, const encode_options& o, std::int64_t cols) {
  if (o.group_size > 0) return o.group_size;
  if (f.kind == family::bnb_4bit) return 64;
  return f.kind == family::integer && f.bits == 4 ? 128 : cols;
}

// One tensor of the output: row-major shape.
struct out_tensor {
  std::string name;
  std::variant<st::dtype, ggml::type_id> type;
  std::vector<std::uint64_t> shape;
};

// Why `f` cannot hold tensor t (empty when it can): rows that are not whole blocks.
inline std::string unfit_reason(const format_info& f, const tensor_entry& t, const encode_options& o) {
  if (f.kind == family::ggml) {
    const auto block = ggml::traits(f.ggml_type)->elements;
    if (t.row_length() % block != 0)
      return "row of " + std::to_string(t.row_length()) + " is not a multiple of " + std::string(f.name) +
             "'s block of " + std::to_string(block);
  }
  if (f.kind == family::bnb_4bit && t.elements() % 2 != 0) return "odd element count for packed 4-bit";
  if (f.kind == family::integer) {
    if (f.bits == 4 && t.shape.size() != 2) return "int4 packs 2-D weights only";
    const auto g = group_size(f, o, t.row_length());
    if (t.row_length() % g != 0)
      return "row of " + std::to_string(t.row_length()) + " is not a multiple of the group size " + std::to_string(g);
  }
  return {};
}

// bitsandbytes' QuantState.dtype of the source tensor.
inline std::string_view torch_dtype(const tensor_entry& t) {
  if (const auto* s = std::get_if<st::dtype>(&t.type))
    return *s == st::dtype::f16 ? "float16" : *s == st::dtype::bf16 ? "bfloat16" : "float32";
  const auto id = std::get<ggml::type_id>(t.type);
  return id == ggml::type_id::f16 ? "float16" : id == ggml::type_id::bf16 ? "bfloat16" : "float32";
}

// The JSON transformers stores as <name>.quant_state.bitsandbytes__<type> (uint8 bytes),
// spelled as Python's json.dumps writes QuantState.as_dict(packed=True)'s non-tensor items.
inline std::string quant_state_json(const format_info& f, const tensor_entry& t, std::int64_t blocksize) {
  std::string shape;
  for (std::size_t i = 0; i < t.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape[i]);
  return "{\"quant_type\": \"" + std::string(f.name) + "\", \"blocksize\": " + std::to_string(blocksize) +
         ", \"dtype\": \"" + std::string(torch_dtype(t)) + "\", \"shape\": [" + shape + "]}";
}

// The output tensors of t in format f (the first is the weight itself).
inline std::vector<out_tensor> plan_tensors(const format_info& f, const tensor_entry& t, const encode_options& o) {
  const std::uint64_t rows = t.elements() / std::max<std::uint64_t>(t.row_length(), 1);
  switch (f.kind) {
    case family::ggml:
      return {{t.name, f.ggml_type, t.shape}};
    case family::bnb_4bit: {
      const auto bs = group_size(f, o, t.row_length());
      return {{t.name, st::dtype::u8, {t.elements() / 2, 1}},
              {t.name + ".absmax", st::dtype::f32, {bnb::block_count(t.elements(), bs)}},
              {t.name + ".quant_map", st::dtype::f32, {16}},
              {t.name + ".quant_state.bitsandbytes__" + std::string(f.name),
               st::dtype::u8,
               {quant_state_json(f, t, bs).size()}}};
    }
    case family::integer: {
      const std::uint64_t cols = t.row_length();
      const std::uint64_t groups = cols / static_cast<std::uint64_t>(group_size(f, o, t.row_length()));
      std::vector<out_tensor> out;
      if (f.bits == 8) {
        out = {{t.name, st::dtype::i8, t.shape}, {t.name + "_scale", st::dtype::f32, {rows, groups}}};
        if (o.asymmetric) out.push_back({t.name + "_zero_point", st::dtype::i8, {rows, groups}});
      } else {  // compressed-tensors pack-quantized: 8 codes an int32 along rows, zero points along columns
        out = {{t.name + "_packed", st::dtype::i32, {rows, (cols + 7) / 8}},
               {t.name + "_scale", st::dtype::f32, {rows, groups}},
               {t.name + "_shape", st::dtype::i64, {2}}};
        if (o.asymmetric) out.push_back({t.name + "_zero_point", st::dtype::i32, {(rows + 7) / 8, groups}});
      }
      return out;
    }
    case family::fp8:
      return {{t.name, st::dtype::f8_e4m3, t.shape}, {t.name + "_scale", st::dtype::f32, {rows, 1}}};
  }
  return {};
}

struct encoded {
  std::vector<std::vector<std::byte>> tensors;  // in plan_tensors' order
  std::vector<float> dequantized;
};

namespace detail {

template <class T>
std::vector<std::byte> bytes_of(std::span<const T> v) {
  const auto b = std::as_bytes(v);
  return {b.begin(), b.end()};
}

// Rows [begin, end) of x through the quantizer of B (the table's kernel where it has one),
// then back to float.
template <class B>
encoded encode_ggml(const kernel::kernel_table& k, std::span<const float> x, std::size_t cols, unsigned threads,
                    std::span<const float> importance) {
  const std::size_t rows = cols == 0 ? 0 : x.size() / cols, per_row = cols / B::elements;
  std::vector<B> blocks(rows * per_row);
  std::vector<float> back(x.size());
  kernel::parallel_for(rows, threads, [&](std::size_t r0, std::size_t r1) {
    const auto in = x.subspan(r0 * cols, (r1 - r0) * cols);
    const auto out = std::span<B>(blocks).subspan(r0 * per_row, (r1 - r0) * per_row);
    bool weighted = false;  // the types without an importance search ignore it, as in ggml
    if constexpr (ggml::importance_block<B>)
      if (!importance.empty()) {  // one weight per column of each expert (3-D: experts outermost)
        const std::size_t per_expert = rows / (importance.size() / cols);
        for (std::size_t r = r0; r < r1;) {
          const std::size_t e = r / per_expert, end = std::min(r1, (e + 1) * per_expert);
          ggml::quantize<B>(x.subspan(r * cols, (end - r) * cols),
                            std::span<B>(blocks).subspan(r * per_row, (end - r) * per_row), cols,
                            importance.subspan(e * cols, cols));
          r = end;
        }
        weighted = true;
      }
    if (!weighted) {
      if constexpr (kernel::table_quantized_block<B>)
        kernel::quantize<B>(k, in, out, cols);
      else
        ggml::quantize<B>(in, out, cols);
    }
    const auto y = std::span<float>(back).subspan(r0 * cols, (r1 - r0) * cols);
    if constexpr (kernel::dequantizable_block<B>)
      kernel::dequantize<B>(k, std::span<const B>(out), y);
    else
      ggml::dequantize<B>(std::span<const B>(out), y);
  });
  return {{bytes_of(std::span<const B>(blocks))}, std::move(back)};
}

// A float GGUF type: each value rounded to nearest even (F16 overflows to Inf above 65504,
// as ggml's conversion does), and back.
template <class Storage>
encoded encode_float(std::span<const float> x) {
  std::vector<std::uint16_t> bits(x.size());
  std::vector<float> back(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const Storage v(x[i]);
    bits[i] = v.bits;
    back[i] = static_cast<float>(v);
  }
  return {{bytes_of(std::span<const std::uint16_t>(bits))}, std::move(back)};
}

// bitsandbytes NF4/FP4 on the table's kernels (the same bytes as bnb::quantize_4bit).
inline encoded encode_bnb(const kernel::kernel_table& k, const format_info& f, const tensor_entry& t,
                          std::span<const float> x, const encode_options& o) {
  const auto type = f.name == "nf4" ? bnb::quant_type::nf4 : bnb::quant_type::fp4;
  const std::int64_t block = group_size(f, o, t.row_length());
  const std::size_t bs = static_cast<std::size_t>(block);
  const std::size_t blocks = bnb::block_count(x.size(), block);
  std::vector<std::uint8_t> packed(x.size() / 2);
  std::vector<float> absmax(blocks), back(x.size());
  kernel::parallel_for(blocks, bs % 2 == 0 ? o.threads : 1, [&](std::size_t b0, std::size_t b1) {
    const std::size_t begin = b0 * bs, end = std::min(b1 * bs, x.size());
    const auto p = std::span(packed).subspan(begin / 2, (end - begin) / 2);
    const auto a = std::span(absmax).subspan(b0, b1 - b0);
    kernel::quantize_4bit(k, x.subspan(begin, end - begin), type, block, p, a);
    kernel::dequantize_4bit(k, p, a, type, block, std::span(back).subspan(begin, end - begin));
  });
  const auto& levels = type == bnb::quant_type::nf4 ? nf4_values : bnb_fp4_values;
  const std::string state = quant_state_json(f, t, block);
  return {{bytes_of(std::span<const std::uint8_t>(packed)), bytes_of(std::span<const float>(absmax)),
           bytes_of(std::span<const float>(levels)), bytes_of(std::span<const char>(state))},
          std::move(back)};
}

// Packs signed codes of `bits` bits as compressed-tensors' pack_to_int32 does: offset to
// unsigned (q + 2^(bits-1)), 32/bits of them to an int32 along `stride`-apart elements of
// each line, the first in the lowest bits, the last word of a line padded with 0.
inline std::vector<std::int32_t> pack_int32(std::span<const std::int8_t> q, std::size_t lines, std::size_t length,
                                            std::size_t line_step, std::size_t step, int bits) {
  const std::size_t per_word = 32 / static_cast<std::size_t>(bits), words = (length + per_word - 1) / per_word;
  std::vector<std::int32_t> out(lines * words);
  for (std::size_t l = 0; l < lines; ++l)
    for (std::size_t i = 0; i < length; ++i) {
      const auto u = static_cast<std::uint32_t>(q[l * line_step + i * step] + (1 << (bits - 1)));
      out[l * words + i / per_word] |= static_cast<std::int32_t>(u << (bits * (i % per_word)));
    }
  return out;
}

// Groups of `group` columns as compressed-tensors (llm-compressor's RTN, vLLM's loader)
// computes them: qtl::compressed_tensors::rtn (qtl/layout/compressed_tensors.hpp), on the
// composed kernels of the running CPU (tools/CMakeLists.txt lists both widths in
// qtl_add_composed_dispatch). int8 keeps one code a byte, int4 packs them (pack_int32).
template <int Bits>
void rtn_codes(std::span<const float> x, std::size_t cols, std::size_t group, const encode_options& o,
               std::vector<std::int8_t>& codes, std::vector<std::int8_t>& zero, std::vector<float>& scale,
               std::vector<float>& back) {
  const auto q = compressed_tensors::make_int_quantizer<Bits>(group, o.asymmetric);
  const auto k = kernel::select_composed_kernels<compressed_tensors::int_quantizer<Bits>>();
  const std::size_t rows = x.size() / cols;
  auto t = k.quantize(q, matrix_view<const float>(x.data(), rows, cols), kernel::executor(o.threads));
  k.dequantize(q, t, matrix_view<float>(back.data(), rows, cols), kernel::executor(o.threads));
  codes = std::move(t.codes);  // int8 codes either way: -128..127 or -8..7
  for (std::size_t g = 0; g < t.params.size(); ++g) {
    scale[g] = t.params[g].scale;
    zero[g] = static_cast<std::int8_t>(t.params[g].zero_point);
  }
}

}  // namespace detail

// The tensors of plan_tensors' integer layouts from codes [rows, cols] (int8 values: -128..127
// or -8..7), per (row, group) scales and zero points, and the values they decode to: what
// round to nearest (encode) or a PTQ algorithm (qtl quantize --method) chose.
inline encoded encode_integer_codes(std::span<const std::int8_t> codes, std::span<const std::int8_t> zero,
                                    std::span<const float> scale, std::vector<float> back, std::size_t cols, int bits,
                                    bool asymmetric) {
  using detail::bytes_of, detail::pack_int32;
  const std::size_t rows = codes.size() / cols, groups = scale.size() / rows;
  encoded e;
  if (bits == 8) {
    e.tensors = {bytes_of(codes), bytes_of(scale)};
    if (asymmetric) e.tensors.push_back(bytes_of(zero));
  } else {
    const std::int64_t shape[2] = {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)};
    e.tensors = {bytes_of(std::span<const std::int32_t>(pack_int32(codes, rows, cols, cols, 1, bits))),
                 bytes_of(scale), bytes_of(std::span<const std::int64_t>(shape))};
    if (asymmetric) {  // packed along the rows (packed_dim=0): [groups][words], stored [words][groups]
      const auto by_group = pack_int32(zero, groups, rows, 1, groups, bits);
      const std::size_t words = by_group.size() / groups;
      std::vector<std::int32_t> packed(by_group.size());
      for (std::size_t g = 0; g < groups; ++g)
        for (std::size_t w = 0; w < words; ++w) packed[w * groups + g] = by_group[g * words + w];
      e.tensors.push_back(bytes_of(std::span<const std::int32_t>(packed)));
    }
  }
  e.dequantized = std::move(back);
  return e;
}

namespace detail {

inline encoded encode_integer(std::span<const float> x, std::size_t cols, std::size_t group, int bits,
                              const encode_options& o) {
  const std::size_t rows = x.size() / cols, groups = cols / group;
  std::vector<std::int8_t> codes, zero(rows * groups);
  std::vector<float> scale(rows * groups), back(x.size());
  if (bits == 8) rtn_codes<8>(x, cols, group, o, codes, zero, scale, back);
  else rtn_codes<4>(x, cols, group, o, codes, zero, scale, back);
  return encode_integer_codes(codes, zero, scale, std::move(back), cols, bits, o.asymmetric);
}

// Per row: E4M3 codes of x / scale, scale = absmax / 448 (the format's largest value).
inline encoded encode_fp8(const kernel::kernel_table& k, std::span<const float> x, std::size_t cols, unsigned threads) {
  const std::size_t rows = x.size() / cols;
  std::vector<std::uint8_t> codes(x.size());
  std::vector<float> scale(rows), back(x.size());
  kernel::parallel_for(rows, threads, [&](std::size_t r0, std::size_t r1) {
    std::vector<float> scaled(cols);
    for (std::size_t r = r0; r < r1; ++r) {
      const auto row = x.subspan(r * cols, cols);
      float amax = 0.0f;
      for (const float v : row) amax = std::max(amax, std::fabs(v));
      const float s = amax > 0 ? amax / fp8_e4m3::max_value() : 1.0f;
      for (std::size_t c = 0; c < cols; ++c) scaled[c] = row[c] / s;
      const auto out = std::span(codes).subspan(r * cols, cols);
      kernel::minifloat_encode<fp8_e4m3>(k, scaled, out, minifloat_overflow::saturate);
      for (std::size_t c = 0; c < cols; ++c) back[r * cols + c] = fp8_e4m3::decode(out[c]) * s;
      scale[r] = s;
    }
  });
  return {{bytes_of(std::span<const std::uint8_t>(codes)), bytes_of(std::span<const float>(scale))}, std::move(back)};
}

}  // namespace detail

// Whether f's quantizer takes importance weights (llama-quantize's --imatrix).
inline bool takes_importance(const format_info& f) {
  bool takes = false;
  if (f.kind == family::ggml)
    with_block(f.ggml_type, [&]<class B>(std::type_identity<B>) { takes = ggml::importance_block<B>; });
  return takes;
}

// Encodes x (t's values) into plan_tensors(f, t, o)'s tensors; importance: one weight per
// column (per column of each expert for a 3-D tensor), or empty. x must be finite, t fit f
// (unfit_reason empty) and importance, when given, be t's row length (times its experts) of
// finite weights >= 0: then no quantizer throws, which matters inside parallel_for's
// worker threads.
inline encoded encode(const kernel::kernel_table& k, const format_info& f, const tensor_entry& t,
                      std::span<const float> x, const encode_options& o, std::span<const float> importance = {}) {
  const std::size_t cols = static_cast<std::size_t>(t.row_length());
  switch (f.kind) {
    case family::ggml: {
      if (f.ggml_type == ggml::type_id::f32) return {{detail::bytes_of(x)}, {x.begin(), x.end()}};
      if (f.ggml_type == ggml::type_id::f16) return detail::encode_float<half>(x);
      if (f.ggml_type == ggml::type_id::bf16) return detail::encode_float<bfloat16>(x);
      encoded e;
      with_block(f.ggml_type,
                 [&]<class B>(std::type_identity<B>) { e = detail::encode_ggml<B>(k, x, cols, o.threads, importance); });
      return e;
    }
    case family::bnb_4bit:
      return detail::encode_bnb(k, f, t, x, o);
    case family::integer:
      return detail::encode_integer(x, cols, static_cast<std::size_t>(group_size(f, o, t.row_length())), f.bits, o);
    case family::fp8:
      return detail::encode_fp8(k, x, cols, o.threads);
  }
  return {};
}

}  // namespace qtl::tool
