"""Golden vectors for qtl's BitNet b1.58 layouts (include/qtl/layout/bitnet/).

    python tests/golden/bitnet_vectors.py [--out DIR]

Writes bitnet.qtlg. Exits 77 (skip) when torch is not installed.

- weight_quant / activation_quant: torch itself (CPU, float32, eager), written the way
  BitNet's model code writes them (gpu/model.py, gpu/convert_checkpoint.py,
  utils/convert-hf-to-gguf-bitnet.py). torch's float32 sum depends on its thread count
  for tensors of 32768 elements or more, so each such case is run at several counts.
- I2_S and the GPU W2 layout: BitNet is not on PyPI, so the packing steps below are a
  small transcription of microsoft/BitNet's own (src/ggml-bitnet-mad.cpp quantize_i2_s,
  gpu/pack_weight.py convert_weight_int8_to_int2), written from what those files do.
"""
import argparse
import os
import sys

try:
    import numpy as np
    import torch

    from golden_file import write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the BitNet golden vectors")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("torch")


# --- BitNet's numerics, as its Python writes them (torch evaluates 1 / t as t.reciprocal()).

def weight_quant(w, threads):
    torch.set_num_threads(threads)
    s = 1.0 / w.abs().mean().clamp_(min=1e-5)
    codes = (w * s).round().clamp(-1, 1).to(torch.int8)
    fp = (w * s).round().clamp(-1, 1) / s  # what the GGUF converter hands to quantize_i2_s
    return codes, s, 1.0 / s, fp


def activation_quant(x):
    s = 127 / x.abs().max(dim=-1, keepdim=True).values.clamp_(min=1e-5)
    return (x * s).round().clamp(-128, 127).to(torch.int8), s


# --- I2_S: quantize_i2_s of src/ggml-bitnet-mad.cpp (ACT_PARALLEL, the default build).

def quantize_i2_s(src, block):
    """src: float32 weights already ternary times a scale. block: QK_I2_S, 128 on x86
    (AVX/AVX2/AVX-512/SSSE3), 64 on ARM NEON."""
    flat = src.reshape(-1).astype(np.float64)  # the C code works in double
    n = flat.size
    scale = float(np.max(np.abs(flat)))  # max |src|, stored as a float
    q8 = np.where(np.abs(flat) < 1e-6, 1, np.where(flat * scale > 0, 2, 0)).astype(np.uint8)
    group = block // 4  # bytes per block; value j of a block goes to byte j % group
    out = np.zeros(n // 4 + 32, dtype=np.uint8)
    for i in range(n // block):
        for j in range(block):
            out[i * group + j % group] |= np.uint8(q8[i * block + j] << (6 - 2 * (j // group)))
    out[n // 4:n // 4 + 4] = np.frombuffer(np.float32(scale).tobytes(), dtype=np.uint8)
    return out


# --- GPU W2: gpu/pack_weight.py (16x32 tile permutation, 2-bit compress, interleave).

def gpu_w2_pack(codes):
    n, k = codes.shape
    w = codes.astype(np.int8) + 2  # -1, 0, 1 -> 1, 2, 3
    ii, jj = np.meshgrid(np.arange(16), np.arange(32), indexing="ij")
    thread = ii * 2 + jj // 16
    row = (thread // 16) * 8 + thread % 8
    col = jj % 16 + 16 * ((thread % 16) // 8)
    bi = np.arange(n // 16)[:, None, None, None]
    bj = np.arange(k // 32)[None, :, None, None]
    tiles = w[bi * 16 + row, bj * 32 + col].astype(np.uint32)  # (n/16, k/32, 16, 32)
    words = np.zeros(tiles.shape[:-1] + (2,), dtype=np.uint32)  # 16 values per 32-bit word
    for e in range(32):
        words[..., e // 16] |= tiles[..., e] << (2 * (e % 16))
    out = np.zeros_like(words)
    for offset in range(16):  # value `offset` moves to byte offset % 4, bits 2 * (offset // 4)
        out |= ((words >> (2 * offset)) & 3) << ((offset % 4) * 8 + (offset // 4) * 2)
    return out.astype("<u4").view(np.uint8).reshape(n, k // 4)


# --- inputs

def ties_tensor(rng):
    """mean|W| = 0.25 exactly, so s = 4 and +-0.125 land on +-0.5 (ties to even: 0)."""
    mags = np.repeat(np.float32([0.125, 0.0, 0.375, 0.5]), 16)
    w = mags * rng.choice(np.float32([-1, 1]), mags.size)
    return rng.permutation(w).reshape(4, 16).astype(np.float32)


def tiny_tensor(rng):
    """mean|W| below 1e-5, so the clamp sets the scale."""
    w = (rng.standard_normal((8, 32)) * 1e-7).astype(np.float32)
    w[0, :4] = np.float32([6e-6, -6e-6, 4e-6, -5e-6])
    return w


def order_sensitive(rng, shape, threads_list):
    """A wide-range tensor whose float32 mean, in torch's summation order, differs from
    both the exact mean and a left-to-right float32 sum (and between 1 and 2 threads)."""
    for _ in range(200):
        w = (rng.lognormal(0.0, 2.5, shape) * rng.choice([-1, 1], shape)).astype(np.float32)
        a = np.abs(w).reshape(-1)
        exact = np.float32(np.float64(a).sum() / a.size)
        seq = np.float32(0)
        for v in a:
            seq = np.float32(seq + v)
        seq = np.float32(seq / np.float32(a.size))
        means = []
        for t in threads_list:
            torch.set_num_threads(t)
            means.append(np.float32(torch.from_numpy(a).mean().item()))
        if means[0] != exact and means[0] != seq and len(set(means)) == min(len(means), 2):
            return w
    raise RuntimeError("no order-sensitive tensor found")


def activations(rng):
    x = (rng.standard_normal((10, 64)) * np.exp(rng.uniform(-6, 3, (10, 1)))).astype(np.float32)
    x[1] = 0.0  # max|x| = 0: the clamp gives s = 127 / 1e-5
    x[2, 5] = 300.0  # one outlier
    x[3] = ((np.arange(64) - 32 + 0.5) / 127).astype(np.float32)  # s = 127: ties at .5
    x[3, 0] = 1.0
    x[4] *= 1e-7  # max below 1e-5
    # a row whose max m gives float32(127 / m) != float32(float32(1 / m) * 127):
    # torch computes 127 / t as t.reciprocal() * 127
    for _ in range(10000):
        m = np.float32(rng.uniform(0.5, 4.0))
        if np.float32(127) / m != np.float32(np.float32(1) / m) * np.float32(127):
            break
    else:
        raise RuntimeError("no reciprocal-sensitive max found")
    x[5] = (rng.uniform(-1, 1, 64) * m).astype(np.float32)
    x[5, 7] = -m
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    rng = np.random.default_rng(20240158)
    torch.use_deterministic_algorithms(True)
    arrays = {}

    weights = {
        "w_normal": (rng.standard_normal((16, 96)) * 0.02).astype(np.float32),
        "w_ties": ties_tensor(rng),
        "w_zero": np.zeros((2, 8), dtype=np.float32),
        "w_tiny": tiny_tensor(rng),
        "w_outlier": np.where(rng.random((24, 40)) < 0.01, 1000.0, rng.standard_normal((24, 40))).astype(np.float32),
        "w_order": order_sensitive(rng, (37, 211), [1]),  # under torch's threading threshold
        "w_big": order_sensitive(rng, (192, 288), [1, 2, 3]),  # 55296 values: three chunkings
    }
    for name, w in weights.items():
        for t in ([1, 2, 3] if w.size >= 32768 else [1]):
            codes, s, inv, _ = weight_quant(torch.from_numpy(w), t)
            suffix = f".t{t}" if w.size >= 32768 else ""
            if not suffix or t == 1:
                arrays[f"{name}.codes"] = codes.numpy()
            arrays[f"{name}.s{suffix}"] = np.float32([s.item()])
            arrays[f"{name}.scale{suffix}"] = np.float32([inv.item()])
        arrays[f"{name}.w"] = w
    torch.set_num_threads(1)

    x = activations(rng)
    codes, s = activation_quant(torch.from_numpy(x))
    arrays["act.x"] = x
    arrays["act.codes"] = codes.numpy()
    arrays["act.s"] = s.numpy().reshape(-1)

    # I2_S from float weights, through weight_quant's float output as BitNet's GGUF converter does
    w = (rng.standard_normal((4, 256)) * 0.05).astype(np.float32)
    codes, _, _, fp = weight_quant(torch.from_numpy(w), 1)
    arrays["i2s.w"] = w
    arrays["i2s.codes"] = codes.numpy()
    arrays["i2s.x86"] = quantize_i2_s(fp.numpy(), 128)
    arrays["i2s.arm"] = quantize_i2_s(fp.numpy(), 64)

    # GPU W2: one kernel shape (K % 128 == 0) and one packing-only shape (K % 32 == 0)
    for name, shape in {"w2a": (32, 256), "w2b": (48, 96)}.items():
        c = rng.integers(-1, 2, shape).astype(np.int8)
        arrays[f"{name}.codes"] = c
        arrays[f"{name}.packed"] = gpu_w2_pack(c)

    arrays["versions.torch"] = np.frombuffer(torch.__version__.encode(), dtype=np.uint8)
    write_golden(os.path.join(args.out, "bitnet.qtlg"), arrays)


if __name__ == "__main__":
    main()
