// Compile-time configuration: version macros and the host/device annotations.
// Sits under every other header; has no dependencies.
#pragma once

#define QTL_VERSION_MAJOR 0
#define QTL_VERSION_MINOR 1
#define QTL_VERSION_PATCH 0
#define QTL_VERSION (QTL_VERSION_MAJOR * 10000 + QTL_VERSION_MINOR * 100 + QTL_VERSION_PATCH)

// Functions marked QTL_HOST_DEVICE are shared by CPU code and .cuh kernels.
#if defined(__CUDACC__) || defined(__HIPCC__)
#define QTL_HOST_DEVICE __host__ __device__
#else
#define QTL_HOST_DEVICE
#endif

// __has_builtin where the compiler has it (g++ >= 10, clang), else "no".
#if defined(__has_builtin)
#define QTL_HAS_BUILTIN(x) __has_builtin(x)
#else
#define QTL_HAS_BUILTIN(x) 0
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define QTL_FORCEINLINE __forceinline
#else
#define QTL_FORCEINLINE inline __attribute__((always_inline))
#endif
