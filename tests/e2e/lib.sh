# Shared by the end-to-end test scripts: pass/fail counting and a tiny
# config on synthetic data (ResNet-18 at width 4, imagenet stem, 16x16
# views, batch 8, K 32, dim 16, 160 images = 20 steps per epoch, 1 thread).
pass=0 fail=0
check() { # check NAME COMMAND... : counts, prints failures
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); else echo "FAILED: $name"; fail=$((fail + 1)); fi
}
finish() {
  echo "$pass passed, $fail failed"
  test "$fail" -eq 0
}
# tiny_setup MOCO_HOST MAKE_SYNTH_CIFAR: sets $host and $synth, makes a temp
# dir $tmp (removed at exit) holding synthetic data in $tmp/data (32 images a file)
tiny_setup() {
  host=$1 synth=$2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$synth" "$tmp/data" 32 || exit 1
}
# tiny_ini FILE DATA_DIR EPOCHS [extra lines appended to [train]]
tiny_ini() {
  cat >"$1" <<INI
[run]
dir = unused-run-dir
seed = 9
log_every = 1
threads = 1
[dataset]
plugin = cifar10
path = $2
records_per_file = 32
[augment]
plugin = mocoaug
size = 16
[backbone]
plugin = resnet18
stem = imagenet
width = 4
[dictionary]
plugin = queue
size = 32
[objective]
plugin = infonce
[moco]
dim = 16
[eval]
at_end = false
[train]
epochs = $3
batch = 8
${4:-}
INI
}
# train_losses METRICS_FILE: "global_step loss" per train line
train_losses() {
  grep '"event":"train"' "$1" | sed -E 's/.*"global_step":([0-9]+),"loss":([-0-9.e+]+).*/\1 \2/'
}
