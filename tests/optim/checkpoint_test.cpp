// qtl/optim/checkpoint.hpp: a saved and restored optimizer resumes bit for bit; bitsandbytes'
// own AdamW8bit state (converted by tests/golden/optim_vectors.py) loads and continues to
// bnb's bytes; broken or foreign files are refused and change nothing.
#include <catch2/catch_test_macros.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "golden/golden.hpp"
#include "qtl/optim/adam.hpp"
#include "qtl/optim/checkpoint.hpp"
#include "qtl/optim/lion.hpp"
#include "qtl/optim/sgd.hpp"

namespace {

namespace fs = std::filesystem;
using qtl::optim::optimizer;

std::vector<float> numbers(std::size_t n, float scale, unsigned seed) {
  std::vector<float> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& e : v) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    e = scale * (static_cast<float>(x % 20001) / 10000.0f - 1.0f);
  }
  return v;
}

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / "qtl_optim_checkpoint_test";
  fs::create_directories(dir);
  return dir / name;
}

template <class Opt>
void train(Opt& opt, std::vector<float>& params, int first, int last) {
  for (int t = first; t < last; ++t) REQUIRE(opt.step(params, numbers(params.size(), 0.1f, static_cast<unsigned>(t))));
}

}  // namespace

TEST_CASE("A saved optimizer resumes bit for bit", "[optim][checkpoint]") {
  const std::size_t n = 5000, m = 700;  // 8-bit and (below min_8bit_size) 32-bit state
  optimizer<qtl::optim::adamw> a(n, {.lr = 3e-3, .weight_decay = 0.05});
  optimizer<qtl::optim::lion> b(m, {.lr = 1e-3});
  auto pa = numbers(n, 1.0f, 1), pb = numbers(m, 1.0f, 2);
  train(a, pa, 0, 3), train(b, pb, 0, 3);

  qtl::optim::checkpoint out;
  out.add("encoder.weight", a);
  out.add("head.bias", b);
  const auto path = scratch("resume.safetensors");
  out.save(path);

  optimizer<qtl::optim::adamw> a2(n);  // default hyperparameters: the file's come back
  optimizer<qtl::optim::lion> b2(m);
  const qtl::optim::checkpoint in(path);
  in.restore("encoder.weight", a2);
  in.restore("head.bias", b2);
  CHECK(a2.steps() == 3);
  CHECK(a2.rule().lr == 3e-3);
  CHECK(a2.rule().weight_decay == 0.05);
  CHECK(b2.rule().lr == 1e-3);
  CHECK(!b2.quantized());

  auto pa2 = pa, pb2 = pb;
  train(a, pa, 3, 6), train(b, pb, 3, 6);
  train(a2, pa2, 3, 6), train(b2, pb2, 3, 6);
  CHECK(pa2 == pa);
  CHECK(pb2 == pb);
  CHECK(a2.state(0).codes == a.state(0).codes);
  CHECK(a2.state(1).absmax == a.state(1).absmax);
  CHECK(b2.state(0).values == b.state(0).values);
}

TEST_CASE("bitsandbytes' AdamW8bit state loads and continues to bitsandbytes' bytes", "[optim][checkpoint][golden]") {
  const auto golden = qtl::test::golden_file::load("optim.qtlg");
  const auto grads = golden.get<float>("grads");
  const std::size_t n = 4500;
  optimizer<qtl::optim::adamw> opt(n);
  const qtl::optim::checkpoint state(fs::path(QTL_GOLDEN_DIR) / "optim_bnb_state.safetensors");
  state.restore("weight", opt);
  REQUIRE(opt.steps() == 3);
  CHECK(opt.rule().weight_decay == 0.1);
  CHECK(opt.rule().lr == 1e-2);
  // bnb's parameters after step 3 are not in the file (a state_dict holds none): take the
  // step-5 run from qtl's own first three steps, which the golden test shows equal bnb's state
  optimizer<qtl::optim::adamw> fresh(n, {.lr = 1e-2, .weight_decay = 0.1});
  auto params = golden.get<float>("params0");
  for (int t = 0; t < 3; ++t) fresh.step(std::span<float>(params), std::span<const float>(grads).subspan(t * n, n));
  CHECK(fresh.state(0).codes == opt.state(0).codes);
  CHECK(fresh.state(1).codes == opt.state(1).codes);
  CHECK(fresh.state(1).absmax == opt.state(1).absmax);
  for (int t = 3; t < 5; ++t) opt.step(std::span<float>(params), std::span<const float>(grads).subspan(t * n, n));
  CHECK(opt.state(0).codes == golden.get<std::uint8_t>("adamw8/state1_5"));
  CHECK(opt.state(1).codes == golden.get<std::uint8_t>("adamw8/state2_5"));
  CHECK(opt.state(0).absmax == golden.get<float>("adamw8/absmax1_5"));
}

TEST_CASE("Checkpoints refuse foreign or broken state and change nothing", "[optim][checkpoint][errors]") {
  optimizer<qtl::optim::adamw> a(5000);
  auto p = numbers(5000, 1.0f, 3);
  train(a, p, 0, 2);
  qtl::optim::checkpoint out;
  out.add("w", a);
  CHECK_THROWS_AS(out.add("w", a), qtl::error);
  const auto path = scratch("refuse.safetensors");
  out.save(path);
  qtl::optim::checkpoint in(path);

  optimizer<qtl::optim::adamw> other_size(4800);
  CHECK_THROWS_AS(in.restore("w", other_size), qtl::error);
  CHECK(other_size.steps() == 0);
  optimizer<qtl::optim::adamw> thirty_two(5000, {}, {.bits = qtl::optim::state_bits::thirty_two});
  CHECK_THROWS_AS(in.restore("w", thirty_two), qtl::error);
  optimizer<qtl::optim::adamw> other_blocks(5000, {}, {.blocksize = 128});
  CHECK_THROWS_AS(in.restore("w", other_blocks), qtl::error);
  optimizer<qtl::optim::sgd> other_rule(5000);
  CHECK_THROWS_AS(in.restore("w", other_rule), qtl::error);
  CHECK_THROWS_AS(in.restore("missing", other_size), qtl::error);
  CHECK_THROWS_AS(in.add("x", a), qtl::error);

  // a truncated file
  const auto broken = scratch("broken.safetensors");
  {
    std::ifstream src(path, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(src), {}};
    std::ofstream(broken, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  CHECK_THROWS_AS(qtl::optim::checkpoint(broken), qtl::error);

  // a failed save leaves the previous file whole (a name that is not UTF-8 fails the write)
  const auto read_all = [](const fs::path& f) {
    std::ifstream src(f, std::ios::binary);
    return std::string{std::istreambuf_iterator<char>(src), {}};
  };
  const std::string before = read_all(path);
  qtl::optim::checkpoint bad;
  bad.add("w\xff", a);
  CHECK_THROWS_AS(bad.save(path), qtl::error);
  CHECK(read_all(path) == before);
  CHECK_NOTHROW(qtl::optim::checkpoint(path));
}
