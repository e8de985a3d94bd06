// BitNet b1.58, bit-exact with microsoft/BitNet: absmean ternary weights and absmax int8
// activations (torch's float32 numerics), bitnet.cpp's I2_S and the W2A8 GPU weight
// layout; and qtl's own lookup-table (TL) weight layout.
#pragma once

#include "qtl/layout/bitnet/gpu_w2.hpp"
#include "qtl/layout/bitnet/i2_s.hpp"
#include "qtl/layout/bitnet/quantize.hpp"
#include "qtl/layout/bitnet/tl.hpp"
#include "qtl/layout/torch_sum.hpp"
