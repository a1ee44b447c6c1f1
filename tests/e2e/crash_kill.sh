#!/usr/bin/env bash
# Crash safety: SIGKILL the trainer at random moments (during steps and
# checkpoint writes: a checkpoint every 2 steps), resume, again and again;
# every resume must succeed from the last durable checkpoint and the run must
# finish with exactly the checkpoint of an uninterrupted run (resume is
# bit-exact). Tiny synthetic run, 1 thread.
# usage: crash_kill.sh MOCO_HOST MAKE_SYNTH_CIFAR [KILLS]   (scripts/crash-test.sh wraps it)
set -uo pipefail
kills=${3:-5}
. "$(dirname "$0")/lib.sh"
tiny_setup "$1" "$2"
tiny_ini "$tmp/run.ini" "$tmp/data" 40 "checkpoint_every_steps = 2"
"$host" --quiet --run-dir "$tmp/ref" "$tmp/run.ini" >"$tmp/ref.out" 2>&1
check "reference run" test $? -eq 0

killed=0 resumes=0 bad=0 in_write=0 completed=0 mismatched=0
# Kill, resume, kill ... until KILLS kills have landed; whenever a run gets
# to the end, its final checkpoint must equal the reference, and a fresh
# run starts.
i=0
while [ "$killed" -lt "$kills" ]; do
  i=$((i + 1))
  "$host" --run-dir "$tmp/crash" --resume "$tmp/run.ini" >"$tmp/run.out" 2>&1 &
  pid=$!
  # 50..800 ms: start-up, steps and checkpoint writes all get hit
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.05 + (r % 750) / 1000 }')"
  kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
  { wait "$pid"; } 2>/dev/null; rc=$?
  ls "$tmp/crash" 2>/dev/null | grep -q '\.tmp$' && in_write=$((in_write + 1))
  if [ $rc -ne 0 ] && [ $rc -ne 137 ]; then
    bad=$((bad + 1)); echo "run $i failed (exit $rc):"; tail -3 "$tmp/run.out"
  fi
  grep -q "resumed from" "$tmp/run.out" && resumes=$((resumes + 1))
  if [ $rc -eq 0 ]; then
    completed=$((completed + 1))
    cmp -s "$tmp/ref/checkpoint.bin" "$tmp/crash/checkpoint.bin" || mismatched=$((mismatched + 1))
    rm -rf "$tmp/crash"
  fi
done
"$host" --run-dir "$tmp/crash" --resume "$tmp/run.ini" >"$tmp/final.out" 2>&1
check "final resume finishes" test $? -eq 0
completed=$((completed + 1))
cmp -s "$tmp/ref/checkpoint.bin" "$tmp/crash/checkpoint.bin" || mismatched=$((mismatched + 1))
echo "kills: $killed ($in_write during a checkpoint write), resumes from a checkpoint: $resumes, failed runs: $bad, runs completed: $completed"
check "no run failed to start or resume" test "$bad" -eq 0
check "every completed run is bit-identical to the reference" test "$mismatched" -eq 0
check "no temp files left" bash -c "! ls '$tmp/crash' | grep -q '\.tmp$\|\.link$'"
finish
