#!/usr/bin/env bash
# Runtime dispatch compiles the same headers in one translation unit per arch, each with
# its own flags, and the linker keeps one copy of every inline function for the program.
# This checks that no arch's copy can stand in for another's: the avx2 and avx512_vnni
# objects (built at -O0, so nothing is inlined away) may share only functions that the
# scalar object also defines, whose baseline copy the link order keeps
# (cmake/qtlDispatch.cmake adds scalar.cpp first). Arguments: C++ compiler, source root,
# and optionally the folder of sources qtl_add_composed_dispatch generated (its
# scalar.cpp, avx2.cpp, avx512_vnni.cpp and include/), checked together with the kernels.
set -euo pipefail
cxx=$1
root=$2
composed=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

base=(-std=c++20 -O0 -c -DQTL_RUNTIME_DISPATCH=1 -I"$root/include")
avx2=(-mavx2 -mfma -mf16c)
avx512=("${avx2[@]}" -mavx512f -mavx512cd -mavx512dq -mavx512bw -mavx512vl -mavx512vnni -w)
# Code symbols (T, W) of qtl each object defines, demangled, one per line.
code() { nm -C --defined-only "$1" | awk '$2 == "T" || $2 == "W"' | cut -d' ' -f3- | grep '^qtl::' | sort -u; }
compile() { # name source flags...
  local name=$1 source=$2
  shift 2
  "$cxx" "${base[@]}" "$@" "$source" -o "$work/$name.o"
  code "$work/$name.o" >>"$work/$name.list"
}
for dir in "$root/src/dispatch" ${composed:+"$composed"}; do
  inc=()
  [ -d "$dir/include" ] && inc=(-I"$dir/include")
  compile scalar "$dir/scalar.cpp" "${inc[@]}"
  compile avx2 "$dir/avx2.cpp" "${inc[@]}" "${avx2[@]}"
  compile avx512 "$dir/avx512_vnni.cpp" "${inc[@]}" "${avx512[@]}"
done
for name in scalar avx2 avx512; do sort -u "$work/$name.list" >"$work/$name.txt"; done

shared=$(comm -12 "$work/avx2.txt" "$work/avx512.txt" | comm -23 - "$work/scalar.txt")
if [ -n "$shared" ]; then
  echo "inline functions compiled for both avx2 and avx512_vnni, with no baseline copy:"
  echo "$shared"
  exit 1
fi
helpers=$(grep -c 'x86::isa_avx2::' "$work/avx2.txt" || true)
if [ "$helpers" -eq 0 ]; then
  echo "no x86::isa_avx2:: helpers found in the avx2 object: the check sees nothing"
  exit 1
fi
echo "dispatch objects isolated ($helpers x86 helpers in their own namespace per arch)"
