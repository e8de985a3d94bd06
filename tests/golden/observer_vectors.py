"""Golden vectors for qtl's observers (include/qtl/observer/) from torch.ao's.

    python tests/golden/observer_vectors.py [--out DIR]

Writes observers.qtlg. Exits 77 (skip) when torch is not installed.

Each case feeds the same float32 batches to a torch observer and records what qtl must
reproduce: MinMaxObserver, PerChannelMinMaxObserver (ch_axis 0: one group per row),
MovingAverage[PerChannel]MinMaxObserver (min/max and qparams), HistogramObserver
(histogram, range and qparams after every batch, and the searched range), and
torch.quantile (the exact percentile observer). One thread, so torch's results do not
depend on how it splits work. The committed file was written by torch 2.15.0 (CPU wheel)
on an x86-64 CPU with AVX-512: torch.linspace and the vectorised torch.lerp round once
(fused multiply-add) there, which qtl reproduces.
"""
import argparse
import os
import sys

try:
    import numpy as np
    import torch
    from torch.ao import quantization as tq

    from golden_file import write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the observer golden vectors")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("torch")

EPS = torch.finfo(torch.float32).eps


def heavy(rng, shape, scale):
    """Student-t (3 degrees of freedom) samples: heavy tails, as activations have."""
    return (rng.standard_t(3, shape) * scale).astype(np.float32)


def batch_sets(rng):
    """name -> list of (rows, cols) batches. 'grow': the range widens, then a batch
    inside it; 'const': a one-value first batch; 'shift': all-positive, then all-negative."""
    grow = [heavy(rng, (8, 64), 0.5), heavy(rng, (8, 64), 2.0), heavy(rng, (8, 64), 0.25)]
    grow[1][3, 7] = 40.0  # one outlier
    const = [np.full((8, 64), 0.75, np.float32), heavy(rng, (8, 64), 1.0)]
    shift = [np.abs(heavy(rng, (8, 64), 1.0)) + 1.0, -np.abs(heavy(rng, (8, 64), 3.0)) - 0.5,
             heavy(rng, (8, 64), 1.5)]
    return {"grow": grow, "const": const, "shift": [b.astype(np.float32) for b in shift]}


def qparams(obs):
    scale, zero_point = obs.calculate_qparams()
    return scale.numpy().astype(np.float32).reshape(-1), zero_point.numpy().astype(np.int32).reshape(-1)


def minmax_cases(arrays, name, batches):
    constant = 0.25
    observers = {
        "minmax": lambda dtype, scheme: tq.MinMaxObserver(dtype=dtype, qscheme=scheme),
        "minmax_ch": lambda dtype, scheme: tq.PerChannelMinMaxObserver(ch_axis=0, dtype=dtype, qscheme=scheme),
        "moving": lambda dtype, scheme: tq.MovingAverageMinMaxObserver(constant, dtype=dtype, qscheme=scheme),
        "moving_ch": lambda dtype, scheme: tq.MovingAveragePerChannelMinMaxObserver(
            constant, ch_axis=0, dtype=dtype, qscheme=scheme),
    }
    arrays[f"{name}.moving.constant"] = np.float32([constant])
    for kind, make in observers.items():
        per_channel = kind.endswith("_ch")
        affine = make(torch.quint8, torch.per_channel_affine if per_channel else torch.per_tensor_affine)
        symmetric = make(torch.qint8, torch.per_channel_symmetric if per_channel else torch.per_tensor_symmetric)
        for b in batches:
            affine(torch.from_numpy(b))
            symmetric(torch.from_numpy(b))
        arrays[f"{name}.{kind}.min"] = affine.min_val.numpy().reshape(-1).copy()
        arrays[f"{name}.{kind}.max"] = affine.max_val.numpy().reshape(-1).copy()
        arrays[f"{name}.{kind}.affine.scale"], arrays[f"{name}.{kind}.affine.zero_point"] = qparams(affine)
        arrays[f"{name}.{kind}.symmetric.scale"], _ = qparams(symmetric)


def histogram_cases(arrays, name, batches):
    affine = tq.HistogramObserver(bins=2048, dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    symmetric = tq.HistogramObserver(bins=2048, dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    for i, b in enumerate(batches):
        affine(torch.from_numpy(b))
        symmetric(torch.from_numpy(b))
        arrays[f"{name}.hist.{i}.counts"] = affine.histogram.numpy().copy()
        arrays[f"{name}.hist.{i}.range"] = np.float32([affine.min_val.item(), affine.max_val.item()])
        lo, hi = affine._non_linear_param_search()
        arrays[f"{name}.hist.{i}.search"] = np.float32([lo.item(), hi.item()])
        arrays[f"{name}.hist.{i}.affine.scale"], arrays[f"{name}.hist.{i}.affine.zero_point"] = qparams(affine)
        arrays[f"{name}.hist.{i}.symmetric.scale"], _ = qparams(symmetric)


def percentile_cases(arrays, name, batches):
    data = torch.from_numpy(np.concatenate(batches, axis=1))  # rows: the per-channel groups
    for percent in (np.float32(99.9), np.float32(90.0), np.float32(100.0)):
        q = np.float32(percent / np.float32(100.0))
        qs = torch.from_numpy(np.float32([np.float32(1.0) - q, q]))
        key = f"{name}.percentile.{percent:g}"
        arrays[f"{key}.tensor"] = torch.quantile(data.reshape(-1), qs).numpy()
        arrays[f"{key}.rows"] = torch.quantile(data, qs, dim=1).numpy().T.copy()  # (rows, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(20240007)
    arrays = {}
    sets = batch_sets(rng)
    arrays["cases"] = np.frombuffer(" ".join(sets).encode(), dtype=np.uint8)
    for name, batches in sets.items():
        arrays[f"{name}.batches"] = np.stack(batches)
        minmax_cases(arrays, name, batches)
        histogram_cases(arrays, name, batches)
        percentile_cases(arrays, name, batches)
    # torch.linspace in float32, which re-binning uses for the old bins' midpoints
    for i, (start, end, steps) in enumerate([(-1.2345, 3.3, 4097), (-0.7, 11.1, 2049), (0.3, 0.30001, 2049)]):
        arrays[f"linspace.{i}.args"] = np.float32([start, end, steps])
        arrays[f"linspace.{i}"] = torch.linspace(float(np.float32(start)), float(np.float32(end)), steps).numpy()
    arrays["eps"] = np.float32([EPS])
    arrays["versions.torch"] = np.frombuffer(torch.__version__.split("+")[0].encode(), dtype=np.uint8)
    write_golden(os.path.join(args.out, "observers.qtlg"), arrays)


if __name__ == "__main__":
    main()
