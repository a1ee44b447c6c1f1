#!/usr/bin/env bash
# Quick start, command 2: set everything up and run the test suite.
#   scripts/test.sh            release build + ctest, then the whole suite again
#                              built with ASan + UBSan (what CI runs)
#   scripts/test.sh --fast     the release build only
# Tests that need real CIFAR-10 use MOCO_CIFAR10_DIR (set here, when it is
# not set, from MOCO_CIFAR10_SRC, data/cifar-10-batches-bin or ../shared/data,
# the first that holds the files) and skip otherwise.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
if [ -z "${MOCO_CIFAR10_DIR:-}" ]; then
  for d in "${MOCO_CIFAR10_SRC:-}" "$root/data/cifar-10-batches-bin" \
           "$root/../shared/data/cifar-10-batches-bin"; do
    if [ -f "$d/test_batch.bin" ]; then export MOCO_CIFAR10_DIR="$d"; break; fi
  done
fi
echo "test.sh: real-data tests use MOCO_CIFAR10_DIR=${MOCO_CIFAR10_DIR:-(unset: they are skipped; set MOCO_CIFAR10_DIR or MOCO_CIFAR10_SRC to a cifar-10-batches-bin folder)}"
jobs="$(nproc)"
"$root/scripts/build.sh" "$root/build"
(cd "$root/build" && ctest --output-on-failure -j"$jobs")
if [ "${1:-}" != "--fast" ]; then
  MOCO_BUILD_TYPE=RelWithDebInfo "$root/scripts/build.sh" "$root/build-asan" -DMOCO_SANITIZE=ON
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs")
fi
