"""Golden vectors for qtl::ptq::gptq (tests/ptq/gptq_test.cpp) from llm-compressor's GPTQ.

    python tests/golden/gptq_vectors.py [--out DIR]

Writes gptq.qtlg. Exits 77 (skip) when torch, compressed-tensors or llmcompressor is not
installed at its pinned version (tests/golden/requirements-torch.txt; llmcompressor brings
the torch it needs, 2.14.0 for the committed file).

Each case runs llmcompressor's quantize_weight (the core its GPTQModifier runs per layer)
on one synthetic layer. The layer is made of small integers from a 64-bit LCG that the C++
test repeats, so both sides build the same Hessian H = 2/N sum x^T x exactly (float32
here, as llm-compressor accumulates it; double in qtl). Group scales and zero points are
compressed-tensors' calculate_qparams of each group's min and max of the original weights
(llm-compressor's memoryless_minmax observer), fixed before the column loop as
llm-compressor does; act-order is its "weight" ordering. Recorded per case: its codes
[out, in] (int8) and the layer errors 1/2 tr(dW H dW^T) of its result and of round to nearest,
in float64. One thread.
"""
import argparse
import os
import sys

try:
    import numpy as np
    import torch
    from compressed_tensors.quantization import QuantizationArgs, QuantizationStrategy
    from compressed_tensors.quantization.utils import calculate_qparams
    from llmcompressor.modifiers.gptq.gptq_quantize import quantize_weight

    from golden_file import write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the GPTQ golden vectors")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("compressed-tensors", "llmcompressor")  # llmcompressor picks its torch (2.14.0)

TOKENS, IN, OUT = 256, 128, 32
CASES = [  # name, bits, group size, symmetric, act-order
    ("int4_g32_sym", 4, 32, True, False),
    ("int4_g32_sym_actorder", 4, 32, True, True),
    ("int4_g64_asym_actorder", 4, 64, False, True),
    ("int3_g32_sym", 3, 32, True, False),
]
MASK = (1 << 64) - 1


class Lcg:
    """The LCG of tests/ptq/gptq_test.cpp: integers in [-k, k]."""

    def __init__(self, seed):
        self.state = seed

    def next(self, k):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.state >> 33) % (2 * k + 1) - k


def layer():
    """x [TOKENS, IN]: neighbouring features correlated, a term shared by the token's
    features, every 16th feature four times larger; w [OUT, IN] in units of 1/1024."""
    rng = Lcg(2026)  # a seed whose features' sums of squares all differ: act-order has no ties
    x = np.zeros((TOKENS, IN))
    for t in range(TOKENS):
        a = [rng.next(8) for _ in range(IN)]
        shared = rng.next(4)
        for j in range(IN):
            v = a[j] + (a[j - 1] if j > 0 else 0) + shared
            x[t, j] = 4 * v if j % 16 == 0 else v
    w = np.array([[rng.next(512) / 1024 for _ in range(IN)] for _ in range(OUT)], dtype=np.float32)
    assert len(set(np.diag(x.T @ x))) == IN, "ties in diag(H): act-order would depend on the sort"
    return x, w


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, w_np = layer()
    h = (2.0 / TOKENS) * (x.T @ x)  # exact: small integers
    w = torch.from_numpy(w_np)

    def layer_error(q):
        d = w_np.astype(np.float64) - q.numpy().astype(np.float64)
        return np.array([0.5 * np.sum((d @ h) * d)])

    arrays = {}
    for name, bits, group, symmetric, actorder in CASES:
        qargs = QuantizationArgs(num_bits=bits, type="int", symmetric=symmetric, strategy=QuantizationStrategy.GROUP,
                                 group_size=group, actorder="weight" if actorder else None)
        grouped = w.reshape(OUT, IN // group, group)
        scale, zero_point = calculate_qparams(grouped.amin(dim=-1), grouped.amax(dim=-1), qargs)
        quantized, _, fallback = quantize_weight(w.clone().unsqueeze(0), torch.from_numpy(h).float().unsqueeze(0),
                                                 scale.unsqueeze(0), zero_point.unsqueeze(0), None, qargs,
                                                 blocksize=128, percdamp=0.01)
        assert not fallback.any(), "llm-compressor fell back to round to nearest"
        q = quantized[0]
        s = scale.repeat_interleave(group, dim=1)
        z = zero_point.to(torch.float32).repeat_interleave(group, dim=1)
        codes = torch.round(q / s + z)
        assert torch.equal((codes - z) * s, q), "the codes do not decode to llm-compressor's weights"
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        rtn = (torch.clamp(torch.round(w / s + z), lo, hi) - z) * s
        arrays[f"{name}/codes"] = codes.to(torch.int8).numpy()
        arrays[f"{name}/error"] = layer_error(q)
        arrays[f"{name}/rtn_error"] = layer_error(rtn)
    write_golden(os.path.join(args.out, "gptq.qtlg"), arrays)


if __name__ == "__main__":
    main()
