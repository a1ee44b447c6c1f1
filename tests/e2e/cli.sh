#!/usr/bin/env bash
# moco-host's command line as a user meets it: help, versions, plugin
# listing/checking, bad invocations, and the OpenBLAS kernel correction.
# usage: cli.sh MOCO_HOST PLUGIN_DIR FAKE_PLUGIN_DIR
set -uo pipefail
host=$1 plugins=$2 fake=$3
. "$(dirname "$0")/lib.sh"
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

"$host" --help >"$out" 2>&1; rc=$?
check "help exits 0" test $rc -eq 0
check "help shows usage" grep -q "usage: moco-host" "$out"

"$host" --version >"$out" 2>&1; rc=$?
check "version" grep -Eq "moco-host .*SDK [0-9]+\.[0-9]+" "$out"
sdk=$(sed -nE 's/.*SDK ([0-9]+\.[0-9]+).*/\1/p' "$out")

"$host" --list-plugins --plugin-dir "$plugins" >"$out" 2>&1
for p in "cifar10 *dataset" "mocoaug *augment" "resnet18 *backbone" "queue *dictionary" "infonce *objective"; do
  check "list-plugins: $p" grep -Eq "^$p" "$out"
done

"$host" --check-plugin "$plugins/resnet18.so" >"$out" 2>&1; rc=$?
check "check-plugin good exits 0" test $rc -eq 0
check "check-plugin good says usable" grep -q "status: *usable" "$out"

"$host" --check-plugin "$fake/fake_major.so" >"$out" 2>"$err"; rc=$?
check "check-plugin wrong major exits non-zero" test $rc -ne 0
check "check-plugin wrong major names versions" grep -Eq "SDK 99\.[0-9]+, this host has SDK $sdk" "$err"
check "check-plugin wrong major is one line" test "$(wc -l <"$err")" -eq 1

"$host" --frobnicate >"$out" 2>"$err"; rc=$?
check "unknown option exits 2" test $rc -eq 2
check "unknown option named" grep -q "unknown option '--frobnicate'" "$err"

"$host" /nonexistent/x.ini >"$out" 2>"$err"; rc=$?
check "missing config exits 1" test $rc -eq 1
check "missing config named" grep -q "/nonexistent/x.ini: cannot open config" "$err"

if grep -qw avx2 /proc/cpuinfo; then
  OPENBLAS_CORETYPE=Prescott "$host" --blas-info >"$out" 2>"$err"
  check "slow kernel corrected (one log line)" grep -q "slow 'Prescott' kernel; using OPENBLAS_CORETYPE=" "$err"
  check "slow kernel not in use" bash -c "! grep -q 'kernel: Prescott' '$out'"
  MOCO_BLAS_AUTOFIX=0 OPENBLAS_CORETYPE=Prescott "$host" --blas-info >"$out" 2>"$err"
  check "autofix can be disabled" grep -q "kernel: Prescott" "$out"
fi
finish
