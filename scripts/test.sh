#!/usr/bin/env bash
# The test suite: set up a fresh Debian machine, build in the dev preset (Debug,
# AddressSanitizer + UndefinedBehaviorSanitizer) and run everything with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset dev
cmake --build --preset dev
ctest --preset dev
