#include <catch2/catch_test_macros.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qtl/qat/peft.hpp"

TEST_CASE("save_peft_adapters writes PEFT's file names, keys, shapes and config", "[qat]") {
  const auto dir = std::filesystem::temp_directory_path() / "qtl_peft_test";
  std::filesystem::remove_all(dir);
  const std::vector<qtl::qat::peft_adapter> adapters = {
      {"encoder.layer.0.attention.self.query", std::vector<float>(2 * 6, 0.5f), std::vector<float>(4 * 2, -1.0f), 2, 6, 4},
      {"encoder.layer.0.output.dense", std::vector<float>(2 * 8, 0.25f), std::vector<float>(6 * 2, 2.0f), 2, 8, 6}};
  qtl::qat::save_peft_adapters(dir, adapters, {.alpha = 4.0f, .base_model_name_or_path = "all-MiniLM-L6-v2"});
  const qtl::io::safetensors::file file(dir / "adapter_model.safetensors");
  REQUIRE(file.tensors().size() == 4);
  const auto& a = file.at("base_model.model.encoder.layer.0.attention.self.query.lora_A.weight");
  CHECK(a.shape == std::vector<std::uint64_t>{2, 6});
  const auto& b = file.at("base_model.model.encoder.layer.0.output.dense.lora_B.weight");
  CHECK(b.shape == std::vector<std::uint64_t>{6, 2});
  float first;
  std::memcpy(&first, b.data.data(), sizeof first);
  CHECK(first == 2.0f);
  std::ifstream in(dir / "adapter_config.json");
  const auto json = nlohmann::json::parse(in);
  CHECK(json["peft_type"] == "LORA");
  CHECK(json["r"] == 2);
  CHECK(json["lora_alpha"] == 4.0);
  CHECK(json["target_modules"] ==
        nlohmann::json::array({"encoder.layer.0.attention.self.query", "encoder.layer.0.output.dense"}));
  std::filesystem::remove_all(dir);
}

TEST_CASE("save_peft_adapters refuses what PEFT could not load, and writes nothing then", "[qat]") {
  const auto dir = std::filesystem::temp_directory_path() / "qtl_peft_refused";
  std::filesystem::remove_all(dir);
  using qtl::qat::peft_adapter;
  const peft_adapter good{"m.q", std::vector<float>(2 * 3), std::vector<float>(4 * 2), 2, 3, 4};
  CHECK_THROWS_AS(qtl::qat::save_peft_adapters(dir, std::vector<peft_adapter>{}, {}), qtl::error);
  peft_adapter short_a = good;
  short_a.a.pop_back();
  CHECK_THROWS_AS(qtl::qat::save_peft_adapters(dir, std::vector<peft_adapter>{short_a}, {}), qtl::error);
  peft_adapter other_rank{"m.k", std::vector<float>(3), std::vector<float>(4), 1, 3, 4};
  CHECK_THROWS_AS(qtl::qat::save_peft_adapters(dir, std::vector<peft_adapter>{good, other_rank}, {}), qtl::error);
  CHECK_THROWS_AS(qtl::qat::save_peft_adapters(dir, std::vector<peft_adapter>{good, good}, {}), qtl::error);
  CHECK(!std::filesystem::exists(dir / "adapter_model.safetensors"));
}
