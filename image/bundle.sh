#!/usr/bin/env bash
# Make a signed RAUC update bundle of the board's root slot (make bundle).
#
#   image/bundle.sh ARCH OUT [SLOT_EXT4 [VERSION]]
#
# Packs OUT/slot-ARCH.ext4 (image/build.sh's root slot; or SLOT_EXT4) with its
# version into OUT/takebox-ARCH-VERSION.raucb: a verity bundle (RAUC checks its
# signature and the image's SHA-256 before it writes a byte), signed with
# RAUC_KEY/RAUC_CERT, by default the development key made by image/build.sh.
# Prints the bundle's path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: image/bundle.sh arm64|amd64 OUT [SLOT_EXT4 [VERSION]]}
out=$(cd "${2:?OUT}" && pwd)
slot=${3:-$out/slot-$arch.ext4}
version=${4:-$(cat "$out/slot-$arch.version")}
key=${RAUC_KEY:-$out/keys/dev.key.pem}
cert=${RAUC_CERT:-$out/keys/dev.cert.pem}
[[ -f $slot && -f $key && -f $cert ]] || { echo "image/bundle.sh: build the image first (make image)" >&2; exit 1; }
# A slot built for another card (another board-ARCH.env) would not mount
# that card's /var and be rolled back: refuse it here instead.
ids=$out/board-$arch.env
[[ -f $ids ]] || { echo "image/bundle.sh: no $ids: bundles are built with the card's ids (README, Updates)" >&2; exit 1; }
var_uuid=$(sed -n 's/^var_uuid=//p' "$ids")
debugfs -R 'cat /etc/fstab' "$slot" 2>/dev/null | grep -q "^UUID=$var_uuid " ||
  { echo "image/bundle.sh: $slot does not mount /var $var_uuid of $ids: built for another card" >&2; exit 1; }

dir=$(mktemp -d "$out/bundle.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/content"
# A hard link when it can: the slot's file system is some hundreds of MB.
ln "$slot" "$dir/content/rootfs.ext4" 2>/dev/null || cp --sparse=always "$slot" "$dir/content/rootfs.ext4"
cat >"$dir/content/manifest.raucm" <<MF
[update]
compatible=takebox-$arch
version=$version

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
MF
bundle=$out/takebox-$arch-$version.raucb
rm -f "$bundle"
start=$SECONDS
# zstd: several times quicker to pack than the default gzip, as small, and
# read by Debian's kernels (SQUASHFS_ZSTD).
rauc bundle --mksquashfs-args="-comp zstd -Xcompression-level 6" --cert="$cert" --key="$key" "$dir/content" "$bundle" >"$dir/rauc.log" 2>&1 ||
  { cat "$dir/rauc.log" >&2; exit 1; }
echo "image/bundle.sh: $version: $(du -h "$bundle" | cut -f 1) in $((SECONDS - start)) s (slot file system $(du -h --apparent-size "$slot" | cut -f 1))"
echo "$bundle"
