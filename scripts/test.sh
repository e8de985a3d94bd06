#!/usr/bin/env bash
# The test suite: set up a fresh Debian machine, build in the dev preset (Debug,
# AddressSanitizer + UndefinedBehaviorSanitizer, warnings are errors) and run everything
# with ctest, including the regeneration of the golden vectors by the pinned Python
# reference packages (scripts/oracles.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/oracles.sh
bash scripts/build.sh dev  # quiet: the compiler's output is in build/logs/dev.log
ctest --preset dev
