// llama-quantize's choice of type for each tensor of a GGUF model (the rules of llama.cpp's
// src/llama-quant.cpp, as facts): which tensors stay as they are, the named file types
// ("mixes": Q4_K_M, Q3_K_S ...) with their default type and per-tensor exceptions, the
// overrides (--output-tensor-type, --token-embedding-type, --tensor-type, --pure) and the
// fallback for rows that are not whole blocks. Tensor names are llama.cpp's (blk.N.attn_v...).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qtl/layout/ggml.hpp"

namespace qtl::tool::mix {

using ggml::type_id;

// llama.cpp's LLAMA_FTYPE_* values (general.file_type) of the mixes qtl can make.
enum class ftype : std::uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 7, q5_0 = 8, q5_1 = 9, q2_k = 10, q3_k_s = 11, q3_k_m = 12,
  q3_k_l = 13, q4_k_s = 14, q4_k_m = 15, q5_k_s = 16, q5_k_m = 17, q6_k = 18, q2_k_s = 21, iq4_nl = 25, bf16 = 32,
  tq1_0 = 36, tq2_0 = 37, mxfp4_moe = 38,
};

struct mix_info {
  std::string_view name;  // as llama-quantize spells it
  ftype file_type;
  type_id base;  // the type of every tensor the mix has no exception for
};

inline constexpr std::array<mix_info, 25> mixes{{
    {"F32", ftype::f32, type_id::f32},          {"F16", ftype::f16, type_id::f16},
    {"BF16", ftype::bf16, type_id::bf16},       {"Q8_0", ftype::q8_0, type_id::q8_0},
    {"Q6_K", ftype::q6_k, type_id::q6_k},       {"Q5_K_M", ftype::q5_k_m, type_id::q5_k},
    {"Q5_K", ftype::q5_k_m, type_id::q5_k},     {"Q5_K_S", ftype::q5_k_s, type_id::q5_k},
    {"Q4_K_M", ftype::q4_k_m, type_id::q4_k},   {"Q4_K", ftype::q4_k_m, type_id::q4_k},
    {"Q4_K_S", ftype::q4_k_s, type_id::q4_k},   {"Q3_K_L", ftype::q3_k_l, type_id::q3_k},
    {"Q3_K_M", ftype::q3_k_m, type_id::q3_k},   {"Q3_K", ftype::q3_k_m, type_id::q3_k},
    {"Q3_K_S", ftype::q3_k_s, type_id::q3_k},   {"Q2_K", ftype::q2_k, type_id::q2_k},
    {"Q2_K_S", ftype::q2_k_s, type_id::q2_k},   {"Q4_0", ftype::q4_0, type_id::q4_0},
    {"Q4_1", ftype::q4_1, type_id::q4_1},       {"Q5_0", ftype::q5_0, type_id::q5_0},
    {"Q5_1", ftype::q5_1, type_id::q5_1},       {"IQ4_NL", ftype::iq4_nl, type_id::iq4_nl},
    {"TQ1_0", ftype::tq1_0, type_id::tq1_0},    {"TQ2_0", ftype::tq2_0, type_id::tq2_0},
    {"MXFP4_MOE", ftype::mxfp4_moe, type_id::mxfp4},
}};

// By name in any case (Q4_K, Q5_K, Q3_K are llama-quantize's aliases of the _M mixes).
inline const mix_info* find_mix(std::string_view name) {
  const auto upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; };
  for (const auto& m : mixes)
    if (std::ranges::equal(m.name, name, {}, upper, upper)) return &m;
  return nullptr;
}

// Dimensions as ggml counts them: trailing ggml dims of 1 (leading in row-major) do not count.
inline std::size_t ggml_dims(const std::vector<std::uint64_t>& row_major) {
  std::size_t n = row_major.size();
  std::size_t lead = 0;
  while (lead + 1 < n && row_major[lead] == 1) ++lead;
  return std::max<std::size_t>(1, n - lead);
}

// Why llama-quantize leaves the tensor as it is, or "" when it may quantize it: only
// 2-D/3-D ".weight" tensors, never norms, BERT's added (not multiplied) position and
// token-type embeddings, expert routers, convolutions and the small per-architecture ones.
inline std::string kept_reason(std::string_view name, std::size_t dims, std::string_view arch,
                               bool leave_output) {
  const auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
  if (dims < 2) return "1-D";
  if (!name.ends_with("weight")) return "not a weight";
  if (has("_norm.weight")) return "norm";
  if (leave_output && name == "output.weight") return "output tensor (--leave-output-tensor)";
  if (name == "position_embd.weight" || name == "token_types.weight" || has(".position_embd"))
    return "position/token-type embedding (added, not multiplied)";
  if (has("ffn_gate_inp.weight") || has("ffn_gate_tid2eid.weight")) return "expert router";
  static constexpr std::string_view small[] = {
      "altup", "laurel", "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
      "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
      "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
      "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
      "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight",
      "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
      "mm.a.code_embd"};
  for (const auto s : small)
    if (has(s)) return "kept by llama-quantize (" + std::string(s) + ")";
  if (arch == "glm5-next") {
    static constexpr std::string_view glm[] = {
        "hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate",
        "indexer_compressor_ape", "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight", "ssm_g_b.weight",
        "ssm_beta.weight", "attn_kv_a_mqa.weight", "attn_k_b.weight", "attn_v_b.weight"};
    for (const auto s : glm)
      if (has(s)) return "kept by llama-quantize for glm5-next (" + std::string(s) + ")";
  }
  return {};
}

enum class category { output, token_embd, attn_qkv, attn_kv_b, attn_v, attn_k, attn_q, attn_output, ffn_up, ffn_gate,
                      ffn_down, other };

inline category category_of(std::string_view name) {
  const auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
  if (name == "output.weight") return category::output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return category::token_embd;
  if (has("attn_qkv.weight")) return category::attn_qkv;
  if (has("attn_kv_b.weight")) return category::attn_kv_b;
  if (has("attn_v.weight")) return category::attn_v;
  if (has("attn_k.weight")) return category::attn_k;
  if (has("attn_q.weight")) return category::attn_q;
  if (has("attn_output.weight")) return category::attn_output;
  if (has("ffn_up")) return category::ffn_up;
  if (has("ffn_gate")) return category::ffn_gate;
  if (has("ffn_down")) return category::ffn_down;
  return category::other;
}

// The layer of "blk.N. ...", -1 for the others.
inline int layer_of(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) return -1;
  return layer;
}

// llama.cpp's loader order (and so llama-quantize's): tensors outside the blocks first,
// then by block, each by name. The mixes' layer counters follow it.
inline bool llama_order(const std::string& a, const std::string& b) {
  const int la = layer_of(a), lb = layer_of(b);
  return la != lb ? la < lb : a < b;
}

// What the mixes look at besides a tensor's name: from the GGUF's metadata.
struct model_shape {
  std::string arch;  // general.architecture
  int layers = 0;    // <arch>.block_count
  int heads = 0, kv_heads = 0, experts = 0;
  bool tied_embeddings = true;  // no output.weight: token_embd is the output too
  int attention_v = 0;          // tensors of category attn_v/attn_qkv/attn_kv_b
  [[nodiscard]] int gqa() const { return kv_heads > 0 ? heads / kv_heads : 0; }
  // LLM_TYPE_70B for the LLaMA architecture: 80 layers with grouped-query attention.
  [[nodiscard]] bool is_70b() const { return arch == "llama" && layers == 80 && heads != kv_heads; }
};

struct options {
  bool pure = false;                 // --pure: the base type everywhere it may go
  std::optional<type_id> output;     // --output-tensor-type
  std::optional<type_id> token_embd; // --token-embedding-type
  std::vector<std::pair<std::regex, type_id>> tensor_types;  // --tensor-type REGEX=TYPE, first match wins
  bool has_imatrix = false;
};

// A tensor's type under one mix; call it for the quantizable tensors in llama_order (the
// attention-V and FFN-down counters advance as in llama-quantize). `why` gets the rule.
class chooser {
 public:
  chooser(const mix_info& m, model_shape shape, options o) : mix_(m), shape_(std::move(shape)), o_(std::move(o)) {}

  type_id operator()(const std::string& name, std::uint64_t row, std::uint64_t matrices, std::string& why) {
    const category c = category_of(name);
    if (o_.token_embd && c == category::token_embd) return why = "--token-embedding-type", *o_.token_embd;
    if (o_.output && c == category::output) return why = "--output-tensor-type", *o_.output;
    type_id t = mix_.base;
    if (ggml::traits(t)->elements == 1) return t;  // F32, F16, BF16: no mix
    bool manual = false;
    for (const auto& [pattern, type] : o_.tensor_types)
      if (std::regex_search(name, pattern)) {
        t = type, manual = true, why = "--tensor-type";
        break;
      }
    if (!manual && !o_.pure) {
      const type_id chosen = by_mix(t, c, name, row, matrices);
      if (chosen != t) why = "mix " + std::string(mix_.name);
      t = chosen;
    }
    return t;
  }

 private:
  static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

  // llama_tensor_get_type_impl for the file types qtl makes (no IQ1/IQ2/IQ3 types).
  type_id by_mix(type_id t, category c, const std::string& name, std::uint64_t row, std::uint64_t matrices) {
    using enum ftype;
    const ftype f = mix_.file_type;
    const bool falcon = shape_.arch == "falcon";
    if (c == category::output || (shape_.tied_embeddings && c == category::token_embd)) {
      if (o_.output) return *o_.output;
      if (f == mxfp4_moe || falcon || row % ggml::traits(t)->elements != 0) return type_id::q8_0;
      return t != type_id::q8_0 ? type_id::q6_k : t;
    }
    if (f == mxfp4_moe) return matrices > 1 ? type_id::mxfp4 : type_id::q8_0;
    if (c == category::token_embd) {
      if (o_.token_embd) return *o_.token_embd;
      return f == tq1_0 || f == tq2_0 ? type_id::q4_k : t;
    }
    if (c == category::attn_v || c == category::attn_qkv || c == category::attn_kv_b) {
      const int i = i_attention_v_++, n = shape_.attention_v, gqa = shape_.gqa();
      if (f == q2_k) t = gqa >= 4 ? type_id::q4_k : type_id::q3_k;
      else if (f == q2_k_s && gqa >= 4) t = type_id::q4_k;
      else if (f == q3_k_m) t = i < 2 ? type_id::q5_k : type_id::q4_k;
      else if (f == q3_k_l) t = type_id::q5_k;
      else if (f == iq4_nl && gqa >= 4) t = type_id::q5_k;
      else if ((f == q4_k_m || f == q5_k_m) && more_bits(i, n)) t = type_id::q6_k;
      else if (f == q4_k_s && i < 4) t = type_id::q5_k;
      if (shape_.is_70b() && (t == type_id::q3_k || t == type_id::q4_k)) t = type_id::q5_k;
      if (shape_.experts == 8) t = type_id::q8_0;
      return t;  // (attn_qkv takes this branch too: llama-quantize's own QKV rules are never reached)
    }
    if (c == category::attn_k) return shape_.experts == 8 ? type_id::q8_0 : t;
    if (c == category::ffn_down) {
      int i = i_ffn_down_++;
      const int n = shape_.layers;
      if (shape_.experts > 1) i = layer_of(name);  // experts are not in layer order
      if (f == q2_k) return type_id::q3_k;
      if (f == q2_k_s) return i < n / 8 ? type_id::q4_k : t;
      if (f == q3_k_m)
        return i < n / 16 ? type_id::q5_k : !falcon || more_bits(i, n) ? type_id::q4_k : type_id::q3_k;
      if (f == q3_k_l) return falcon ? type_id::q4_k : type_id::q5_k;
      if (f == q4_k_m) {
        if (falcon) return i < n / 16 ? type_id::q6_k : more_bits(i, n) ? type_id::q5_k : type_id::q4_k;
        return more_bits(i, n) ? type_id::q6_k : t;
      }
      if (i < n / 8 && f == iq4_nl && !o_.has_imatrix) return type_id::q5_k;
      if (f == q5_k_m && more_bits(i, n)) return type_id::q6_k;
      if (f == q4_k_s && !falcon && i < n / 8) return type_id::q5_k;
      if ((f == q4_0 || f == q5_0) && o_.has_imatrix && i < n / 8) return f == q4_0 ? type_id::q4_1 : type_id::q5_1;
      return t;
    }
    if (c == category::attn_output) {
      if (falcon) return f == q3_k_l ? type_id::q4_k : t;
      if (shape_.experts == 8)
        return f == q2_k || f == q3_k_s || f == q3_k_m || f == iq4_nl || f == q4_k_s || f == q4_k_m ? type_id::q5_k
                                                                                                     : t;
      if (f == q2_k) return type_id::q3_k;
      if (f == q3_k_m) return type_id::q4_k;
      if (f == q3_k_l) return type_id::q5_k;
    }
    return t;
  }

  const mix_info& mix_;
  model_shape shape_;
  options o_;
  int i_attention_v_ = 0, i_ffn_down_ = 0;
};

// llama-quantize's type for rows of `row` values that are not whole blocks of t: the
// 256-value types go to a 32-value one, and a type whose blocks still do not fit to F16.
inline type_id fallback(type_id t, std::uint64_t row) {
  const auto fits = [row](type_id x) { return row % ggml::traits(x)->elements == 0; };
  if (fits(t)) return t;
  type_id f = t;
  switch (t) {
    case type_id::q2_k:
    case type_id::q3_k:
    case type_id::tq1_0:
    case type_id::tq2_0:
      f = type_id::q4_0;
      break;
    case type_id::q4_k:
      f = type_id::q5_0;
      break;
    case type_id::q5_k:
      f = type_id::q5_1;
      break;
    case type_id::q6_k:
      f = type_id::q8_0;
      break;
    default:
      break;
  }
  return fits(f) ? f : type_id::f16;
}

// Q2_K tensors of a Q2_K_S file need importance weights (llama-quantize refuses without).
inline bool requires_imatrix(const std::string& name, type_id t, const mix_info& m) {
  const auto c = category_of(name);
  return c != category::output && c != category::token_embd && t == type_id::q2_k && m.file_type == ftype::q2_k_s;
}

}  // namespace qtl::tool::mix
