#!/usr/bin/env bash
# Installs what poser-torch needs on Debian/Ubuntu, then its npm dependencies
# (which builds the native addon). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(libtorch-dev libopenblas0-pthread libopenblas-dev nlohmann-json3-dev libgtest-dev cmake ninja-build g++ make python3)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing system packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# libtorch calls the generic BLAS; make it the multithreaded OpenBLAS
# (the reference BLAS is about 15x slower).
arch_blas="libblas.so.3-$(gcc -dumpmachine)"
openblas="/usr/lib/$(gcc -dumpmachine)/openblas-pthread/libblas.so.3"
if [ -e "$openblas" ]; then $SUDO update-alternatives --set "$arch_blas" "$openblas" >/dev/null; fi
arch_lapack="liblapack.so.3-$(gcc -dumpmachine)"
openlapack="/usr/lib/$(gcc -dumpmachine)/openblas-pthread/liblapack.so.3"
if [ -e "$openlapack" ]; then $SUDO update-alternatives --set "$arch_lapack" "$openlapack" >/dev/null; fi

echo "==> npm ci (builds the native addon with cmake-js)"
npm ci
