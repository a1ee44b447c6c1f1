#!/usr/bin/env bash
# The SDK as an outside plugin author sees it (issue 6):
#  1. install the build to a fresh prefix (headers, libmoco_sdk, CMake package,
#     pkg-config file, moco-host, built-in plugins);
#  2. build the example plugins sdk/examples/tinycnn (backbone) and
#     sdk/examples/simpleaug (augmentation) OUT OF TREE from copies, with
#     find_package(moco) against that prefix only, and tinycnn once more with
#     plain `cc $(pkg-config --cflags --libs moco-sdk)`;
#  3. --check-plugin / --list-plugins see them; the installed host trains
#     with them (--plugin-dir), and the same config with only the [backbone]
#     plugin line changed trains ResNet-18 (backbone swap by one line);
#  4. the installed host binaries are byte-for-byte unchanged throughout.
# usage: sdk_install.sh BUILD_DIR SOURCE_DIR MAKE_SYNTH_CIFAR [CMAKE]
set -uo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd) synth=$3 cmake=${4:-cmake}
. "$src/tests/e2e/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/log

# Examples are compiled with the build's own C compiler.
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)
cc=${cc:-${CC:-cc}}
# Under -DMOCO_SANITIZE=ON the installed host and libmoco_sdk are built with
# ASan + UBSan. A plain program linked to that libmoco_sdk cannot start (ASan
# must come first), so with gcc the examples are then built with the same
# sanitizer flags: their own checks run instrumented, and the sanitized host
# trains with sanitized plugins. clang does not link the ASan runtime into
# shared objects, which moco_add_plugin's -Wl,--no-undefined rejects: there
# the plugins are built plain and their check programs are skipped. The
# pkg-config build below always stays plain, which shows that an
# uninstrumented plugin loads into the sanitized host as well.
san_flags=() run_checks=1
if grep -Eq '^MOCO_(SANITIZE|FUZZ):BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  if "$cc" --version 2>/dev/null | grep -q clang; then
    run_checks=0
    echo "note: clang sanitizer build: examples built without sanitizers; skipping" \
      "check_tinycnn/check_simpleaug (a non-ASan program cannot link the ASan-built libmoco_sdk)"
  else
    f="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    san_flags=(-DCMAKE_C_FLAGS="$f" -DCMAKE_EXE_LINKER_FLAGS="$f" -DCMAKE_MODULE_LINKER_FLAGS="$f")
    echo "note: sanitizer build: the examples are built with $f"
  fi
fi

# 1. Install.
prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$log" 2>&1; rc=$?
[ $rc -eq 0 ] || cat "$log"
check "cmake --install exits 0" test $rc -eq 0
for f in bin/moco-host lib/libmoco_host.so include/moco/moco.h lib/cmake/moco/mocoConfig.cmake \
         lib/pkgconfig/moco-sdk.pc lib/moco/plugins/resnet18.so; do
  check "installed $f" test -e "$prefix/$f"
done
host=$prefix/bin/moco-host
sum_before=$(sha256sum "$host" "$prefix/lib/libmoco_host.so" | cut -d' ' -f1)

# 2. Out-of-tree builds from copies: nothing of the source tree is reachable.
mkdir -p "$tmp/src" "$tmp/plugins" "$tmp/pc"
cp -r "$src/sdk/examples/tinycnn" "$src/sdk/examples/simpleaug" "$tmp/src/"
build_example() { # build_example NAME
  local b=$tmp/build-$1
  local only=()
  [ $run_checks = 1 ] || only=(--target "$1")
  "$cmake" -S "$tmp/src/$1" -B "$b" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    "${san_flags[@]}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$log" 2>&1 && "$cmake" --build "$b" "${only[@]}" >>"$log" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || tail -30 "$log"
  check "$1: configure + build against the installed SDK" test $rc -eq 0
  check "$1: find_package(moco) found the prefix" \
    grep -qx "moco_DIR:PATH=$prefix/lib/cmake/moco" "$b/CMakeCache.txt"
  check "$1: no source-tree path in its compile commands" \
    bash -c "! grep -q '$src' '$b/compile_commands.json'"
  # (ASan adds __odr_asan.* aliases of exported globals)
  check "$1: moco_entry is the only exported symbol" \
    test "$(nm -D --defined-only "$b/$1.so" | awk '$3 !~ /^__odr_asan/ {print $3}')" = moco_entry
  if [ $run_checks = 1 ]; then
    "$b/check_$1" "$b/$1.so" >"$log" 2>&1; rc=$?
    cat "$log"
    check "check_$1 (the example's own test, through moco_entry) passes" test $rc -eq 0
  fi
  cp "$b/$1.so" "$tmp/plugins/"
}
build_example tinycnn
build_example simpleaug

# ... and with plain cc + pkg-config.
cflags_libs=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs moco-sdk)
check "pkg-config knows moco-sdk 1.x" \
  bash -c "PKG_CONFIG_PATH='$prefix/lib/pkgconfig' pkg-config --atleast-version=1.0 moco-sdk"
t=$tmp/src/tinycnn
"$cc" -std=c11 -O2 -shared -fPIC -fvisibility=hidden -o "$tmp/pc/tinycnn.so" \
  "$t/tinycnn.c" "$t/layout.c" "$t/forward.c" "$t/backward.c" $cflags_libs -lm >"$log" 2>&1; rc=$?
[ $rc -eq 0 ] || cat "$log"
check "cc \$(pkg-config --cflags --libs moco-sdk) builds tinycnn.so" test $rc -eq 0
"$host" --check-plugin "$tmp/pc/tinycnn.so" >"$log" 2>&1
check "pkg-config-built tinycnn.so is usable" grep -q "status: *usable" "$log"

# 3. The host sees the plugins. (A bare "tinycnn.so" is handed to dlopen(),
# which searches the library path, not the current folder: give a path.)
(cd "$tmp/plugins" && "$host" --check-plugin ./tinycnn.so) >"$log" 2>&1; rc=$?
cat "$log"
check "--check-plugin ./tinycnn.so exits 0" test $rc -eq 0
check "--check-plugin: backbone, usable" \
  bash -c "grep -q 'kind: *backbone' '$log' && grep -q 'status: *usable' '$log'"
"$host" --check-plugin tinycnn --plugin-dir "$tmp/plugins" >"$log" 2>&1
check "--check-plugin by name on the search path" grep -q "status: *usable" "$log"
(cd "$tmp/plugins" && "$host" --check-plugin ./simpleaug.so) >"$log" 2>&1
check "--check-plugin simpleaug.so: augment, usable" \
  bash -c "grep -q 'kind: *augment' '$log' && grep -q 'status: *usable' '$log'"
"$host" --list-plugins --plugin-dir "$tmp/plugins" >"$log" 2>&1
cat "$log"
check "--list-plugins lists tinycnn" grep -Eq "^tinycnn +backbone +1\.0\.0 +1\.[0-9]+ " "$log"
check "--list-plugins lists simpleaug" grep -Eq "^simpleaug +augment +1\.0\.0 +1\.[0-9]+ " "$log"
check "--list-plugins lists the installed resnet18" grep -q "^resnet18 .*$prefix/" "$log"

# Train: 2 epochs of 3 steps with an evaluation after epoch 1 (eval-mode
# forward with pooled features), stopped by --max-steps after step 5.
"$synth" "$tmp/data" 32 >/dev/null || exit 1
cat >"$tmp/tiny.ini" <<INI
[run]
dir = unused
seed = 3
log_every = 1
threads = 1
[dataset]
plugin = cifar10
path = $tmp/data
records_per_file = 32
[augment]
plugin = simpleaug
pad = 4
flip = true
[backbone]
plugin = tinycnn
width = 8
[dictionary]
plugin = queue
size = 32
[objective]
plugin = infonce
[moco]
dim = 16
[train]
epochs = 2
batch = 8
steps_per_epoch = 3
[eval]
every = 1
knn_k = 10
linear_epochs = 5
INI
train() { # train NAME CONFIG
  "$host" --plugin-dir "$tmp/plugins" --run-dir "$tmp/run-$1" --max-steps 5 "$2" >"$tmp/out-$1" 2>&1
  local rc=$?
  cat "$tmp/out-$1"
  check "$1: exit 0" test $rc -eq 0
  check "$1: progress lines for 5 steps" \
    test "$(grep -Ec '^epoch [12]/2  step [123]/3  loss [0-9.]+  acc' "$tmp/out-$1")" -eq 5
  check "$1: evaluated after epoch 1" grep -q "eval after epoch 1: kNN top-1" "$tmp/out-$1"
  check "$1: stopped by --max-steps at global step 5" \
    grep -q "stopped (--max-steps) .*global step 5" "$tmp/out-$1"
  check "$1: checkpoint written" test -s "$tmp/run-$1/checkpoint.bin"
  check "$1: 5 finite losses in metrics.jsonl" \
    test "$(train_losses "$tmp/run-$1/metrics.jsonl" | awk '$2 ~ /^[0-9.e+-]+$/' | wc -l)" -eq 5
  check "$1: banner names the $1 backbone" grep -q "| $1 (" "$tmp/out-$1"
}
train tinycnn "$tmp/tiny.ini"
check "tinycnn: simpleaug did the augmentation" grep -q "| simpleaug |" "$tmp/out-tinycnn"

# Backbone swap: the same file, one line different.
sed 's/^plugin = tinycnn$/plugin = resnet18/' "$tmp/tiny.ini" >"$tmp/resnet.ini"
check "swap config differs in exactly one line" \
  test "$(diff "$tmp/tiny.ini" "$tmp/resnet.ini" | grep -c '^[<>]')" -eq 2
train resnet18 "$tmp/resnet.ini"
"$host" --plugin-dir "$tmp/plugins" --run-dir "$tmp/run-x" --resume="$tmp/run-tinycnn/checkpoint.bin" \
  "$tmp/resnet.ini" >"$log" 2>&1; rc=$?
check "a tinycnn checkpoint is refused by the resnet18 config" \
  bash -c "test $rc -ne 0 && grep -q \"written with backbone 'tinycnn'.*HINT\" '$log'"

# 4. Nothing above touched the installed host.
sum_after=$(sha256sum "$host" "$prefix/lib/libmoco_host.so" | cut -d' ' -f1)
check "moco-host and libmoco_host.so unchanged (sha256)" test "$sum_before" = "$sum_after"
finish
