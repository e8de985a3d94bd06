#!/usr/bin/env bash
# Installs what qtl needs to build and test on Debian bookworm, as root (or via sudo).
# Idempotent: does nothing when every package is already there.
# xsimd >= 13 comes from Debian trixie (pinned to priority 100 so nothing else
# upgrades) and Catch2 v3 from bookworm-backports, as docs/building.md explains.
set -euo pipefail

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
as_root() { "${sudo_cmd[@]}" "$@"; }

base_packages=(build-essential cmake ninja-build pkg-config python3 python3-venv
  libeigen3-dev libbenchmark-dev libfmt-dev libcli11-dev nlohmann-json3-dev libcairo2-dev
  clang-14 libclang-rt-14-dev)  # clang: the libFuzzer targets (scripts/fuzz.sh)

have_version() { # package, minimum version
  local v
  v=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$1" 2>/dev/null) || return 1
  [[ $v == ii* ]] || return 1
  dpkg --compare-versions "${v#* }" ge "$2"
}

missing=()
for p in "${base_packages[@]}"; do have_version "$p" 0 || missing+=("$p"); done
have_version libxsimd-dev 13 || missing+=(libxsimd-dev)
have_version libcatch2-dev 3 || missing+=(libcatch2-dev)
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"

# The extra suites use the same mirror as the machine's own bookworm source.
mirror=$(grep -hoE '^URIs:[[:space:]]*\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null \
           | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "setup: no Debian bookworm source found in /etc/apt" >&2; exit 1; }

if [ ! -f /etc/apt/sources.list.d/qtl-extra.sources ]; then
  as_root tee /etc/apt/sources.list.d/qtl-extra.sources >/dev/null <<SRC
Types: deb
URIs: $mirror
Suites: trixie bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  as_root tee /etc/apt/preferences.d/qtl-trixie >/dev/null <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
fi

export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
base_missing=()
for p in "${missing[@]}"; do
  case $p in libxsimd-dev|libcatch2-dev) ;; *) base_missing+=("$p") ;; esac
done
[ ${#base_missing[@]} -eq 0 ] || as_root apt-get install -y -qq --no-install-recommends "${base_missing[@]}"
have_version libxsimd-dev 13 || as_root apt-get install -y -qq --no-install-recommends -t trixie libxsimd-dev
have_version libcatch2-dev 3 || as_root apt-get install -y -qq --no-install-recommends -t bookworm-backports libcatch2-dev
echo "setup: done"
