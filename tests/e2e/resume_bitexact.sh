#!/usr/bin/env bash
# Bit-exact resume: 60 steps straight vs 25 steps, stop (checkpoint), a new
# process resumes mid-epoch and does the other 35: the final checkpoints
# (both encoders, BN buffers, SGD momentum, queue, pointer, counters) must be
# byte-identical and the loss sequences equal. Tiny synthetic run, 1 thread.
# usage: resume_bitexact.sh MOCO_HOST MAKE_SYNTH_CIFAR
set -uo pipefail
. "$(dirname "$0")/lib.sh"
tiny_setup "$1" "$2"
tiny_ini "$tmp/run.ini" "$tmp/data" 3 "checkpoint_every_steps = 7"

"$host" --quiet --run-dir "$tmp/a" "$tmp/run.ini" >"$tmp/a.out" 2>&1
check "straight run" test $? -eq 0
"$host" --quiet --run-dir "$tmp/b" --max-steps 25 "$tmp/run.ini" >"$tmp/b1.out" 2>&1
check "first half stops with exit 0" test $? -eq 0
check "stop names where it stopped" grep -q "stopped (--max-steps) at epoch 2, step 5 (global step 25)" "$tmp/b1.out"
check "stop says how to continue" grep -q "continue with: $host --resume --run-dir $tmp/b $tmp/run.ini" "$tmp/b1.out"
"$host" --quiet --run-dir "$tmp/b" --resume "$tmp/run.ini" >"$tmp/b2.out" 2>&1
check "resumed run" test $? -eq 0
check "final checkpoints byte-identical" cmp "$tmp/a/checkpoint.bin" "$tmp/b/checkpoint.bin"
train_losses "$tmp/a/metrics.jsonl" >"$tmp/a.loss"
train_losses "$tmp/b/metrics.jsonl" >"$tmp/b.loss"
check "60 losses logged" test "$(wc -l <"$tmp/a.loss")" -eq 60
check "loss sequences identical" cmp "$tmp/a.loss" "$tmp/b.loss"
check "kept 2 numbered checkpoints" test "$(ls "$tmp/a"/checkpoint-*.bin | wc -l)" -eq 2
check "checkpoint.bin is the newest" cmp "$tmp/a/checkpoint.bin" "$tmp/a/checkpoint-00000060.bin"
finish
