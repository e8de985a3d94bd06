#!/usr/bin/env python3
"""safetensors interop between qtl and the reference implementation (the `safetensors`
package): the reference writes files that qtl reads and rewrites (ROUNDTRIP_TOOL, built from
tests/io/safetensors_roundtrip_tool.cpp), the reference reads what qtl wrote, and both refuse
the same broken files.  Usage: safetensors_interop.py ROUNDTRIP_TOOL WORK_DIR
Exits 77 (skipped) when safetensors or numpy cannot be imported."""
import pathlib
import struct
import subprocess
import sys

try:
    import numpy as np
    import safetensors
    from safetensors import deserialize, safe_open, serialize
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

# header dtype -> (the reference's Python dtype name, bytes per element)
DTYPES = {
    "BOOL": ("bool", 1), "U8": ("uint8", 1), "I8": ("int8", 1), "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1), "U16": ("uint16", 2), "I16": ("int16", 2), "F16": ("float16", 2),
    "BF16": ("bfloat16", 2), "U32": ("uint32", 4), "I32": ("int32", 4), "F32": ("float32", 4),
    "U64": ("uint64", 8), "I64": ("int64", 8), "F64": ("float64", 8),
}
SHAPES = {"matrix": (3, 5), "scalar": (), "empty": (2, 0, 3)}
FAILURES = []


def check(ok, what):
    if not ok:
        FAILURES.append(what)
        print("FAIL:", what)


def tensors(rng, shapes):
    """name -> (dtype, shape, bytes) for every dtype and the given shape kinds."""
    out = {}
    for dtype, (_, size) in DTYPES.items():
        for kind in shapes:
            shape = SHAPES[kind]
            n = int(np.prod(shape, dtype=np.int64)) * size
            data = rng.integers(0, 2 if dtype == "BOOL" else 256, n, dtype=np.uint8).tobytes()
            out[f"{dtype.lower()}.{kind}"] = (dtype, shape, data)
    return out


def reference_bytes(named, metadata):
    keep = []  # TensorSpec holds raw pointers: the buffers must outlive serialize()
    specs = {}
    for name, (dtype, shape, data) in named.items():
        if hasattr(safetensors, "TensorSpec"):  # safetensors >= 0.8
            buf = np.frombuffer(data, dtype=np.uint8).copy()
            keep.append(buf)
            specs[name] = safetensors.TensorSpec(dtype=DTYPES[dtype][0], shape=list(shape),
                                                 data_ptr=buf.ctypes.data, data_len=len(data))
        else:
            specs[name] = {"dtype": DTYPES[dtype][0], "shape": list(shape), "data": data}
    return bytes(serialize(specs, metadata=metadata))


def qtl_rewrite(tool, src, dst):
    return subprocess.run([tool, str(src), str(dst)], capture_output=True, text=True)


def reference_reads(path):
    raw = path.read_bytes()
    got = {name: (t["dtype"], tuple(t["shape"]), bytes(t["data"])) for name, t in deserialize(raw)}
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata() or {}
    return got, metadata, struct.unpack("<Q", raw[:8])[0]


def main(tool, work):
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261123)

    # 1. Every dtype, scalars, empty tensors, metadata with escapes and non-ASCII text.
    named = tensors(rng, SHAPES)
    metadata = {"format": "pt", "quote\"and\\slash": "line\nbreak\ttab", "unicode": "\u00e9\u4e2d\U0001f600"}
    ref, out = work / "reference.safetensors", work / "qtl.safetensors"
    ref.write_bytes(reference_bytes(named, metadata))
    run = qtl_rewrite(tool, ref, out)
    check(run.returncode == 0, f"qtl refused the reference's file: {run.stderr.strip()}")
    if run.returncode == 0:
        got, got_metadata, n = reference_reads(out)
        check(got == named, "the reference reads other tensors from qtl's file than it wrote")
        check(got_metadata == metadata, f"the reference reads metadata {got_metadata!r} from qtl's file")
        check(n % 8 == 0, f"qtl's header length {n} is not a multiple of 8")

    # 2. Without tensors that share an offset (empty ones), qtl writes the reference's bytes.
    named = tensors(rng, ["matrix", "scalar"])
    ref.write_bytes(reference_bytes(named, {"k\u00e9y": "v\"al\nue"}))
    run = qtl_rewrite(tool, ref, out)
    check(run.returncode == 0 and out.read_bytes() == ref.read_bytes(),
          f"qtl's rewrite differs from the reference's bytes {run.stderr.strip()}")

    # 3. Broken files: the reference and qtl both refuse them.
    good = reference_bytes({"a": ("F32", (2,), bytes(8)), "b": ("U8", (3,), b"abc")}, None)
    n = struct.unpack("<Q", good[:8])[0]
    header = good[8:8 + n]

    def with_header(text, data):
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw + data

    broken = {
        "truncated": good[:-1],
        "trailing byte": good + b"\0",
        "short": good[:7],
        "lying length": struct.pack("<Q", n + 5) + good[8:],
        "huge length": struct.pack("<Q", 2**40) + good[8:],
        "bad json": with_header(header.decode().rstrip()[:-1], good[8 + n:]),
        "not an object": with_header("[1, 2]", b""),
        "hole": with_header('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                            '"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}', bytes(5)),
        "overlap": with_header('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                               '"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', bytes(3)),
        "size mismatch": with_header('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', bytes(4)),
        "reversed offsets": with_header('{"a":{"dtype":"U8","shape":[0],"data_offsets":[2,0]}}', bytes(2)),
        "overflowing shape": with_header(
            '{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}', b""),
        "negative dim": with_header('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}', b""),
        "metadata not strings": with_header('{"__metadata__":{"k":1}}', b""),
    }
    for what, raw in broken.items():
        path = work / "broken.safetensors"
        path.write_bytes(raw)
        try:
            deserialize(raw)
            reference_refuses = False
        except Exception:
            reference_refuses = True
        run = qtl_rewrite(tool, path, out)
        check(reference_refuses, f"the reference accepts the {what} file")
        check(run.returncode == 1, f"qtl does not refuse the {what} file (exit {run.returncode})")
        if run.returncode == 1:
            print(f"{what}: {run.stderr.strip()}")

    print(f"safetensors {safetensors.__version__}: {len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], pathlib.Path(sys.argv[2])))
