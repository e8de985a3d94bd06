#!/usr/bin/env bash
# Installs what qtl needs to build and test on Debian bookworm, as root (or via sudo).
# Idempotent: does nothing when every package is already there at its version.
# Bookworm's own packages move only with Debian's stable point and security releases;
# the two that come from elsewhere are pinned to exact versions (docs/building.md):
# xsimd 13 from Debian trixie (the suite at priority 100, so nothing else upgrades from
# it) and Catch2 v3 from bookworm-backports. apt's output goes to build/logs/setup.log.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
as_root() { "${sudo_cmd[@]}" "$@"; }

base_packages=(build-essential cmake ninja-build pkg-config python3 python3-venv
  libeigen3-dev libbenchmark-dev libfmt-dev libcli11-dev nlohmann-json3-dev libcairo2-dev
  clang-14 libclang-rt-14-dev  # clang: the libFuzzer targets (scripts/fuzz.sh)
  g++-aarch64-linux-gnu qemu-user)  # the NEON tests (scripts/test_neon.sh)
# package, exact version, suite, the lowest version that still builds qtl
pinned_packages=("libxsimd-dev 13.2.0-1 trixie 13"
                 "libcatch2-dev 3.7.1-0.4~bpo12+1 bookworm-backports 3")

installed_version() { # package -> its version when installed
  local v
  v=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$1" 2>/dev/null) || return 1
  [[ $v == ii* ]] || return 1
  echo "${v##* }"
}

missing=() repin=()
for p in "${base_packages[@]}"; do installed_version "$p" >/dev/null || missing+=("$p"); done
for entry in "${pinned_packages[@]}"; do
  read -r p v _ _ <<<"$entry"
  [ "$(installed_version "$p" || true)" = "$v" ] || repin+=("$entry")
done
if [ ${#missing[@]} -eq 0 ] && [ ${#repin[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

mkdir -p build/logs
log=$PWD/build/logs/setup.log
: >"$log"
quiet() { # run as root, output to the log; on failure show its end and where it is
  if ! as_root "$@" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "setup: '$*' failed (offline? the packages cannot be installed); full log: $log" >&2
    exit 1
  fi
}

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
apt_install=(apt-get install -y -q --no-install-recommends --allow-downgrades)
echo "setup: apt-get update (log: $log)"
quiet apt-get update
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  quiet "${apt_install[@]}" "${missing[@]}"
fi
for entry in "${repin[@]}"; do
  read -r p v suite minimum <<<"$entry"
  if apt-cache madison "$p" | awk -v v="$v" '$3 == v {found = 1} END {exit !found}'; then
    echo "setup: installing $p $v from $suite"
    quiet "${apt_install[@]}" -t "$suite" "$p=$v"
  else  # the mirror keeps only a suite's current version: say so, and take that one
    echo "setup: WARNING: $suite no longer serves $p $v (the pinned version); installing its current one" >&2
    quiet "${apt_install[@]}" -t "$suite" "$p"
    current=$(installed_version "$p")
    dpkg --compare-versions "$current" ge "$minimum" ||
      { echo "setup: $p $current is older than $minimum" >&2; exit 1; }
    echo "setup: installed $p $current; update its pin in scripts/setup.sh" >&2
  fi
done
echo "setup: done"
