#!/usr/bin/env bash
# Quick start, command 1: set everything up and run the main job.
#   scripts/run.sh [CONFIG]            (default configs/cifar.ini)
# Installs packages, builds, gets CIFAR-10 (downloads the official archive, or
# uses MOCO_CIFAR10_SRC / ../shared/data when present), then trains.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
config="${1:-$root/configs/cifar.ini}"
[ -f "$config" ] || { echo "run.sh: no config '$config'. HINT: give a path to an .ini file, e.g. configs/cifar-quick.ini" >&2; exit 1; }
config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build"
if [ -z "${MOCO_CIFAR10_DIR:-}" ]; then
  if [ -z "${MOCO_CIFAR10_SRC:-}" ] && [ -d "$root/../shared/data/cifar-10-batches-bin" ]; then
    export MOCO_CIFAR10_SRC="$root/../shared/data/cifar-10-batches-bin"
  fi
  "$root/scripts/get-cifar10.sh" "$root/data/cifar-10-batches-bin"
  export MOCO_CIFAR10_DIR="$root/data/cifar-10-batches-bin"
fi
cd "$root"
echo "run.sh: to run moco-host yourself (e.g. to resume):"
echo "  export MOCO_CIFAR10_DIR=$MOCO_CIFAR10_DIR"
echo "  $root/build/bin/moco-host --resume $config"
exec "$root/build/bin/moco-host" --resume "$config"
