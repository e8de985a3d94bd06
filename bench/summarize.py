#!/usr/bin/env python3
"""Print a qtl_bench JSON result as a table: time, GB/s and the ratio to the
BM_stream_read baseline of the same run (so noise on a shared machine cancels out).
Uses medians when the run had repetitions."""
import json
import sys


def main(path: str) -> None:
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "iteration" and name in rows:
            continue  # keep the median (aggregates come after iterations) or the single run
        rows[name] = b
    baseline = rows.get("BM_stream_read", {}).get("GB/s")
    ctx = data.get("context", {})
    print(f"qtl_bench on {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz"
          f" ({ctx.get('host_name', '')})")
    print(f"{'case':<48} {'ms':>9} {'GB/s':>8} {'x stream':>9}")
    for name, b in rows.items():
        gbps = b.get("GB/s", 0.0)
        ratio = f"{gbps / baseline:9.3f}" if baseline else f"{'-':>9}"
        print(f"{name:<48} {b['real_time']:9.2f} {gbps:8.2f} {ratio}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench.json")
