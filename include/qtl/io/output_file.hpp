// An output file that appears whole or not at all: bytes go to a temporary file next to
// the target (same directory, so the final rename is atomic), commit() flushes and
// renames it over the target, and a destructor without commit() (an error, an exception)
// removes it. So a failed write never leaves a partial model file behind.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>

#include "qtl/core/error.hpp"

namespace qtl::io {

class output_file {
 public:
  explicit output_file(const std::filesystem::path& target) : target_(target) {
    temp_ = target;
    temp_ += ".qtl-tmp-" + std::to_string(::getpid());
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create");
  }
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;
  ~output_file() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(temp_.c_str());
    }
  }

  void write(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
      const ::ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write");
      bytes = bytes.subspan(static_cast<std::size_t>(n));
      written_ += static_cast<std::size_t>(n);
    }
  }
  // zeros up to the next multiple of `alignment` bytes written so far
  void pad_to(std::size_t alignment) {
    static constexpr std::byte zeros[256] = {};
    while (written_ % alignment != 0)
      write(std::span(zeros, std::min(sizeof zeros, alignment - written_ % alignment)));
  }
  [[nodiscard]] std::size_t written() const noexcept { return written_; }

  // Flush to disk and rename over the target; after it the object owns nothing.
  void commit() {
    if (::fsync(fd_) != 0) fail("cannot flush");
    if (::close(fd_) != 0) {
      fd_ = -1;
      ::unlink(temp_.c_str());
      fail("cannot close");
    }
    fd_ = -1;
    if (std::rename(temp_.c_str(), target_.c_str()) != 0) {
      const int saved = errno;
      ::unlink(temp_.c_str());
      errno = saved;
      fail("cannot rename the finished file onto");
    }
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw error(errc::io, target_.string() + ": " + what + " it: " + std::strerror(errno));
  }

  std::filesystem::path target_, temp_;
  int fd_ = -1;
  std::size_t written_ = 0;
};

}  // namespace qtl::io
