// qtl quantize IN -o OUT --format FMT: decides per tensor (recipe rules, then the default
// policy) whether to quantize or keep it, declares every output tensor to the streaming
// writer, then converts, quantizes and writes one tensor at a time (peak memory about the
// largest tensor), measuring each one's SQNR. Prints a table; --report writes it as JSON.
#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "commands.hpp"
#include "convert.hpp"
#include "formats.hpp"
#include "mix.hpp"
#include "model_file.hpp"
#include "ptq_method.hpp"
#include "qtl/io/imatrix.hpp"
#include "qtl/io/output_file.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "qtl/metrics.hpp"
#include "report.hpp"
#include "terminal.hpp"
#include "to_transformers.hpp"

namespace qtl::tool {
namespace {

struct rule {
  std::string pattern;
  std::regex match;
  const format_info* format;  // nullptr: keep
};

// {"rules": [{"match": "<regex>", "format": "<format>"|"keep"}, ...]}
std::vector<rule> read_recipe(const std::string& path, container out) {
  std::ifstream in(path);
  if (!in) throw failure(path, "cannot open the recipe");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw failure(path, std::string("recipe is not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("rules") || !j["rules"].is_array())
    throw failure(path, "recipe must be an object with a \"rules\" array");
  std::vector<rule> rules;
  for (const auto& r : j["rules"]) {
    if (!r.is_object() || !r.contains("match") || !r["match"].is_string() || !r.contains("format") ||
        !r["format"].is_string())
      throw failure(path, "each rule needs string \"match\" and \"format\" fields: " + r.dump());
    const auto pattern = r["match"].get<std::string>();
    const auto name = r["format"].get<std::string>();
    const format_info* f = name == "keep" ? nullptr : find_format(name);
    if (name != "keep" && f == nullptr) throw failure(path, "unknown format \"" + name + "\" in a rule");
    if (f != nullptr && container_for(*f) != out)
      throw failure(path, "format " + name + " does not fit the output container");
    try {
      rules.push_back({pattern, std::regex(pattern, std::regex::ECMAScript), f});
    } catch (const std::regex_error& e) {
      throw failure(path, "bad regex \"" + pattern + "\": " + e.what());
    }
  }
  return rules;
}

// The plan for one input tensor.
struct item {
  const tensor_entry* in;
  const format_info* format = nullptr;  // nullptr: kept
  std::string note;                     // why kept, or the rule that chose the format
  std::vector<out_tensor> outs;
  bool copy = false;  // kept with its bytes as they are (else: kept as F32 values)
  std::span<const float> importance;  // the --imatrix entry, when the format takes one
  std::uint64_t bytes_out = 0;
  double sqnr = std::numeric_limits<double>::quiet_NaN();
  double sqnr_original = std::numeric_limits<double>::quiet_NaN();  // against --original's tensor
};

// Float values in a kept tensor's type (F32, F16 or BF16): a bias --method changed.
std::vector<std::byte> float_bytes(const out_tensor& t, std::span<const float> x) {
  const auto is = [&t](st::dtype s, ggml::type_id g) {
    const auto* a = std::get_if<st::dtype>(&t.type);
    const auto* b = std::get_if<ggml::type_id>(&t.type);
    return (a != nullptr && *a == s) || (b != nullptr && *b == g);
  };
  if (is(st::dtype::f32, ggml::type_id::f32)) return detail::bytes_of(x);
  if (is(st::dtype::f16, ggml::type_id::f16)) return detail::encode_float<half>(x).tensors.front();
  if (is(st::dtype::bf16, ggml::type_id::bf16)) return detail::encode_float<bfloat16>(x).tensors.front();
  throw failure(t.name, "a bias the method changed is stored as F32, F16 or BF16, not this tensor's type");
}

std::optional<st::dtype> st_type(ggml::type_id id) {
  using ggml::type_id;
  switch (id) {
    case type_id::f32:
      return st::dtype::f32;
    case type_id::f16:
      return st::dtype::f16;
    case type_id::bf16:
      return st::dtype::bf16;
    case type_id::f64:
      return st::dtype::f64;
    case type_id::i8:
      return st::dtype::i8;
    case type_id::i16:
      return st::dtype::i16;
    case type_id::i32:
      return st::dtype::i32;
    case type_id::i64:
      return st::dtype::i64;
    default:
      return std::nullopt;
  }
}
std::optional<ggml::type_id> ggml_type(st::dtype t) {
  for (const auto id : {ggml::type_id::f32, ggml::type_id::f16, ggml::type_id::bf16, ggml::type_id::f64,
                        ggml::type_id::i8, ggml::type_id::i16, ggml::type_id::i32, ggml::type_id::i64})
    if (st_type(id) == t) return id;
  return std::nullopt;
}

// A kept tensor in the output container: its own dtype where the container has it, else
// F32 values (ggml blocks into safetensors); nullopt when neither.
std::optional<out_tensor> kept_tensor(const tensor_entry& t, container out) {
  if (out == container::gguf) {
    const auto* s = std::get_if<st::dtype>(&t.type);
    if (s == nullptr) return out_tensor{t.name, t.type, t.shape};
    if (const auto id = ggml_type(*s)) return out_tensor{t.name, *id, t.shape};
    return std::nullopt;
  }
  if (const auto* id = std::get_if<ggml::type_id>(&t.type)) {
    if (const auto s = st_type(*id)) return out_tensor{t.name, *s, t.shape};
    if (t.has_floats()) return out_tensor{t.name, st::dtype::f32, t.shape};
    return std::nullopt;
  }
  return out_tensor{t.name, t.type, t.shape};
}

std::uint64_t out_bytes(const out_tensor& o) {
  if (const auto* s = std::get_if<st::dtype>(&o.type)) return st::tensor_info{o.name, *s, o.shape}.byte_size();
  return gg::byte_size(
      {o.name, std::get<ggml::type_id>(o.type), std::vector<std::uint64_t>(o.shape.rbegin(), o.shape.rend())});
}

// The input as quantize sees it: one model file, or a Hugging Face model converted to
// llama.cpp's names and metadata (convert.hpp).
class source {
 public:
  source(const std::filesystem::path& path, container out, bool convert) {
    const bool dir = std::filesystem::is_directory(path);
    if (dir && out != container::gguf)
      throw failure(path, "a model directory converts to GGUF only: give its .safetensors file for this output");
    if (dir && !convert) throw failure(path, "--no-convert takes a model file, not a directory");
    if (convert && out == container::gguf && (dir || (path.extension() == ".safetensors" && hf_model::is_model(path)))) {
      hf_.emplace(path);
      return;
    }
    file_.emplace(path);
    if (const auto* g = file_->gguf(); g && convert && out == container::safetensors)
      if (const auto* a = g->metadata().find("general.architecture"); a && std::holds_alternative<std::string>(*a))
        if (const auto* arch = find_architecture(std::get<std::string>(*a)))
          transformers_.emplace(*arch, g->metadata(), file_->tensors(), path);
  }
  [[nodiscard]] std::span<const tensor_entry> tensors() const {
    return hf_ ? hf_->tensors() : transformers_ ? transformers_->tensors() : file_->tensors();
  }
  void release(std::size_t i) const {
    if (hf_)
      hf_->release(i);
    else
      file_->release(transformers_ ? transformers_->origin(i) : i);
  }
  [[nodiscard]] const hf_model* converted() const { return hf_ ? &*hf_ : nullptr; }
  // A GGUF of a known architecture going to safetensors: transformers' names and config.
  [[nodiscard]] const transformers_view* to_transformers() const { return transformers_ ? &*transformers_ : nullptr; }
  [[nodiscard]] const model_file* file() const { return file_ ? &*file_ : nullptr; }
  // Whether tensors have llama.cpp's names (a GGUF, or converted): llama-quantize's rules apply.
  [[nodiscard]] bool llama_names() const { return hf_ || file_->gguf() != nullptr; }
  [[nodiscard]] std::string arch() const {
    if (hf_) return hf_->arch();
    const auto* g = file_->gguf();
    const auto* a = g ? g->metadata().find("general.architecture") : nullptr;
    return a && std::holds_alternative<std::string>(*a) ? std::get<std::string>(*a) : std::string();
  }
  [[nodiscard]] std::string stem() const { return hf_ ? hf_->dir().filename().string() : file_->path().stem().string(); }

 private:
  std::optional<model_file> file_;
  std::optional<hf_model> hf_;
  std::optional<transformers_view> transformers_;
};

// f32, f16, bf16: plain conversions, written to either container.
bool is_float(const format_info& f) {
  return f.kind == family::ggml && ggml::traits(f.ggml_type)->elements == 1;
}

const format_info* format_of(ggml::type_id t) {
  for (const auto& f : formats)
    if (f.kind == family::ggml && f.ggml_type == t) return &f;
  return nullptr;
}

// What decides every tensor's format: the command line, read once.
struct plan_options {
  container out = container::gguf;
  const format_info* format = nullptr;   // the whole file's (a mix's base type)
  const mix::mix_info* mix = nullptr;    // llama-quantize's file type, when --format names one
  std::vector<rule> rules;
  encode_options encode;
  bool leave_output = false, allow_requantize = false, converted = false, llama_names = false;
  std::string arch;
  std::string imatrix_path;  // --imatrix, recorded in the GGUF as llama-quantize does
  const io::imatrix::matrix* imatrix = nullptr;
};

// llama-quantize's per-tensor types for one mix: the tensors it may quantize, visited in
// its order (the mixes count attention-V and FFN-down layers), skipping the recipe's.
std::vector<std::optional<std::pair<ggml::type_id, std::string>>> mix_types(std::span<const tensor_entry> tensors,
                                                                          const plan_options& p,
                                                                          mix::model_shape shape,
                                                                          const mix::options& mo) {
  std::vector<std::size_t> order(tensors.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return mix::llama_order(tensors[a].name, tensors[b].name); });
  for (const auto& t : tensors) {
    const auto c = mix::category_of(t.name);
    if (c == mix::category::output) shape.tied_embeddings = false;
    if (c == mix::category::attn_v || c == mix::category::attn_qkv || c == mix::category::attn_kv_b)
      ++shape.attention_v;
  }
  std::optional<mix::chooser> choose;
  if (p.mix != nullptr) choose.emplace(*p.mix, std::move(shape), mo);
  std::vector<std::optional<std::pair<ggml::type_id, std::string>>> out(tensors.size());
  for (const auto i : order) {
    const auto& t = tensors[i];
    if (std::any_of(p.rules.begin(), p.rules.end(), [&](const rule& r) { return std::regex_search(t.name, r.match); }))
      continue;
    if (!mix::kept_reason(t.name, mix::ggml_dims(t.shape), p.arch, p.leave_output).empty() || !t.has_floats())
      continue;
    std::string why;  // a format that is no llama-quantize file type (mxfp4) goes everywhere
    const auto type = choose ? (*choose)(t.name, t.row_length(), t.shape.size() > 2 ? t.shape[0] : 1, why)
                             : p.format->ggml_type;
    out[i] = std::pair{type, why};
  }
  return out;
}

// The tensors one input becomes in the output (its own dtype where kept), their bytes, and
// whether they are copied as they are.
void finish_item(item& it, const plan_options& p) {
  const auto& t = *it.in;
  if (it.format != nullptr && p.out == container::safetensors && is_float(*it.format)) {
    const auto id = it.format->ggml_type;
    it.outs = {{t.name,
                id == ggml::type_id::f32   ? st::dtype::f32
                : id == ggml::type_id::f16 ? st::dtype::f16
                                           : st::dtype::bf16,
                t.shape}};
  } else if (it.format != nullptr) {
    it.outs = plan_tensors(*it.format, t, p.encode);
  } else if (const auto kept = kept_tensor(t, p.out); kept && !t.decode && !(p.converted && t.dtype != "F32")) {
    it.outs = {*kept};
    const auto* id = std::get_if<ggml::type_id>(&t.type);
    it.copy = p.out == container::gguf || id == nullptr || st_type(*id).has_value();
  } else if (p.converted || t.has_floats()) {  // a converted model keeps its floats as F32, as convert_hf_to_gguf
    it.outs = {{t.name, p.out == container::gguf ? decltype(out_tensor::type){ggml::type_id::f32}
                                                 : decltype(out_tensor::type){st::dtype::f32}, t.shape}};
  } else {
    throw failure(t.name, "dtype " + t.dtype + " cannot be stored in the output container");
  }
  for (const auto& x : it.outs) it.bytes_out += out_bytes(x);
}

// A recipe rule's format for t, when one matches (nullopt: none; nullptr inside: keep).
std::optional<const format_info*> by_rule(const tensor_entry& t, const std::vector<rule>& rules, std::string& note) {
  for (const auto& r : rules)
    if (std::regex_search(t.name, r.match)) {
      note = (r.format == nullptr ? "kept: rule " : "rule ") + r.pattern;
      return r.format;
    }
  return std::nullopt;
}

// Tensors of another format than their own: F32 values, or ggml blocks that are decoded and
// quantized again (--allow-requantize; the error compounds).
void check_requantize(const item& it, const plan_options& p, std::size_t& requantized) {
  const auto* id = std::get_if<ggml::type_id>(&it.in->type);
  if (it.format == nullptr || id == nullptr || ggml::traits(*id)->elements == 1) return;
  if (!p.allow_requantize)
    throw failure(it.in->name, "is already " + it.in->dtype +
                                   ": requantizing compounds the error; --allow-requantize does it anyway");
  ++requantized;
}

// llama-quantize's plan for a tensor with llama.cpp's name: kept by its rules, else the
// mix's type (chosen in mix_types), else the recipe's; rows that are not whole blocks fall
// back as llama-quantize's do; a tensor already of that type is copied.
item plan_llama(const tensor_entry& t, const plan_options& p, const std::optional<std::pair<ggml::type_id, std::string>>& chosen) {
  item it;
  it.in = &t;
  const format_info* f = nullptr;
  if (const auto r = by_rule(t, p.rules, it.note)) {
    f = *r;
  } else if (const auto why = mix::kept_reason(t.name, mix::ggml_dims(t.shape), p.arch, p.leave_output); !why.empty()) {
    it.note = "kept: " + why;
  } else if (!t.has_floats()) {
    it.note = "kept: dtype " + t.dtype + " has no float values";
  } else if (chosen) {
    f = format_of(chosen->first);
    it.note = chosen->second;
  }
  if (f != nullptr && f->kind == family::ggml) {
    const auto fits = mix::fallback(f->ggml_type, t.row_length());
    if (fits != f->ggml_type) {
      const auto why = unfit_reason(*f, t, p.encode);
      f = format_of(fits);
      it.note = "fallback to " + std::string(f->name) + ": " + why;
    }
    if (const auto* id = std::get_if<ggml::type_id>(&t.type); id && *id == f->ggml_type && !t.decode) {
      it.note = "already " + std::string(f->name) + ": copied";
      f = nullptr;
    }
  }
  it.format = f;
  finish_item(it, p);
  return it;
}

// The plan elsewhere (safetensors output, or tensors under their own names): one format,
// qtl's recipe rules, and embeddings, norms, biases and 1-D tensors kept.
item plan_item(const tensor_entry& t, const plan_options& p) {
  item it;
  it.in = &t;
  const format_info* f = p.format;
  const auto r = by_rule(t, p.rules, it.note);
  if (r) f = *r;
  static const std::regex unquantized("embed|norm|bias", std::regex::icase);
  const bool whole_checkpoint = p.out == container::safetensors && f != nullptr && is_float(*f);  // every tensor
  if (f != nullptr && !r && !whole_checkpoint) {
    if (t.shape.size() < 2)
      f = nullptr, it.note = "kept: fewer than 2 dims";
    else if (std::regex_search(t.name, unquantized))
      f = nullptr, it.note = "kept: embedding, norm or bias";
  }
  if (f != nullptr && !t.has_floats()) f = nullptr, it.note = "kept: dtype " + t.dtype + " has no float values";
  if (f != nullptr && t.elements() == 0) f = nullptr, it.note = "kept: empty";
  if (f != nullptr)
    if (const auto why = unfit_reason(*f, t, p.encode); !why.empty()) {
      const format_info* other = fallback_format(*f);
      if (other == nullptr)
        f = nullptr, it.note = "kept: " + why;
      else if (unfit_reason(*other, t, p.encode).empty())
        f = other, it.note = "fallback to " + std::string(other->name) + ": " + why;  // as llama-quantize
      else
        f = nullptr, it.note = "kept: " + why + ", nor of its fallback " + std::string(other->name) + "'s " +
                               std::to_string(ggml::traits(other->ggml_type)->elements);
    }
  it.format = f;
  finish_item(it, p);
  return it;
}

gg::metadata gguf_metadata(const source& in, const plan_options& p) {
  gg::metadata meta;
  if (const auto* c = in.converted())
    meta = c->metadata();
  else if (const auto* g = in.file()->gguf())
    for (const auto& e : g->metadata()) meta.set(e.key, e.value);
  else
    for (const auto& [k, v] : in.file()->safetensors()->metadata()) meta.set("qtl.source." + k, v);
  if (!meta.contains("general.name")) meta.set("general.name", in.stem());
  meta.set("general.quantization_version", std::uint32_t{2});
  if (p.imatrix != nullptr) {
    meta.set("quantize.imatrix.file", p.imatrix_path);
    if (!p.imatrix->datasets.empty()) meta.set("quantize.imatrix.dataset", p.imatrix->datasets.front());
    meta.set("quantize.imatrix.entries_count", static_cast<std::int32_t>(p.imatrix->entries.size()));
  }
  if (p.mix != nullptr)
    meta.set("general.file_type", static_cast<std::uint32_t>(p.mix->file_type));
  else if (p.format->file_type)
    meta.set("general.file_type", *p.format->file_type);
  return meta;
}

st::metadata_map safetensors_metadata(const source& in, const format_info& f) {
  st::metadata_map meta;
  if (const auto* s = in.file()->safetensors())
    meta = s->metadata();
  else
    for (const auto& e : in.file()->gguf()->metadata())
      if (const auto* v = std::get_if<std::string>(&e.value)) meta.emplace(e.key, *v);
  meta.emplace("format", "pt");  // what transformers expects of a PyTorch checkpoint
  meta["qtl.quantization"] = std::string(f.name);
  return meta;
}

// The output writer, either container, taking each tensor's bytes in declared order.
class writer {
 public:
  writer(const std::string& path, const source& in, const plan_options& p, const std::vector<item>& items) {
    if (p.out == container::gguf) {
      std::vector<gg::tensor_info> infos;
      for (const auto& it : items)
        for (const auto& o : it.outs)
          infos.push_back({o.name, std::get<ggml::type_id>(o.type), {o.shape.rbegin(), o.shape.rend()}});
      gguf_.emplace(path, gguf_metadata(in, p), std::move(infos));
    } else {
      std::vector<st::tensor_info> infos;
      for (const auto& it : items)
        for (const auto& o : it.outs) infos.push_back({o.name, std::get<st::dtype>(o.type), o.shape});
      safetensors_.emplace(path, infos, safetensors_metadata(in, *p.format));
    }
  }
  void write(const std::string& name, std::span<const std::byte> bytes) {
    if (gguf_)
      gguf_->write(name, bytes);
    else
      safetensors_->write(bytes);
  }
  void commit() {
    if (gguf_)
      gguf_->commit();
    else
      safetensors_->commit();
  }

 private:
  std::optional<gg::writer> gguf_;
  std::optional<st::writer> safetensors_;
};

// Throws naming the first NaN or Inf.
void check_finite(const tensor_entry& t, std::span<const float> x) {
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]))
      throw failure(t.name, fmt::format("value {} at flat index {} cannot be quantized", x[i], i));
}

quant_report make_report(const quantize_options& o, const std::vector<item>& items,
                         std::vector<std::string> warnings) {
  quant_report r{o.input, o.output, o.format, o.original, {}, std::move(warnings)};
  for (const auto& it : items)
    r.rows.push_back({it.in->name, it.in->shape, it.in->dtype, it.format ? std::string(it.format->name) : "keep",
                      it.note, it.in->data.size(), it.bytes_out, it.sqnr, it.sqnr_original});
  return r;
}

// Gives each tensor whose format takes importance weights its --imatrix entry (by name,
// as llama-quantize; a 3-D expert tensor one row of weights per expert); an entry of
// another length is an error (token_embd's is ignored, as llama-quantize does), a tensor
// without one is quantized without and says so.
void apply_imatrix(const io::imatrix::matrix& imatrix, const std::string& path, std::vector<item>& items,
                   std::vector<std::string>& warnings) {
  std::size_t used = 0, wanted = 0;
  for (auto& it : items) {
    if (it.format == nullptr || !takes_importance(*it.format)) continue;
    ++wanted;
    const auto add_note = [&](const std::string& n) { it.note = it.note.empty() ? n : it.note + "; " + n; };
    const auto* entry = imatrix.find(it.in->name);
    if (entry == nullptr) {
      add_note("no imatrix entry");
      continue;
    }
    // llama-imatrix writes a row's weights per expert for a 3-D expert tensor
    const std::uint64_t experts = it.in->shape.size() == 3 ? it.in->shape[0] : 1;
    if (entry->size() != it.in->row_length() * experts) {
      const auto what = std::to_string(entry->size()) + " importance weights for " + std::to_string(experts) +
                        " × rows of " + std::to_string(it.in->row_length()) + " values";
      if (mix::category_of(it.in->name) == mix::category::token_embd) {  // llama-quantize ignores these
        add_note("imatrix entry ignored: " + what);
        continue;
      }
      throw failure(path, it.in->name + ": " + what);
    }
    it.importance = *entry;
    add_note("imatrix");
    ++used;
  }
  if (wanted > 0 && used == 0)
    warnings.push_back("no tensor to quantize has an entry in " + path +
                       " (llama-imatrix names them as the GGUF does, e.g. blk.0.attn_q.weight)");
}

}  // namespace

// transformers' config.json beside a GGUF written back as a transformers checkpoint (float
// or bitsandbytes weights: the ones transformers loads from the config alone); "" when a
// config.json is already there.
std::string write_transformers_config(const transformers_view& v, const format_info& f,
                                      const std::filesystem::path& out) {
  const bool bnb = f.kind == family::bnb_4bit;
  const auto dtype = f.name == "f16" ? "float16" : f.name == "bf16" ? "bfloat16" : "float32";
  auto config = v.config(dtype);
  if (bnb)
    config["quantization_config"] = {{"quant_method", "bitsandbytes"},       {"load_in_4bit", true},
                                     {"bnb_4bit_quant_type", std::string(f.name)}, {"bnb_4bit_use_double_quant", false},
                                     {"bnb_4bit_compute_dtype", "float32"},  {"bnb_4bit_quant_storage", "uint8"}};
  const auto path = (out.has_parent_path() ? out.parent_path() : std::filesystem::path(".")) / "config.json";
  const auto text = config.dump(2) + "\n";
  if (std::filesystem::exists(path)) {  // another model's, perhaps: never overwritten
    fmt::print(stderr, "qtl: {} exists and is kept; transformers' config for this model:\n{}", path.string(), text);
    return {};
  }
  io::output_file file(path);
  file.write(std::as_bytes(std::span(text)));
  file.commit();
  return path.string();
}

// A ggml type named on the command line (--output-tensor-type and the like).
ggml::type_id ggml_type_option(const std::string& name, const std::string& option) {
  const format_info* f = find_format(name);
  if (f == nullptr || f->kind != family::ggml)
    throw failure(option, "\"" + name + "\" is not a GGUF type (f32 f16 bf16 q8_0 q6_K ... see qtl quantize --help)");
  return f->ggml_type;
}

// --tensor-type REGEX=TYPE, as llama-quantize's: the first '=' splits.
std::pair<std::regex, ggml::type_id> tensor_type_option(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) throw failure("--tensor-type", "\"" + arg + "\" is not REGEX=TYPE");
  try {
    std::string pattern = arg.substr(0, eq);  // lower case, as llama-quantize's (tensor names are)
    std::transform(pattern.begin(), pattern.end(), pattern.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return {std::regex(pattern), ggml_type_option(arg.substr(eq + 1), "--tensor-type")};
  } catch (const std::regex_error& e) {
    throw failure("--tensor-type", "bad regex \"" + arg.substr(0, eq) + "\": " + e.what());
  }
}

// The model shape the mixes read from GGUF metadata (<arch>.block_count, head counts, experts).
mix::model_shape shape_of(const gg::metadata& meta, const std::string& arch, std::span<const tensor_entry> tensors) {
  const auto number = [&](const std::string& key) -> int {
    const auto* v = meta.find(key);
    if (v == nullptr) return 0;
    return std::visit(
        [](const auto& x) -> int {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
            return static_cast<int>(x);
          else if constexpr (std::is_same_v<T, gg::array>)  // per layer: llama.cpp's n_gqa() reads layer 0
            return std::visit(
                [](const auto& items) -> int {
                  using E = typename std::decay_t<decltype(items)>::value_type;
                  if constexpr (std::is_integral_v<E> && !std::is_same_v<E, bool>)
                    return items.empty() ? 0 : static_cast<int>(items[0]);
                  else
                    return 0;
                },
                x.items);
          else
            return 0;
        },
        *v);
  };
  mix::model_shape s;
  s.arch = arch;
  s.layers = number(arch + ".block_count");
  if (s.layers == 0)  // no metadata: the blocks the names count
    for (const auto& t : tensors) s.layers = std::max(s.layers, mix::layer_of(t.name) + 1);
  s.heads = number(arch + ".attention.head_count");
  s.kv_heads = meta.contains(arch + ".attention.head_count_kv") ? number(arch + ".attention.head_count_kv") : s.heads;
  s.experts = number(arch + ".expert_count");
  return s;
}

int run_quantize(const quantize_options& o) {
  const std::filesystem::path out_path(o.output);
  const container out = out_path.extension() == ".gguf" ? container::gguf
                        : out_path.extension() == ".safetensors"
                            ? container::safetensors
                            : throw failure(o.output, "output must end in .gguf or .safetensors");
  plan_options p;
  p.out = out;
  p.format = find_format(o.format);
  p.mix = out == container::gguf ? mix::find_mix(o.format) : nullptr;
  if (p.mix != nullptr) p.format = format_of(p.mix->base);
  if (p.format == nullptr) throw failure(o.output, "unknown format \"" + o.format + "\" (see qtl quantize --help)");
  const format_info* f = p.format;
  if (container_for(*f) != out && !(is_float(*f) && p.mix == nullptr))
    throw failure(o.output, "format " + o.format + " is written to " +
                                (out == container::gguf ? std::string(".safetensors") : std::string(".gguf")) +
                                " files, not " + out_path.extension().string());
  const bool gguf_options = o.pure || o.leave_output || o.allow_requantize || !o.output_tensor_type.empty() ||
                            !o.token_embedding_type.empty() || !o.tensor_types.empty();
  if (gguf_options && out != container::gguf)
    throw failure(o.output,
                  "--pure, --leave-output-tensor, --allow-requantize and the --*-type options apply to GGUF output");
  encode_options& eo = p.encode;
  eo.threads = o.threads == 0 ? kernel::hardware_threads() : o.threads;
  eo.asymmetric = o.scheme == "asym";
  if (eo.asymmetric && f->kind != family::integer)
    throw failure(o.output,
                  "--scheme asym applies to int8 and int4 only (q4_1 and q5_1 are the asymmetric ggml formats)");
  if (o.group_size) {
    if (f->kind != family::bnb_4bit && f->kind != family::integer)
      throw failure(o.output, "--group-size applies to nf4, fp4, int8 and int4 only (" + o.format + " fixes its block)");
    if (*o.group_size <= 0 || (f->kind == family::bnb_4bit && *o.group_size % 2 != 0))
      throw failure(o.output, "--group-size must be positive (and even for nf4/fp4)");
    eo.group_size = *o.group_size;
  }
  if (o.method != "rtn" && f->kind != family::integer)
    throw failure(o.output, "--method " + o.method + " chooses int8/int4 codes (compressed-tensors): use --format int4 or int8");
  if (o.method != "rtn" && o.calibration.empty())
    throw failure(o.output, "--method " + o.method + " needs --calibration text to run the model on");
  if (o.method == "rtn" && !o.calibration.empty())
    throw failure(o.output, "--calibration is for --method gptq, awq or adaround");
  p.rules = o.recipe.empty() ? std::vector<rule>{} : read_recipe(o.recipe, out);
  p.leave_output = o.leave_output;
  p.allow_requantize = o.allow_requantize;
  mix::options mo;
  mo.pure = o.pure;
  mo.has_imatrix = !o.imatrix.empty();
  if (!o.output_tensor_type.empty()) mo.output = ggml_type_option(o.output_tensor_type, "--output-tensor-type");
  if (!o.token_embedding_type.empty())
    mo.token_embd = ggml_type_option(o.token_embedding_type, "--token-embedding-type");
  for (const auto& a : o.tensor_types) mo.tensor_types.push_back(tensor_type_option(a));

  const std::optional<io::imatrix::matrix> imatrix =
      o.imatrix.empty() ? std::nullopt : std::optional(io::imatrix::read(o.imatrix));
  if (imatrix) p.imatrix = &*imatrix, p.imatrix_path = o.imatrix;
  const source in(o.input, out, !o.no_convert);
  std::vector<std::string> warnings;
  p.converted = in.converted() != nullptr;
  p.llama_names = out == container::gguf && in.llama_names();
  p.arch = in.arch();
  if (out == container::gguf && !p.llama_names && !o.no_convert)
    warnings.push_back("no config.json beside " + o.input +
                       ": the GGUF holds the tensors under their own names, without the architecture and tokenizer "
                       "that runtimes such as llama.cpp need (--no-convert says this is what you want)");
  std::vector<item> items;
  std::size_t requantized = 0;
  try {
    const auto tensors = in.tensors();
    if (p.llama_names) {
      const auto meta = gguf_metadata(in, p);
      const auto chosen = mix_types(tensors, p, shape_of(meta, p.arch, tensors), mo);
      for (std::size_t i = 0; i < tensors.size(); ++i) items.push_back(plan_llama(tensors[i], p, chosen[i]));
    } else {
      for (const auto& t : tensors) items.push_back(plan_item(t, p));
    }
    for (const auto& it : items) {
      check_requantize(it, p, requantized);
      if (it.format != nullptr && it.format->kind == family::ggml && p.mix != nullptr && !imatrix &&
          mix::requires_imatrix(it.in->name, it.format->ggml_type, *p.mix))
        throw failure(it.in->name, "q2_K in a Q2_K_S file needs an importance matrix (--imatrix), as llama-quantize");
    }
  } catch (const failure& e) {
    throw failure(o.input, e.what());
  }
  if (requantized > 0)
    warnings.push_back(fmt::format("{} tensors were quantized again from ggml blocks: their error adds to the first "
                                   "quantization's (--allow-requantize)",
                                   requantized));
  if (imatrix) apply_imatrix(*imatrix, o.imatrix, items, warnings);

  // --method: the linear layers' codes, found by running the model on the calibration text.
  std::map<std::string, method_weights> by_method;
  if (o.method != "rtn") {
    const method_options mo{o.method, o.calibration, o.calibration_samples, f->bits,
                            static_cast<std::size_t>(eo.group_size > 0 ? eo.group_size : f->bits == 4 ? 128 : 0),
                            eo.asymmetric, eo.threads};
    auto found = ptq_method_weights(o.input, mo);  // under transformers' names, without "bert."
    bool folded = false;
    for (auto& it : items) {
      const auto m = found.find(it.in->name.starts_with("bert.") ? it.in->name.substr(5) : it.in->name);
      if (m == found.end()) continue;
      const bool bias = m->second.codes.empty();  // AWQ's scales folded into value's bias
      folded |= bias;
      if (bias ? it.format != nullptr || it.outs.size() != 1 : it.format != f)
        continue;  // a recipe rule chose another format (or keep): that applies
      it.note = it.note.empty() ? o.method : it.note + "; " + o.method;
      by_method.emplace(it.in->name, std::move(m->second));
    }
    if (folded && by_method.size() != found.size())
      throw failure(o.input, "--method awq folds its scales between value and attention.output (value's bias too): "
                             "a recipe rule that gives one of them another format would break the model");
  }

  // --original: the model the input came from, read the same way (so under the same names).
  std::optional<source> original;
  std::map<std::string, std::size_t> original_index;
  std::size_t unmatched = 0;
  if (!o.original.empty()) {
    original.emplace(o.original, out, !o.no_convert);
    const auto ts = original->tensors();
    for (std::size_t j = 0; j < ts.size(); ++j) original_index.emplace(ts[j].name, j);
  }

  const auto kernels = kernel::select_kernels();
  quant_report report;
  {
    writer w(o.output, in, p, items);
    const progress bar(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto& it = items[i];
      const auto& t = *it.in;
      bar.step(i + 1, t.name);
      const struct release_when_done {  // the input's pages leave the resident set (mapped_file::release)
        const source& file;
        std::size_t index;
        ~release_when_done() { file.release(index); }
      } guard{in, i};
      try {
        if (const auto b = by_method.find(t.name); b != by_method.end() && b->second.codes.empty()) {
          w.write(t.name, float_bytes(it.outs[0], b->second.dequantized));  // a bias the method changed
          continue;
        }
        if (it.copy) {
          w.write(t.name, t.data);  // copied as is
          continue;
        }
        const float_values values(kernels, t);
        const auto x = values.span();
        if (it.format == nullptr) {  // kept as F32 values (ggml blocks in safetensors, converted floats)
          w.write(t.name, std::as_bytes(x));
          continue;
        }
        check_finite(t, x);
        const auto chosen = by_method.find(t.name);
        const auto e = chosen == by_method.end()
                           ? encode(kernels, *it.format, t, x, eo, it.importance)
                           : encode_integer_codes(chosen->second.codes, chosen->second.zero, chosen->second.scale,
                                                  std::move(chosen->second.dequantized), t.row_length(), f->bits,
                                                  eo.asymmetric);
        const double threshold = o.warn_sqnr.value_or(it.format->warn_sqnr_db);
        for (std::size_t k = 0; k < it.outs.size(); ++k) w.write(it.outs[k].name, e.tensors[k]);
        it.sqnr = sqnr_db(x, std::span<const float>(e.dequantized));
        if (original) {
          const auto j = original_index.find(t.name);
          if (j == original_index.end() || original->tensors()[j->second].shape != t.shape) {
            ++unmatched;
          } else {
            const float_values reference(kernels, original->tensors()[j->second]);
            it.sqnr_original = sqnr_db(reference.span(), std::span<const float>(e.dequantized));
            original->release(j->second);
          }
        }
        if (it.sqnr < threshold)
          warnings.push_back(fmt::format("{}: SQNR {:.2f} dB is below {:.1f} dB", t.name, it.sqnr, threshold));
      } catch (const failure& e) {
        throw failure(o.input, e.what());
      } catch (const qtl::error& e) {
        throw failure(o.input, "tensor \"" + t.name + "\": " + problem_of(e));
      }
    }
    if (unmatched > 0)
      warnings.push_back(fmt::format("{} quantized tensors have no tensor of the same name and shape in {}", unmatched,
                                     o.original));
    report = make_report(o, items, std::move(warnings));
    if (!o.report.empty()) write_report(report, o.report);
    w.commit();
  }
  print_report(report);
  fmt::print("wrote {}\n", o.output);
  if (const auto* v = in.to_transformers()) {
    if (!is_float(*f) && f->kind != family::bnb_4bit)
      fmt::print(stderr, "qtl: no config.json written: transformers reads {} weights through a quantization_config "
                         "(docs/tool.md)\n", o.format);
    else if (const auto config = write_transformers_config(*v, *f, out_path); !config.empty())
      fmt::print("wrote {} (transformers' config; the tokenizer files are the original model's)\n", config);
  }
  return 0;
}

}  // namespace qtl::tool
