#!/usr/bin/env bash
# Numerical failure: a huge learning rate with weight decay (lr * wd = 100
# multiplies every weight by -99 per step) drives the loss to NaN/Inf; training
# stops with the step number and the last good checkpoint named, exits
# non-zero, and writes nothing for the diverged state. Tiny synthetic run.
# usage: nan.sh MOCO_HOST MAKE_SYNTH_CIFAR
set -uo pipefail
. "$(dirname "$0")/lib.sh"
tiny_setup "$1" "$2"
tiny_ini "$tmp/ok.ini" "$tmp/data" 1
tiny_ini "$tmp/bad.ini" "$tmp/data" 50 "lr = 100
weight_decay = 1
sgd_momentum = 0"
"$host" --quiet --run-dir "$tmp/run" "$tmp/ok.ini" >/dev/null 2>&1
check "good epoch" test $? -eq 0
sum=$(sha256sum <"$tmp/run/checkpoint.bin")
# same seed and data size: the good checkpoint resumes under the bad config
"$host" --run-dir "$tmp/run" --resume "$tmp/bad.ini" >"$tmp/bad.out" 2>&1
rc=$?
grep -v "^epoch" "$tmp/bad.out" | tail -2
check "divergence exits non-zero" test $rc -ne 0
check "names the step and the last good checkpoint" grep -Eq "^moco-host: error: training diverged at epoch [0-9]+ step [0-9]+ \(global step [0-9]+\): .*; last good checkpoint: $tmp/run/checkpoint.bin" "$tmp/bad.out"
check "hint" grep -q "HINT: lower \[train\] lr" "$tmp/bad.out"
check "no checkpoint of the diverged state" test "$(sha256sum <"$tmp/run/checkpoint.bin")" = "$sum"
check "only the good checkpoint exists" test "$(ls "$tmp/run"/checkpoint-*.bin | wc -l)" -eq 1
finish
