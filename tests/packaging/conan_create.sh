#!/usr/bin/env bash
# ctest packaging.conan_create: `conan create` of conanfile.py and its test_package,
# offline: conan/debian.profile takes xsimd, Eigen and nlohmann_json from the Debian
# packages ([platform_requires]) and Conan Center is disabled. Conan's home is a fresh
# folder under WORK_DIR (never ~/.conan2), test_package is built from a copy there (no
# build folder in the source tree). Conan 2 comes from PATH or, failing that, from PyPI
# into a venv under WORK_DIR (kept between runs); without either the test is skipped (77).
#   conan_create.sh SOURCE_DIR WORK_DIR
set -euo pipefail
source_dir=$1
work=$2
mkdir -p "$work"

conan=""
if command -v conan >/dev/null && conan --version 2>/dev/null | grep -q "version 2\."; then
  conan=$(command -v conan)
elif [ -x "$work/venv/bin/conan" ]; then
  conan=$work/venv/bin/conan
elif python3 -m venv "$work/venv" &&
     "$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "conan>=2,<3"; then
  conan=$work/venv/bin/conan
else
  echo "packaging.conan_create: SKIPPED: no Conan 2 on PATH and 'pip install conan' failed (offline?)"
  exit 77
fi
echo "packaging.conan_create: $("$conan" --version) ($conan)"

export CONAN_HOME=$work/home
rm -rf "$CONAN_HOME" "$work/test_package"
"$conan" profile detect >/dev/null 2>&1
"$conan" remote disable conancenter >/dev/null  # offline: every dependency is a platform one
cp -r "$source_dir/test_package" "$work/test_package"
"$conan" create "$source_dir" -pr:h "$source_dir/conan/debian.profile" --build=missing \
  -tf "$work/test_package" -c tools.build:jobs=1
