#!/usr/bin/env bash
# Ctrl-C / SIGTERM: the trainer finishes the step, writes a checkpoint, says
# how to resume, exits 0; the checkpoint resumes. A second Ctrl-C exits at
# once (130) and leaves the previous checkpoint loadable. Tiny synthetic run.
# usage: signals.sh MOCO_HOST MAKE_SYNTH_CIFAR
set -uo pipefail
. "$(dirname "$0")/lib.sh"
tiny_setup "$1" "$2"
tiny_ini "$tmp/run.ini" "$tmp/data" 1000

wait_for() { # wait_for FILE PATTERN: up to 20 s
  for _ in $(seq 1 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

for sig in INT TERM; do
  rm -rf "$tmp/run"
  "$host" --run-dir "$tmp/run" "$tmp/run.ini" >"$tmp/$sig.out" 2>&1 &
  pid=$!
  check "SIG$sig: training started" wait_for "$tmp/$sig.out" "epoch 1/1000  step"
  kill -"$sig" "$pid"
  { wait "$pid"; } 2>/dev/null; rc=$?
  check "SIG$sig: exit 0" test $rc -eq 0
  check "SIG$sig: says interrupted" grep -q "^interrupted at epoch" "$tmp/$sig.out"
  check "SIG$sig: says at once that it stops" grep -q "stopping after this step and saving a checkpoint" "$tmp/$sig.out"
  check "SIG$sig: says how to resume" grep -q "continue with: $host --resume --run-dir $tmp/run $tmp/run.ini" "$tmp/$sig.out"
  check "SIG$sig: checkpoint written" test -s "$tmp/run/checkpoint.bin"
done

"$host" --run-dir "$tmp/run" --resume --max-steps 100000 "$tmp/run.ini" >"$tmp/resume.out" 2>&1 &
pid=$!
check "resume after SIGTERM starts" wait_for "$tmp/resume.out" "resumed from"
check "resumed run trains" wait_for "$tmp/resume.out" "epoch .*/1000  step"
sum=$(sha256sum "$tmp/run/checkpoint.bin")
kill -INT "$pid"; kill -INT "$pid"
{ wait "$pid"; } 2>/dev/null; rc=$?
# Either the second signal came before the checkpoint (exit 130 at once) or
# after it (the normal exit 0); both must leave a loadable checkpoint.
check "double Ctrl-C exits 130 or 0" test $rc -eq 130 -o $rc -eq 0
echo "double Ctrl-C exit code: $rc"
"$host" --run-dir "$tmp/run" --resume --max-steps 1 "$tmp/run.ini" >"$tmp/after.out" 2>&1
rc=$?
check "checkpoint still loads after double Ctrl-C" grep -q "resumed from" "$tmp/after.out"
check "and the run continues" test $rc -eq 0
finish
