#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cpp) with clang into build/fuzz and runs
# each for SECONDS (default 60) over its seed corpus tests/fuzz/corpus/<name>/. New inputs go
# to build/fuzz/corpus/<name>/ (the committed seeds are never written); a crash leaves its
# input in build/fuzz/ and fails the script.  Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
root=$PWD
build=build/fuzz

clangxx=$(command -v clang++ || command -v clang++-14) || { echo "fuzz: needs clang++ (bash scripts/setup.sh)" >&2; exit 1; }
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DQTL_BUILD_FUZZERS=ON -DQTL_BUILD_TESTS=OFF -DQTL_BUILD_BENCH=OFF -DQTL_BUILD_EXAMPLES=OFF -DQTL_BUILD_TOOLS=OFF
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in tests/fuzz/*_fuzz.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi
cmake --build "$build" -j1 --target "${targets[@]}"

status=0
for target in "${targets[@]}"; do
  seeds=tests/fuzz/corpus/${target%_fuzz}
  found=$build/corpus/${target%_fuzz}
  mkdir -p "$found" "$seeds"
  echo "fuzz: $target for ${seconds}s"
  (cd "$build" && "./tests/fuzz/$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -artifact_prefix="$target-" "$root/$found" "$root/$seeds") || status=1
done
exit $status
