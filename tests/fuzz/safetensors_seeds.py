#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/safetensors_fuzz.cpp into corpus/safetensors/:
a few tiny valid files and one of each broken kind (standard library only)."""
import json
import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "safetensors"


def st_file(header, data=b"", length=None, pad=True):
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    raw = text.encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


SEEDS = {
    "empty": st_file({}),
    "one_f32": st_file({"w": entry("F32", [2], 0, 8)}, bytes(range(8))),
    "metadata_scalar_empty": st_file(
        {"__metadata__": {"format": "pt"}, "s": entry("BF16", [], 0, 2), "e": entry("I8", [0, 3], 2, 2),
         "b": entry("BOOL", [2], 2, 4)}, b"\x80\x3f\x01\x00"),
    "all_small_dtypes": st_file(
        {d: entry(d, [1], i, i + 1) for i, d in enumerate(["U8", "I8", "F8_E4M3", "F8_E5M2"])}, b"\x01\x02\x03\x04"),
    "truncated": st_file({"w": entry("F32", [2], 0, 8)}, bytes(4)),
    "lying_length": st_file({"w": entry("U8", [1], 0, 1)}, b"\x00", length=1000),
    "overlap": st_file({"a": entry("U8", [2], 0, 2), "b": entry("U8", [2], 1, 3)}, bytes(3)),
    "duplicate_key": st_file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                             '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00"),
    "bad_json": st_file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}', b"\x00"),
    "unknown_dtype": st_file({"a": entry("C64", [1], 0, 8)}, bytes(8)),
    "overflowing_shape": st_file({"a": entry("F64", [2**62, 8], 0, 0)}),
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in SEEDS.items():
        (OUT / name).write_bytes(data)
