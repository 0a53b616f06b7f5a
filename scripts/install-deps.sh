#!/usr/bin/env bash
# Installs the Debian 12 packages stancewire needs to build, test and run. Idempotent: installs
# only what is missing, and runs apt-get update only when something is.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev libspdlog-dev libsqlite3-dev libcli11-dev libre2-dev libicu-dev libssl-dev
  libpq-dev
  # tcmalloc for ingest-service and the extraction benchmark (optional: CMake links it if found)
  libgoogle-perftools-dev
  # tests, benchmarks, fuzzing
  googletest libgtest-dev libbenchmark-dev python3 python3-grpcio python3-protobuf
  clang libclang-rt-14-dev
  # the PostgreSQL store's tests start a throwaway server
  postgresql
)
# Extra packages a caller needs (e.g. STANCEWIRE_EXTRA_PACKAGES="postgresql podman").
read -r -a extra <<< "${STANCEWIRE_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
