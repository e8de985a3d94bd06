"""Export scikit-learn's "digits" data set for examples/qat_digits.cpp.

    python tests/golden/digits_export.py [--out DIR]

Writes digits.safetensors: `images` U8 [1797, 64] (8x8 images, pixel values 0..16, row by
row) and `labels` U8 [1797] (0..9), in scikit-learn's order, with the source and licence in
the metadata. Exits 77 (skip) when scikit-learn or safetensors is not installed at its
pinned version (tests/golden/requirements-torch.txt, requirements.lock).

The data are the test part of the UCI "Optical Recognition of Handwritten Digits" set
(Alpaydin and Kaynak, 1998), which scikit-learn ships in sklearn/datasets/data/digits.csv.gz;
UCI publishes it under CC BY 4.0 (tests/golden/digits.LICENSE.md).
"""
import argparse
import os
import sys

try:
    import numpy as np
    from safetensors.numpy import save_file
    from sklearn.datasets import load_digits
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the digits export")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("scikit-learn", "safetensors")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    digits = load_digits()
    images = digits.data.astype(np.uint8)
    assert images.shape == (1797, 64) and images.max() == 16 and np.array_equal(images, digits.data)
    labels = digits.target.astype(np.uint8)
    save_file({"images": images, "labels": labels}, os.path.join(args.out, "digits.safetensors"),
              metadata={"source": "scikit-learn load_digits(): UCI Optical Recognition of Handwritten Digits (test part)",
                        "license": "CC BY 4.0 (UCI Machine Learning Repository, Alpaydin and Kaynak 1998)"})


if __name__ == "__main__":
    main()
