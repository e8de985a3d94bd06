#!/usr/bin/env bash
# Configures and builds one CMake preset quietly: one progress line (on a terminal it
# counts in place), the compiler's full output in build/logs/PRESET.log, whose end and
# path are printed when the build fails. Used by scripts/main.sh and scripts/test.sh.
#   scripts/build.sh PRESET
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:?usage: scripts/build.sh PRESET}

mkdir -p build/logs
log=$PWD/build/logs/$preset.log
start=$SECONDS
fail() {
  tail -n 40 "$log" >&2
  echo "build: the $preset build failed; full log: $log" >&2
  exit 1
}
cmake --preset "$preset" >"$log" 2>&1 || fail
echo "build: $preset (log: build/logs/$preset.log)"
progress() { # ninja's [done/total] lines become one progress line on a terminal
  if [ -t 1 ]; then
    while IFS= read -r line; do
      [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]] && printf '\rbuild: %s/%s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    done
    printf '\r\033[K'
  else
    cat >/dev/null
  fi
}
set +e
cmake --build --preset "$preset" 2>&1 | tee -a "$log" | progress
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || fail
warnings=$(grep -c 'warning:' "$log" || true)
echo "build: $preset done in $((SECONDS - start)) s, $warnings compiler warnings"
