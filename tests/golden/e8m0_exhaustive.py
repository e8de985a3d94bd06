"""qtl's E8M0 encoder against ml_dtypes' float8_e8m0fnu cast on every one of the 2^32
float32 bit patterns (a few minutes; not run by CI, whose golden file holds the cases
that matter: every power of two, every tie and its neighbours, the subnormal range).

    python tests/golden/e8m0_exhaustive.py [--cxx c++]

Compiles qtl::e8m0::encode (include/qtl/format/e8m0.hpp) into a small shared library,
calls it through ctypes chunk by chunk, and prints the number of differing inputs (the
first few with both codes); exit 1 when there is any. Exits 77 without ml_dtypes.
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile

try:
    import ml_dtypes
    import numpy as np
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = """
#include <cstddef>
#include <cstdint>
#include "qtl/format/e8m0.hpp"
extern "C" void encode(const float* x, std::uint8_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = qtl::e8m0::encode(x[i]);
}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cxx", default="c++")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        source, library = os.path.join(work, "e8m0.cpp"), os.path.join(work, "libe8m0.so")
        with open(source, "w") as f:
            f.write(SOURCE)
        subprocess.run([args.cxx, "-std=c++20", "-O2", "-shared", "-fPIC", "-I", os.path.join(ROOT, "include"),
                        source, "-o", library], check=True)
        encode = ctypes.CDLL(library).encode
        step = 1 << 24
        codes = np.empty(step, np.uint8)
        differing, examples = 0, []
        for start in range(0, 1 << 32, step):
            bits = np.arange(start, start + step, dtype=np.uint64).astype(np.uint32)
            x = bits.view(np.float32)
            encode(x.ctypes.data_as(ctypes.c_void_p), codes.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(step))
            reference = x.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8)
            wrong = np.flatnonzero(codes != reference)
            differing += wrong.size
            examples += [(hex(int(bits[i])), int(codes[i]), int(reference[i])) for i in wrong[:5 - len(examples)]]
    print(f"ml_dtypes {ml_dtypes.__version__}: {differing} of 2^32 float32 inputs encode differently"
          + (f"; first (bits, qtl, ml_dtypes): {examples}" if examples else ""))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
