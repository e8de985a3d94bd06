#!/usr/bin/env bash
# Installs the Python reference implementations that regenerate the golden vectors
# (tests/golden/requirements.txt) into .venv. Without network access the golden.*
# regeneration tests skip; the committed vectors are still checked by the unit tests.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || { echo "oracles: cannot create .venv; golden regeneration will skip" >&2; exit 0; }
fi
if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/golden/requirements.txt; then
  echo "oracles: pip install failed; golden regeneration will skip" >&2
fi
exit 0
