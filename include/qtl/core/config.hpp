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
#define QTL_LAMBDA_FORCEINLINE
#else
#define QTL_FORCEINLINE inline __attribute__((always_inline))
#define QTL_LAMBDA_FORCEINLINE __attribute__((always_inline))  // after a lambda's parameters
#endif

// Reference quantizers that must match another project's bytes are bracketed by these:
// the references round a * b + c twice, so the compiler must not fuse it into one FMA
// (g++ does under -march with FMA unless told; clang fuses within an expression).
#if defined(__clang__)
#define QTL_STRICT_FP_BEGIN _Pragma("clang fp contract(off)")
#define QTL_STRICT_FP_END _Pragma("clang fp contract(on)")
#elif defined(__GNUC__) && !defined(__CUDACC__)
#define QTL_STRICT_FP_BEGIN _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=off\")")
#define QTL_STRICT_FP_END _Pragma("GCC pop_options")
#else
#define QTL_STRICT_FP_BEGIN
#define QTL_STRICT_FP_END
#endif
