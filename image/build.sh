#!/usr/bin/env bash
# Build the board's disk image: a Debian bookworm root file system made by
# mmdebstrap, takebox's files laid over it on the host (no chroot, no loop
# mounts), then partitions made as files and put together with sfdisk and dd.
#
#   image/build.sh ARCH OUT
#
#   ARCH      arm64 (the board, Khadas VIM3/VIM3L) or amd64 (the quick variant
#             that the tests boot; the same recipe)
#   OUT       output folder: takebox-ARCH.img, slot-ARCH.ext4 (the root slot's
#             file system, what `make bundle` packs), the cached root file
#             system rootfs-ARCH.tar, and what later builds of the same board
#             must reuse: board-ARCH.env (partition ids) and keys/ (the
#             development signing key, never committed; README, "Updates")
#
# Environment:
#   BIN_DIR   built takebox binaries for ARCH (takebox-control goes into the
#             image when it is there; it is reported when it is not)
#   UBOOT     the signed u-boot.bin.sd.bin for the board (arm64; never fetched,
#             see README "Deployment"); without it the image has no bootloader
#   MIRROR    Debian mirror (default http://deb.debian.org/debian)
#   SECURITY  Debian security mirror (default http://security.debian.org/debian-security)
#   VERSION   the image's version (default: git describe and the build time)
#   RAUC_CERT the certificate bundles are checked against (default: the
#             development one in OUT/keys, made on the first build)
#
# Layout (MBR; the first partition at 16 MiB, where Khadas's images start):
#   1  FAT32  TAKEBOOT       boot.scr, abstate.txt (slot tries), takebox/
#   2  ext4   takebox-root   slot A: the system with its kernel in /boot, read-only
#   3  ext4   takebox-root   slot B: the same size, written by updates
#   4  ext4   takebox-var    /var: logs, journal, Samba's state, takebox's state
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

arch=${1:?usage: image/build.sh arm64|amd64 OUT}
out=$(mkdir -p "${2:?usage: image/build.sh ARCH OUT}" && cd "$2" && pwd)
BIN_DIR=${BIN_DIR:-}
UBOOT=${UBOOT:-}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://security.debian.org/debian-security}
suite=bookworm
# The image gets the point release, its updates and its security fixes, and
# apt on the board sees all three.
sources=("deb $MIRROR $suite main" "deb $MIRROR $suite-updates main"
  "deb $SECURITY $suite-security main")
say() { echo "image/build.sh: $*"; }
loud() { printf '\n!!!!!!!!\n!!! image/build.sh: %s\n!!!!!!!!\n\n' "$*" >&2; }

case $arch in
  arm64) kernel_pkg=linux-image-arm64 ;;
  amd64) kernel_pkg=linux-image-amd64 ;;
  *) echo "image/build.sh: ARCH must be arm64 or amd64, not $arch" >&2; exit 2 ;;
esac

packages=(
  systemd-sysv udev kmod iproute2 procps util-linux e2fsprogs dosfstools
  "$kernel_pkg" initramfs-tools
  chrony systemd-resolved dbus
  openssh-server sudo
  samba cifs-utils gpiod
  libasound2 fdisk nano
  rauc curl
)
# Docs, manuals and translations are not needed on an appliance.
dpkgopts=(
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
)

# ---- 1. the root file system (slow for arm64: cached by its recipe) ----
# The ISO week is part of the recipe: a cached root is never more than a
# week behind the security archive.
recipe="$suite $arch ${sources[*]} ${packages[*]} ${dpkgopts[*]} $(date -u +%G-W%V)"
key=$(printf '%s' "$recipe" | sha256sum | cut -c 1-16)
tarball=$out/rootfs-$arch.tar
if [[ -f $tarball && $(cat "$tarball.key" 2>/dev/null) == "$key" ]]; then
  say "root file system from cache: $tarball"
else
  if [[ $arch != "$(dpkg --print-architecture)" ]]; then
    # Foreign maintainer scripts run under qemu-user through binfmt_misc.
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable "qemu-$( [[ $arch == arm64 ]] && echo aarch64 || echo "$arch")" 2>/dev/null || true
    arch-test "$arch" >/dev/null || { echo "image/build.sh: cannot run $arch binaries (binfmt_misc)" >&2; exit 1; }
  fi
  say "mmdebstrap $suite $arch (arm64 takes 16 to 37 minutes under qemu-user)"
  start=$SECONDS
  rm -f "$tarball" "$tarball.key"
  mmdebstrap --mode=root --variant=minbase --architectures="$arch" \
    --include="$(IFS=,; echo "${packages[*]}")" "${dpkgopts[@]}" \
    --aptopt='Acquire::Retries "3"' \
    "$suite" "$out/rootfs-$arch.part.tar" "${sources[@]}"
  mv "$out/rootfs-$arch.part.tar" "$tarball"
  echo "$key" >"$tarball.key"
  say "root file system built in $((SECONDS - start)) s"
fi

# ---- 2. takebox's files, laid over it on the host ----
work=$out/work-$arch
rm -rf "$work"
mkdir -p "$work"
root=$work/root
mkdir "$root"
tar -C "$root" --numeric-owner -xpf "$tarball"

inst() { install -D -m "$1" "$2" "$root$3"; }
cp -a image/overlay/. "$root/"
chown -R 0:0 "$root/etc/systemd" "$root/etc/chrony" "$root/usr/lib/takebox"

inst 0644 udev/70-takebox.rules /etc/udev/rules.d/70-takebox.rules
inst 0644 samba/smb.conf /etc/samba/smb.conf
inst 0644 systemd/srv-takebox.mount /etc/systemd/system/srv-takebox.mount
inst 0644 systemd/takebox-share.service /etc/systemd/system/takebox-share.service
# takebox-board.conf: read before make install's takebox-capture.conf where
# one machine is both, so the fixed ids win (scripts/install.sh).
inst 0644 systemd/takebox-board.sysusers /usr/lib/sysusers.d/takebox-board.conf
inst 0644 README.md /usr/share/doc/takebox/README.md
systemd-sysusers --root="$root"
useradd --root "$root" --create-home --shell /bin/bash --groups sudo,gpio \
  --comment "takebox administrator" --password '!' admin 2>/dev/null ||
  [[ $(grep -c '^admin:' "$root/etc/passwd") == 1 ]]

install -d -m 0750 -o 0 -g "$(awk -F: '$1=="takebox"{print $3}' "$root/etc/group")" "$root/etc/takebox"
install -m 0640 -o 0 -g "$(awk -F: '$1=="takebox"{print $3}' "$root/etc/group")" \
  examples/install/board.json "$root/etc/takebox/config.json"
install -m 0640 -o 0 -g "$(awk -F: '$1=="takebox"{print $3}' "$root/etc/group")" \
  examples/install/instruments.json "$root/etc/takebox/instruments.json"
install -d -m 0755 "$root/srv/takebox" "$root/mnt/takebox" "$root/boot/firmware"

control=false
if [[ -n $BIN_DIR && -x $BIN_DIR/takebox-control ]]; then
  inst 0755 "$BIN_DIR/takebox-control" /usr/bin/takebox-control
  inst 0644 systemd/takebox-control.service /etc/systemd/system/takebox-control.service
  inst 0644 systemd/takebox-control.tmpfiles /usr/lib/tmpfiles.d/takebox-control.conf
  control=true
else
  loud "no takebox-control in BIN_DIR=${BIN_DIR:-(unset)}: this image has no takebox page"
fi

# The board's own partitions by ids made on its first build and kept in
# board-ARCH.env, never by label: a USB stick labelled takebox-var or TAKEBOOT
# must not stand in for them. Later builds (update bundles) reuse the ids, so
# a new slot mounts the same /var.
# The slots are booted by PARTUUID (disk id and partition number): the
# board's U-Boot overwrites the MBR's disk id with its own bytes 440-443 (see
# below), so with UBOOT= those bytes are the disk id.
ids=$out/board-$arch.env
uboot_id=
[[ $arch == arm64 && -n $UBOOT ]] && uboot_id=$(od -An -j440 -N4 -tx4 "$UBOOT" | tr -d ' \n')
if [[ ! -f $ids ]]; then
  boot_id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n' | tr a-f A-F)
  printf 'disk_id=%s\nvar_uuid=%s\nboot_id=%s\n' "${uboot_id:-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')}" \
    "$(cat /proc/sys/kernel/random/uuid)" "$boot_id" >"$ids"
fi
. "$ids"
[[ -z $uboot_id || $uboot_id == "$disk_id" ]] ||
  { echo "image/build.sh: $ids has disk id $disk_id, but this UBOOT writes $uboot_id over it" >&2; exit 1; }
boot_uuid=${boot_id:0:4}-${boot_id:4:4}
# /var is nofail: a failed check leaves the board reachable over SSH (with
# /var's empty mount point) instead of in emergency mode with root locked.
# The root is whichever slot the boot script chose (root=PARTUUID=).
cat >"$root/etc/fstab" <<FSTAB
# takebox board. The root (slot A or B) is read-only; /var is the writable partition.
/dev/root                                   /               ext4   ro,noatime,errors=remount-ro                                     0 0
UUID=$var_uuid  /var            ext4   rw,noatime,nosuid,nodev,nofail,x-systemd.device-timeout=30s      0 2
UUID=$boot_uuid                             /boot/firmware  vfat   rw,noatime,nosuid,nodev,noexec,umask=0077,nofail                 0 2
tmpfs                                       /tmp            tmpfs  rw,nosuid,nodev,mode=1777,size=64m                               0 0
FSTAB
echo takebox >"$root/etc/hostname"
: >"$root/etc/machine-id"
rm -f "$root"/etc/ssh/ssh_host_*
install -d -m 2755 "$root/var/log/journal"

enable=(systemd-networkd.service systemd-resolved.service chrony.service
  takebox-firstboot.service smbd.service ssh.service)
$control && enable+=(takebox-control.service)
systemctl --root="$root" enable "${enable[@]}" >/dev/null
# nmbd: no NetBIOS; samba-ad-dc: not a domain controller; apt timers: read-only
# root; systemd-firstboot would ask questions on the console.
systemctl --root="$root" mask nmbd.service samba-ad-dc.service systemd-firstboot.service \
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service >/dev/null
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
# apt's lists and caches are not kept on the card.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin

# The kernel, initrd and device trees travel in the slot's /boot, where the
# boot script loads them: a kernel update is a slot update (issue 19, item 8).
kver=$(basename "$(ls -d "$root"/lib/modules/* | sort -V | tail -n 1)")
ln -f "$root/boot/vmlinuz-$kver" "$root/boot/vmlinuz"
ln -f "$root/boot/initrd.img-$kver" "$root/boot/initrd.img"
if [[ -d $root/usr/lib/linux-image-$kver/amlogic ]]; then
  mkdir -p "$root/boot/dtbs"
  cp -a "$root/usr/lib/linux-image-$kver/amlogic" "$root/boot/dtbs/"
fi

# Updates (RAUC): the slots, the boot-state handler, the key bundles are checked against.
version=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo unknown)-$(date -u +%Y%m%d%H%M)}
echo "$version" >"$root/usr/lib/takebox/version"
keys=$out/keys
if [[ -z ${RAUC_CERT:-} && ! -f $keys/dev.cert.pem ]]; then
  # The development key: made here once, kept out of the repo (README, "Updates").
  mkdir -p "$keys"
  openssl req -x509 -newkey rsa:4096 -nodes -days 3650 -subj "/O=takebox/CN=takebox development $(hostname)" \
    -keyout "$keys/dev.key.pem" -out "$keys/dev.cert.pem" 2>/dev/null
  chmod 0600 "$keys/dev.key.pem"
  loud "made a DEVELOPMENT signing key in $keys: every bundle it signs installs on this image"
fi
install -D -m 0644 "${RAUC_CERT:-$keys/dev.cert.pem}" "$root/etc/rauc/keyring.pem"
cat >"$root/etc/rauc/system.conf" <<RAUC
# RAUC on the takebox board (written by image/build.sh; README, "Updates").
[system]
compatible=takebox-$arch
bootloader=custom
mountprefix=/run/rauc
data-directory=/var/lib/rauc
bundle-formats=-plain

[handlers]
bootloader-custom-backend=/usr/lib/takebox/boot-state

[keyring]
path=/etc/rauc/keyring.pem

[slot.rootfs.0]
device=/dev/disk/by-partuuid/$disk_id-02
type=ext4
bootname=A

[slot.rootfs.1]
device=/dev/disk/by-partuuid/$disk_id-03
type=ext4
bootname=B
RAUC
install -d -m 0755 "$root/var/lib/rauc" "$root/var/lib/takebox-update"
systemctl --root="$root" enable takebox-mark-good.service takebox-update-request.path >/dev/null

# /var goes to its own partition; the root keeps an empty mount point.
mv "$root/var" "$work/var"
install -d -m 0755 "$root/var"

# ---- 3. partitions as files ----
fat=$work/boot.fat
fat_mb=64
mkfs.vfat -n TAKEBOOT -i "$boot_id" -F 32 -C "$fat" $((fat_mb * 1024)) >/dev/null
mmd -i "$fat" ::/takebox
# U-Boot's distro boot runs boot.scr from the bootable FAT partition.
image/bootscript.sh "$arch" "$disk_id" >"$work/boot.cmd"
mkimage -A "$([[ $arch == arm64 ]] && echo arm64 || echo x86)" -T script -C none \
  -n "takebox A/B" -d "$work/boot.cmd" "$work/boot.scr" >/dev/null
mcopy -i "$fat" "$work/boot.scr" ::/boot.scr
printf 'BOOT_A_LEFT=3\nBOOT_B_LEFT=0\nBOOT_ORDER=A B\n' >"$work/abstate.txt"
mcopy -i "$fat" "$work/abstate.txt" ::/abstate.txt
cat >"$work/takebox-README.txt" <<'TXT'
takebox first boot: put any of these files in this folder before the first boot.
  hostname         the board's name (default: takebox); it answers as NAME.local
  authorized_keys  SSH public keys for the user "admin"
  password         a password for "admin" (removed once used)
  smb-password     the password of the share login "recorder" (removed once used)
TXT
mcopy -i "$fat" "$work/takebox-README.txt" ::/takebox/README.txt

mb_of() { du -sm --apparent-size "$1" | cut -f 1; }
# The root's file system, sized to what it holds: RAUC writes and reads back
# every byte of it on an update, so room it does not need costs install time.
# Its files in ext4's 4 KiB blocks (each rounded up, hard links once, short
# symlinks inside their inode), an inode each and a quarter more, a 16 MiB
# journal and no blocks kept for root (it is read-only but for first boot and
# an update carrying the board's files into it, which 5% + 64 MiB leave room for).
# Room for a later, larger root is in the slot, not here.
root_blocks=$(find "$root" -printf '%i %y %s\n' |
  awk '!seen[$1]++ && ($2 != "l" || $3 >= 60) { b += int(($3 + 4095) / 4096) } END { print b }')
root_inodes=$(($(find "$root" | wc -l) * 5 / 4 + 4096))
journal_mb=16
root_mb=$((root_blocks / 256 * 105 / 100 + root_inodes / 4096 + journal_mb + 64))
# /var: 384 MiB for logs and state, and 1 GiB for one bundle uploaded on the
# page (Settings -> Update keeps 64 MiB free whatever the bundle).
var_mb=$(( $(mb_of "$work/var") + 384 + 1024 ))
# Both slots the same size, fixed on the board's first build with room for
# half as much again: later bundles must fit the slots already on the card.
if ! grep -q '^slot_mb=' "$ids"; then
  echo "slot_mb=$(( (root_mb * 3 / 2 + 127) / 128 * 128 ))" >>"$ids"
  . "$ids"
fi
((root_mb <= slot_mb)) || { echo "image/build.sh: the root needs $root_mb MiB, the slots have $slot_mb" >&2; exit 1; }
mke2fs -q -t ext4 -L takebox-root -b 4096 -m 0 -N "$root_inodes" -J size=$journal_mb -d "$root" "$work/root.ext4" "${root_mb}M"
root_free_mb=$(($(dumpe2fs -h "$work/root.ext4" 2>/dev/null | sed -n 's/^Free blocks: *//p') / 256))
say "root file system: $root_mb MiB, $((root_blocks / 256)) MiB of files, $root_free_mb MiB free, $root_inodes inodes; slots $slot_mb MiB"
mke2fs -q -t ext4 -L takebox-var -U "$var_uuid" -d "$work/var" "$work/var.ext4" "${var_mb}M"
rm -rf "$root" "$work/var" # disk space: only the partition files are needed now
# What `make bundle` packs: this slot's file system and its version.
mv "$work/root.ext4" "$out/slot-$arch.ext4"
echo "$version" >"$out/slot-$arch.version"

img=$out/takebox-$arch.img
first=16 # MiB
total=$((first + fat_mb + 2 * slot_mb + var_mb + 1))
rm -f "$img"
# Partitions are written straight into the image file, which stays sparse.
truncate -s "${total}M" "$img"
s() { echo $(($1 * 2048)); } # MiB -> sectors
sfdisk -q "$img" <<PART
label: dos
label-id: 0x$disk_id
start=$(s $first), size=$(s $fat_mb), type=c, bootable
start=$(s $((first + fat_mb))), size=$(s "$slot_mb"), type=83
start=$(s $((first + fat_mb + slot_mb))), size=$(s "$slot_mb"), type=83
start=$(s $((first + fat_mb + 2 * slot_mb))), size=$(s "$var_mb"), type=83
PART
dd if="$fat" of="$img" bs=1M seek=$first conv=notrunc,sparse status=none
dd if="$out/slot-$arch.ext4" of="$img" bs=1M seek=$((first + fat_mb)) conv=notrunc,sparse status=none
dd if="$work/var.ext4" of="$img" bs=1M seek=$((first + fat_mb + 2 * slot_mb)) conv=notrunc,sparse status=none

if [[ $arch == arm64 ]]; then
  if [[ -n $UBOOT ]]; then
    [[ -f $UBOOT ]] || { echo "image/build.sh: UBOOT=$UBOOT: no such file" >&2; exit 1; }
    # khadas.md: after the MBR's partition table, then the first 444 bytes.
    dd if="$UBOOT" of="$img" conv=notrunc bs=512 skip=1 seek=1 status=none
    dd if="$UBOOT" of="$img" conv=notrunc bs=1 count=444 status=none
    say "U-Boot from $UBOOT written"
  else
    loud "no UBOOT=u-boot.bin.sd.bin given: $img has NO BOOTLOADER (fine for qemu; the board will not boot it; see README, Deployment)"
  fi
fi
rm -rf "$work"
say "$img: $(du -h --apparent-size "$img" | cut -f 1) ($(du -h "$img" | cut -f 1) on disk), version $version, kernel $kver (in the slot), takebox-control: $control"
