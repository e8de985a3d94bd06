"""Compares two .qtlg files array by array; exit 1 naming the arrays that differ.

    python tests/golden/compare.py COMMITTED REGENERATED
"""
import os
import sys



def main():
    if not os.path.exists(sys.argv[2]):
        print(f"{sys.argv[2]} was not regenerated (its reference package is missing): skipped")
        return 77
    import numpy as np

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
            diff = np.flatnonzero(a.reshape(-1).view(np.uint8) != b.reshape(-1).view(np.uint8))
            problems.append(f"{name}: {diff.size} bytes differ, first at byte {diff[0]}")
    for p in problems:
        print(p)
    if problems:
        print(f"{sys.argv[2]} differs from the committed {sys.argv[1]}: the reference changed")
        return 1
    print(f"{sys.argv[1]}: identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
