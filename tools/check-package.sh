#!/usr/bin/env bash
# The package as a new user gets it: packs poser-torch, installs the tarball into
# a fresh project (test/consumer) from a clean HOME — no npmrc, no nodedir, an
# empty npm cache, nothing fetched but npm packages — and checks that
#   - the tarball holds no data/, tests or source maps, and does hold the example model,
#   - the addon compiles from the package's sources without downloading Node headers,
#   - the consumer typechecks under --strict without skipLibCheck,
#   - it runs as ES modules on the packaged example (load, capture, steer, score),
#   - the package loads with require() from CommonJS, and its CLI runs,
#   - a failed `npm rebuild poser-torch` leaves the working addon in place.
# Needs what scripts/setup.sh installs (libtorch, CMake, a compiler) and the npm
# registry. JOBS (default 2) sets the addon's compile parallelism.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step() { printf -- '-- %s\n' "$*"; }
fail() { echo "check-package: $*" >&2; exit 1; }

step "npm pack"
npm pack --silent --pack-destination "$work" >/dev/null
tarball="$(ls "$work"/poser-torch-*.tgz)"
listing="$(tar tzf "$tarball")"
if grep -E '^package/(data|test|bench|tools|\.ci)/|\.map$' <<<"$listing"; then fail "the tarball holds files that should not ship (above)"; fi
for f in package/LICENSE package/CHANGELOG.md package/examples/tiny-llama/model.safetensors package/scripts/build-addon.cjs package/dist/index.d.ts; do
  grep -qx "$f" <<<"$listing" || fail "the tarball lacks $f"
done
echo "$(basename "$tarball"): $(wc -l <<<"$listing") files, $(du -k "$tarball" | cut -f1) KiB"

# A clean HOME and no npm settings from the caller (npm_config_nodedir among them).
export HOME="$work/home"
mkdir -p "$HOME"
while IFS= read -r name; do unset "$name"; done < <(env | grep -io '^npm_config_[a-z0-9_]*' || true)
export CMAKE_BUILD_PARALLEL_LEVEL="${JOBS:-2}"

step "npm install of the tarball into a fresh project (compiles the addon)"
cp -r test/consumer "$work/consumer"
cd "$work/consumer"
nodedir="$(npm config get nodedir)"
[ -z "$nodedir" ] || [ "$nodedir" = "undefined" ] || [ "$nodedir" = "null" ] || fail "npm still sets nodedir=$nodedir"
t=$SECONDS
npm install --no-audit --no-fund --foreground-scripts "$tarball"
echo "(install with the addon compile: $((SECONDS - t))s)"
addon=node_modules/poser-torch/build-cmake/Release/poser_native.node
[ -f "$addon" ] || fail "no addon at $addon"
for d in "$HOME/.cmake-js" "$HOME/.cache/node-gyp"; do
  [ ! -e "$d" ] || fail "Node headers were downloaded into $d"
done

step "strict typecheck (no skipLibCheck)"
npx tsc -p tsconfig.json

step "ES modules: load the packaged example, capture, steer, score"
node dist/consumer.js

step "CommonJS: require('poser-torch')"
node require.cjs

step "the CLI: npx poser --version"
[ "$(npx poser --version)" = "$(node -p "require('poser-torch/package.json').version")" ] || fail "npx poser --version"

step "a failed npm rebuild keeps the addon"
# A cmake that fails to configure and build (its -E file commands and --version
# still work, so cmake-js gets as far as deleting its build directory).
mkdir -p "$work/failing-cmake"
real_cmake="$(command -v cmake)"
cat >"$work/failing-cmake/cmake" <<EOF
#!/bin/sh
case "\$1" in -E|--version) exec "$real_cmake" "\$@";; esac
echo "cmake: failing on purpose" >&2
exit 1
EOF
chmod +x "$work/failing-cmake/cmake"
if PATH="$work/failing-cmake:$PATH" npm rebuild poser-torch >"$work/rebuild.log" 2>&1; then
  fail "npm rebuild succeeded with a failing cmake"
fi
grep -q 'the previous addon is kept' "$work/rebuild.log" || { cat "$work/rebuild.log"; fail "the rebuild did not restore the addon"; }
node require.cjs

cd "$root"
echo "package check passed"
