#!/usr/bin/env bash
# A backbone plugin built against the frozen SDK 1.0 headers loads into the
# current host (SDK 1.x, newer minor) and trains; the host does not read the
# members appended since 1.0 (no memory line for it), and does for resnet18.
# usage: abi_compat.sh MOCO_HOST MAKE_SYNTH_CIFAR TINYCNN_SDK10_SO
set -uo pipefail
plugin=$3
. "$(dirname "$0")/../e2e/lib.sh"
tiny_setup "$1" "$2"

"$host" --check-plugin "$plugin" >"$tmp/check.out" 2>&1
check "1.0 plugin is usable" grep -q "status: *usable" "$tmp/check.out"
check "it reports SDK 1.0" grep -Eq "^sdk: *1\.0 \(host 1\.[1-9]" "$tmp/check.out"

tiny_ini "$tmp/run.ini" "$tmp/data" 1
sed -i "s|^plugin = resnet18|plugin = $plugin|; /^stem = /d" "$tmp/run.ini"
"$host" --run-dir "$tmp/run" --max-steps 3 "$tmp/run.ini" >"$tmp/train.out" 2>&1
rc=$?
check "trains with the 1.0 plugin" test $rc -eq 0
check "progress lines" grep -q "epoch 1/1  step" "$tmp/train.out"
check "checkpoint written" test -s "$tmp/run/checkpoint.bin"
check "no 1.1 member read from a 1.0 plugin" bash -c "! grep -q 'backbone memory' '$tmp/train.out'"
tiny_ini "$tmp/rn.ini" "$tmp/data" 1
"$host" --run-dir "$tmp/rn" --max-steps 1 "$tmp/rn.ini" >"$tmp/rn.out" 2>&1
check "read from a 1.1 plugin" grep -q "backbone memory: " "$tmp/rn.out"
[ $fail -eq 0 ] || tail -5 "$tmp/train.out"
finish
