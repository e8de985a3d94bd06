// What each thread of cuda/gemv_w4a8.cuh computes, for the device and the host. One warp
// per row of ggml Q4_0 blocks; four lanes share a block (lane q of them: weight bytes
// 4q..4q + 3, i.e. values 4q..4q + 3 in the low nibbles and 16 + 4q.. in the high ones), so
// a warp reads 8 consecutive blocks per step. The four lanes' int32 parts of a block's dot
// add exactly; the block's term float(isum) * (d_w * d_a) is the CPU's (kernel/block_dot.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "qtl/core/config.hpp"
#include "qtl/core/half.hpp"
#include "qtl/cuda/arguments.hpp"
#include "qtl/cuda/lanes/ops.hpp"
#include "qtl/layout/ggml/blocks.hpp"

namespace qtl::cuda::lanes {

inline constexpr unsigned w4a8_lanes_per_block = 4;
inline constexpr unsigned w4a8_blocks_per_step = 32 / w4a8_lanes_per_block;
static_assert(ggml::block_q4_0::elements == 32 && ggml::block_q8_0::elements == 32);

inline launch_shape w4a8_launch(std::size_t rows) noexcept {
  return {ceil_div(rows, gemv_rows_per_block), 32, static_cast<unsigned>(gemv_rows_per_block)};
}

// Four bytes from a 2-byte aligned address (blocks are 18 and 34 bytes long).
QTL_HOST_DEVICE inline int load_4_bytes(const std::uint8_t* p) noexcept {
  return static_cast<int>(static_cast<std::uint32_t>(load<std::uint16_t>(p)) |
                          static_cast<std::uint32_t>(load<std::uint16_t>(p + 2)) << 16);
}

// Four 4-bit codes (one per byte) as the signed bytes code - 8.
QTL_HOST_DEVICE inline int q4_0_bytes(std::uint32_t nibbles) noexcept {
  return static_cast<int>(vsub4(nibbles & 0x0F0F0F0Fu, 0x08080808u));
}

// A lane's quarter of its weight block in one step: the block (past the row's last block:
// valid is false and the lane adds nothing), its codes as signed bytes and its scale.
struct w4a8_quarter {
  std::size_t block;
  bool valid;
  int low, high;
  float d_w;
};

QTL_HOST_DEVICE inline w4a8_quarter w4a8_weights(const ggml::block_q4_0* row, std::size_t blocks_per_row,
                                                 std::size_t base, unsigned lane) noexcept {
  w4a8_quarter q{base + lane / w4a8_lanes_per_block, false, 0, 0, 0.0f};
  if (q.block >= blocks_per_row) return q;
  const auto nibbles = static_cast<std::uint32_t>(load_4_bytes(row[q.block].qs + 4 * (lane % w4a8_lanes_per_block)));
  return {q.block, true, q4_0_bytes(nibbles), q4_0_bytes(nibbles >> 4), half_bits_to_float(row[q.block].d)};
}

// The lane's part of its block's integer dot with the activation block ab.
QTL_HOST_DEVICE inline int w4a8_part(const w4a8_quarter& q, const ggml::block_q8_0& ab, unsigned lane) noexcept {
  const auto* qs = reinterpret_cast<const std::uint8_t*>(ab.qs) + 4 * (lane % w4a8_lanes_per_block);
  return dp4a(q.high, load_4_bytes(qs + 16), dp4a(q.low, load_4_bytes(qs), 0));
}

// A block's term from its whole integer dot, rounded as the CPU rounds it.
QTL_HOST_DEVICE inline float w4a8_term(int isum, float d_w, float d_a) noexcept {
  return mul_rn(static_cast<float>(isum), mul_rn(d_w, d_a));
}

}  // namespace qtl::cuda::lanes
