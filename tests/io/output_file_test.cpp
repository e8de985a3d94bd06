#include "qtl/io/output_file.hpp"

#include <catch2/catch_test_macros.hpp>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "qtl/io/mapped_file.hpp"

namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "qtl-io-test";
  fs::create_directories(dir);
  return dir / name;
}

std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> out;
  for (const char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

bool leftovers(const fs::path& target) {
  for (const auto& e : fs::directory_iterator(target.parent_path()))
    if (e.path().filename().string().starts_with(target.filename().string() + ".qtl-tmp-")) return true;
  return false;
}

}  // namespace

TEST_CASE("output_file: the target appears only on commit, padded as asked", "[io]") {
  const auto target = scratch("committed.bin");
  fs::remove(target);
  {
    qtl::io::output_file out(target);
    out.write(bytes_of("abc"));
    out.pad_to(8);
    CHECK(out.written() == 8);
    CHECK(!fs::exists(target));
    out.commit();
  }
  CHECK(fs::file_size(target) == 8);
  const qtl::io::mapped_file mapped(target);
  CHECK(mapped.size() == 8);
  CHECK(mapped.bytes()[2] == std::byte{'c'});
  CHECK(mapped.bytes()[7] == std::byte{0});
  CHECK(!leftovers(target));
}

TEST_CASE("output_file: without commit nothing is left, an existing target is untouched", "[io]") {
  const auto target = scratch("kept.bin");
  { std::ofstream(target) << "old"; }
  {
    qtl::io::output_file out(target);
    out.write(bytes_of("new contents"));
  }  // e.g. an exception before commit
  CHECK(fs::file_size(target) == 3);
  CHECK(!leftovers(target));
}

TEST_CASE("io errors name the file", "[io]") {
  const fs::path missing = scratch("no-such-dir") / "x.bin";
  try {
    qtl::io::output_file out(missing);
    FAIL("no error");
  } catch (const qtl::error& e) {
    CHECK(e.code() == qtl::errc::io);
    CHECK(std::string(e.what()).find("x.bin") != std::string::npos);
  }
  CHECK_THROWS_AS(qtl::io::mapped_file(missing), qtl::error);
  CHECK_THROWS_AS(qtl::io::mapped_file(fs::temp_directory_path()), qtl::error);  // not a regular file
  const auto empty = scratch("empty.bin");
  { std::ofstream{empty}; }
  CHECK(qtl::io::mapped_file(empty).bytes().empty());
}
