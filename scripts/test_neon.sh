#!/usr/bin/env bash
# The NEON kernels on aarch64 under qemu: cross-builds tests/neon twice with
# cmake/aarch64-linux-gnu.cmake and runs each with ctest under qemu-aarch64:
#   build/neon-dotprod  -march=armv8.2-a+dotprod, qemu -cpu max         (the sdot path)
#   build/neon-armv8a   -march=armv8-a,           qemu -cpu cortex-a53  (the widening path)
# Installs the cross compiler and qemu with apt when missing (as root or via sudo); when
# that fails (offline) it exits 77, which ctest reports as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "test_neon: run as root or install sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]; }

missing=()
for p in g++-aarch64-linux-gnu qemu-user cmake; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test_neon: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { "${sudo_cmd[@]}" apt-get update -qq &&
         "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
    echo "test_neon: SKIPPED: cannot install ${missing[*]} (offline?)"
    exit 77
  fi
fi
# xsimd >= 13 (header-only, shared with the host build) comes from the project's set-up.
[ -f /usr/include/xsimd/config/xsimd_config.hpp ] && installed libxsimd-dev || bash scripts/setup.sh

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
for config in "dotprod armv8.2-a+dotprod max" "armv8a armv8-a cortex-a53"; do
  read -r name march cpu <<<"$config"
  dir=build/neon-$name
  echo "test_neon: $dir (-march=$march, qemu -cpu $cpu)"
  cmake -S tests/neon -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
    -DQTL_AARCH64_MARCH="$march" -DQTL_QEMU_CPU="$cpu" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
  ctest --test-dir "$dir" --output-on-failure -j "$(nproc)"
done
