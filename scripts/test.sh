#!/usr/bin/env bash
# The test suite: set up a fresh Debian machine, build in the dev preset (Debug,
# AddressSanitizer + UndefinedBehaviorSanitizer) and run everything with ctest, including
# the regeneration of the golden vectors by the Python reference packages.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/oracles.sh
cmake --preset dev
cmake --build --preset dev
ctest --preset dev
