#!/usr/bin/env bash
# Drift report, not a gate (never run by .ci/run): installs the *latest* versions of the
# Python reference packages (tests/golden/requirements.in; with --with-torch also torch
# and bitsandbytes, gigabytes) into a separate venv, regenerates every golden file with
# them and prints one line per committed file: unchanged, changed (the first differing
# record, old and new bytes) or not regenerated. Run it before bumping a pin in
# tests/golden/requirements.lock (docs/building.md). Exit 1 when a file changed.
#   scripts/check_references.sh [--with-torch]
set -euo pipefail
cd "$(dirname "$0")/.."

with_torch=0
case "${1:-}" in
  "") ;;
  --with-torch) with_torch=1 ;;
  *) echo "usage: scripts/check_references.sh [--with-torch]" >&2; exit 2 ;;
esac

work=build/references-latest
golden=tests/golden
rm -rf "$work/golden"
mkdir -p "$work/golden"
[ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
python=$work/venv/bin/python
packages=(-r "$golden/requirements.in")
[ $with_torch = 1 ] && packages+=(torch bitsandbytes)
"$python" -m pip install --quiet --disable-pip-version-check --upgrade "${packages[@]}"

echo "== reference packages: pinned -> latest"
"$python" - "$golden" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
sys.path.insert(0, sys.argv[1])
from pins import pinned_versions
for name, pinned in sorted(pinned_versions().items()):
    try:
        latest = version(name)
    except PackageNotFoundError:
        latest = "not installed"
    moved = latest != "not installed" and latest.split("+")[0] != pinned
    print(f"{name}: {pinned} -> {latest}{'  (moved)' if moved else ''}")
PY

echo "== golden files regenerated with the latest versions"
for generator in "$golden"/*_vectors.py; do
  QTL_GOLDEN_ANY_VERSION=1 "$python" "$generator" --out "$work/golden" >"$work/golden/$(basename "$generator" .py).log" 2>&1 || true
done
changed=0
for committed in "$golden"/*.qtlg; do
  name=$(basename "$committed")
  if [ ! -f "$work/golden/$name" ]; then
    echo "$name: not regenerated (its reference is not installed here, or it needs a local build: see its generator)"
  elif report=$("$python" "$golden/compare.py" "$committed" "$work/golden/$name"); then
    echo "$name: unchanged"
  else
    changed=1
    echo "$name: changed"
    grep -v -e 'differs from the committed' <<<"$report" | sed 's/^/    /'
  fi
done
exit $changed
