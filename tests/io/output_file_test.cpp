#include "qtl/io/output_file.hpp"

#include <catch2/catch_test_macros.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "qtl/io/mapped_file.hpp"

#include <unistd.h>

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

#ifdef __linux__
namespace {

// The resident kB of the mapping that starts at `start`, from /proc/self/smaps.
long resident_kb(const void* start) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_mapping = false;
  while (std::getline(smaps, line)) {
    if (line.find('-') != std::string::npos && line.find(' ') > line.find('-')) {
      in_mapping = std::stoull(line.substr(0, line.find('-')), nullptr, 16) == reinterpret_cast<std::uintptr_t>(start);
    } else if (in_mapping && line.starts_with("Rss:")) {
      return std::stol(line.substr(4));
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("mapped_file::release drops a span's pages from the resident set and keeps its bytes", "[io]") {
  const auto path = scratch("release.bin");
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), size = 64 * page + 100;
  std::vector<std::byte> data(size);
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<std::byte>(i * 7 % 251);
  {
    qtl::io::output_file out(path);
    out.write(data);
    out.commit();
  }
  const qtl::io::mapped_file f(path);
  const auto bytes = f.bytes();
  unsigned sum = 0, want = 0;
  for (std::size_t i = 0; i < size; i += page) {  // touch every page
    sum += std::to_integer<unsigned>(bytes[i]);
    want += std::to_integer<unsigned>(data[i]);
  }
  REQUIRE(sum == want);
  const long before = resident_kb(bytes.data());
  REQUIRE(before >= static_cast<long>(64 * page / 1024));
  f.release(bytes.subspan(page / 2, 40 * page));  // pages 1..39 lie wholly inside
  CHECK(resident_kb(bytes.data()) <= before - static_cast<long>(39 * page / 1024));
  CHECK(std::equal(bytes.begin(), bytes.end(), data.begin()));  // read back from the file

  // A span that is not in the mapping (here: heap memory) is left alone.
  std::vector<std::byte> heap(8 * page, std::byte{0x5a});
  f.release(heap);
  CHECK(std::all_of(heap.begin(), heap.end(), [](std::byte b) { return b == std::byte{0x5a}; }));
}
#endif
