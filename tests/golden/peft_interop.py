"""PEFT loads the LoRA adapters qtl writes (qtl/qat/peft.hpp) and finds the same numbers.

    ./build/release/examples/minilm build/models/all-MiniLM-L6-v2 --lora build/lora-adapters
    python tests/golden/peft_interop.py --model build/models/all-MiniLM-L6-v2 --adapters build/lora-adapters

Loads the base model with transformers, the adapters with peft.PeftModel.from_pretrained,
and checks: PEFT adapts exactly the modules of adapter_model.safetensors, each a LoRA layer
with those A and B exactly and the scaling lora_alpha / r; the forward of the PEFT
model equals the base model with each adapted weight replaced by W + scaling·B·A
(computed here from the file); merge_and_unload gives those weights. Exits 77 (skip) when
torch, transformers or peft is not installed at its pinned version
(tests/golden/requirements-torch.txt).
"""
import argparse
import json
import os
import sys

try:
    import torch
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the PEFT interop check")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("peft")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--adapters", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(os.path.join(args.adapters, "adapter_config.json")) as f:
        config = json.load(f)
    scaling = config["lora_alpha"] / config["r"]
    tensors = load_file(os.path.join(args.adapters, "adapter_model.safetensors"))
    modules = sorted({k[len("base_model.model."):-len(".lora_A.weight")] for k in tensors if k.endswith(".lora_A.weight")})
    assert modules and len(tensors) == 2 * len(modules), "every module has lora_A and lora_B"

    base = AutoModel.from_pretrained(args.model).eval()
    expected = AutoModel.from_pretrained(args.model).eval()  # W + scaling·B·A by hand
    with torch.no_grad():
        for m in modules:
            a = tensors[f"base_model.model.{m}.lora_A.weight"]
            b = tensors[f"base_model.model.{m}.lora_B.weight"]
            expected.get_submodule(m).weight += scaling * (b @ a)
    peft_model = PeftModel.from_pretrained(base, args.adapters).eval()
    adapted = {name[len("base_model.model."):] for name, module in peft_model.named_modules() if isinstance(module, LoraLayer)}
    assert adapted == set(modules), f"PEFT adapted {sorted(adapted ^ set(modules))} differently from the file"
    for m in modules:
        layer = peft_model.base_model.model.get_submodule(m)
        assert torch.equal(layer.lora_A["default"].weight, tensors[f"base_model.model.{m}.lora_A.weight"]), m
        assert torch.equal(layer.lora_B["default"].weight, tensors[f"base_model.model.{m}.lora_B.weight"]), m
        assert abs(layer.scaling["default"] - scaling) < 1e-12, (m, layer.scaling)

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    batch = tokenizer(["A man is playing a guitar.", "The license permits copying and modifying the software."],
                      padding=True, return_tensors="pt")
    with torch.no_grad():
        got = peft_model(**batch).last_hidden_state
        want = expected(**batch).last_hidden_state
        worst = (got - want).abs().max().item()
        assert worst < 1e-4, f"PEFT's forward differs from W + scaling·B·A by {worst}"
        merged = peft_model.merge_and_unload()
        for m in modules:
            diff = (merged.get_submodule(m).weight - expected.get_submodule(m).weight).abs().max().item()
            assert diff < 1e-6, (m, diff)
    print(f"PEFT loaded {len(modules)} LoRA modules (r {config['r']}, alpha {config['lora_alpha']}): "
          f"A and B exact, forward within {worst:.1e} of W + scaling·B·A, merge_and_unload equal")


if __name__ == "__main__":
    main()
