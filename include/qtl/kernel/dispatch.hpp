// Picking the kernels for the running CPU. Without runtime dispatch (the default) the
// only table is the one the consumer's flags compile: make_table<default_arch>(). With
// qtl_add_runtime_dispatch(target) in CMake, every arch of the platform is compiled and
// select_kernels() takes the best one the CPU supports, or the one named by the
// environment variable QTL_ARCH (avx512_vnni, avx2, neon, scalar) so that tests and
// benchmarks can run every path on one machine.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "qtl/core/error.hpp"
#include "qtl/kernel/arch.hpp"
#include "qtl/kernel/kernel_table.hpp"

namespace qtl::kernel {

// The archs whose kernels this program contains.
inline std::vector<arch_id> compiled_archs() {
#if defined(QTL_RUNTIME_DISPATCH)
  return platform_archs();
#else
  return archs_with<default_arch>();
#endif
}

// The archs this program contains and this CPU runs, best first.
inline std::vector<arch_id> usable_archs() {
  std::vector<arch_id> usable;
  for (const arch_id a : compiled_archs())
    if (cpu_supports(a)) usable.push_back(a);
  return usable;
}

// The kernels of arch a; errc::unsupported if it is not compiled in or the CPU lacks it.
inline kernel_table kernels_for(arch_id a) {
  bool found = false;
  for (const arch_id u : usable_archs()) found = found || u == a;
  if (!found)
    throw error(errc::unsupported, "arch " + std::string(arch_name(a)) +
                                       (cpu_supports(a) ? " is not compiled into this program"
                                                        : " is not supported by this CPU"));
  switch (a) {
#if defined(QTL_RUNTIME_DISPATCH) && (defined(__x86_64__) || defined(_M_X64))
    case arch_id::avx512_vnni: return make_table<avx512_vnni>();
    case arch_id::avx2: return make_table<avx2>();
#elif defined(QTL_RUNTIME_DISPATCH) && defined(__aarch64__)
    case arch_id::neon: return make_table<neon>();
#endif
    case arch_id::scalar: return make_table<scalar>();
    default: return make_table<default_arch>();
  }
}

// QTL_ARCH if set (an error if it names an arch that cannot run here), else the best.
inline kernel_table select_kernels() {
  if (const char* forced = std::getenv("QTL_ARCH"); forced != nullptr && *forced != '\0')
    return kernels_for(parse_arch(forced));
  return kernels_for(usable_archs().front());
}

}  // namespace qtl::kernel
