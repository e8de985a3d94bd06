// Every CUDA header of qtl (qtl/cuda/): activation quantization and the W2A8, W4A8 and
// 4-bit GEMVs, with their device buffer and error helpers. For .cu translation units only;
// qtl/qtl.hpp (plain C++) does not include it.
#pragma once

#include "qtl/cuda/act_quant.cuh"
#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/check.cuh"
#include "qtl/cuda/device_buffer.cuh"
#include "qtl/cuda/elements.cuh"
#include "qtl/cuda/gemv_nf4.cuh"
#include "qtl/cuda/gemv_w2a8.cuh"
#include "qtl/cuda/gemv_w4a8.cuh"
