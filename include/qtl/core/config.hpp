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

#if defined(_MSC_VER) && !defined(__clang__)
#define QTL_FORCEINLINE __forceinline
#else
#define QTL_FORCEINLINE inline __attribute__((always_inline))
#endif
