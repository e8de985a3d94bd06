"""Read and write qtl golden-vector files (.qtlg).

A .qtlg file holds named little-endian arrays, so the C++ tests (tests/golden/golden.hpp)
can read the reference implementations' outputs without a numpy or zip reader:

    magic "QTLG" | u32 version (1) | u32 count
    count x { u16 name length | name (UTF-8) | 2-char dtype ("f4", "u1", ...)
              | u8 ndim | ndim x u64 dims | data, C order }
"""
import struct

import numpy as np

DTYPES = {"f4": np.float32, "f8": np.float64, "u1": np.uint8, "i1": np.int8,
          "u2": np.uint16, "i2": np.int16, "u4": np.uint32, "i4": np.int32,
          "u8": np.uint64, "i8": np.int64}


def _code(array):
    for code, dtype in DTYPES.items():
        if array.dtype == np.dtype(dtype):
            return code
    raise TypeError(f"unsupported dtype {array.dtype}")


def write_golden(path, arrays):
    """Write a dict of name -> numpy array to path, in insertion order."""
    with open(path, "wb") as out:
        out.write(b"QTLG" + struct.pack("<II", 1, len(arrays)))
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            encoded = name.encode()
            out.write(struct.pack("<H", len(encoded)) + encoded + _code(array).encode())
            out.write(struct.pack("<B", array.ndim))
            out.write(struct.pack(f"<{array.ndim}Q", *array.shape))
            out.write(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())


def read_golden(path):
    """Read a .qtlg file back into a dict of name -> numpy array."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"QTLG":
        raise ValueError(f"{path}: not a .qtlg file")
    version, count = struct.unpack_from("<II", data, 4)
    if version != 1:
        raise ValueError(f"{path}: version {version}")
    pos, arrays = 12, {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = data[pos:pos + length].decode()
        pos += length
        dtype = np.dtype(DTYPES[data[pos:pos + 2].decode()]).newbyteorder("<")
        ndim = data[pos + 2]
        pos += 3
        shape = struct.unpack_from(f"<{ndim}Q", data, pos)
        pos += 8 * ndim
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        arrays[name] = np.frombuffer(data[pos:pos + size], dtype=dtype).reshape(shape)
        pos += size
    return arrays
