// The CPU scalar paths the GPU kernels are tested against, compiled by the host compiler
// in cpu_reference.cpp (the kernel/ headers use xsimd, which nvcc's front end cannot parse).
#pragma once

#include <cstddef>
#include <cstdint>

#include "qtl/core/bfloat16.hpp"
#include "qtl/layout/ggml/blocks.hpp"

namespace qtl::test {

// y (batch x rows) of the CPU's I2_S GEMV (kernel/i2_s_dot.hpp, scalar arch) for the
// rows x cols ternary codes with scale w_scale and batch int8 activation rows.
void cpu_gemv_w2a8(const std::int8_t* codes, float w_scale, std::size_t rows, std::size_t cols, const std::int8_t* a,
                   const float* a_scales, std::size_t batch, float* y);

// y (batch x rows) of the CPU's Q4_0 x Q8_0 GEMV (kernel/block_dot.hpp, scalar arch) and,
// per output, the sum of its terms' magnitudes (for the float summation bound).
void cpu_gemv_w4a8(const ggml::block_q4_0* w, std::size_t rows, std::size_t cols, const ggml::block_q8_0* a,
                   std::size_t batch, float* y, float* magnitude);

// y (batch x rows) of the CPU's bnb 4-bit GEMV (kernel/nf4_dot.hpp, scalar arch), NF4
// when nf4 else FP4, and per output sum_j |w_j x_j|.
void cpu_gemv_4bit(bool nf4, const std::uint8_t* packed, const float* absmax, std::size_t blocksize, std::size_t rows,
                   std::size_t cols, const float* x, std::size_t batch, float* y, float* magnitude);
void cpu_gemv_4bit(bool nf4, const std::uint8_t* packed, const float* absmax, std::size_t blocksize, std::size_t rows,
                   std::size_t cols, const bfloat16* x, std::size_t batch, float* y, float* magnitude);

}  // namespace qtl::test
