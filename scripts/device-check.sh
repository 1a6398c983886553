#!/usr/bin/env bash
# The CUDA check, for a lent GPU machine that has Python torch with CUDA,
# CMake and a compiler but neither Node nor Debian's headers: builds the native
# core's tests against the Python torch and runs them (model parity with the
# transformers fixtures and rope tables on cuda:0 included), then times the
# core (poser_core_bench: SmolLM2-135M-shape forward, zoo fine-tuning step)
# against transformers on the same GPU (bench/peer_device.py). Prepare the
# carried folder first (here, on the CPU machine):
#   mkdir -p .device && cp -r /usr/include/nlohmann .device/ && cp -r /usr/src/googletest .device/
# then run `bash scripts/device-check.sh` there, carrying .device. Results go
# to $OUT (or .device/out): device.txt, ctest.txt, bench.jsonl.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${OUT:-.device/out}"
mkdir -p "$out"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0), 'transformers', transformers.__version__)" | tee "$out/device.txt"
prefix="$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S native/core/tests -B .device/build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_FLAGS="-I$PWD/.device" -DPOSER_GTEST_SOURCE="$PWD/.device/googletest" \
  2>&1 | tail -n 5
cmake --build .device/build -j "$(nproc)" 2>&1 | tail -n 3
set +e
ctest --test-dir .device/build --output-on-failure -V > "$out/ctest.txt" 2>&1
status=$?
set -e
grep -E "cuda|Cuda|CUDA|Passed|Failed|Skipped|tests passed|tests failed" "$out/ctest.txt" | tail -n 40
: > "$out/bench.jsonl"
for dtype in float32 bfloat16; do
  .device/build/poser_core_bench cuda:0 "$dtype" | tee -a "$out/bench.jsonl"
  python3 bench/peer_device.py cuda:0 "$dtype" | tee -a "$out/bench.jsonl"
done
exit "$status"
