#!/usr/bin/env bash
# Runs the libFuzzer targets, each for SECONDS (default 600), one after the
# other (or TARGET... only): ini, checkpoint, cifar, plugin_entry.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Builds with clang in build-fuzz (ASan + UBSan + libFuzzer). Each target
# starts from fuzz/corpus/<target>/ (copied; new inputs stay in
# build-fuzz/corpus-<target>/). A crash is written to fuzz/findings/<target>/:
# fix it, then copy the input into fuzz/corpus/<target>/ so the replay test
# (fuzz_replay_<target>) keeps it fixed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ini checkpoint cifar plugin_entry)
command -v clang >/dev/null || { echo "fuzz.sh: needs clang (apt-get install clang)" >&2; exit 1; }
CC=clang cmake -S "$root" -B "$root/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMOCO_FUZZ=ON -DMOCO_BUILD_TESTS=OFF >/dev/null
cmake --build "$root/build-fuzz" -j"$(nproc)" >/dev/null
for t in "${targets[@]}"; do
  work="$root/build-fuzz/corpus-$t"
  findings="$root/fuzz/findings/$t"
  mkdir -p "$work" "$findings"
  cp -n "$root/fuzz/corpus/$t"/* "$work"/ 2>/dev/null || true
  echo "== fuzz_$t for ${secs}s"
  log="$root/build-fuzz/fuzz_$t.log"
  set +e
  ASAN_OPTIONS=detect_leaks=1 "$root/build-fuzz/bin/fuzz_$t" -max_total_time="$secs" \
    -artifact_prefix="$findings/" -print_final_stats=1 "$work" >"$log" 2>&1
  rc=$?
  set -e
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs" "$log" || true
  if [ $rc -ne 0 ]; then
    echo "fuzz_$t: FINDING (exit $rc), see $log and $findings"; tail -20 "$log"
  else
    echo "fuzz_$t: no findings; corpus $(ls "$work" | wc -l) inputs"
  fi
done
