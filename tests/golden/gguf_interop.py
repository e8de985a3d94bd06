"""qtl's GGUF reader and writer against the `gguf` Python package (llama.cpp's gguf-py).

    python tests/golden/gguf_interop.py --tool build/dev/tests/gguf_tool [--work DIR]

(a) gguf.GGUFWriter writes a file (metadata of every type, nested arrays, F32/F16/I32
    tensors and Q8_0/Q4_0/TQ2_0 bytes from gguf.quants.quantize); `gguf_tool dump` reads
    it with qtl and must report the same metadata, shapes and bytes.
(b) `gguf_tool write` writes a fixed file with qtl; gguf.GGUFReader must read the
    metadata qtl was given and tensors equal to gguf's own quantization of the same data.
Exits 77 (skip) when gguf is not installed, 1 on a mismatch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version

try:
    import gguf
    import numpy as np
    from gguf import GGMLQuantizationType as T
    from gguf import GGUFValueType as V
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the GGUF interop test")
    sys.exit(77)

from mismatches import check, count  # noqa: E402  (after the skip on a missing package)


def sample_values(n):
    """Exact in float32 and in qtl's gguf_tool: ((37 i) mod 101 - 50) / 16."""
    i = np.arange(n, dtype=np.int64)
    return ((37 * i % 101 - 50) / 16).astype(np.float32)


def type_name(types):
    return " of ".join("bool" if t == V.BOOL else t.name.lower() for t in types)


# (a) ------------------------------------------------------------------------------------
def python_writes(tool, work):
    path = os.path.join(work, "interop_python.gguf")
    w = gguf.GGUFWriter(path, "qtl-interop")
    expected = {"general.architecture": ("string", "qtl-interop")}

    def kv(key, value, vtype, sub_type=None, type_str=None):
        w.add_key_value(key, value, vtype, sub_type=sub_type)
        expected[key] = (type_str or type_name([vtype]), value)

    kv("p.u8", 250, V.UINT8)
    kv("p.i8", -7, V.INT8)
    kv("p.u16", 65000, V.UINT16)
    kv("p.i16", -32000, V.INT16)
    kv("p.u32", 3000000000, V.UINT32)
    kv("p.i32", -123456789, V.INT32)
    kv("p.f32", 0.5, V.FLOAT32)
    kv("p.bool", False, V.BOOL)
    kv("p.string", "gr\u00fc\u00df dich \u2581", V.STRING)
    kv("p.u64", 2**63 + 5, V.UINT64)
    kv("p.i64", -(2**62), V.INT64)
    kv("p.f64", 1e300, V.FLOAT64)
    kv("p.tokens", ["<unk>", "a", "\u2581b"], V.ARRAY, type_str="array of string")
    kv("p.scores", [0.0, -0.25, 8.5], V.ARRAY, sub_type=V.FLOAT32, type_str="array of float32")
    kv("p.u64s", [1, 2**64 - 1], V.ARRAY, sub_type=V.UINT64, type_str="array of uint64")
    kv("p.flags", [True, False, True], V.ARRAY, type_str="array of bool")
    kv("p.nested", [[1, 2, 3], [4]], V.ARRAY, type_str="array of array of int32")
    kv("p.strings2", [["x", "yy"], ["z"]], V.ARRAY, type_str="array of array of string")

    tensors = {
        "f32": (sample_values(64 * 3).reshape(3, 64), None),
        "f16": (sample_values(16).astype(np.float16).reshape(2, 8), None),
        "i32": (np.arange(-5, 5, dtype=np.int32), None),
        "q8_0": (gguf.quants.quantize(sample_values(64 * 2).reshape(2, 64), T.Q8_0), T.Q8_0),
        "q4_0": (gguf.quants.quantize(sample_values(32 * 4).reshape(4, 32), T.Q4_0), T.Q4_0),
        "tq2_0": (gguf.quants.quantize(sample_values(256 * 2).reshape(2, 256), T.TQ2_0), T.TQ2_0),
    }
    for name, (data, raw_dtype) in tensors.items():
        w.add_tensor(name, data, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    dumped = json.loads(subprocess.run([tool, "dump", path], check=True, capture_output=True, text=True).stdout)
    check(dumped["version"] == 3 and dumped["alignment"] == 32, "(a) version and alignment")
    meta = dumped["metadata"]
    check(list(meta) == list(expected), f"(a) keys in file order: {list(meta)}")
    for key, (vtype, value) in expected.items():
        got = meta.get(key, {})
        check(got.get("type") == vtype, f"(a) {key}: type {got.get('type')}, expected {vtype}")
        if vtype in ("float32", "array of float32"):
            value = np.float32(value).tolist()
        check(got.get("value") == value, f"(a) {key}: {got.get('value')!r}, expected {value!r}")

    by_name = {t["name"]: t for t in dumped["tensors"]}
    check(list(by_name) == list(tensors), "(a) tensor names")
    for name, (data, raw_dtype) in tensors.items():
        t = by_name.get(name, {})
        ggml_type = raw_dtype if raw_dtype is not None else {np.float32: T.F32, np.float16: T.F16, np.int32: T.I32}[data.dtype.type]
        shape = list(data.shape) if raw_dtype is None else list(gguf.quant_shape_from_byte_shape(data.shape, raw_dtype))
        check(t.get("type") == int(ggml_type), f"(a) {name}: type {t.get('type')}, expected {int(ggml_type)}")
        check(t.get("dims") == shape[::-1], f"(a) {name}: dims {t.get('dims')}, expected {shape[::-1]}")
        check(t.get("offset", 1) % 32 == 0, f"(a) {name}: offset {t.get('offset')}")
        check(t.get("data") == data.tobytes().hex(), f"(a) {name}: bytes differ")


# (b) ------------------------------------------------------------------------------------
def qtl_writes(tool, work):
    path = os.path.join(work, "interop_qtl.gguf")
    subprocess.run([tool, "write", path], check=True)
    r = gguf.GGUFReader(path)
    expected = {  # what gguf_tool.cpp's write() sets, in its order
        "general.architecture": ("string", "qtl-test"),
        "general.alignment": ("uint32", 64),
        "qtl.u8": ("uint8", 200),
        "qtl.i8": ("int8", -100),
        "qtl.u16": ("uint16", 60000),
        "qtl.i16": ("int16", -30000),
        "qtl.u32": ("uint32", 4000000000),
        "qtl.i32": ("int32", -2000000000),
        "qtl.f32": ("float32", 0.375),
        "qtl.bool": ("bool", True),
        "qtl.string": ("string", "h\u00e9llo"),
        "qtl.u64": ("uint64", 2**60),
        "qtl.i64": ("int64", -(2**60)),
        "qtl.f64": ("float64", -2.5),
        "qtl.tokens": ("array of string", ["<s>", "</s>", "\u2581the"]),
        "qtl.scores": ("array of float32", [0.0, -1.5, 2.25]),
        "qtl.flags": ("array of bool", [True, False]),
        "qtl.ids": ("array of int64", [-1, 2**40]),
        "qtl.nested": ("array of array of int32", [1, 2, 3]),  # GGUFReader flattens nested arrays
    }
    fields = {k: f for k, f in r.fields.items() if not k.startswith("GGUF.")}
    check(list(fields) == list(expected), f"(b) keys in file order: {list(fields)}")
    for key, (vtype, value) in expected.items():
        f = fields.get(key)
        if f is None:
            continue
        check(type_name(f.types) == vtype, f"(b) {key}: type {type_name(f.types)}, expected {vtype}")
        check(f.contents() == value, f"(b) {key}: {f.contents()!r}, expected {value!r}")
    check(r.alignment == 64 and r.data_offset % 64 == 0, "(b) alignment")

    tensors = {
        "f32": (T.F32, [64, 2], sample_values(128).tobytes()),
        "f16": (T.F16, [32], sample_values(32).astype(np.float16).tobytes()),
        "q8_0": (T.Q8_0, [64, 2], gguf.quants.quantize(sample_values(128).reshape(2, 64), T.Q8_0).tobytes()),
        "q4_0": (T.Q4_0, [64, 2], gguf.quants.quantize(sample_values(128).reshape(2, 64), T.Q4_0).tobytes()),
        "tq2_0": (T.TQ2_0, [256], gguf.quants.quantize(sample_values(256).reshape(1, 256), T.TQ2_0).tobytes()),
    }
    check([t.name for t in r.tensors] == list(tensors), "(b) tensor names")
    for t in r.tensors:
        ggml_type, dims, data = tensors.get(t.name, (None, None, None))
        check(t.tensor_type == ggml_type, f"(b) {t.name}: type {t.tensor_type!r}")
        check(t.shape.tolist() == dims, f"(b) {t.name}: dims {t.shape.tolist()}, expected {dims}")
        check((t.data_offset - r.data_offset) % 64 == 0, f"(b) {t.name}: offset")
        check(t.data.tobytes() == data, f"(b) {t.name}: bytes differ from gguf's")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", required=True, help="the gguf_tool executable")
    parser.add_argument("--work", help="directory for the files (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or tmp
        os.makedirs(work, exist_ok=True)
        python_writes(args.tool, work)
        qtl_writes(args.tool, work)
    if count():
        return 1
    print(f"gguf {version('gguf')}: qtl and gguf-py agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
