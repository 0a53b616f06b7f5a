#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite
# (unit tests, end-to-end tests against the real binaries, extraction quality floor, fuzzing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build=${STANCEWIRE_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
