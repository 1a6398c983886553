#!/usr/bin/env bash
# Builds the libFuzzer targets of the safetensors header, shard-index and GGUF
# parsers (clang, with AddressSanitizer and UndefinedBehaviorSanitizer) and runs
# each on its committed seed corpus for a bounded time.
#
#   native/core/fuzz/run.sh [seconds per target, default 25] [extra libFuzzer flags...]
#
# Needs clang++ and the libFuzzer runtime (Debian: clang-14 libclang-rt-14-dev).
# New inputs go to build-fuzz/corpus-<target>/, crashes to build-fuzz/artifacts/;
# the seeds in native/core/fuzz/corpus/ are only read. Exits non-zero on a finding.
# Every crash found becomes a regression test (and a file in the seed corpus).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
seconds="${1:-25}"
shift || true
CXX_FUZZ="${CXX_FUZZ:-clang++}"
out=build-fuzz
mkdir -p "$out/artifacts"
flags=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Inative/core)
objects=()
for src in strict_json safetensors_format gguf_format; do
  "$CXX_FUZZ" "${flags[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" -c "native/core/$src.cpp" -o "$out/$src.o"
  objects+=("$out/$src.o")
done
for target in safetensors_header shard_index gguf; do
  dict=()
  if [ "$target" != gguf ]; then dict=(-dict=native/core/fuzz/json.dict); fi
  bin="$out/fuzz_$target"
  "$CXX_FUZZ" "${flags[@]}" "native/core/fuzz/fuzz_$target.cpp" "${objects[@]}" -o "$bin"
  mkdir -p "$out/corpus-$target"
  echo "== fuzz_$target: ${seconds}s"
  # rss_limit: a 100 MB header may legitimately need a few hundred MB of DOM.
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    "${dict[@]}" -artifact_prefix="$out/artifacts/$target-" "$@" \
    "$out/corpus-$target" "native/core/fuzz/corpus/$target"
done
