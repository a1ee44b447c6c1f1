#!/usr/bin/env bash
# Fetch CIFAR-10 (binary version) for the cifar10 dataset plugin.
#
#   scripts/get-cifar10.sh [DEST] [SRC]
#
# DEST defaults to ./data/cifar-10-batches-bin.
# If SRC (or $MOCO_CIFAR10_SRC) names a folder that already holds the six
# files with the right sizes, nothing is copied: DEST becomes a symlink to it.
# Otherwise the official archive is downloaded with curl or wget, its
# published md5 is checked, and it is extracted to DEST.
# Environment: MOCO_CIFAR10_SRC (as SRC), MOCO_CIFAR10_URL (a mirror of the
# same archive; the md5 is still checked).
# At the end it prints the line to point the INI's `path = ${MOCO_CIFAR10_DIR}` at DEST.
set -euo pipefail

URL=${MOCO_CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz}
MD5=c32a1d4ab5d03f1284b67883e8d87530
FILES=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin
       test_batch.bin)
SIZE=30730000 # 10000 records of 1 label byte + 3072 pixel bytes

die() {
    echo "get-cifar10.sh: $*" >&2
    exit 1
}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
[ $# -le 2 ] || die "too many arguments. HINT: scripts/get-cifar10.sh [DEST] [SRC]"

DEST=${1:-./data/cifar-10-batches-bin}
SRC=${2:-${MOCO_CIFAR10_SRC:-}}

file_size() { wc -c <"$1" | tr -d ' '; }

# check_dir DIR: prints nothing and succeeds when DIR has the six files of
# the right size, else prints why on stderr and fails.
check_dir() {
    local dir=$1 f size
    [ -d "$dir" ] || { echo "$dir: not a directory" >&2; return 1; }
    for f in "${FILES[@]}"; do
        [ -f "$dir/$f" ] || { echo "$dir/$f: missing" >&2; return 1; }
        size=$(file_size "$dir/$f")
        [ "$size" = "$SIZE" ] || {
            echo "$dir/$f: size $size bytes, expected $SIZE" >&2
            return 1
        }
    done
}

abs_path() { (cd "$1" && pwd -P); }

done_msg() {
    local dir
    # the path as given (a link stays a link), as run.sh exports it
    dir=$(cd "$1" && pwd)
    echo "CIFAR-10 ready in $dir"
    echo "Use it with:  export MOCO_CIFAR10_DIR=$dir   (INI: path = \${MOCO_CIFAR10_DIR})"
}

# Already there?
if [ -e "$DEST" ] || [ -L "$DEST" ]; then
    if check_dir "$DEST" 2>/dev/null; then
        echo "$DEST already holds CIFAR-10; nothing to do."
        done_msg "$DEST"
        exit 0
    fi
    why=$(check_dir "$DEST" 2>&1 || true)
    die "$DEST exists but is not a complete CIFAR-10 folder ($why). HINT: remove it, or pass another DEST"
fi

mkdir -p "$(dirname "$DEST")"

# A local copy: link to it, copy nothing.
if [ -n "$SRC" ]; then
    why=$(check_dir "$SRC" 2>&1) ||
        die "source $SRC is not usable: $why. HINT: point MOCO_CIFAR10_SRC (or the second argument) at a cifar-10-batches-bin folder, or unset it to download"
    src_abs=$(abs_path "$SRC")
    ln -s "$src_abs" "$DEST"
    echo "Linked $DEST -> $src_abs (nothing copied)."
    done_msg "$DEST"
    exit 0
fi

# Download.
tmp=$(mktemp -d "$(dirname "$DEST")/.get-cifar10.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
archive=$tmp/cifar-10-binary.tar.gz
echo "Downloading $URL (about 163 MB) ..."
if command -v curl >/dev/null 2>&1; then
    curl -fL --retry 3 --connect-timeout 20 -o "$archive" "$URL" ||
        die "download of $URL failed (curl). HINT: check the network or proxy, set MOCO_CIFAR10_URL to a mirror, or set MOCO_CIFAR10_SRC to a local copy"
elif command -v wget >/dev/null 2>&1; then
    wget -O "$archive" "$URL" ||
        die "download of $URL failed (wget). HINT: check the network or proxy, set MOCO_CIFAR10_URL to a mirror, or set MOCO_CIFAR10_SRC to a local copy"
else
    die "neither curl nor wget found. HINT: install one of them, or set MOCO_CIFAR10_SRC to a local copy"
fi

if command -v md5sum >/dev/null 2>&1; then
    got=$(md5sum "$archive" | cut -d' ' -f1)
elif command -v md5 >/dev/null 2>&1; then
    got=$(md5 -q "$archive")
else
    die "no md5sum or md5 to verify the archive. HINT: install coreutils"
fi
[ "$got" = "$MD5" ] ||
    die "$URL: md5 $got, expected $MD5 (corrupt or different file). HINT: download again, or use another mirror via MOCO_CIFAR10_URL"

tar -xzf "$archive" -C "$tmp" || die "$archive: extraction failed. HINT: check free disk space (about 180 MB needed)"
why=$(check_dir "$tmp/cifar-10-batches-bin" 2>&1) ||
    die "the archive does not hold the expected files: $why. HINT: report this; the archive layout changed"
mv "$tmp/cifar-10-batches-bin" "$DEST"
check_dir "$DEST" || die "$DEST: verification after the move failed"
done_msg "$DEST"
