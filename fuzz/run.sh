#!/usr/bin/env bash
# Builds the extractor fuzz target with clang (libFuzzer + ASan + UBSan) in its own build dir and
# runs it for a bounded time. Exit status is non-zero when the fuzzer finds a crash, a leak or
# undefined behaviour.
#   fuzz/run.sh [SECONDS]       (default 60; env BUILD_DIR overrides build-fuzz/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
seconds=${1:-60}
build=${BUILD_DIR:-$root/build-fuzz}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$san -fsanitize=fuzzer-no-link" \
  -DCMAKE_CXX_FLAGS="$san -fsanitize=fuzzer-no-link" \
  -DSTANCEWIRE_BUILD_FUZZ=ON -DSTANCEWIRE_BUILD_TESTS=OFF -DSTANCEWIRE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target extractor_fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here"/corpus/* "$work"/
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1
cd "$work"
"$build/fuzz/extractor_fuzz" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
  -rss_limit_mb=4096 -print_final_stats=1 "$work"
