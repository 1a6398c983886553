#!/usr/bin/env bash
# Installs what poser-torch needs on Debian/Ubuntu (libtorch with the OpenMP
# OpenBLAS, compilers, GoogleTest), then its npm dependencies, which builds the
# native addon with cmake-js. Safe to run again: installed packages are left
# alone and the build is incremental.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

section() { printf '\n==== %s ====\n' "$*"; }
elapsed() { printf '(%ss)\n' "$((SECONDS - ${1}))"; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi

section "System packages"
t=$SECONDS
# libtorch-dev: libtorch 1.13 (CPU) with headers and CMake config; libopenblas0-openmp:
# its BLAS/LAPACK, on the same OpenMP threads as libtorch; nlohmann-json3-dev: the core's
# JSON header; libgtest-dev: the C++ tests; cmake, g++: both builds; make, python3:
# node-gyp; ninja-build: faster CMake builds; chromium, fonts-liberation: the HTML
# report's browser test (test/benchmark/html-report.test.ts).
packages=(libtorch-dev libopenblas0-openmp nlohmann-json3-dev libgtest-dev cmake g++ make python3 ninja-build chromium fonts-liberation)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$p"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "all installed: ${packages[*]}"
fi

# libtorch links the generic libblas.so.3/liblapack.so.3, which are thin wrappers over
# libopenblas.so.0, and libopenblas.so.0 itself: all three alternatives must name the
# same build, or the wrappers forward to the other one. Select the OpenMP OpenBLAS
# explicitly (reference BLAS, BLIS or the pthread OpenBLAS, Debian's default, may be
# installed as well). The pthread build keeps a second pool of threads beside libtorch's
# OpenMP pool, and on two cores the pools spin against each other (sched_yield): with it,
# 44% of a benchmark run's CPU time was system time; with the OpenMP build (and the
# addon keeping freed memory), 24%.
multiarch="$(gcc -print-multiarch)"
for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  "${SUDO[@]}" update-alternatives --quiet --set "$lib-$multiarch" "/usr/lib/$multiarch/openblas-openmp/$lib"
  echo "$lib -> $(readlink -f "/usr/lib/$multiarch/$lib")"
done

if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)||(a===20&&b>=19)?0:1)'; then
  echo "Node.js ^20.19 or >= 22.12 is needed (found: $(node --version 2>/dev/null || echo none)); install NodeSource's nodejs 20 or 22." >&2
  exit 1
fi
# .npmrc points node-gyp at /usr/include/node (cmake-js needs no Node headers: it takes
# Node-API's from the node-api-headers package); follow a Node installed elsewhere.
if [ ! -f /usr/include/node/node_api.h ] && [ -z "${npm_config_nodedir:-}" ]; then
  npm_config_nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  export npm_config_nodedir
fi
echo "node $(node --version), npm $(npm --version), cmake $(cmake --version | head -n1 | cut -d' ' -f3), g++ $(g++ -dumpfullversion)"
elapsed "$t"

section "npm ci (cmake-js build of the addon)"
t=$SECONDS
npm ci
node -e "const i = require('./build-cmake/Release/poser_native.node').buildInfo(); console.log('cmake-js addon: libtorch', i.torchVersion, 'cxx11Abi', i.cxx11Abi)"
elapsed "$t"

