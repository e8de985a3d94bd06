// qtl quantize IN -o OUT --format FMT: decides per tensor (recipe rules, then the default
// policy) whether to quantize or keep it, declares every output tensor to the streaming
// writer, then converts, quantizes and writes one tensor at a time (peak memory about the
// largest tensor), measuring each one's SQNR. Prints a table; --report writes it as JSON.
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>

#include "commands.hpp"
#include "formats.hpp"
#include "model_file.hpp"
#include "qtl/io/imatrix.hpp"
#include "qtl/io/output_file.hpp"
#include "qtl/kernel/dispatch.hpp"
#include "qtl/metrics.hpp"
#include "report.hpp"
#include "terminal.hpp"

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
};

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

item plan_item(const tensor_entry& t, const format_info& fallback, const std::vector<rule>& rules, container out,
               const encode_options& o) {
  item it;
  it.in = &t;
  const format_info* f = &fallback;
  bool by_rule = false;
  for (const auto& r : rules)
    if (std::regex_search(t.name, r.match)) {
      f = r.format;
      by_rule = true;
      it.note = (f == nullptr ? "kept: rule " : "rule ") + r.pattern;
      break;
    }
  static const std::regex unquantized("embed|norm|bias", std::regex::icase);
  if (f != nullptr && !by_rule) {
    if (t.shape.size() < 2)
      f = nullptr, it.note = "kept: fewer than 2 dims";
    else if (std::regex_search(t.name, unquantized))
      f = nullptr, it.note = "kept: embedding, norm or bias";
  }
  if (f != nullptr && !t.has_floats()) f = nullptr, it.note = "kept: dtype " + t.dtype + " has no float values";
  if (f != nullptr && t.elements() == 0) f = nullptr, it.note = "kept: empty";
  if (f != nullptr)
    if (const auto why = unfit_reason(*f, t, o); !why.empty()) {
      const format_info* other = fallback_format(*f);
      if (other == nullptr)
        f = nullptr, it.note = "kept: " + why;
      else if (unfit_reason(*other, t, o).empty())
        f = other, it.note = "fallback to " + std::string(other->name) + ": " + why;  // as llama-quantize
      else
        f = nullptr, it.note = "kept: " + why + ", nor of its fallback " + std::string(other->name) + "'s " +
                               std::to_string(ggml::traits(other->ggml_type)->elements);
    }
  it.format = f;
  if (f != nullptr) {
    it.outs = plan_tensors(*f, t, o);
  } else if (const auto kept = kept_tensor(t, out)) {
    it.outs = {*kept};
    const auto* id = std::get_if<ggml::type_id>(&t.type);
    it.copy = out == container::gguf || id == nullptr || st_type(*id).has_value();
  } else {
    throw failure(t.name, "dtype " + t.dtype + " cannot be stored in the output container");
  }
  for (const auto& x : it.outs) it.bytes_out += out_bytes(x);
  return it;
}

gg::metadata gguf_metadata(const model_file& in, const format_info& f) {
  gg::metadata meta;
  if (const auto* g = in.gguf())
    for (const auto& e : g->metadata()) meta.set(e.key, e.value);
  else
    for (const auto& [k, v] : in.safetensors()->metadata()) meta.set("qtl.source." + k, v);
  if (!meta.contains("general.name")) meta.set("general.name", in.path().stem().string());
  meta.set("general.quantization_version", std::uint32_t{2});
  if (f.file_type) meta.set("general.file_type", *f.file_type);
  return meta;
}

st::metadata_map safetensors_metadata(const model_file& in, const format_info& f) {
  st::metadata_map meta;
  if (const auto* s = in.safetensors())
    meta = s->metadata();
  else
    for (const auto& e : in.gguf()->metadata())
      if (const auto* v = std::get_if<std::string>(&e.value)) meta.emplace(e.key, *v);
  meta.emplace("format", "pt");  // what transformers expects of a PyTorch checkpoint
  meta["qtl.quantization"] = std::string(f.name);
  return meta;
}

// The output writer, either container, taking each tensor's bytes in declared order.
class writer {
 public:
  writer(const std::string& path, container kind, const model_file& in, const format_info& f,
         const std::vector<item>& items) {
    if (kind == container::gguf) {
      std::vector<gg::tensor_info> infos;
      for (const auto& it : items)
        for (const auto& o : it.outs)
          infos.push_back({o.name, std::get<ggml::type_id>(o.type), {o.shape.rbegin(), o.shape.rend()}});
      gguf_.emplace(path, gguf_metadata(in, f), std::move(infos));
    } else {
      std::vector<st::tensor_info> infos;
      for (const auto& it : items)
        for (const auto& o : it.outs) infos.push_back({o.name, std::get<st::dtype>(o.type), o.shape});
      safetensors_.emplace(path, infos, safetensors_metadata(in, f));
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
  quant_report r{o.input, o.output, o.format, {}, std::move(warnings)};
  for (const auto& it : items)
    r.rows.push_back({it.in->name, it.in->shape, it.in->dtype, it.format ? std::string(it.format->name) : "keep",
                      it.note, it.in->data.size(), it.bytes_out, it.sqnr});
  return r;
}

// Gives each tensor whose format takes importance weights its --imatrix entry (by name,
// as llama-quantize); an entry of another length is an error, a tensor without one is
// quantized without and says so.
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
    if (entry->size() != it.in->row_length())
      throw failure(path, it.in->name + ": " + std::to_string(entry->size()) + " importance weights for rows of " +
                              std::to_string(it.in->row_length()) + " values");
    it.importance = *entry;
    add_note("imatrix");
    ++used;
  }
  if (wanted > 0 && used == 0)
    warnings.push_back("no tensor to quantize has an entry in " + path +
                       " (llama-imatrix names them as the GGUF does, e.g. blk.0.attn_q.weight)");
}

}  // namespace

int run_quantize(const quantize_options& o) {
  const format_info* f = find_format(o.format);
  if (f == nullptr) throw failure(o.output, "unknown format \"" + o.format + "\" (see qtl quantize --help)");
  const std::filesystem::path out_path(o.output);
  const container out = out_path.extension() == ".gguf" ? container::gguf
                        : out_path.extension() == ".safetensors"
                            ? container::safetensors
                            : throw failure(o.output, "output must end in .gguf or .safetensors");
  if (container_for(*f) != out)
    throw failure(o.output, "format " + o.format + " is written to " +
                                (out == container::gguf ? std::string(".safetensors") : std::string(".gguf")) +
                                " files, not " + out_path.extension().string());
  encode_options eo;
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
  const auto rules = o.recipe.empty() ? std::vector<rule>{} : read_recipe(o.recipe, out);

  const std::optional<io::imatrix::matrix> imatrix =
      o.imatrix.empty() ? std::nullopt : std::optional(io::imatrix::read(o.imatrix));
  const model_file in(o.input);
  std::vector<item> items;
  try {
    for (const auto& t : in.tensors()) items.push_back(plan_item(t, *f, rules, out, eo));
  } catch (const failure& e) {
    throw failure(o.input, e.what());
  }
  std::vector<std::string> warnings;
  if (imatrix) apply_imatrix(*imatrix, o.imatrix, items, warnings);

  const auto kernels = kernel::select_kernels();
  const double threshold = o.warn_sqnr.value_or(f->warn_sqnr_db);
  quant_report report;
  {
    writer w(o.output, out, in, *f, items);
    const progress bar(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto& it = items[i];
      const auto& t = *it.in;
      bar.step(i + 1, t.name);
      const struct release_when_done {  // the input's pages leave the resident set (mapped_file::release)
        const model_file& file;
        std::size_t index;
        ~release_when_done() { file.release(index); }
      } guard{in, i};
      try {
        if (it.copy) {
          w.write(t.name, t.data);  // copied as is
          continue;
        }
        const float_values values(kernels, t);
        const auto x = values.span();
        if (it.format == nullptr) {  // ggml blocks kept as F32 in safetensors
          w.write(t.name, std::as_bytes(x));
          continue;
        }
        check_finite(t, x);
        const auto e = encode(kernels, *it.format, t, x, eo, it.importance);
        for (std::size_t k = 0; k < it.outs.size(); ++k) w.write(it.outs[k].name, e.tensors[k]);
        it.sqnr = sqnr_db(x, std::span<const float>(e.dequantized));
        if (it.sqnr < threshold)
          warnings.push_back(fmt::format("{}: SQNR {:.2f} dB is below {:.1f} dB", t.name, it.sqnr, threshold));
      } catch (const failure& e) {
        throw failure(o.input, e.what());
      } catch (const qtl::error& e) {
        throw failure(o.input, "tensor \"" + t.name + "\": " + problem_of(e));
      }
    }
    report = make_report(o, items, std::move(warnings));
    if (!o.report.empty()) write_report(report, o.report);
    w.commit();
  }
  print_report(report);
  fmt::print("wrote {}\n", o.output);
  return 0;
}

}  // namespace qtl::tool
