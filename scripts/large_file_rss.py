#!/usr/bin/env python3
"""Peak resident memory of `qtl quantize` on a large synthetic model (docs/tool.md, "Scale").

Writes a safetensors file of GIB gibibytes at run time (F32 tensors of 4096 columns, the
largest one LARGEST_MIB mebibytes), quantizes it with the given qtl binary and prints the
child's peak RSS next to the file size and the largest tensor. Not part of CI (minutes of
disk traffic); run by hand: python3 scripts/large_file_rss.py build/release/tools/qtl 8
"""
import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

COLS = 4096


def write_model(path, gib, largest_mib):
    rows_small = 16 * 1024 * 1024 // (4 * COLS)  # 16 MiB tensors fill the rest
    rows_large = largest_mib * 1024 * 1024 // (4 * COLS)
    total = gib * 1024**3
    shapes = [rows_large]
    while sum(shapes) * 4 * COLS + rows_small * 4 * COLS <= total:
        shapes.append(rows_small)
    header, offset = {}, 0
    for i, rows in enumerate(shapes):
        size = rows * COLS * 4
        header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": [rows, COLS], "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    block = np.random.default_rng(0).standard_normal(rows_small * COLS, dtype=np.float32) * 0.02
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for rows in shapes:
            for _ in range(rows // rows_small):
                f.write(block.tobytes())
    return offset, len(shapes)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("qtl")
    p.add_argument("gib", type=int)
    p.add_argument("--largest-mib", type=int, default=256)
    p.add_argument("--format", default="q8_0")
    p.add_argument("--dir", default=None, help="where the temporary files go (default: system temp)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(dir=a.dir) as d:
        src, out = os.path.join(d, "large.safetensors"), os.path.join(d, "large.gguf")
        t = time.time()
        data, n = write_model(src, a.gib, a.largest_mib)
        print(f"wrote {n} F32 tensors, {data / 1024**3:.2f} GiB, in {time.time() - t:.0f} s", flush=True)
        t = time.time()
        subprocess.run([a.qtl, "quantize", src, "-o", out, "--format", a.format], check=True,
                       stdout=subprocess.DEVNULL)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB -> MiB
        print(f"qtl quantize --format {a.format}: {time.time() - t:.0f} s, peak RSS {peak:.0f} MiB "
              f"= {peak / a.largest_mib:.2f} x the largest tensor ({a.largest_mib} MiB), "
              f"{peak * 1024**2 / data * 100:.1f} % of the file; output {os.path.getsize(out) / 1024**3:.2f} GiB")


if __name__ == "__main__":
    sys.exit(main())
