"""Golden vectors for qtl's optimizers (include/qtl/optim/) from bitsandbytes and torch.optim.

    python tests/golden/optim_vectors.py [--out DIR]

Writes optim.qtlg and optim_bnb_state.safetensors. Exits 77 (skip) when torch or
bitsandbytes is not installed at its pinned version (tests/golden/requirements-torch.txt).

One float32 parameter of 4,500 elements (17 full blocks of 256 and a partial one) and five
gradients of mixed magnitudes, shared by every case (`params0`, `grads`). Each 8-bit case
runs bitsandbytes' CPU optimizer for five steps and stores the parameters, the codes
(`state1`, `state2`) and the block absmax values after the first and the last step (`bf16`:
AdamW8bit on the same numbers rounded to bfloat16); each 32-bit case runs
torch.optim (or bnb's Lion32bit: torch has no Lion) and stores the parameters. Torch is
pinned to one thread; its CPU capability is the machine's (the 8-bit state does not depend
on it, its sqrt does: see tests/optim/optim_golden_test.cpp).

optim_bnb_state.safetensors is bnb's AdamW8bit state after three steps, written in the
layout qtl::optim::load reads: `<name>.state1`, `.absmax1`, `.state2`, `.absmax2` with the
step and the hyperparameters in the metadata (see bnb_state_to_safetensors below, which
also converts any bnb 8-bit optimizer's state_dict).
"""
import argparse
import json
import os
import sys

try:
    import numpy as np
    import torch
    import bitsandbytes as bnb
    from safetensors.numpy import save_file

    from golden_file import write_golden
except ImportError as missing:
    print(f"{missing.name} is not installed: skipping the optimizer golden vectors")
    sys.exit(77)

from pins import require_pinned  # noqa: E402

require_pinned("torch", "bitsandbytes")

SIZE = 4500
STEPS = 5

# name -> (bnb class, keyword arguments, qtl rule, qtl hyperparameters)
EIGHT_BIT = {
    "adam8": (bnb.optim.Adam8bit, dict(lr=1e-2, betas=(0.9, 0.995), eps=1e-6)),
    "adamw8": (bnb.optim.AdamW8bit, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)),
    "lion8": (bnb.optim.Lion8bit, dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.05)),
    "sgd8": (bnb.optim.SGD8bit, dict(lr=1e-2, momentum=0.9, weight_decay=1e-3)),
    "rmsprop8": (bnb.optim.RMSprop8bit, dict(lr=1e-3, alpha=0.9, eps=1e-8)),
    "adagrad8": (bnb.optim.Adagrad8bit, dict(lr=1e-2, eps=1e-10)),
}
THIRTY_TWO = {
    "adam32": (torch.optim.Adam, dict(lr=1e-2, betas=(0.9, 0.995), eps=1e-6, weight_decay=0.01)),
    "adamw32": (torch.optim.AdamW, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)),
    "lion32": (bnb.optim.Lion32bit, dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.05)),
    "sgd32": (torch.optim.SGD, dict(lr=1e-2, momentum=0.9, dampening=0.1, weight_decay=1e-3)),
    "nesterov32": (torch.optim.SGD, dict(lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    "rmsprop32": (torch.optim.RMSprop, dict(lr=1e-3, alpha=0.9, eps=1e-8, weight_decay=0.01)),
    "adagrad32": (torch.optim.Adagrad, dict(lr=1e-2, eps=1e-10, weight_decay=0.01)),
}


def inputs():
    rng = np.random.default_rng(2026)
    params = rng.standard_normal(SIZE).astype(np.float32)
    # magnitudes from 1e-6 to 10, so blocks of very different absmax and codes near zero
    scale = (10.0 ** rng.integers(-6, 2, size=(STEPS, SIZE))).astype(np.float32)
    grads = (rng.standard_normal((STEPS, SIZE)).astype(np.float32) * scale).astype(np.float32)
    grads[:, 256:512] = 0.0  # an all-zero block: code 0, absmax 0
    grads[1:, 512:768] *= np.float32(1e3)  # a block whose range jumps after the first step
    return params, grads


def run(cls, kwargs, params, grads, dtype=torch.float32, record=None, stop=STEPS, state=None):
    p = torch.nn.Parameter(torch.from_numpy(params.copy()).to(dtype))
    opt = cls([p], **kwargs)
    if state is not None:
        opt.load_state_dict(state)
    for step in range(stop):
        p.grad = torch.from_numpy(grads[step].copy()).to(dtype)
        opt.step()
        if record is not None:
            record(step + 1, p, opt.state[p])
    return p, opt


def bnb_state_to_safetensors(optimizer, names, path, metadata=None):
    """Writes a bitsandbytes 8-bit optimizer's state in qtl::optim's checkpoint layout:
    names[i] is the name of the i-th parameter of optimizer.param_groups (flattened)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    tensors, meta = {}, {"qtl.optimizer": type(optimizer).__name__}
    for name, p in zip(names, params):
        state = optimizer.state[p]
        for key in ("state1", "state2", "absmax1", "absmax2"):
            if key in state:
                tensors[f"{name}.{key}"] = state[key].detach().cpu().numpy().reshape(-1)
        meta[f"{name}.step"] = str(int(state["step"]))
    meta.update(metadata or {})
    save_file(tensors, path, metadata=meta)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args()
    torch.set_num_threads(1)

    params, grads = inputs()
    arrays = {"params0": params, "grads": grads}
    for name, (cls, kwargs) in EIGHT_BIT.items():
        def record(step, p, state, name=name):
            if step not in (1, STEPS):
                return
            arrays[f"{name}/params{step}"] = p.detach().numpy().copy()
            for key in ("state1", "state2", "absmax1", "absmax2"):
                if key in state:
                    arrays[f"{name}/{key}_{step}"] = state[key].numpy().copy()
        p, opt = run(cls, kwargs, params, grads, record=record)
        assert opt.state[p]["state1"].dtype == torch.uint8, name

    # bfloat16 parameters and gradients: the step runs in float32 and rounds back
    p, opt = run(bnb.optim.AdamW8bit, EIGHT_BIT["adamw8"][1], params, grads, dtype=torch.bfloat16)
    arrays["bf16/params5"] = p.detach().float().numpy()
    arrays["bf16/state1_5"] = opt.state[p]["state1"].numpy().copy()
    arrays["bf16/state2_5"] = opt.state[p]["state2"].numpy().copy()

    for name, (cls, kwargs) in THIRTY_TWO.items():
        p, _ = run(cls, kwargs, params, grads)
        arrays[f"{name}/params5"] = p.detach().numpy().copy()

    # a tensor below bnb's min_8bit_size (4096): bnb keeps its state in float32
    small = 1000
    p, opt = run(bnb.optim.Adam8bit, EIGHT_BIT["adam8"][1], params[:small].copy(), grads[:, :small].copy())
    assert opt.state[p]["state1"].dtype == torch.float32
    arrays["small_adam8/params5"] = p.detach().numpy().copy()

    write_golden(os.path.join(args.out, "optim.qtlg"), arrays)

    cls, kwargs = EIGHT_BIT["adamw8"]
    _, opt = run(cls, kwargs, params, grads, stop=3)
    hyper = {"lr": kwargs["lr"], "beta1": kwargs["betas"][0], "beta2": kwargs["betas"][1], "eps": kwargs["eps"],
             "weight_decay": kwargs["weight_decay"]}
    bnb_state_to_safetensors(opt, ["weight"], os.path.join(args.out, "optim_bnb_state.safetensors"),
                             {"weight.hyperparameters": json.dumps(hyper, sort_keys=True)})


if __name__ == "__main__":
    main()
