"""Golden vectors for qtl's ggml block formats (include/qtl/layout/ggml/).

    python tests/golden/ggml_vectors.py [--out DIR] [--ggml-lib PATH]

Two references:
  * the `gguf` package's numpy quantizers (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, TQ1_0, TQ2_0,
    MXFP4) and dequantizers (also the K-quants and IQ4_NL): writes ggml.qtlg. CI installs gguf
    and regenerates this file to catch a drift in the reference.
  * ggml's own C reference quantizers, for the types gguf cannot quantize (Q8_1, Q8_K,
    Q2_K..Q6_K, IQ4_NL; the K-quants, IQ4_NL and Q4_0..Q5_1 also with importance weights, as
    llama-quantize applies an imatrix): with --ggml-lib pointing at a ggml shared library
    you built (libggml-base.so, or ggml-quants.c alone with stubs for the few ggml.c
    functions it names, built without FMA contraction: -ffp-contract=off or a target
    without FMA), writes ggml_c.qtlg, committed. Without it the committed file is kept.
Exits 77 (skip) when gguf is not installed.
"""
import argparse
import ctypes
import os
import sys
from importlib.metadata import version

try:
    import gguf
    import numpy as np
    from gguf import GGMLQuantizationType as T

    from golden_file import read_golden, write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the ggml golden vectors")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("gguf", "numpy")

ROW = 512  # values per row: a multiple of every block size (32 and 256)
GGUF_QUANTIZED = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "TQ1_0", "TQ2_0", "MXFP4"]
K_QUANTS = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
C_QUANTIZED = ["Q8_1", "Q8_K"] + K_QUANTS + ["IQ4_NL"]
C_DEQUANTIZED_BY_GGUF = K_QUANTS + ["IQ4_NL"]
# bytes and values of one block, and the suffix of ggml's C function names
BLOCKS = {"Q4_0": (18, 32), "Q4_1": (20, 32), "Q5_0": (22, 32), "Q5_1": (24, 32), "Q8_0": (34, 32),
          "Q8_1": (36, 32), "Q8_K": (292, 256), "Q2_K": (84, 256), "Q3_K": (110, 256),
          "Q4_K": (144, 256), "Q5_K": (176, 256), "Q6_K": (210, 256), "IQ4_NL": (18, 32),
          "TQ1_0": (54, 256), "TQ2_0": (66, 256), "MXFP4": (17, 32)}


def c_name(qtype):
    return qtype[:-2].lower() + "_K" if qtype.endswith("_K") else qtype.lower()


def inputs(rng):
    """Rows of ROW values, each a different kind of data."""
    rows = [
        rng.standard_normal(ROW),                                   # weights-like
        rng.standard_t(3, ROW) * 0.02,                              # heavy tails
        np.where(rng.random(ROW) < 0.01, 40.0, 1.0) * rng.standard_normal(ROW),  # outliers
        rng.integers(-8, 8, ROW).astype(np.float64),               # Q4_0 levels exactly
        rng.integers(-127, 128, ROW) + 0.5 * rng.choice([-1, 1], ROW),  # .5 ties for the rounding
        np.repeat(rng.standard_normal(ROW // 32), 32),             # constant blocks
        rng.uniform(0.5, 3.0, ROW),                                 # all positive (min > 0)
        -rng.uniform(0.5, 3.0, ROW),                                # all negative
        rng.standard_normal(ROW) * 1e-6,                            # tiny
        rng.standard_normal(ROW) * 3e3,                             # large (fp16 scales still finite)
        rng.integers(-1, 2, ROW) * 0.37,                            # ternary
    ]
    zeros = np.zeros(ROW)
    zeros[300:310] = rng.standard_normal(10)  # mostly zero blocks, and some all-zero blocks
    rows.append(zeros)
    special = rng.standard_normal(ROW)
    special[0:32] = np.nextafter(np.float32(8), np.float32(0))  # amax just under a power of two
    special[32] = -special[33] if special[33] != 0 else 1.0     # +-max tie: the first wins
    special[64:96] = 0.0
    rows.append(special)
    return np.asarray(rows, dtype=np.float32)


class GgmlC:
    """ggml's C reference quantizers through ctypes."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)

    def _fn(self, name):
        return getattr(self.lib, name)

    def quantize_ref(self, qtype, x):
        block_bytes, block_values = BLOCKS[qtype]
        out = np.zeros(x.size // block_values * block_bytes, np.uint8)
        fn = self._fn(f"quantize_row_{c_name(qtype)}_ref")
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        x = np.ascontiguousarray(x, np.float32)
        fn(x.ctypes.data, out.ctypes.data, x.size)
        return out

    def quantize(self, qtype, x, importance=None):
        """quantize_<type>(src, dst, nrow, n_per_row, imatrix): llama-quantize's entry."""
        rows, cols = x.shape
        block_bytes, block_values = BLOCKS[qtype]
        out = np.zeros(x.size // block_values * block_bytes, np.uint8)
        fn = self._fn(f"quantize_{c_name(qtype)}")
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        fn.restype = ctypes.c_size_t
        x = np.ascontiguousarray(x, np.float32)
        weights = None if importance is None else np.ascontiguousarray(importance, np.float32)
        fn(x.ctypes.data, out.ctypes.data, rows, cols, None if weights is None else weights.ctypes.data)
        return out

    def dequantize(self, qtype, data, n):
        fn = self._fn(f"dequantize_row_{c_name(qtype)}")
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        out = np.zeros(n, np.float32)
        fn(data.ctypes.data, out.ctypes.data, n)
        return out


def write_c_vectors(path, lib_path, x, rng):
    c = GgmlC(lib_path)
    arrays = {"input": x}
    for qtype in C_QUANTIZED:
        if qtype == "IQ4_NL":
            continue
        data = c.quantize_ref(qtype, x.reshape(-1))
        arrays[f"{qtype}.bytes"] = data
        if qtype != "Q8_1":  # ggml has no dequantize_row_q8_1
            arrays[f"{qtype}.dequantized"] = c.dequantize(qtype, data, x.size)
    # IQ4_NL: llama-quantize's search (with and without importance weights) and the
    # quantize_row_iq4_nl_ref variant (which leaves stale indices in all-zero blocks: not
    # defined behaviour, so its rows here have no all-zero block).
    importance = rng.uniform(0.1, 4.0, x.shape[1]).astype(np.float32)
    arrays["IQ4_NL.bytes"] = c.quantize("IQ4_NL", x)
    arrays["IQ4_NL.dequantized"] = c.dequantize("IQ4_NL", arrays["IQ4_NL.bytes"], x.size)
    arrays["importance"] = importance  # one weight per column, as an imatrix entry
    for qtype in ["Q4_0", "Q4_1", "Q5_0", "Q5_1"] + K_QUANTS + ["IQ4_NL"]:
        arrays[f"{qtype}.weighted_bytes"] = c.quantize(qtype, x, importance)
    nonzero_rows = [r for r in range(x.shape[0]) if np.all(np.abs(x[r].reshape(-1, 32)).max(axis=1) > 0)]
    arrays["IQ4_NL.ref_rows"] = np.asarray(nonzero_rows, np.int32)
    ref = np.zeros((len(nonzero_rows), x.shape[1] // 32 * 18), np.uint8)
    for i, r in enumerate(nonzero_rows):
        ref[i] = c.quantize_ref("IQ4_NL", x[r])
    arrays["IQ4_NL.ref_bytes"] = ref.reshape(-1)
    # ggml's C quantizers for the types gguf also has: the two references must agree.
    for qtype in GGUF_QUANTIZED:
        arrays[f"{qtype}.c_bytes"] = c.quantize_ref(qtype, x.reshape(-1))
    write_golden(path, arrays)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--ggml-lib", help="a ggml shared library exporting quantize_row_*_ref")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(4096)
    x = inputs(rng)

    if args.ggml_lib:
        write_c_vectors(os.path.join(args.out, "ggml_c.qtlg"), args.ggml_lib, x, rng)

    arrays = {"input": x}
    for name in GGUF_QUANTIZED:
        qtype = T[name]
        data = gguf.quants.quantize(x, qtype)
        arrays[f"{name}.bytes"] = data.reshape(-1)
        arrays[f"{name}.dequantized"] = gguf.quants.dequantize(data, qtype).astype(np.float32).reshape(-1)
    c_vectors = os.path.join(here, "ggml_c.qtlg")
    if os.path.exists(c_vectors):  # gguf dequantizes the C reference's K-quant and IQ4_NL bytes
        c_arrays = read_golden(c_vectors)
        for name in C_DEQUANTIZED_BY_GGUF:
            data = c_arrays[f"{name}.bytes"].reshape(x.shape[0], -1)
            arrays[f"{name}.gguf_dequantized"] = gguf.quants.dequantize(data, T[name]).astype(np.float32).reshape(-1)
    write_golden(os.path.join(args.out, "ggml.qtlg"), arrays)
    print(f"gguf {version('gguf')}, numpy {np.__version__}: wrote ggml.qtlg")


if __name__ == "__main__":
    main()
