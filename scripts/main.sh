#!/usr/bin/env bash
# The main job: set up a fresh Debian machine, build qtl optimised, run the examples,
# quantize a real model with the qtl tool (reports, comparison, plot) and run a short
# benchmark, and print the benchmark table.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build.sh release  # quiet: the compiler's output is in build/logs/release.log

echo "== examples/quickstart"
./build/release/examples/quickstart
echo "== examples/formats"
./build/release/examples/formats
echo "== examples/kernels"
./build/release/examples/kernels
echo "== examples/calibration (every observer on heavy-tailed data)"
./build/release/examples/calibration
echo "== examples/ptq (every post-training quantization mode on one linear layer)"
./build/release/examples/ptq
echo "== examples/optim (8-bit AdamW: clip, schedule, checkpoint and resume)"
./build/release/examples/optim
echo "== examples/qat_digits (QAT on scikit-learn's digits: every method, 3 seeds; then 8-bit vs 32-bit optimizers)"
./build/release/examples/qat_digits tests/golden/digits.safetensors

echo "== qtl on a real model: all-MiniLM-L6-v2 (scripts/fetch_model.sh) to llama.cpp GGUF (F16, Q8_0, Q4_K_M) and nf4"
if model=$(bash scripts/fetch_model.sh); then
  qtl=./build/release/tools/qtl demo=build/release/demo
  mkdir -p "$demo"
  "$qtl" inspect "$model" | sed -n '1p;$p'
  echo "-- examples/minilm (qtl's BERT forward: sentence embeddings in float and with quantized linear layers)"
  ./build/release/examples/minilm "$(dirname "$model")"
  # The model directory converts to the GGUF llama.cpp runs (architecture, tokenizer,
  # llama.cpp's names), each tensor typed as llama-quantize types it for that file type.
  for f in F16 Q8_0 Q4_K_M; do
    echo "-- qtl quantize $(dirname "$model") --format $f"
    "$qtl" quantize "$(dirname "$model")" --format "$f" -o "$demo/minilm-$f.gguf" --report "$demo/minilm-$f.json"
  done
  echo "-- qtl quantize $model --format nf4 (transformers + bitsandbytes layout)"
  "$qtl" quantize "$model" --format nf4 -o "$demo/minilm-nf4.safetensors" --report "$demo/minilm-nf4.json"
  echo "-- qtl quantize minilm-F16.gguf --format f16 (back to a transformers checkpoint + config.json)"
  mkdir -p "$demo/minilm-back" && rm -f "$demo/minilm-back/config.json"
  "$qtl" quantize "$demo/minilm-F16.gguf" --format f16 -o "$demo/minilm-back/model.safetensors" | tail -n 3
  echo "-- qtl compare (F16 vs Q4_K_M GGUF, decoded), last lines"
  "$qtl" compare "$demo/minilm-F16.gguf" "$demo/minilm-Q4_K_M.gguf" | tail -n 2
  echo "-- qtl report"
  "$qtl" report "$demo"/minilm-{F16,Q8_0,Q4_K_M,nf4}.json --summary --plot "$demo/minilm.svg"
else
  echo "the model could not be fetched (offline?): demo skipped" >&2
fi

echo "== bench (short run; see docs/benchmarks.md for the full one)"
echo "(Google Benchmark's \"Library was built as DEBUG\" is about Debian's build of the harness;"
echo " qtl's kernels here are -O3 -march=native: docs/benchmarks.md)"
# The stream baselines (read, write), the reference quantizers, the composed SIMD quantizer
# (int4 g128), the GEMV kernels at one LLaMA shape and an 8-bit / 32-bit Adam step over
# 100 M parameters.
./build/release/bench/qtl_bench --benchmark_min_time=0.2 \
  --benchmark_filter='BM_stream_|BM_(de)?quantize/|BM_composed_(de)?quantize/int4_g128_symmetric/|ggml_(de)?quantize/(q8_0|q4_0)$|gemv/.*/11008x4096/|BM_optim_adam(8|32)/threads:2' \
  --benchmark_out=build/release/bench.json --benchmark_out_format=json >/dev/null
python3 bench/summarize.py build/release/bench.json
