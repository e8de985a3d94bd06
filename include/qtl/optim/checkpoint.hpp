// qtl::optim::checkpoint: optimizer state in a safetensors file, so that training resumes
// bit for bit. Per parameter name: `<name>.state1` (U8 codes or F32 values), `.absmax1`
// (F32, 8-bit only), `.state2`/`.absmax2` for two-state rules, and in the metadata
// `<name>.step`, `<name>.optimizer` (the rule's name) and `<name>.hyperparameters` (JSON).
// The tensor names and layout are bitsandbytes' optimizer state_dict keys, so bnb's 8-bit
// state converts with a few lines of Python (tests/golden/optim_vectors.py,
// bnb_state_to_safetensors) and loads here.
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "qtl/core/error.hpp"
#include "qtl/io/safetensors.hpp"
#include "qtl/optim/optimizer.hpp"

namespace qtl::optim {

class checkpoint {
 public:
  checkpoint() = default;

  // Reads a checkpoint file (errc::corrupt_file for a broken one).
  explicit checkpoint(const std::filesystem::path& path) : file_(std::in_place, path) {
    metadata_ = file_->metadata();
    source_ = path.string();
  }

  // Adds one optimizer's state under a parameter name (copied now; save() writes it).
  template <update_rule Rule, class Arch>
  void add(const std::string& name, const optimizer<Rule, Arch>& opt) {
    if (file_) throw error(errc::invalid_argument, "optimizer checkpoint " + source_ + " was read from a file: add to a new one");
    if (metadata_.contains(name + ".step"))
      throw error(errc::invalid_argument, "optimizer checkpoint: the name \"" + name + "\" is added twice");
    for (int k = 0; k < Rule::states; ++k) {
      const auto& s = opt.state(k);
      const std::string n = std::to_string(k + 1);
      if (s.quantized) {
        own(name + ".state" + n, io::safetensors::dtype::u8, s.codes.data(), s.codes.size());
        own(name + ".absmax" + n, io::safetensors::dtype::f32, s.absmax.data(), s.absmax.size());
      } else {
        own(name + ".state" + n, io::safetensors::dtype::f32, s.values.data(), s.values.size());
      }
    }
    nlohmann::json hyper = nlohmann::json::object();
    Rule rule = opt.rule();
    rule.for_each_hyperparameter([&](std::string_view key, const auto& value) { hyper[std::string(key)] = value; });
    metadata_[name + ".step"] = std::to_string(opt.steps());
    metadata_[name + ".optimizer"] = std::string(Rule::name);
    metadata_[name + ".hyperparameters"] = hyper.dump();
    metadata_[name + ".blocksize"] = std::to_string(opt.state(0).blocksize);
  }

  // Writes every added state to path, all or nothing: a failed write leaves the file that
  // was there.
  void save(const std::filesystem::path& path) const {
    std::vector<io::safetensors::tensor_view> views;
    for (const auto& [name, t] : owned_)
      views.push_back({{name, t.type, {t.elements}}, std::span<const std::byte>(t.bytes)});
    io::safetensors::write(path, views, metadata_);
  }

  // Puts the state saved under `name` into opt: step count, states and hyperparameters.
  // Refuses (errc::shape_mismatch, errc::corrupt_file, errc::invalid_argument), leaving opt
  // as it was, a state of another size, precision or block size, another rule, absmax
  // values that are negative or not finite, and a missing step.
  template <update_rule Rule, class Arch>
  void restore(const std::string& name, optimizer<Rule, Arch>& opt) const {
    const std::string what = "optimizer checkpoint " + source_ + ": \"" + name + "\"";
    if (const auto it = metadata_.find(name + ".optimizer"); it != metadata_.end() && it->second != Rule::name)
      throw error(errc::invalid_argument, what + " holds " + it->second + " state, not " + std::string(Rule::name));
    const auto step = integer(name + ".step", what);
    std::array<state_tensor, Rule::states> states;
    for (int k = 0; k < Rule::states; ++k) {
      const std::string n = std::to_string(k + 1);
      const auto& mine = opt.state(k);
      state_tensor& s = states[static_cast<std::size_t>(k)];
      s.signed_map = mine.signed_map;
      s.blocksize = mine.blocksize;
      const auto& codes = tensor(name + ".state" + n, what);
      s.quantized = codes.type == io::safetensors::dtype::u8;
      if (s.quantized) {
        s.codes = copy<std::uint8_t>(codes);
        s.absmax = copy<float>(expect(tensor(name + ".absmax" + n, what), io::safetensors::dtype::f32, what));
        for (const float a : s.absmax)
          if (!(a >= 0.0f) || !std::isfinite(a))
            throw error(errc::corrupt_file, what + ": absmax" + n + " holds " + std::to_string(a));
      } else {
        s.values = copy<float>(expect(codes, io::safetensors::dtype::f32, what));
      }
    }
    Rule rule = opt.rule();
    if (const auto it = metadata_.find(name + ".hyperparameters"); it != metadata_.end()) {
      const auto json = nlohmann::json::parse(it->second, nullptr, false);
      if (!json.is_object()) throw error(errc::corrupt_file, what + ": hyperparameters are not a JSON object");
      std::size_t known = 0;
      rule.for_each_hyperparameter([&](std::string_view key, auto& value) {
        const auto v = json.find(std::string(key));
        if (v == json.end()) return;
        if (!v->is_number() && !v->is_boolean())
          throw error(errc::corrupt_file, what + ": hyperparameter " + std::string(key) + " is not a number");
        value = v->template get<std::remove_reference_t<decltype(value)>>();
        ++known;
      });
      if (known != json.size())
        throw error(errc::invalid_argument, what + ": hyperparameters " + it->second + " are not all " +
                                                std::string(Rule::name) + "'s");
      rule.validate();
    }
    opt.restore(step, std::move(states));
    opt.rule() = rule;
  }

 private:
  struct owned_tensor {
    io::safetensors::dtype type;
    std::uint64_t elements;
    std::vector<std::byte> bytes;
  };

  template <class T>
  void own(const std::string& name, io::safetensors::dtype type, const T* data, std::size_t n) {
    const auto* first = reinterpret_cast<const std::byte*>(data);
    owned_[name] = {type, n, std::vector<std::byte>(first, first + n * sizeof(T))};
  }

  [[nodiscard]] const io::safetensors::tensor_view& tensor(const std::string& key, const std::string& what) const {
    const io::safetensors::tensor_view* t = file_ ? file_->find(key) : nullptr;
    if (!t) throw error(errc::corrupt_file, what + ": no tensor " + key);
    return *t;
  }

  static const io::safetensors::tensor_view& expect(const io::safetensors::tensor_view& t, io::safetensors::dtype type,
                                                    const std::string& what) {
    if (t.type != type)
      throw error(errc::corrupt_file, what + ": " + t.name + " is " + std::string(io::safetensors::name(t.type)) +
                                          ", not " + std::string(io::safetensors::name(type)));
    return t;
  }

  template <class T>
  static std::vector<T> copy(const io::safetensors::tensor_view& t) {
    std::vector<T> out(t.data.size() / sizeof(T));
    std::memcpy(out.data(), t.data.data(), out.size() * sizeof(T));
    return out;
  }

  [[nodiscard]] std::int64_t integer(const std::string& key, const std::string& what) const {
    const auto it = metadata_.find(key);
    if (it == metadata_.end()) throw error(errc::corrupt_file, what + ": the metadata has no " + key);
    std::int64_t v = -1;
    const auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec != std::errc{} || end != it->second.data() + it->second.size() || v < 0)
      throw error(errc::corrupt_file, what + ": " + key + " \"" + it->second + "\" is not a step count");
    return v;
  }

  std::optional<io::safetensors::file> file_;
  std::string source_ = "<memory>";
  io::safetensors::metadata_map metadata_;
  std::map<std::string, owned_tensor> owned_;
};

}  // namespace qtl::optim
