// Instruction sets the kernels are built for. A kernel is a template over an arch tag:
// xsimd's tags for SIMD paths, qtl::kernel::scalar for the reference path. default_arch
// is the best one the current translation unit's compile flags enable (what a consumer
// gets without runtime dispatch); kernel/dispatch.hpp picks one at run time.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "qtl/core/error.hpp"

namespace qtl::kernel {

// The scalar reference path: no SIMD register type at all.
struct scalar {
  static constexpr const char* name() noexcept { return "scalar"; }
};

using avx2 = xsimd::fma3<xsimd::avx2>;                  // AVX2 + FMA
using avx512_vnni = xsimd::avx512vnni<xsimd::avx512bw>;  // AVX-512 BW + VL + VNNI
using neon = xsimd::neon64;                             // AArch64 NEON (dotprod where compiled in)

enum class arch_id { scalar, avx2, avx512_vnni, neon };

inline constexpr std::array<arch_id, 4> all_archs = {arch_id::avx512_vnni, arch_id::avx2, arch_id::neon, arch_id::scalar};

constexpr std::string_view arch_name(arch_id a) noexcept {
  switch (a) {
    case arch_id::avx2: return "avx2";
    case arch_id::avx512_vnni: return "avx512_vnni";
    case arch_id::neon: return "neon";
    case arch_id::scalar: break;
  }
  return "scalar";
}

inline arch_id parse_arch(std::string_view name) {
  for (const arch_id a : all_archs)
    if (arch_name(a) == name) return a;
  throw error(errc::invalid_argument,
              "unknown arch '" + std::string(name) + "' (expected avx512_vnni, avx2, neon or scalar)");
}

template <class Arch>
constexpr arch_id id_of() noexcept {
  if constexpr (std::is_same_v<Arch, avx512_vnni>) return arch_id::avx512_vnni;
  else if constexpr (std::is_same_v<Arch, avx2>) return arch_id::avx2;
  else if constexpr (std::is_same_v<Arch, neon>) return arch_id::neon;
  else return arch_id::scalar;
}

// The archs of a program that compiles Arch's kernels and the scalar ones, best first.
template <class Arch>
std::vector<arch_id> archs_with() {
  if constexpr (id_of<Arch>() == arch_id::scalar) return {arch_id::scalar};
  else return {id_of<Arch>(), arch_id::scalar};
}

// Every arch of the platform, best first: what runtime dispatch compiles.
inline std::vector<arch_id> platform_archs() {
#if defined(__x86_64__) || defined(_M_X64)
  return {arch_id::avx512_vnni, arch_id::avx2, arch_id::scalar};
#elif defined(__aarch64__)
  return {arch_id::neon, arch_id::scalar};
#else
  return {arch_id::scalar};
#endif
}

// What these flags compile: the arch-specific kernel headers are guarded by the same macros.
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__FMA__)
#define QTL_KERNEL_AVX512_VNNI 1
#endif
#if defined(__AVX2__) && defined(__FMA__)
#define QTL_KERNEL_AVX2 1
#endif
#if defined(__ARM_NEON) && defined(__aarch64__)
#define QTL_KERNEL_NEON 1
#endif

// The instruction sets of this translation unit, as a namespace name. The per-arch
// helpers (x86::, arm::) are non-template inline functions: runtime dispatch compiles
// them in several translation units with different flags, and the linker keeps one copy
// of an inline function for the whole program. In a namespace named after the flags,
// each arch's copy is a different function, so an AVX2 path can never end up running a
// copy compiled with AVX-512 encodings.
#if defined(QTL_KERNEL_AVX512_VNNI)
#define QTL_KERNEL_ISA isa_avx512_vnni
#elif defined(QTL_KERNEL_AVX2)
#define QTL_KERNEL_ISA isa_avx2
#elif defined(QTL_KERNEL_NEON) && defined(__ARM_FEATURE_DOTPROD)
#define QTL_KERNEL_ISA isa_neon_dotprod
#elif defined(QTL_KERNEL_NEON)
#define QTL_KERNEL_ISA isa_neon
#else
#define QTL_KERNEL_ISA isa_baseline
#endif

#if defined(QTL_KERNEL_AVX512_VNNI)
using default_arch = avx512_vnni;
#elif defined(QTL_KERNEL_AVX2)
using default_arch = avx2;
#elif defined(QTL_KERNEL_NEON)
using default_arch = neon;
#else
using default_arch = scalar;
#endif

// Whether this CPU can run arch a (xsimd's CPU feature check).
inline bool cpu_supports(arch_id a) noexcept {
  const auto cpu = xsimd::available_architectures();
  switch (a) {
    case arch_id::avx512_vnni: return cpu.avx512vnni_bw && cpu.avx512bw && cpu.fma3_avx2;
    case arch_id::avx2: return cpu.avx2 && cpu.fma3_avx2;
    case arch_id::neon: return cpu.neon64;
    case arch_id::scalar: break;
  }
  return true;
}

}  // namespace qtl::kernel
