// ggml's block formats, bit-exact with ggml's reference quantizers: Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, TQ1_0, TQ2_0, MXFP4, and
// rows of them (with importance weights where llama-quantize takes an imatrix).
#pragma once

#include "qtl/layout/ggml/blocks.hpp"
#include "qtl/layout/ggml/iq4_nl.hpp"
#include "qtl/layout/ggml/k_quants.hpp"
#include "qtl/layout/ggml/legacy.hpp"
#include "qtl/layout/ggml/legacy_importance.hpp"
#include "qtl/layout/ggml/mxfp4.hpp"
#include "qtl/layout/ggml/row.hpp"
#include "qtl/layout/ggml/ternary.hpp"
