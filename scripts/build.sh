#!/usr/bin/env bash
# Configures and builds moco. usage: scripts/build.sh [BUILD_DIR] [extra cmake args]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
shift || true
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${MOCO_BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
