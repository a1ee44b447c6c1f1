#!/usr/bin/env bash
# End to end through the real plugins: train one epoch (checkpoint +
# evaluation), refuse to overwrite that run without --resume, resume for a
# second epoch, evaluate. Uses a few hundred real CIFAR-10 images when
# MOCO_CIFAR10_DIR is set, synthetic files otherwise (the test name says
# "tiny": ResNet-18 at width 8 with the imagenet stem).
# usage: train_resume.sh MOCO_HOST MAKE_SYNTH_CIFAR
set -uo pipefail
host=$1 synth=$2
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${MOCO_CIFAR10_DIR:-}" ] && [ -f "$MOCO_CIFAR10_DIR/data_batch_1.bin" ]; then
  data=$MOCO_CIFAR10_DIR; dataset_keys=$'limit = 320\nlimit_test = 200'; echo "data: real CIFAR-10 subset"
else
  "$synth" "$tmp/data" 64 || exit 1
  data=$tmp/data; dataset_keys='records_per_file = 64'; echo "data: synthetic"
fi
write_ini() { # write_ini FILE EPOCHS
  cat >"$1" <<INI
[run]
dir = $tmp/run
seed = 5
log_every = 5
[dataset]
plugin = cifar10
path = $data
$dataset_keys
[augment]
plugin = mocoaug
[backbone]
plugin = resnet18
stem = imagenet
width = 8
[dictionary]
plugin = queue
size = 64
[objective]
plugin = infonce
[moco]
dim = 32
[train]
epochs = $2
batch = 16
lr = 0.03
[eval]
knn_k = 20
linear_epochs = 20
INI
}
write_ini "$tmp/one.ini" 1
write_ini "$tmp/two.ini" 2

"$host" "$tmp/one.ini" >"$tmp/out1" 2>&1; rc=$?
cat "$tmp/out1"
check "first run exits 0" test $rc -eq 0
check "progress line" grep -q "epoch 1/1 .*loss .*img/s" "$tmp/out1"
check "checkpoint saved" grep -q "checkpoint saved" "$tmp/out1"
check "kNN printed" grep -q "kNN top-1:" "$tmp/out1"
check "linear printed" grep -q "linear top-1:" "$tmp/out1"
check "checkpoint file" test -s "$tmp/run/checkpoint.bin"
check "no temp file left" test ! -e "$tmp/run/checkpoint.bin.tmp"
check "metrics log" grep -q '"event":"eval"' "$tmp/run/metrics.jsonl"
check "start-up in the summary" grep -Eq "trained [0-9]+ steps in .* after a start-up of [0-9]+\.[0-9]{2} s" "$tmp/out1"
check "start-up in the metrics" grep -Eq '"event":"start","global_step":0,"startup_s":[0-9]+\.[0-9]{3}' "$tmp/run/metrics.jsonl"
sum1=$(sha256sum "$tmp/run/checkpoint.bin")

"$host" "$tmp/two.ini" >"$tmp/out2" 2>&1; rc=$?
check "existing run not overwritten without --resume" test $rc -ne 0
check "refusal explains --resume" grep -q "already holds a checkpoint.*--resume" "$tmp/out2"
check "checkpoint untouched" test "$(sha256sum "$tmp/run/checkpoint.bin")" = "$sum1"

"$host" --resume "$tmp/two.ini" >"$tmp/out3" 2>&1; rc=$?
cat "$tmp/out3"
check "resumed run exits 0" test $rc -eq 0
check "resumed at epoch 2" grep -q "resumed from .* at epoch 2" "$tmp/out3"
check "trained epoch 2" grep -q "epoch 2/2 " "$tmp/out3"
check "no epoch 1 again" bash -c "! grep -q 'epoch 1/2 ' '$tmp/out3'"
check "evaluated after resume" grep -q "kNN top-1:" "$tmp/out3"
check "start-up of the resumed run in the metrics" grep -Eq '"event":"start","global_step":[1-9][0-9]*,"startup_s"' "$tmp/run/metrics.jsonl"
check "checkpoint updated" test "$(sha256sum "$tmp/run/checkpoint.bin")" != "$sum1"
finish
