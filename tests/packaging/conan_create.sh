#!/usr/bin/env bash
# ctest packaging.conan_create: `conan create` of conanfile.py and its test_package,
# offline: conan/debian.profile takes xsimd, Eigen and nlohmann_json from the Debian
# packages ([platform_requires]) and Conan Center is disabled. Conan's home is a fresh
# folder under WORK_DIR (never ~/.conan2), test_package is built from a copy there (no
# build folder in the source tree). Conan is the exact version of requirements.lock beside
# this script, installed from PyPI into a venv under WORK_DIR (kept between runs; a Conan on
# PATH is not used: its version could be anything); offline, the test is skipped (77).
#   conan_create.sh SOURCE_DIR WORK_DIR
set -euo pipefail
source_dir=$1
work=$2
mkdir -p "$work"

conan=$work/venv/bin/conan
if ! { [ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"; } ||
   ! "$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
       -r "$source_dir/tests/packaging/requirements.lock"; then
  echo "packaging.conan_create: SKIPPED: cannot install the pinned Conan (tests/packaging/requirements.lock; offline?)"
  exit 77
fi
echo "packaging.conan_create: $("$conan" --version) ($conan)"

export CONAN_HOME=$work/home
rm -rf "$CONAN_HOME" "$work/test_package"
"$conan" profile detect >/dev/null 2>&1
"$conan" remote disable conancenter >/dev/null  # offline: every dependency is a platform one
cp -r "$source_dir/test_package" "$work/test_package"
# Debug: what is tested is that the package is found and links; test_package's kernels of
# every arch at -O3 took three minutes of one core.
"$conan" create "$source_dir" -pr:h "$source_dir/conan/debian.profile" -s:h build_type=Debug --build=missing \
  -tf "$work/test_package" -c tools.build:jobs=1
