"""bitsandbytes' and torch's CPU optimizer steps, to set next to bench/optim_bench.cpp.

    python bench/optim_bnb_bench.py [--params 100000000] [--threads 1 2] [--repeats 5]

Times one step of bnb's Adam8bit and Lion8bit and of torch.optim.Adam (foreach, float32)
on one float32 tensor, after a first step that allocates the state; prints the median of
the repeats in ms, G params/s and GB/s of bytes touched counted as bench/optim_bench.cpp
counts them. Needs torch and bitsandbytes (tests/golden/requirements-torch.txt); not run
by CI.
"""
import argparse
import statistics
import time

import torch
import bitsandbytes as bnb


def touched(params, state_bytes):
    return 3 * 4 * params + 2 * state_bytes


def time_step(make, params, repeats):
    p = torch.nn.Parameter(torch.randn(params) * 0.02)
    p.grad = torch.randn(params) * 0.02
    opt = make([p])
    opt.step()
    state = opt.state[p]
    state_bytes = sum(v.numel() * v.element_size() for v in state.values() if torch.is_tensor(v) and v.numel() > 1)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times), state_bytes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--params", type=int, default=100_000_000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "bnb Adam8bit": lambda ps: bnb.optim.Adam8bit(ps, lr=1e-3),
        "bnb Lion8bit": lambda ps: bnb.optim.Lion8bit(ps, lr=1e-4),
        "torch Adam (fp32)": lambda ps: torch.optim.Adam(ps, lr=1e-3),
    }
    print(f"torch {torch.__version__}, bitsandbytes {bnb.__version__}, {args.params} parameters, "
          f"median of {args.repeats} steps")
    print(f"{'case':<22} {'threads':>7} {'ms':>9} {'Gparams/s':>10} {'GB/s':>7}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, make in cases.items():
            seconds, state_bytes = time_step(make, args.params, args.repeats)
            gbps = touched(args.params, state_bytes) / seconds / 1e9
            print(f"{name:<22} {threads:>7} {seconds * 1e3:9.1f} {args.params / seconds / 1e9:10.3f} {gbps:7.2f}")


if __name__ == "__main__":
    main()
