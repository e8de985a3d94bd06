// One read view over a safetensors or GGUF model file: each tensor's name, dtype, shape
// (row-major, outermost first) and bytes, and its values as float when the dtype has them
// (F32/F16/BF16, and ggml block types through their dequantizers).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "qtl/core/bfloat16.hpp"
#include "qtl/core/error.hpp"
#include "qtl/core/half.hpp"
#include "qtl/format/minifloat.hpp"
#include "qtl/io/gguf.hpp"
#include "qtl/io/safetensors.hpp"
#include "qtl/kernel/dequantize.hpp"
#include "qtl/layout/bitsandbytes.hpp"
#include "qtl/layout/ggml.hpp"

namespace qtl::tool {

namespace st = qtl::io::safetensors;
namespace gg = qtl::io::gguf;

enum class container { safetensors, gguf };

// By the first bytes ("GGUF" magic), else by extension.
inline container container_of(const std::filesystem::path& path, std::span<const std::byte> head = {}) {
  if (head.size() >= 4 && std::memcmp(head.data(), "GGUF", 4) == 0) return container::gguf;
  if (path.extension() == ".gguf") return container::gguf;
  return container::safetensors;
}

// Calls f(std::type_identity<B>{}) for the ggml block type of `id`; false when qtl has
// no block struct (with quantize_block/dequantize_block) for it.
template <class F>
bool with_block(ggml::type_id id, F&& f) {
  using ggml::type_id;
  switch (id) {
    case type_id::q4_0:
      f(std::type_identity<ggml::block_q4_0>{});
      return true;
    case type_id::q4_1:
      f(std::type_identity<ggml::block_q4_1>{});
      return true;
    case type_id::q5_0:
      f(std::type_identity<ggml::block_q5_0>{});
      return true;
    case type_id::q5_1:
      f(std::type_identity<ggml::block_q5_1>{});
      return true;
    case type_id::q8_0:
      f(std::type_identity<ggml::block_q8_0>{});
      return true;
    case type_id::iq4_nl:
      f(std::type_identity<ggml::block_iq4_nl>{});
      return true;
    case type_id::tq1_0:
      f(std::type_identity<ggml::block_tq1_0>{});
      return true;
    case type_id::tq2_0:
      f(std::type_identity<ggml::block_tq2_0>{});
      return true;
    case type_id::mxfp4:
      f(std::type_identity<ggml::block_mxfp4>{});
      return true;
    case type_id::q2_k:
      f(std::type_identity<ggml::block_q2_k>{});
      return true;
    case type_id::q3_k:
      f(std::type_identity<ggml::block_q3_k>{});
      return true;
    case type_id::q4_k:
      f(std::type_identity<ggml::block_q4_k>{});
      return true;
    case type_id::q5_k:
      f(std::type_identity<ggml::block_q5_k>{});
      return true;
    case type_id::q6_k:
      f(std::type_identity<ggml::block_q6_k>{});
      return true;
    default:
      return false;
  }
}

// n blocks of B into out, through the table's kernel where it has one.
template <class B>
void dequantize_rows(const kernel::kernel_table& k, std::span<const std::byte> bytes, std::span<float> out) {
  std::vector<B> blocks(out.size() / B::elements);
  std::memcpy(blocks.data(), bytes.data(), blocks.size() * sizeof(B));
  if constexpr (kernel::dequantizable_block<B>)
    kernel::dequantize<B>(k, std::span<const B>(blocks), out);
  else
    ggml::dequantize<B>(std::span<const B>(blocks), out);
}

struct tensor_entry {
  std::string name;
  std::string dtype;                 // "F32", "BF16", "q4_0"... as the container spells it
  std::vector<std::uint64_t> shape;  // row-major: shape.back() is the row length
  std::span<const std::byte> data;
  std::variant<st::dtype, ggml::type_id> type;
  // Set for the logical tensors of a quantized safetensors layout (decoded_view): fills
  // elements() values.
  std::function<void(std::span<float>)> decode;

  [[nodiscard]] std::uint64_t elements() const {
    std::uint64_t n = 1;
    for (const auto d : shape) n *= d;
    return n;
  }
  [[nodiscard]] std::uint64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
  // Whether to_float() gives its values.
  [[nodiscard]] bool has_floats() const {
    if (decode) return true;
    if (const auto* s = std::get_if<st::dtype>(&type))
      return *s == st::dtype::f32 || *s == st::dtype::f16 || *s == st::dtype::bf16;
    const auto id = std::get<ggml::type_id>(type);
    return id == ggml::type_id::f32 || id == ggml::type_id::f16 || id == ggml::type_id::bf16 ||
           with_block(id, [](auto) {});
  }
};

// Element-wise conversion of 2-byte floats.
template <class Storage>
void widen(std::span<const std::byte> bytes, std::span<float> out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint16_t bits;
    std::memcpy(&bits, bytes.data() + 2 * i, 2);
    out[i] = static_cast<float>(Storage::from_bits(bits));
  }
}

// The tensor's values as float; errc::unsupported when its dtype has none.
inline std::vector<float> to_float(const kernel::kernel_table& k, const tensor_entry& t) {
  std::vector<float> out(t.elements());
  if (t.decode) {
    t.decode(out);
    return out;
  }
  enum class kind { f32, f16, bf16, other };
  kind kd = kind::other;
  if (const auto* s = std::get_if<st::dtype>(&t.type)) {
    kd = *s == st::dtype::f32    ? kind::f32
         : *s == st::dtype::f16  ? kind::f16
         : *s == st::dtype::bf16 ? kind::bf16
                                 : kind::other;
  } else {
    const auto id = std::get<ggml::type_id>(t.type);
    kd = id == ggml::type_id::f32    ? kind::f32
         : id == ggml::type_id::f16  ? kind::f16
         : id == ggml::type_id::bf16 ? kind::bf16
                                     : kind::other;
    if (kd == kind::other &&
        with_block(id, [&]<class B>(std::type_identity<B>) { dequantize_rows<B>(k, t.data, out); }))
      return out;
  }
  switch (kd) {
    case kind::f32:
      std::memcpy(out.data(), t.data.data(), out.size() * sizeof(float));
      break;
    case kind::f16:
      widen<half>(t.data, out);
      break;
    case kind::bf16:
      widen<bfloat16>(t.data, out);
      break;
    case kind::other:
      throw error(errc::unsupported, "tensor \"" + t.name + "\" of dtype " + t.dtype + " has no float values");
  }
  return out;
}

// A tensor's values as float without a copy where the file holds them as aligned F32
// (a view of the mapping), else converted by to_float(): quantize keeps one fewer copy of
// its largest tensor in memory.
class float_values {
 public:
  float_values(const kernel::kernel_table& k, const tensor_entry& t) {
    const auto* s = std::get_if<st::dtype>(&t.type);
    const auto* g = std::get_if<ggml::type_id>(&t.type);
    const bool f32 = !t.decode && ((s && *s == st::dtype::f32) || (g && *g == ggml::type_id::f32));
    if (f32 && reinterpret_cast<std::uintptr_t>(t.data.data()) % alignof(float) == 0) {
      view_ = {reinterpret_cast<const float*>(t.data.data()), static_cast<std::size_t>(t.elements())};
    } else {
      owned_ = to_float(k, t);
      view_ = owned_;
    }
  }
  [[nodiscard]] std::span<const float> span() const noexcept { return view_; }

 private:
  std::vector<float> owned_;
  std::span<const float> view_;
};

// A mapped model file, either container. Tensor views stay valid while it lives.
class model_file {
 public:
  explicit model_file(const std::filesystem::path& path) : path_(path) {
    io::mapped_file probe(path);
    kind_ = container_of(path, probe.bytes().subspan(0, std::min<std::size_t>(4, probe.bytes().size())));
    if (kind_ == container::gguf) {
      auto& f = file_.emplace<gg::file>(gg::open(path));
      for (const auto& t : f.tensors())
        tensors_.push_back({t.name,
                            std::string(ggml::traits(t.type)->name),
                            std::vector<std::uint64_t>(t.dims.rbegin(), t.dims.rend()),
                            t.data,
                            t.type,
                            {}});
    } else {
      auto& f = file_.emplace<st::file>(path);
      for (const auto& t : f.tensors())
        tensors_.push_back({t.name, std::string(st::name(t.type)), t.shape, t.data, t.type, {}});
    }
  }

  [[nodiscard]] container kind() const noexcept { return kind_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::span<const tensor_entry> tensors() const noexcept { return tensors_; }
  // The safetensors metadata, or the GGUF metadata rendered as text.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> metadata_text() const;
  [[nodiscard]] const gg::file* gguf() const noexcept { return std::get_if<gg::file>(&file_); }
  [[nodiscard]] const st::file* safetensors() const noexcept { return std::get_if<st::file>(&file_); }
  // Drops the pages of tensors()[i] from resident memory: quantize calls it after each
  // tensor, so a file larger than RAM does not fill the resident set.
  void release(std::size_t i) const noexcept {
    if (const auto* g = gguf())
      g->release(g->tensors()[i]);
    else
      safetensors()->release(safetensors()->tensors()[i]);
  }

 private:
  std::filesystem::path path_;
  container kind_ = container::safetensors;
  std::variant<std::monostate, st::file, gg::file> file_;
  std::vector<tensor_entry> tensors_;
};

// The tensors of `raw` with the layouts `qtl quantize` writes to safetensors read back as
// one logical tensor each: bitsandbytes nf4/fp4 (<name> with .absmax, .quant_map and
// .quant_state.bitsandbytes__*; double-quantized absmax with .nested_absmax and
// .nested_quant_map too, as transformers saves them), int8/fp8_e4m3 codes with a
// <name>_scale per row or group (and <name>_zero_point), and compressed-tensors'
// pack-quantized int4 (<name>_packed, _scale, _shape, _zero_point). Others pass through.
namespace detail {

inline float f32_at(std::span<const std::byte> bytes, std::size_t i) {
  float v;
  std::memcpy(&v, bytes.data() + 4 * i, 4);
  return v;
}

// The signed 4-bit code k (0..7) of int32 word w, stored as q + 8 from the low bits up.
inline int nibble(std::span<const std::byte> words, std::size_t w, std::size_t k) {
  std::uint32_t v;
  std::memcpy(&v, words.data() + 4 * w, 4);
  return static_cast<int>((v >> (4 * k)) & 15u) - 8;
}

}  // namespace detail

inline std::vector<tensor_entry> decoded_view(std::span<const tensor_entry> raw) {
  using detail::f32_at;
  const auto nibble = detail::nibble;
  const auto find = [&](const std::string& name) -> const tensor_entry* {
    for (const auto& t : raw)
      if (t.name == name) return &t;
    return nullptr;
  };
  const auto is = [](const tensor_entry* t, st::dtype d) {
    return t != nullptr && std::holds_alternative<st::dtype>(t->type) && std::get<st::dtype>(t->type) == d;
  };
  // Groups per row of a [rows, groups] F32 scale for a tensor of `shape` (nullopt when the
  // scale does not tile it), checking the zero point (I8 per group, or I32 packed by 8 rows).
  const auto scale_groups = [&](const std::vector<std::uint64_t>& shape, const tensor_entry* scale,
                                const tensor_entry* zero, st::dtype zero_type) -> std::optional<std::uint64_t> {
    std::uint64_t elements = 1;
    for (const auto d : shape) elements *= d;
    const std::uint64_t cols = shape.empty() ? 1 : shape.back(), rows = cols ? elements / cols : 0;
    const std::uint64_t n = scale->data.size() / 4;
    if (rows == 0 || n % rows != 0 || n / rows == 0 || cols % (n / rows) != 0) return std::nullopt;
    const std::uint64_t zero_bytes = zero_type == st::dtype::i8 ? n : (rows + 7) / 8 * (n / rows) * 4;
    if (zero != nullptr && !(is(zero, zero_type) && zero->data.size() == zero_bytes)) return std::nullopt;
    return n / rows;
  };
  std::vector<tensor_entry> out;
  std::vector<std::string> hidden;
  for (const auto& t : raw) {
    tensor_entry e = t;
    const auto* absmax = find(t.name + ".absmax");
    const tensor_entry* state = nullptr;
    bnb::quant_type qt = bnb::quant_type::nf4;
    for (const auto& [suffix, type] : {std::pair{"nf4", bnb::quant_type::nf4}, std::pair{"fp4", bnb::quant_type::fp4}})
      if (const auto* s = find(t.name + ".quant_state.bitsandbytes__" + suffix)) state = s, qt = type, e.dtype = suffix;
    const auto* scale = find(t.name + "_scale");
    if (state != nullptr && is(&t, st::dtype::u8) && (is(absmax, st::dtype::f32) || is(absmax, st::dtype::u8))) {
      const auto j =
          nlohmann::json::parse(reinterpret_cast<const char*>(state->data.data()),
                                reinterpret_cast<const char*>(state->data.data() + state->data.size()), nullptr, false);
      const auto shape = j.is_object() ? j.value("shape", nlohmann::json()) : nlohmann::json();
      const auto size = j.is_object() ? j.value("blocksize", nlohmann::json()) : nlohmann::json();
      // Double quantization (bnb_4bit_use_double_quant): the absmax are 8-bit codes of
      // nested_quant_map in blocks of nested_blocksize, each with a nested_absmax, plus
      // nested_offset: absmax = map[code] * nested_absmax[block] + offset.
      const bool nested = is(absmax, st::dtype::u8);
      const auto* nested_absmax = find(t.name + ".nested_absmax");
      const auto* nested_map = find(t.name + ".nested_quant_map");
      const auto nested_size = j.is_object() ? j.value("nested_blocksize", nlohmann::json()) : nlohmann::json();
      const auto offset = j.is_object() ? j.value("nested_offset", nlohmann::json()) : nlohmann::json();
      if (!shape.is_array() ||
          !std::all_of(shape.begin(), shape.end(), [](const auto& d) { return d.is_number_unsigned(); }) ||
          !size.is_number_unsigned() || nested != j.contains("nested_blocksize") ||
          (nested && !(is(nested_absmax, st::dtype::f32) && is(nested_map, st::dtype::f32) &&
                       nested_map->data.size() == 256 * 4 && nested_size.is_number_unsigned() &&
                       nested_size.get<std::int64_t>() > 0 && offset.is_number()))) {
        out.push_back(t);  // not a layout qtl decodes: left as it is
        continue;
      }
      e.shape = shape.get<std::vector<std::uint64_t>>();
      const auto blocksize = size.get<std::int64_t>();
      const std::uint64_t blocks = blocksize > 0 ? bnb::block_count(e.elements(), blocksize) : 0;
      const std::uint64_t nested_block = nested ? nested_size.get<std::uint64_t>() : 1;
      if (blocksize <= 0 || (e.elements() + 1) / 2 != t.data.size() || blocks * (nested ? 1 : 4) != absmax->data.size() ||
          (nested && (blocks + nested_block - 1) / nested_block * 4 != nested_absmax->data.size())) {
        out.push_back(t);
        continue;
      }
      const auto none = std::span<const std::byte>();
      e.decode = [packed = t.data, a = absmax->data, qt, blocksize, nested, nested_block,
                  na = nested ? nested_absmax->data : none, nm = nested ? nested_map->data : none,
                  off = nested ? offset.get<float>() : 0.0f](std::span<float> y) {
        std::vector<float> am(nested ? a.size() : a.size() / 4);
        if (nested)
          for (std::size_t i = 0; i < am.size(); ++i)
            am[i] = f32_at(nm, std::to_integer<std::uint8_t>(a[i])) * f32_at(na, i / nested_block) + off;
        else
          std::memcpy(am.data(), a.data(), a.size());
        bnb::dequantize_4bit<float>(std::span(reinterpret_cast<const std::uint8_t*>(packed.data()), packed.size()), am,
                                    qt, blocksize, y);
      };
      hidden.insert(hidden.end(), {absmax->name, t.name + ".quant_map", state->name});
      if (nested) hidden.insert(hidden.end(), {nested_absmax->name, nested_map->name});
    } else if ((is(&t, st::dtype::i8) || is(&t, st::dtype::f8_e4m3)) && is(scale, st::dtype::f32)) {
      const auto* zero = find(t.name + "_zero_point");
      const bool fp8 = is(&t, st::dtype::f8_e4m3);
      const auto groups = scale_groups(t.shape, scale, zero, st::dtype::i8);
      if (!groups || (fp8 && zero)) {
        out.push_back(t);
        continue;
      }
      e.dtype = fp8 ? "fp8_e4m3" : "int8";
      e.decode = [codes = t.data, s = scale->data, z = zero ? zero->data : std::span<const std::byte>(), fp8,
                  groups = *groups, cols = t.row_length()](std::span<float> y) {
        for (std::size_t i = 0; i < y.size(); ++i) {
          const std::size_t g = i / cols * groups + i % cols / (cols / groups);
          const auto c = std::to_integer<std::uint8_t>(codes[i]);
          const float zp = z.empty() ? 0.0f : static_cast<float>(static_cast<std::int8_t>(z[g]));
          y[i] = fp8 ? fp8_e4m3::decode(c) * f32_at(s, g)
                     : (static_cast<float>(static_cast<std::int8_t>(c)) - zp) * f32_at(s, g);
        }
      };
      hidden.push_back(scale->name);
      if (zero) hidden.push_back(zero->name);
    } else if (const auto base = t.name.substr(0, t.name.size() - std::min<std::size_t>(t.name.size(), 7));
               t.name.ends_with("_packed") && is(&t, st::dtype::i32) && is(find(base + "_scale"), st::dtype::f32) &&
               is(find(base + "_shape"), st::dtype::i64) && find(base + "_shape")->data.size() == 16) {
      // compressed-tensors pack-quantized int4: 8 codes (q + 8) an int32, low bits first
      scale = find(base + "_scale");
      const auto* zero = find(base + "_zero_point");
      std::int64_t dims[2];
      std::memcpy(dims, find(base + "_shape")->data.data(), sizeof dims);
      const std::vector<std::uint64_t> shape{static_cast<std::uint64_t>(dims[0]), static_cast<std::uint64_t>(dims[1])};
      const auto groups = scale_groups(shape, scale, zero, st::dtype::i32);
      const auto words = (shape[1] + 7) / 8;
      if (dims[0] < 0 || dims[1] < 0 || !groups || t.data.size() != shape[0] * words * 4) {
        out.push_back(t);
        continue;
      }
      e.name = base, e.dtype = "int4", e.shape = shape;
      e.decode = [packed = t.data, s = scale->data, z = zero ? zero->data : std::span<const std::byte>(),
                  groups = *groups, cols = shape[1], words, nibble](std::span<float> y) {
        for (std::size_t i = 0; i < y.size(); ++i) {
          const std::size_t r = i / cols, c = i % cols, g = r * groups + c / (cols / groups);
          const float zp = z.empty() ? 0.0f : static_cast<float>(nibble(z, (r / 8) * groups + g % groups, r % 8));
          y[i] = (static_cast<float>(nibble(packed, r * words + c / 8, c % 8)) - zp) * f32_at(s, g);
        }
      };
      hidden.insert(hidden.end(), {scale->name, base + "_shape"});
      if (zero) hidden.push_back(zero->name);
    }
    out.push_back(std::move(e));
  }
  std::erase_if(out,
                [&](const tensor_entry& t) { return std::find(hidden.begin(), hidden.end(), t.name) != hidden.end(); });
  return out;
}

// A GGUF value as text: scalars as themselves, arrays as "[type; n items]" (short
// arrays of scalars in full).
inline std::string value_text(const gg::value& v) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>)
          return x;
        else if constexpr (std::is_same_v<T, bool>)
          return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, gg::array>)
          return "[" + gg::metadata::describe(v) + "; " + std::to_string(x.size()) + " items]";
        else if constexpr (std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::int8_t>)
          return std::to_string(int{x});
        else
          return std::to_string(x);
      },
      v);
}

inline std::vector<std::pair<std::string, std::string>> model_file::metadata_text() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (const auto* g = gguf())
    for (const auto& e : g->metadata()) out.emplace_back(e.key, value_text(e.value));
  if (const auto* s = safetensors())
    for (const auto& [k, v] : s->metadata()) out.emplace_back(k, v);
  return out;
}

// The problem of a qtl::error without its "qtl: <code>: " prefix.
inline std::string problem_of(const qtl::error& e) {
  std::string m = e.what();
  const std::string prefix = "qtl: " + std::string(to_string(e.code())) + ": ";
  return m.starts_with(prefix) ? m.substr(prefix.size()) : m;
}

// What main() prints as "qtl: <file>: <problem>".
struct failure : std::runtime_error {
  failure(const std::filesystem::path& file, const std::string& problem)
      : std::runtime_error(file.string() + ": " + problem) {}
};

}  // namespace qtl::tool
