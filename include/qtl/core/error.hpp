// qtl::error, the one exception type of the library, and its error codes.
// Thrown on bad input by every layer; .cuh device code never throws.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace qtl {

enum class errc {
  invalid_argument,   // a value outside its documented domain
  shape_mismatch,     // views or buffers whose shapes do not agree
  group_size,         // a group size that does not divide the row
  non_finite,         // NaN or Inf where the policy forbids it
  out_of_range,       // an index or offset past the end
  unsupported,        // a dtype, format or feature qtl does not handle
  io,                 // the operating system refused a file operation
  corrupt_file,       // a truncated file or a header that lies
  device,             // the CUDA runtime reported an error (qtl/cuda/ host wrappers)
};

constexpr std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::invalid_argument: return "invalid argument";
    case errc::shape_mismatch: return "shape mismatch";
    case errc::group_size: return "group size";
    case errc::non_finite: return "non-finite value";
    case errc::out_of_range: return "out of range";
    case errc::unsupported: return "unsupported";
    case errc::io: return "i/o error";
    case errc::corrupt_file: return "corrupt file";
    case errc::device: return "device error";
  }
  return "unknown";
}

class error : public std::runtime_error {
 public:
  error(errc code, const std::string& message)
      : std::runtime_error("qtl: " + std::string(to_string(code)) + ": " + message), code_(code) {}

  [[nodiscard]] errc code() const noexcept { return code_; }

 private:
  errc code_;
};

// The one "buffer too small" check of every layer: throws errc::shape_mismatch as
// "<what>: <buffer> holds <have> <unit>, need <need>" when have < need.
inline void check_room(std::size_t have, std::size_t need, std::string_view what, std::string_view buffer = "buffer",
                       std::string_view unit = "bytes") {
  if (have < need)
    throw error(errc::shape_mismatch, std::string(what) + ": " + std::string(buffer) + " holds " +
                                          std::to_string(have) + " " + std::string(unit) + ", need " +
                                          std::to_string(need));
}

}  // namespace qtl
