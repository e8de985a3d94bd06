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
#include <variant>
#include <vector>

#include "model_file.hpp"
#include "qtl/format/bnb_fp4.hpp"
#include "qtl/format/minifloat.hpp"
#include "qtl/format/nf4.hpp"
#include "qtl/kernel/dequantize.hpp"
#include "qtl/kernel/parallel_for.hpp"
#include "qtl/kernel/quantize.hpp"
#include "qtl/layout/bitsandbytes.hpp"

namespace qtl::tool {

enum class family { ggml, bnb_4bit, int8, fp8 };

struct format_info {
  std::string_view name;
  family kind;
  ggml::type_id ggml_type = ggml::type_id::f32;  // family::ggml only
  std::optional<std::uint32_t> file_type;        // llama.cpp's general.file_type (LLAMA_FTYPE_MOSTLY_*)
  double warn_sqnr_db;                           // default warning threshold
};

inline constexpr std::array<format_info, 13> formats{{
    {"q8_0", family::ggml, ggml::type_id::q8_0, 7, 30.0},
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
    {"int8", family::int8, {}, {}, 30.0},
    {"fp8_e4m3", family::fp8, {}, {}, 25.0},
}};

inline const format_info* find_format(std::string_view name) {
  for (const auto& f : formats)
    if (f.name == name) return &f;
  return nullptr;
}
inline container container_for(const format_info& f) {
  return f.kind == family::ggml ? container::gguf : container::safetensors;
}

struct encode_options {
  std::int64_t group_size = 64;  // bnb blocksize
  bool asymmetric = false;       // int8
  unsigned threads = 1;
};

// One tensor of the output: row-major shape.
struct out_tensor {
  std::string name;
  std::variant<st::dtype, ggml::type_id> type;
  std::vector<std::uint64_t> shape;
};

// Why `f` cannot hold tensor t (empty when it can): rows that are not whole blocks.
inline std::string unfit_reason(const format_info& f, const tensor_entry& t) {
  if (f.kind == family::ggml) {
    const auto block = ggml::traits(f.ggml_type)->elements;
    if (t.row_length() % block != 0)
      return "row of " + std::to_string(t.row_length()) + " is not a multiple of " + std::string(f.name) +
             "'s block of " + std::to_string(block);
  }
  if (f.kind == family::bnb_4bit && t.elements() % 2 != 0) return "odd element count for packed 4-bit";
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
      const std::uint64_t blocks = bnb::block_count(t.elements(), o.group_size);
      return {{t.name, st::dtype::u8, {t.elements() / 2, 1}},
              {t.name + ".absmax", st::dtype::f32, {blocks}},
              {t.name + ".quant_map", st::dtype::f32, {16}},
              {t.name + ".quant_state.bitsandbytes__" + std::string(f.name),
               st::dtype::u8,
               {quant_state_json(f, t, o.group_size).size()}}};
    }
    case family::int8: {
      std::vector<out_tensor> out{{t.name, st::dtype::i8, t.shape}, {t.name + "_scale", st::dtype::f32, {rows, 1}}};
      if (o.asymmetric) out.push_back({t.name + "_zero_point", st::dtype::i8, {rows, 1}});
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
encoded encode_ggml(const kernel::kernel_table& k, std::span<const float> x, std::size_t cols, unsigned threads) {
  const std::size_t rows = cols == 0 ? 0 : x.size() / cols, per_row = cols / B::elements;
  std::vector<B> blocks(rows * per_row);
  std::vector<float> back(x.size());
  kernel::parallel_for(rows, threads, [&](std::size_t r0, std::size_t r1) {
    const auto in = x.subspan(r0 * cols, (r1 - r0) * cols);
    const auto out = std::span<B>(blocks).subspan(r0 * per_row, (r1 - r0) * per_row);
    if constexpr (kernel::table_quantized_block<B>)
      kernel::quantize<B>(k, in, out, cols);
    else
      ggml::quantize<B>(in, out, cols);
    const auto y = std::span<float>(back).subspan(r0 * cols, (r1 - r0) * cols);
    if constexpr (kernel::dequantizable_block<B>)
      kernel::dequantize<B>(k, std::span<const B>(out), y);
    else
      ggml::dequantize<B>(std::span<const B>(out), y);
  });
  return {{bytes_of(std::span<const B>(blocks))}, std::move(back)};
}

inline encoded encode_bnb(const format_info& f, const tensor_entry& t, std::span<const float> x,
                          const encode_options& o) {
  const auto type = f.name == "nf4" ? bnb::quant_type::nf4 : bnb::quant_type::fp4;
  const std::size_t bs = static_cast<std::size_t>(o.group_size);
  const std::size_t blocks = bnb::block_count(x.size(), o.group_size);
  std::vector<std::uint8_t> packed(x.size() / 2);
  std::vector<float> absmax(blocks), back(x.size());
  kernel::parallel_for(blocks, bs % 2 == 0 ? o.threads : 1, [&](std::size_t b0, std::size_t b1) {
    const std::size_t begin = b0 * bs, end = std::min(b1 * bs, x.size());
    const auto p = std::span(packed).subspan(begin / 2, (end - begin) / 2);
    const auto a = std::span(absmax).subspan(b0, b1 - b0);
    bnb::quantize_4bit(x.subspan(begin, end - begin), type, o.group_size, p, a);
    bnb::dequantize_4bit<float>(p, a, type, o.group_size, std::span(back).subspan(begin, end - begin));
  });
  const auto& levels = type == bnb::quant_type::nf4 ? nf4_values : bnb_fp4_values;
  const std::string state = quant_state_json(f, t, o.group_size);
  return {{bytes_of(std::span<const std::uint8_t>(packed)), bytes_of(std::span<const float>(absmax)),
           bytes_of(std::span<const float>(levels)), bytes_of(std::span<const char>(state))},
          std::move(back)};
}

// Per row: symmetric codes in [-127, 127] with scale absmax / 127, or asymmetric codes in
// [-128, 127] with scale (max - min) / 255 and a zero point; x = scale * (q - zero_point).
inline encoded encode_int8(std::span<const float> x, std::size_t cols, const encode_options& o) {
  const std::size_t rows = x.size() / cols;
  std::vector<std::int8_t> codes(x.size()), zero(rows);
  std::vector<float> scale(rows), back(x.size());
  kernel::parallel_for(rows, o.threads, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const auto row = x.subspan(r * cols, cols);
      const float lo = std::min(0.0f, *std::min_element(row.begin(), row.end()));
      const float hi = std::max(0.0f, *std::max_element(row.begin(), row.end()));
      const float s = o.asymmetric ? (hi - lo) / 255.0f : std::max(hi, -lo) / 127.0f;
      const float z = o.asymmetric && s > 0 ? std::clamp(std::nearbyint(-128.0f - lo / s), -128.0f, 127.0f) : 0.0f;
      const float qmin = o.asymmetric ? -128.0f : -127.0f;
      for (std::size_t c = 0; c < cols; ++c) {
        const float q = s > 0 ? std::clamp(std::nearbyint(row[c] / s) + z, qmin, 127.0f) : 0.0f;
        codes[r * cols + c] = static_cast<std::int8_t>(q);
        back[r * cols + c] = s * (q - z);
      }
      scale[r] = s;
      zero[r] = static_cast<std::int8_t>(z);
    }
  });
  encoded e{{bytes_of(std::span<const std::int8_t>(codes)), bytes_of(std::span<const float>(scale))}, std::move(back)};
  if (o.asymmetric) e.tensors.push_back(bytes_of(std::span<const std::int8_t>(zero)));
  return e;
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

// Encodes x (t's values) into plan_tensors(f, t, o)'s tensors. x must be finite and t fit
// f (unfit_reason empty): then no quantizer throws, which matters inside parallel_for's
// worker threads.
inline encoded encode(const kernel::kernel_table& k, const format_info& f, const tensor_entry& t,
                      std::span<const float> x, const encode_options& o) {
  const std::size_t cols = static_cast<std::size_t>(t.row_length());
  switch (f.kind) {
    case family::ggml: {
      encoded e;
      with_block(f.ggml_type,
                 [&]<class B>(std::type_identity<B>) { e = detail::encode_ggml<B>(k, x, cols, o.threads); });
      return e;
    }
    case family::bnb_4bit:
      return detail::encode_bnb(f, t, x, o);
    case family::int8:
      return detail::encode_int8(x, cols, o);
    case family::fp8:
      return detail::encode_fp8(k, x, cols, o.threads);
  }
  return {};
}

}  // namespace qtl::tool
