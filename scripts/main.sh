#!/usr/bin/env bash
# The main job: set up a fresh Debian machine, build qtl optimised, run the quickstart
# example and a short benchmark, and print the benchmark table.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset release
cmake --build --preset release

echo "== examples/quickstart"
./build/release/examples/quickstart
echo "== examples/formats"
./build/release/examples/formats
echo "== examples/kernels"
./build/release/examples/kernels

echo "== bench (short run; see docs/benchmarks.md for the full one)"
# The stream baseline, the reference quantizers and the GEMV kernels at one LLaMA shape.
./build/release/bench/qtl_bench --benchmark_min_time=0.2 \
  --benchmark_filter='stream|BM_(de)?quantize/|ggml_(de)?quantize/(q8_0|q4_0)$|gemv/.*/11008x4096/' \
  --benchmark_out=build/release/bench.json --benchmark_out_format=json >/dev/null
python3 bench/summarize.py build/release/bench.json
