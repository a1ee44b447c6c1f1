#!/usr/bin/env bash
# Quick start, command 2: set everything up and run the test suite.
#   scripts/test.sh            release build + ctest, then the whole suite again
#                              built with ASan + UBSan (what CI runs)
#   scripts/test.sh --fast     the release build only
# Tests that need real CIFAR-10 use MOCO_CIFAR10_DIR (set here from
# ../shared/data when present) and fall back to synthetic data otherwise.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
if [ -z "${MOCO_CIFAR10_DIR:-}" ] && [ -d "$root/../shared/data/cifar-10-batches-bin" ]; then
  export MOCO_CIFAR10_DIR="$root/../shared/data/cifar-10-batches-bin"
fi
jobs="$(nproc)"
"$root/scripts/build.sh" "$root/build"
(cd "$root/build" && ctest --output-on-failure -j"$jobs")
if [ "${1:-}" != "--fast" ]; then
  MOCO_BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" "$root/build-asan" -DMOCO_SANITIZE=ON
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs")
fi
