#!/usr/bin/env bash
# Crash safety: SIGKILL the trainer at random moments (during steps and
# checkpoint writes: a checkpoint every 2 steps), resume, again and again;
# every resume must succeed from the last durable checkpoint and the run must
# finish with exactly the checkpoint of an uninterrupted run (resume is
# bit-exact). Tiny synthetic run, 1 thread.
# usage: crash_kill.sh MOCO_HOST MAKE_SYNTH_CIFAR [KILLS]   (scripts/crash-test.sh wraps it)
set -uo pipefail
host=$1 synth=$2 kills=${3:-5}
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$synth" "$tmp/data" 32 || exit 1
tiny_ini "$tmp/run.ini" "$tmp/data" 40 "checkpoint_every_steps = 2"
"$host" --quiet --run-dir "$tmp/ref" "$tmp/run.ini" >"$tmp/ref.out" 2>&1
check "reference run" test $? -eq 0

killed=0 resumes=0 bad=0 in_write=0
for i in $(seq 1 "$kills"); do
  "$host" --run-dir "$tmp/crash" --resume "$tmp/run.ini" >"$tmp/run.$i.out" 2>&1 &
  pid=$!
  # 50..800 ms: start-up, steps and checkpoint writes all get hit
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.05 + (r % 750) / 1000 }')"
  kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
  { wait "$pid"; } 2>/dev/null; rc=$?
  ls "$tmp/crash" 2>/dev/null | grep -q '\.tmp$' && in_write=$((in_write + 1))
  if [ $rc -ne 0 ] && [ $rc -ne 137 ]; then
    bad=$((bad + 1)); echo "run $i failed (exit $rc):"; tail -3 "$tmp/run.$i.out"
  fi
  grep -q "resumed from" "$tmp/run.$i.out" && resumes=$((resumes + 1))
  [ $rc -eq 0 ] && break
done
"$host" --quiet --run-dir "$tmp/crash" --resume "$tmp/run.ini" >"$tmp/final.out" 2>&1
check "final resume finishes" test $? -eq 0
echo "kills: $killed ($in_write during a checkpoint write), resumes from a checkpoint: $resumes, failed runs: $bad"
check "no run failed to start or resume" test "$bad" -eq 0
check "crashed run ends bit-identical to the reference" cmp "$tmp/ref/checkpoint.bin" "$tmp/crash/checkpoint.bin"
check "no temp files left" bash -c "! ls '$tmp/crash' | grep -q '\.tmp$\|\.link$'"
finish
