#!/usr/bin/env bash
# What including a qtl header costs at compile time: a translation unit holding only
#   #include <HEADER>
# compiled with ${CXX:-g++} -std=c++20 -O2 ${CXXFLAGS} (add -march=native to see the SIMD
# paths), REPS times (default 5); prints the median wall time of each and its ratio to
# <xsimd/xsimd.hpp> alone, measured in the same run.
#   bench/compile_time.sh [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
cxx=${CXX:-g++}
read -r -a extra <<<"${CXXFLAGS:-}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
eigen=$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)

median_ms() { # header
  printf '#include <%s>\nint main() { return 0; }\n' "$1" >"$tmp/tu.cpp"
  local times=()
  for _ in $(seq "$reps"); do
    local start end
    start=$(date +%s%N)
    # shellcheck disable=SC2086
    "$cxx" -std=c++20 -O2 "${extra[@]}" -Iinclude $eigen -c "$tmp/tu.cpp" -o "$tmp/tu.o"
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((reps + 1) / 2))p"
}

base=$(median_ms xsimd/xsimd.hpp)
printf '%-36s %9s %9s\n' header "ms" "x xsimd"
printf '%-36s %9d %9.2f\n' xsimd/xsimd.hpp "$base" 1
for h in qtl/qtl.hpp qtl/quantizer.hpp qtl/kernel/simd_quantizer.hpp qtl/kernel/composed_gemv.hpp qtl/kernel/dispatch.hpp \
  qtl/layout/ggml.hpp qtl/ptq/quantized_linear.hpp qtl/ptq/linear_reference.hpp; do
  ms=$(median_ms "$h")
  printf '%-36s %9d %9.2f\n' "$h" "$ms" "$(awk -v a="$ms" -v b="$base" 'BEGIN { print a / b }')"
done
