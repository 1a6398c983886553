#!/usr/bin/env bash
# Creates the Python peer environment used to write parity fixtures and as the
# benchmark peer: the latest transformers on PyPI's torch (what users run), plus
# an older transformers 4.x beside it for 4.x-era config layouts.
#
#   bash tools/make-peer-env.sh            # -> .venv-peer/ (git-ignored)
#   POSER_PYTHON=.venv-peer/bin/python ... # how bench/ and tools/ find it
#
# The 4.x copy lives in .venv-peer/tf4 and is put first on PYTHONPATH by the
# scripts that need it (tools/make_fixtures.py --layout 4x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${POSER_PEER_VENV:-.venv-peer}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then "$PY" -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r tools/requirements-peer.txt
"$VENV/bin/pip" install --quiet --no-deps --target "$VENV/tf4" -r tools/requirements-peer-4x.txt
"$VENV/bin/python" - <<'PY'
import torch, transformers, safetensors
print("peer env: torch", torch.__version__, "transformers", transformers.__version__, "threads", torch.get_num_threads())
PY
