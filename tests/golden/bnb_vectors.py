"""Golden vectors for qtl's bitsandbytes layouts (include/qtl/layout/bitsandbytes.hpp).

    python tests/golden/bnb_vectors.py [--out DIR]

Writes bnb.qtlg from bitsandbytes' own CPU functions (made with bitsandbytes 0.50.2 and
torch 2.15 on x86-64; the 8-bit quantizer is a compiled kernel whose arm64 build rounds
differently). Exits 77 (skip) when torch or bitsandbytes is not installed.

- 4-bit: bitsandbytes.functional.quantize_4bit / dequantize_4bit (compress_statistics on
  and off). Every 4-bit tensor here has an odd element count, so bnb dequantizes it with
  its torch code on every machine, not with its per-CPU C++ kernels (which differ from it
  in the sign of FP4's code 8: docs/formats.md). Block size 100, outside bnb's list, goes
  through bnb's quantize_4bit op directly (the public function refuses it).
- 8-bit: bitsandbytes.functional.quantize_blockwise / dequantize_blockwise with the signed
  (default) and unsigned dynamic maps, nested=True, and float16 / bfloat16 inputs.
- The maps: create_dynamic_map(signed=True / False), get_4bit_type("nf4" / "fp4").
"""
import argparse
import os
import sys

os.environ.setdefault("TORCH_COMPILE_DISABLE", "1")  # bnb's torch dequantizer, uncompiled: same numbers, faster

try:
    import numpy as np
    import torch

    import bitsandbytes
    import bitsandbytes.functional as F

    from golden_file import write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the bitsandbytes golden vectors")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("bitsandbytes", "torch")

BLOCKS_4BIT = [64, 128, 256, 4096, 100]
BLOCKS_8BIT = [64, 256, 4096, 100]


def f32(values):
    return np.asarray(values, dtype=np.float32)


def weights(rng, n):
    """Normal weights with outliers, exact zeros, blocks whose max is negative, one
    all-zero block of 64 and a zero tail (the partial last block of 64 and 128)."""
    w = rng.standard_normal(n).astype(np.float32) * np.float32(0.05)
    w[rng.choice(n, n // 200, replace=False)] *= np.float32(25)  # outliers
    w[rng.random(n) < 0.05] = 0.0
    w[128:192] = 0.0  # an all-zero full block of 64
    for b in range(3, n // 64, 7):  # a negative max in every 7th block of 64
        w[b * 64 + 5] = -np.abs(w[b * 64:(b + 1) * 64]).max() * np.float32(1.5) - np.float32(0.01)
    w[n - n % 64:] = 0.0
    return w


def ulp_neighbours(values):
    v = f32(values)
    up = np.nextafter(v, np.float32(np.inf))
    down = np.nextafter(v, np.float32(-np.inf))
    return np.concatenate([v, up, down])


def in_unit_blocks(values, blocksize, rng):
    """values in blocks that each hold a 1.0 (absmax 1: x / absmax is x exactly), shuffled."""
    values = rng.permutation(f32(values))
    per = blocksize - 1
    out = []
    for i in range(0, values.size, per):
        chunk = values[i:i + per]
        block = np.concatenate([f32([1.0 if (i // per) % 2 == 0 else -1.0]), chunk])
        out.append(block)
    return np.concatenate(out)


def four_bit_ties(rng):
    """Both 4-bit tables' midpoints and their float neighbours, +-0, +-1/384."""
    values = []
    for name in ("nf4", "fp4"):
        code = F.get_4bit_type(name, device="cpu")
        s = torch.sort(code).values
        values.append(((s[:-1] + s[1:]) / 2).numpy())
    ties = ulp_neighbours(np.concatenate(values))
    extra = f32([0.0, -0.0, 1 / 384, -1 / 384, 1e-30, -1e-30, 0.5, -0.5, 0.99, -0.99])
    x = in_unit_blocks(np.concatenate([ties, extra]), 64, rng)
    return x if x.size % 2 else np.concatenate([x, f32([0.25])])  # odd: bnb's torch dequantizer


def grid_points(rng):
    """Values at bnb's 8-bit grid steps i (fma((v + 1) / 2, 65535, 0.5) = i) and the map's
    midpoints, each with its float neighbours."""
    steps = rng.choice(np.arange(1, 65536), 600, replace=False)
    v = (2.0 * (steps - 0.5) / 65535.0 - 1.0).astype(np.float32)
    code = F.create_dynamic_map(signed=True)
    mids = ((code[:-1] + code[1:]) / 2).numpy()
    extra = f32([0.0, -0.0, 1.0, -1.0, 1.52e-5, -1.52e-5, 3.05e-5])
    return in_unit_blocks(np.concatenate([ulp_neighbours(v), ulp_neighbours(mids), extra]), 256, rng)


def reciprocal_sensitive(rng):
    """Values x in a block of max a for which x * (1 / a) (bnb's full blocks) and x / a (its
    partial last block) fall on different sides of a 4-bit midpoint, or one exactly on it."""
    mids = []
    for name in ("nf4", "fp4"):
        s = torch.sort(F.get_4bit_type(name, device="cpu")).values
        mids.append(((s[:-1] + s[1:]) / 2).numpy())
    mids = np.concatenate(mids)
    for _ in range(1000):
        a = np.float32(rng.uniform(1.1, 7.9))
        inv = np.float32(1) / a
        found = []
        for m in mids:
            centre = np.float32(m * a)
            for k in range(-6, 7):
                x = np.float32(centre + np.float32(k) * np.spacing(centre))
                by_mul, by_div = np.float32(x * inv), np.float32(x / a)
                if by_mul != by_div and (by_mul == m or by_div == m or (by_mul - m) * (by_div - m) < 0):
                    found.append(x)
        if len(found) >= 20:
            return a, f32(found)
    raise RuntimeError("no reciprocal-sensitive block found")


def put_values(arrays, key, out):
    """float32 as is; float16 / bfloat16 as their bits (key + "_bits")."""
    if out.dtype == torch.float32:
        arrays[key] = out.numpy().reshape(-1)
    else:
        arrays[f"{key}_bits"] = out.view(torch.int16).numpy().reshape(-1).view(np.uint16)


def put_4bit(arrays, key, x, blocksize, quant_type, compress, shape=None, dequant=True):
    t = torch.from_numpy(x)
    if shape is not None:
        t = t.reshape(shape)
    if blocksize in (32, 64, 128, 256, 512, 1024, 2048, 4096):
        packed, state = F.quantize_4bit(t, blocksize=blocksize, quant_type=quant_type,
                                        compress_statistics=compress)
    else:  # bnb's op itself takes any block size; its public wrapper refuses this one
        assert not compress
        packed, absmax = torch.ops.bitsandbytes.quantize_4bit.default(t, blocksize, quant_type, torch.uint8)
        state = F.QuantState(absmax=absmax, shape=t.shape, dtype=t.dtype, blocksize=blocksize,
                             code=F.get_4bit_type(quant_type, device="cpu"), quant_type=quant_type)
    if blocksize in (32, 64, 128, 256, 512, 1024, 2048, 4096):
        out = F.dequantize_4bit(packed, state)
    else:
        out = torch.ops.bitsandbytes.dequantize_4bit.default(packed, state.absmax, blocksize, quant_type,
                                                              state.shape, state.dtype)
    arrays[f"{key}.packed"] = packed.numpy().reshape(-1)
    if compress:
        arrays[f"{key}.qabsmax"] = state.absmax.numpy()
        arrays[f"{key}.state2_absmax"] = state.state2.absmax.numpy()
        arrays[f"{key}.offset"] = f32([state.offset.item()])
        assert state.state2.blocksize == 256
    else:
        arrays[f"{key}.absmax"] = state.absmax.numpy()
    if dequant:
        put_values(arrays, f"{key}.dequant", out)


def put_8bit(arrays, key, t, blocksize, signed=True, nested=False, dequant=True):
    code = F.create_dynamic_map(signed=signed)
    q, state = F.quantize_blockwise(t, code=code, blocksize=blocksize, nested=nested)
    out = F.dequantize_blockwise(q, state)
    arrays[f"{key}.codes"] = q.numpy().reshape(-1)
    if nested:
        arrays[f"{key}.qabsmax"] = state.absmax.numpy()
        arrays[f"{key}.state2_absmax"] = state.state2.absmax.numpy()
        arrays[f"{key}.offset"] = f32([state.offset.item()])
    else:
        arrays[f"{key}.absmax"] = state.absmax.numpy()
    if dequant:
        put_values(arrays, f"{key}.dequant", out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    rng = np.random.default_rng(20230523)
    torch.set_num_threads(1)
    arrays = {}

    arrays["map.signed"] = F.create_dynamic_map(signed=True).numpy()
    arrays["map.unsigned"] = F.create_dynamic_map(signed=False).numpy()
    arrays["map.nf4"] = F.get_4bit_type("nf4", device="cpu").numpy()
    arrays["map.fp4"] = F.get_4bit_type("fp4", device="cpu").numpy()

    # 4-bit: 5001 values (odd; 9 zeros end it: an all-zero partial block of 64 and of 128)
    w = weights(rng, 5001)
    arrays["w"] = w
    for quant_type in ("nf4", "fp4"):
        for bs in BLOCKS_4BIT:
            # dequantized values are level * absmax: kept where they add a case (file size)
            keep = quant_type == "nf4" or bs in (64, 4096, 100)
            put_4bit(arrays, f"{quant_type}.b{bs}", w, bs, quant_type, False, dequant=keep)

    # double quantization: 9001 values in blocks of 32 and 64 (282 / 141 absmax values)
    big = weights(rng, 9001) * np.float32(3)
    arrays["big"] = big
    for quant_type in ("nf4", "fp4"):
        put_4bit(arrays, f"{quant_type}.nested.b32", big, 32, quant_type, True)
    put_4bit(arrays, "nf4.nested.b64", big, 64, "nf4", True, dequant=False)

    # a 2-D tensor (bnb's state keeps the shape; the layout is the flattened tensor's)
    w2 = weights(rng, 47 * 64)[: 47 * 63].copy()  # 47 x 63: odd rows
    arrays["w2"] = w2
    put_4bit(arrays, "nf4.shape47x63", w2, 64, "nf4", True, shape=(47, 63))

    # ties between 4-bit levels, in blocks of absmax 1
    ties = four_bit_ties(rng)
    arrays["ties"] = ties
    for quant_type in ("nf4", "fp4"):
        put_4bit(arrays, f"{quant_type}.ties", ties, 64, quant_type, False)

    # x * (1 / absmax) in full blocks, x / absmax in the partial last one
    a, sensitive = reciprocal_sensitive(rng)
    block = np.resize(sensitive, 63)
    recip = np.concatenate([f32([a]), block, f32([-a]), sensitive])  # one full block of 64, one partial
    recip = recip if recip.size % 2 else np.concatenate([recip, f32([0.0])])
    arrays["recip"] = recip
    for quant_type in ("nf4", "fp4"):
        put_4bit(arrays, f"{quant_type}.recip", recip, 64, quant_type, False)

    # float16 input: bnb converts to float32 and dequantizes back to float16
    w16 = w.astype(np.float16)
    arrays["w16_bits"] = w16.view(np.uint16)
    put_4bit(arrays, "nf4.f16", w16, 64, "nf4", False)

    # 8-bit blockwise, signed map
    for bs in BLOCKS_8BIT:
        put_8bit(arrays, f"q8.b{bs}", torch.from_numpy(w), bs, dequant=bs in (64, 100))
    put_8bit(arrays, "q8.nested.b64", torch.from_numpy(w), 64, nested=True)
    grid = grid_points(rng)
    arrays["grid"] = grid
    put_8bit(arrays, "q8.grid", torch.from_numpy(grid), 256)
    # unsigned map (8-bit Adam's second moment): non-negative input
    put_8bit(arrays, "q8u.b256", torch.from_numpy(np.abs(w)), 256, signed=False)
    # bfloat16 input and output
    wb = torch.from_numpy(w).to(torch.bfloat16)
    arrays["wb_bits"] = wb.view(torch.int16).numpy().view(np.uint16)
    put_8bit(arrays, "q8.bf16.b64", wb, 64)

    arrays["versions.bitsandbytes"] = np.frombuffer(bitsandbytes.__version__.encode(), dtype=np.uint8)
    arrays["versions.torch"] = np.frombuffer(torch.__version__.encode(), dtype=np.uint8)
    write_golden(os.path.join(args.out, "bnb.qtlg"), arrays)


if __name__ == "__main__":
    main()
