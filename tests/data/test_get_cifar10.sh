#!/usr/bin/env bash
# data_get_script: scripts/get-cifar10.sh without the network. A fake local
# copy made of sparse files of the official sizes (no real data) is linked,
# broken copies are refused with the file named, and the download path is
# driven through file:// URLs to check its failures (missing archive, wrong
# md5) leave nothing behind.
set -euo pipefail

SCRIPT=${1:?usage: test_get_cifar10.sh path/to/get-cifar10.sh}
tmp=$(mktemp -d /tmp/moco_get_cifar10_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: $what" >&2
    fi
}

make_src() { # make_src DIR: six sparse files of 30,730,000 bytes
    mkdir -p "$1"
    for f in data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin \
        data_batch_5.bin test_batch.bin; do
        truncate -s 30730000 "$1/$f"
    done
}

run() { # run OUTFILE ARGS...: the script's exit code, output in OUTFILE
    local out=$1
    shift
    set +e
    "$@" >"$out" 2>&1
    local rc=$?
    set -e
    return $rc
}

make_src "$tmp/src"

# 1. A good local copy becomes a symlink; the export line is printed.
rc=0; run "$tmp/out1" env MOCO_CIFAR10_SRC="$tmp/src" "$SCRIPT" "$tmp/data/cifar" || rc=$?
check "link succeeds (rc $rc): $(cat "$tmp/out1")" test $rc -eq 0
check "DEST is a symlink" test -L "$tmp/data/cifar"
check "symlink points at SRC" test "$(readlink "$tmp/data/cifar")" = "$(cd "$tmp/src" && pwd -P)"
check "prints the export line" grep -q "export MOCO_CIFAR10_DIR=" "$tmp/out1"

# 2. A second run finds it and does nothing.
rc=0; run "$tmp/out2" env -u MOCO_CIFAR10_SRC "$SCRIPT" "$tmp/data/cifar" || rc=$?
check "second run succeeds (rc $rc)" test $rc -eq 0
check "second run says already there" grep -q "already holds" "$tmp/out2"

# 3. SRC as the second argument.
rc=0; run "$tmp/out3" "$SCRIPT" "$tmp/data/second" "$tmp/src" || rc=$?
check "second argument as SRC (rc $rc): $(cat "$tmp/out3")" test $rc -eq 0
check "linked from the argument" test -L "$tmp/data/second"

# 4. A wrong size is refused naming the file, its size and the expected size.
make_src "$tmp/short"
truncate -s 30729999 "$tmp/short/test_batch.bin"
rc=0; run "$tmp/out4" env MOCO_CIFAR10_SRC="$tmp/short" "$SCRIPT" "$tmp/data/x4" || rc=$?
check "short file refused" test $rc -ne 0
check "names file and sizes: $(cat "$tmp/out4")" \
    grep -q "short/test_batch.bin: size 30729999 bytes, expected 30730000" "$tmp/out4"
check "has a HINT" grep -q "HINT" "$tmp/out4"
check "nothing created" test ! -e "$tmp/data/x4"

# 5. A missing file is refused.
make_src "$tmp/missing"
rm "$tmp/missing/data_batch_2.bin"
rc=0; run "$tmp/out5" env MOCO_CIFAR10_SRC="$tmp/missing" "$SCRIPT" "$tmp/data/x5" || rc=$?
check "missing file refused" test $rc -ne 0
check "names the missing file: $(cat "$tmp/out5")" grep -q "data_batch_2.bin: missing" "$tmp/out5"

# 6. An incomplete DEST is not overwritten.
mkdir -p "$tmp/data/partial"
rc=0; run "$tmp/out6" env MOCO_CIFAR10_SRC="$tmp/src" "$SCRIPT" "$tmp/data/partial" || rc=$?
check "incomplete DEST refused" test $rc -ne 0
check "says DEST exists: $(cat "$tmp/out6")" grep -q "exists but is not a complete" "$tmp/out6"

# 7. Download failures (file:// URLs, no network) are clean.
rc=0
run "$tmp/out7" env -u MOCO_CIFAR10_SRC MOCO_CIFAR10_URL="file://$tmp/none.tar.gz" \
    "$SCRIPT" "$tmp/dl/a" || rc=$?
check "missing archive fails" test $rc -ne 0
check "says the download failed: $(cat "$tmp/out7")" grep -q "download of file://" "$tmp/out7"
check "no DEST after failure" test ! -e "$tmp/dl/a"
check "no temp folder left" test -z "$(find "$tmp/dl" -name '.get-cifar10.*')"

mkdir -p "$tmp/fake/cifar-10-batches-bin"
echo "not cifar" >"$tmp/fake/cifar-10-batches-bin/readme"
tar -czf "$tmp/fake.tar.gz" -C "$tmp/fake" cifar-10-batches-bin
rc=0
run "$tmp/out8" env -u MOCO_CIFAR10_SRC MOCO_CIFAR10_URL="file://$tmp/fake.tar.gz" \
    "$SCRIPT" "$tmp/dl/b" || rc=$?
check "wrong archive refused" test $rc -ne 0
check "says md5 mismatch: $(cat "$tmp/out8")" grep -q "expected c32a1d4ab5d03f1284b67883e8d87530" "$tmp/out8"
check "no DEST after md5 failure" test ! -e "$tmp/dl/b"
check "no temp folder left after md5 failure" test -z "$(find "$tmp/dl" -name '.get-cifar10.*')"

# 8. Usage errors.
rc=0; run "$tmp/out9" "$SCRIPT" a b c || rc=$?
check "too many arguments refused" test $rc -ne 0
check "script is executable" test -x "$SCRIPT"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
