#!/usr/bin/env bash
# The CUDA headers' tests and benchmark, built with nvcc directly (no CMake >= 3.28 needed)
# and run in one command on a machine with a GPU:
#   scripts/cuda_tests.sh [--build-only | --run-only] [--out DIR] [--arch "80 90"] [NAME...]
# NAME: act_quant_test, gemv_w2a8_test, gemv_w4a8_test, gemv_nf4_test, gemv_cuda_bench
# (default: all). Binaries go to DIR (default build/cuda). Without --arch the build targets
# the local GPU (-arch=native) where one is present, else sm_80 and sm_90.
# Running: each test binary runs its [gpu] cases, then its [args] cases (bad arguments,
# which never reach a CUDA call); without a device only the [args] cases run. The bench runs
# only with a device. --build-only then --run-only lets a machine without nvcc run
# binaries built elsewhere (the CUDA runtime and Catch2 are linked statically).
# Exit status: 0 when everything that ran passed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all out=build/cuda arch=""
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-only) mode=build ;;
    --run-only) mode=run ;;
    --out) out="$2"; shift ;;
    --arch) arch="$2"; shift ;;
    -h|--help) sed -n "2,12p" "$0"; exit 0 ;;
    *) names+=("$1") ;;
  esac
  shift
done
[ ${#names[@]} -gt 0 ] || names=(act_quant_test gemv_w2a8_test gemv_w4a8_test gemv_nf4_test gemv_cuda_bench)

has_gpu() { [ -e /dev/nvidia0 ] || { command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; }; }

build() {
  local nvcc="${NVCC:-}"
  [ -n "$nvcc" ] || nvcc=$(command -v nvcc || true)
  [ -n "$nvcc" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || nvcc=/usr/local/cuda/bin/nvcc
  [ -n "$nvcc" ] || { echo "cuda_tests: nvcc not found (set NVCC)" >&2; exit 1; }
  local cxx="${CXX:-g++}"
  local archs=()
  if [ -n "$arch" ]; then
    for a in $arch; do archs+=(-gencode "arch=compute_$a,code=sm_$a"); done
  elif has_gpu; then
    archs=(-arch=native)
  else
    archs=(-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90)
  fi
  local flags=(-std=c++20 --Werror all-warnings -Iinclude -Itests "${archs[@]}")
  mkdir -p "$out"
  # The CPU references use the kernel/ headers (xsimd), which only the host compiler parses.
  local reference="$out/cpu_reference.o"
  if [ ! -f "$reference" ] || [ -n "$(find tests/cuda/cpu_reference.* include -newer "$reference" -print -quit)" ]; then
    echo "cuda_tests: $cxx tests/cuda/cpu_reference.cpp"
    "$cxx" -std=c++20 -O2 -Wall -Wextra -Werror -Iinclude -Itests -c tests/cuda/cpu_reference.cpp -o "$reference"
  fi
  for name in "${names[@]}"; do
    echo "cuda_tests: nvcc ${archs[*]} $name"
    case "$name" in
      gemv_cuda_bench) "$nvcc" "${flags[@]}" -O3 bench/cuda/gemv_cuda_bench.cu -lcublas -o "$out/$name" ;;
      *) "$nvcc" "${flags[@]}" -O2 "tests/cuda/$name.cu" "$reference" -lCatch2Main -lCatch2 -o "$out/$name" ;;
    esac
  done
}

run() {
  local failed=0 device=0
  has_gpu && device=1
  for name in "${names[@]}"; do
    local bin="$out/$name"
    [ -x "$bin" ] || { echo "cuda_tests: $bin is not built" >&2; failed=1; continue; }
    if [ "$name" = gemv_cuda_bench ]; then
      if [ $device -eq 1 ]; then "$bin" || failed=1; else echo "cuda_tests: $name skipped (no GPU)"; fi
      continue
    fi
    if [ $device -eq 0 ]; then
      if "$bin" "[args]"; then echo "cuda_tests: $name: [args] cases passed; [gpu] cases not run (no GPU)"
      else echo "cuda_tests: $name FAILED" >&2; failed=1; fi
      continue
    fi
    local status=0
    "$bin" "[gpu]" || status=$?
    [ $status -ne 0 ] || "$bin" "[args]" || status=$?
    case $status in
      0) echo "cuda_tests: $name passed" ;;
      4) echo "cuda_tests: $name: every case skipped although a GPU is present (driver older than the CUDA runtime?)" >&2
         failed=1 ;;
      *) echo "cuda_tests: $name FAILED" >&2; failed=1 ;;
    esac
  done
  return $failed
}

[ "$mode" = run ] || build
[ "$mode" = build ] || run
