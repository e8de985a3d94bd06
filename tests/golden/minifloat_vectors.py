"""Golden vectors for qtl's minifloats (format/minifloat.hpp, format/e8m0.hpp) and OCP MX
blocks (layout/mx.hpp), computed with ml_dtypes' casts.

    python tests/golden/minifloat_vectors.py [--out DIR]

Writes minifloat.qtlg and mx.qtlg. Exits 77 (skip) when ml_dtypes is not installed.
"""
import argparse
import os
import sys

try:
    import ml_dtypes
    import numpy as np

    from golden_file import write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the minifloat golden vectors")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("ml-dtypes", "numpy")

# qtl name -> (ml_dtypes type, bits, has NaN)
MINIFLOATS = {
    "fp8_e4m3": (ml_dtypes.float8_e4m3fn, 8, True),
    "fp8_e5m2": (ml_dtypes.float8_e5m2, 8, True),
    "fp6_e2m3": (ml_dtypes.float6_e2m3fn, 6, False),
    "fp6_e3m2": (ml_dtypes.float6_e3m2fn, 6, False),
    "fp4_e2m1": (ml_dtypes.float4_e2m1fn, 4, False),
}
# MX element (qtl name) -> emax of the element (OCP MX v1.0, table 1)
MX_EMAX = {"fp8_e4m3": 8, "fp8_e5m2": 15, "fp6_e2m3": 2, "fp6_e3m2": 4, "fp4_e2m1": 2}


def cast_inputs(rng, dtype, bits, has_nan):
    """Every code's value, the midpoints between neighbours (ties) and their float
    neighbours, random values over the whole range, overflow, and specials."""
    values = np.arange(2**bits, dtype=np.uint8).view(dtype).astype(np.float32)
    finite = np.unique(values[np.isfinite(values)])
    # +0 and -0 are equal, so which one np.unique keeps depends on numpy's sort kernel (its
    # AVX-512 and AVX2 sorts differ): keep +0, so the vectors do not depend on the machine
    # (-0 is in the specials below).
    finite[finite == 0] = np.float32(0.0)
    mids = ((finite[:-1].astype(np.float64) + finite[1:]) / 2).astype(np.float32)
    maxv = finite.max()
    parts = [finite, mids, np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(-np.inf)),
             (rng.standard_normal(512) * maxv / 4).astype(np.float32),
             np.exp(rng.uniform(-20, np.log(maxv) + 1, 512)).astype(np.float32) * rng.choice([-1, 1], 512),
             np.float32([maxv * 1.01, maxv * 1.2, -maxv * 1.5, 1e30, -1e30, np.inf, -np.inf, 0.0, -0.0,
                         1e-30, -1e-30, 1.4e-45])]
    if has_nan:
        parts.append(np.float32([np.nan, -np.nan]))
    return np.concatenate(parts).astype(np.float32)


def e8m0_inputs(rng):
    powers = np.float32(2.0) ** np.arange(-127, 128).astype(np.float32)
    # float32 subnormals: the whole range below 2^-126 in 64 steps, every power of two
    # down to 2^-149 and the ties with their float neighbours (ml_dtypes 0.6 and 0.7 differ here)
    tie = np.float32([1.5 * 2.0**-127])
    subnormals = np.concatenate([np.arange(1, 1 << 23, (1 << 23) // 64, dtype=np.uint32).view(np.float32),
                                 np.float32(2.0) ** np.arange(-149, -126).astype(np.float32),
                                 tie, np.nextafter(tie, np.float32(0)), np.nextafter(tie, np.float32(1))])
    return np.concatenate([powers, powers * np.float32(1.5), np.nextafter(powers * np.float32(1.5), np.float32(0)),
                           np.nextafter(powers * np.float32(1.5), np.float32(np.inf)),
                           np.exp(rng.uniform(-80, 80, 512)).astype(np.float32), subnormals]).astype(np.float32)


def mx_inputs(rng, maxv):
    """64 blocks of 32: random scales and outliers, ties after scaling, all zeros, tiny
    and huge magnitudes."""
    blocks = []
    for b in range(64):
        scale = np.float32(2.0) ** rng.integers(-20, 20)
        block = (rng.standard_normal(32) * scale).astype(np.float32)
        if b % 4 == 1:
            block[rng.integers(32)] *= 50  # an outlier sets the scale
        if b % 8 == 2:  # exact ties between element values after scaling
            block = (rng.integers(-2 * int(min(maxv, 64)), 2 * int(min(maxv, 64)) + 1, 32) * 0.25 * scale).astype(np.float32)
        blocks.append(block)
    blocks.append(np.zeros(32, np.float32))
    blocks.append(np.float32(np.linspace(-1e-38, 1e-38, 32)))
    blocks.append(np.float32(np.linspace(-3e38, 3e38, 32)))
    blocks.append(np.full(32, np.nextafter(np.float32(8), np.float32(0)), np.float32))  # just under a power of 2
    return np.concatenate(blocks)


def mx_quantize(x, name):
    """OCP MX v1.0: X = 2^(floor(log2(amax)) - emax_elem), elements = saturating RNE cast
    of x / X (ml_dtypes for FP elements; INT8: round half even, clamp +-127)."""
    blocks = x.reshape(-1, 32)
    amax = np.abs(blocks).max(axis=1)
    _, exponent = np.frexp(amax)  # amax = m * 2^exponent, m in [0.5, 1): exact floor(log2) = exponent - 1
    emax = MX_EMAX.get(name, 0)
    shared = np.where(amax > 0, np.clip(exponent.astype(np.int64) - 1 - emax, -127, 127), -127)
    scales = (shared + 127).astype(np.uint8)
    scaled = blocks * (np.float32(2.0) ** (-shared.astype(np.float32)))[:, None]
    if name == "int8":
        codes = np.clip(np.rint(scaled * 64), -127, 127).astype(np.int8).view(np.uint8)
    else:
        dtype, bits, _ = MINIFLOATS[name]
        maxv = np.float32(ml_dtypes.finfo(dtype).max)
        codes = np.clip(scaled, -maxv, maxv).astype(dtype).view(np.uint8)
        if bits < 8:  # pack little end first
            flat = codes.reshape(-1).astype(np.uint64)
            if bits == 4:
                codes = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)
            else:  # 6 bits: 4 codes in 3 bytes
                word = flat[0::4] | flat[1::4] << 6 | flat[2::4] << 12 | flat[3::4] << 18
                codes = np.stack([word & 0xFF, (word >> 8) & 0xFF, word >> 16], axis=1).astype(np.uint8)
    decoded = dequantize_reference(blocks, scales, name)
    return codes.reshape(-1), scales, decoded


def dequantize_reference(blocks, scales, name):
    scale = np.float32(2.0) ** (scales.astype(np.float32) - 127)
    scaled = blocks * (np.float32(1) / scale)[:, None]
    if name == "int8":
        elements = np.clip(np.rint(scaled * 64), -127, 127).astype(np.int8).astype(np.float32) / 64
    else:
        dtype = MINIFLOATS[name][0]
        maxv = np.float32(ml_dtypes.finfo(dtype).max)
        elements = np.clip(scaled, -maxv, maxv).astype(dtype).astype(np.float32)
    return (elements * scale[:, None]).astype(np.float32).reshape(-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    rng = np.random.default_rng(20261123)

    arrays = {}
    for name, (dtype, bits, has_nan) in MINIFLOATS.items():
        codes = np.arange(2**bits, dtype=np.uint8)
        arrays[f"{name}.decode"] = codes.view(dtype).astype(np.float32)
        x = cast_inputs(rng, dtype, bits, has_nan)
        maxv = np.float32(ml_dtypes.finfo(dtype).max)
        arrays[f"{name}.input"] = x
        arrays[f"{name}.non_saturating"] = x.astype(dtype).view(np.uint8)
        arrays[f"{name}.saturate"] = np.clip(x, -maxv, maxv).astype(dtype).view(np.uint8)
    x = e8m0_inputs(rng)
    arrays["e8m0.input"] = x
    arrays["e8m0.encode"] = x.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8)
    arrays["e8m0.decode"] = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e8m0fnu).astype(np.float32)
    write_golden(os.path.join(args.out, "minifloat.qtlg"), arrays)

    arrays = {}
    for name in list(MINIFLOATS) + ["int8"]:
        maxv = 1.984375 if name == "int8" else float(ml_dtypes.finfo(MINIFLOATS[name][0]).max)
        x = mx_inputs(rng, maxv)
        codes, scales, decoded = mx_quantize(x, name)
        arrays[f"mx{name}.input"] = x
        arrays[f"mx{name}.elements"] = codes
        arrays[f"mx{name}.scales"] = scales
        arrays[f"mx{name}.dequantized"] = decoded
    write_golden(os.path.join(args.out, "mx.qtlg"), arrays)
    print(f"ml_dtypes {ml_dtypes.__version__}, numpy {np.__version__}: wrote minifloat.qtlg, mx.qtlg")


if __name__ == "__main__":
    main()
