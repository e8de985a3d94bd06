"""Compares two .qtlg files array by array (other files byte for byte); exit 1 naming the
arrays that differ.

    python tests/golden/compare.py COMMITTED REGENERATED
"""
import os
import sys



def first_difference(name, committed, regenerated):
    """One line: how many elements differ, and the first one's index with its old and new bytes."""
    import numpy as np

    a, b = committed.reshape(-1), regenerated.reshape(-1)
    bytes_a, bytes_b = a.view(np.uint8).reshape(a.size, -1), b.view(np.uint8).reshape(b.size, -1)
    differ = np.flatnonzero((bytes_a != bytes_b).any(axis=1))
    i = int(differ[0])
    index = np.unravel_index(i, committed.shape)
    return (f"{name}: {differ.size} of {a.size} elements differ, first at {list(map(int, index))}: "
            f"committed {a[i:i + 1].tobytes().hex(' ')} ({a[i]}), regenerated {b[i:i + 1].tobytes().hex(' ')} ({b[i]})")


def main():
    if not os.path.exists(sys.argv[2]):
        print(f"{sys.argv[2]} was not regenerated (its reference package is missing, or not at the pinned version): skipped")
        return 77
    try:
        import numpy as np  # noqa: F401  (golden_file reads with it)
    except ImportError:
        print("numpy is not installed: cannot read the golden files; skipped")
        return 77
    if not sys.argv[1].endswith(".qtlg"):  # another container (digits.safetensors): byte for byte
        with open(sys.argv[1], "rb") as a, open(sys.argv[2], "rb") as b:
            same = a.read() == b.read()
        print(f"{sys.argv[1]}: {'identical' if same else 'differs from the regenerated file: the reference changed'}")
        return 0 if same else 1
    from golden_file import read_golden

    committed, regenerated = read_golden(sys.argv[1]), read_golden(sys.argv[2])
    problems = []
    for name in sorted(set(committed) | set(regenerated)):
        if name not in committed or name not in regenerated:
            problems.append(f"{name}: only in {'the regenerated' if name in regenerated else 'the committed'} file")
            continue
        a, b = committed[name], regenerated[name]
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{name}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
        elif a.tobytes() != b.tobytes():
            problems.append(first_difference(name, a, b))
    for p in problems:
        print(p)
    if problems:
        print(f"{sys.argv[2]} differs from the committed {sys.argv[1]}: the reference changed")
        return 1
    print(f"{sys.argv[1]}: identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
