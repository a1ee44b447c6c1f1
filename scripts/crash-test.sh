#!/usr/bin/env bash
# Kill the trainer with SIGKILL at random moments COUNT times (default 200),
# resuming each time; the run must finish bit-identical to an uninterrupted
# one. usage: scripts/crash-test.sh [COUNT]   (CI runs 8 via ctest)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh" "$root/build" >/dev/null
exec bash "$root/tests/e2e/crash_kill.sh" "$root/build/bin/moco-host" \
  "$root/build/bin/make_synth_cifar" "${1:-200}"
