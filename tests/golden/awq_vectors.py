"""Golden vectors for qtl::ptq::awq (tests/ptq/awq_golden_test.cpp) from llm-compressor's AWQ.

    python tests/golden/awq_vectors.py --model build/models/all-MiniLM-L6-v2 [--out DIR]

Writes awq.qtlg. Exits 77 (skip) when torch, transformers, datasets or llmcompressor is not
installed at its pinned version (tests/golden/requirements-torch.txt), or the model
directory is missing.

llm-compressor's AWQModifier smooths each encoder layer of all-MiniLM-L6-v2 with the one
mapping BERT allows (value -> attention.output.dense: the attention output's input is the
attention-weighted value rows, so 1/s folds into value), and a QuantizationModifier
quantizes attention.output.dense as W4A16 (int4, symmetric, groups of 128). The "basic"
pipeline feeds every layer from the float model, so qtl can rebuild the same inputs from
the recorded token ids; the smoothing runs with fake quantization off, as llm-compressor's
sequential pipeline runs it (its basic pipeline leaves it on there, before the weights
have scales, and gets NaN outputs). Recorded: the token ids of the calibration sentences (the first
24 of 6 to 40 words of the GPL-3 that every Debian system installs), and per layer the
grid llm-compressor searched (ratio, duo scaling), the loss of each point (mean squared
error of the layer's output over its elements), and the scales it chose. One thread.
"""
import argparse
import os
import re
import sys

try:
    import numpy as np
    import torch
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from llmcompressor.modifiers.transform.awq import AWQMapping, AWQModifier
    from llmcompressor.pipelines.cache import IntermediatesCache
    from llmcompressor.utils.helpers import DisableQuantization
    from transformers import AutoModel, AutoTokenizer

    from golden_file import write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the AWQ golden vectors")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("llmcompressor", "compressed-tensors")

LICENSE = "/usr/share/common-licenses/GPL-3"
SENTENCES = 24


def sentences():
    words = open(LICENSE, encoding="utf-8").read().split()
    parts = re.split(r"(?<=\.)\s+", " ".join(words))
    return [s for s in parts if 6 <= len(s.split()) <= 40][:SENTENCES]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the all-MiniLM-L6-v2 directory")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.model, "model.safetensors")):
        print(f"{args.model}: no model.safetensors: skipping the AWQ golden vectors")
        sys.exit(77)
    torch.set_num_threads(1)
    # Pinning host memory needs a CUDA driver; on CPU the cache stays where it is.
    IntermediatesCache.pin_memory = lambda self, index: None

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model, torch_dtype=torch.float32)
    ids = [tokenizer(s)["input_ids"] for s in sentences()]
    data = Dataset.from_list([{"input_ids": i, "attention_mask": [1] * len(i)} for i in ids])

    awq = AWQModifier(mappings=[AWQMapping("re:.*attention.self.value$", ["re:.*attention.output.dense$"])],
                      offload_device=torch.device("cpu"))
    losses, chosen = [], []
    compute_loss, compute_best_scale = AWQModifier._compute_loss, AWQModifier._compute_best_scale

    def record_loss(self, *a, **k):
        loss = compute_loss(self, *a, **k)
        losses.append(loss)
        return loss

    def record_scales(self, mapping, *a, **k):
        scales = compute_best_scale(self, mapping, *a, **k)
        chosen.append((mapping.smooth_name, scales.float().numpy()))
        return scales

    apply_smoothing = AWQModifier._apply_smoothing

    def smooth_unquantized(self, model):
        # As llm-compressor's sequential pipeline runs it; its basic pipeline leaves the
        # layer's fake quantization on here, before the weights have scales (NaN outputs).
        with DisableQuantization(model):
            apply_smoothing(self, model)

    AWQModifier._compute_loss, AWQModifier._compute_best_scale = record_loss, record_scales
    AWQModifier._apply_smoothing = smooth_unquantized
    recipe = [awq, QuantizationModifier(targets=["re:.*attention.output.dense$"], scheme="W4A16")]
    oneshot(model=model, dataset=data, recipe=recipe, num_calibration_samples=len(ids), pipeline="basic",
            shuffle_calibration_samples=False, max_seq_length=512)

    grid = awq._get_grid_search_params()
    layers = len(chosen)
    assert layers == model.config.num_hidden_layers and len(losses) == layers * len(grid)
    arrays = {"ids": np.concatenate([np.array(i, dtype=np.int32) for i in ids]),
              "lengths": np.array([len(i) for i in ids], dtype=np.int32),
              "ratio": np.array([r for r, _ in grid], dtype=np.float64),
              "duo_scaling": np.array([d for _, d in grid], dtype=np.uint8)}
    for l, (name, scales) in enumerate(chosen):
        assert name == f"encoder.layer.{l}.attention.self.value", name
        arrays[f"layer{l}/loss"] = np.array(losses[l * len(grid):(l + 1) * len(grid)], dtype=np.float64)
        arrays[f"layer{l}/scales"] = scales.astype(np.float32)
    write_golden(os.path.join(args.out, "awq.qtlg"), arrays)


if __name__ == "__main__":
    main()
