#!/usr/bin/env bash
# The CUDA check, for a lent GPU machine that has Python torch with CUDA,
# CMake and a compiler but neither Node nor Debian's headers: builds the native
# core's tests against the Python torch and runs them, the model's parity with
# the transformers fixture on cuda:0 included. Prepare the carried folder first
# (here, on the CPU machine):
#   mkdir -p .device && cp -r /usr/include/nlohmann .device/ && cp -r /usr/src/googletest .device/
# then run `bash scripts/device-check.sh` there, carrying .device.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${OUT:-.device/out}"
mkdir -p "$out"
python3 -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))" | tee "$out/device.txt"
prefix="$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S native/core/tests -B .device/build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_FLAGS="-I$PWD/.device" -DPOSER_GTEST_SOURCE="$PWD/.device/googletest" \
  2>&1 | tail -n 5
cmake --build .device/build -j "$(nproc)" 2>&1 | tail -n 3
ctest --test-dir .device/build --output-on-failure -V 2>&1 | tee "$out/ctest.txt" | grep -E "cuda:0|Passed|Failed|Skipped|tests passed"
