#!/usr/bin/env bash
# setup.sh [BUILD_DIR [CMAKE_OPTIONS...]]: install what ooc needs from Debian 12 and build it (Release by
# default). Sourced by demo.sh and test.sh; run as root on a fresh machine, or as a user who has the packages.
set -euo pipefail

OOC_PACKAGES=(
  build-essential cmake pkg-config
  libhdf5-dev hdf5-tools libzstd-dev zstd libopenblas-dev libopenblas-openmp-dev librandom123-dev libjansson-dev
  libopenmpi-dev openmpi-bin
  python3-h5py python3-numpy python3-scipy python3-sklearn python3-faiss python3-matplotlib
)

ooc_install_packages() {
  local missing=()
  for p in "${OOC_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    return 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ooc_build DIR [CMAKE_OPTIONS...]: configure and build the tree at DIR.
ooc_build() {
  local dir=$1
  shift
  local src
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ooc_install_packages
  ooc_build "${1:-build/release}" "${@:2}"
fi
