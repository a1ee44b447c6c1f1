#!/usr/bin/env bash
# A checkpoint write that fails (file-size limit, as a full disk would):
# one clear error, non-zero exit, the previous checkpoint intact and still
# loadable, no temp file left. Tiny synthetic run.
# usage: diskfull.sh MOCO_HOST MAKE_SYNTH_CIFAR
set -uo pipefail
. "$(dirname "$0")/lib.sh"
tiny_setup "$1" "$2"
tiny_ini "$tmp/one.ini" "$tmp/data" 1
tiny_ini "$tmp/two.ini" "$tmp/data" 2
"$host" --quiet --run-dir "$tmp/run" "$tmp/one.ini" >"$tmp/one.out" 2>&1
check "first epoch" test $? -eq 0
sum=$(sha256sum <"$tmp/run/checkpoint.bin")
size_kb=$(( $(stat -c %s "$tmp/run/checkpoint.bin") / 1024 ))
# allow the log files to grow but not a whole new checkpoint
(ulimit -f $((size_kb / 2)); exec "$host" --run-dir "$tmp/run" --resume "$tmp/two.ini") >"$tmp/two.out" 2>&1
rc=$?
cat "$tmp/two.out" | grep -v "^epoch" | tail -3
check "write failure exits non-zero" test $rc -ne 0
check "one clear error line" grep -q "^moco-host: error: checkpoint '.*': write failed after .* bytes: File too large; the previous checkpoint is untouched" "$tmp/two.out"
check "previous checkpoint intact" test "$(sha256sum <"$tmp/run/checkpoint.bin")" = "$sum"
check "no temp file left" bash -c "! ls '$tmp/run' | grep -q '\.tmp$'"
"$host" --quiet --run-dir "$tmp/run" --resume "$tmp/two.ini" >"$tmp/three.out" 2>&1
check "previous checkpoint resumes" test $? -eq 0
finish
