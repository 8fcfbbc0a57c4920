#!/usr/bin/env bash
# Boot the image and check it end to end (make image-test / image-test-amd64).
#
#   image/test.sh ARCH OUT
#
# Boots OUT/takebox-ARCH.img under qemu (TCG) with a second disk, an NVMe
# drive labelled "takebox" (the recordings drive), and a third, read-only
# "tbkit" disk holding takebox-capture and `make install`'s files for ARCH
# (KIT_BIN_DIR). Ports are forwarded from 127.0.0.1 only (restrict=on keeps
# the guest off every other address). Then, from the host:
#   - times power-on to SSH, to the share answering over SMB, to the page
#     (when the image has takebox-control);
#   - over SSH with the key given at first boot: first boot's results, the
#     read-only root, the drive mounted by udev/systemd after fsck;
#   - installs takebox-capture in the VM with scripts/install.sh (the VM plays
#     the recording computer: the share is CIFS-mounted over the VM's own
#     loopback by the mount unit make install writes), records a take from
#     snd-dummy (or snd-aloop) through the API (port-forwarded), and reads the WAV back over
#     SMB from the host, checking its SHA-256 against the confirmation.
#   - the board starts through Debian's mainline U-Boot for qemu running the
#     image's A/B boot script (slot A, its kernel from the slot, RAUC marks it
#     good); then, unless AB=0, the A/B update scenarios of image/ab-scenarios.sh
#     (AB=cut: the power cut alone).
#     On arm64 the same boot.scr also runs first with the board's variables
#     (image/uboot-board.py: the VIM3's device tree from the slot).
# The image itself is not modified: the test works on a sparse copy.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: image/test.sh arm64|amd64 OUT}
out=$(cd "${2:?OUT}" && pwd)
KIT_BIN_DIR=${KIT_BIN_DIR:?KIT_BIN_DIR: folder with takebox-capture for $arch}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-400}
img=$out/takebox-$arch.img
[[ -f $img ]] || { echo "image/test.sh: build $img first (make image)" >&2; exit 1; }

run=$out/test-$arch
rm -rf "$run"
mkdir -p "$run/first" "$run/kit/bin"
say() { echo "image/test.sh: $*"; }
fail() { echo "image/test.sh: FAIL: $*" >&2; echo "--- console (last 60 lines) ---" >&2; tail -n 60 "$run/console.log" >&2 || true; exit 1; }

# The board's own path through the same boot.scr, which qemu's U-Boot (no
# fdtfile) never takes: the VIM3's device tree loaded from the slot. Seconds.
if [[ $arch == arm64 ]]; then
  image/uboot-board.py "$img" amlogic/meson-g12b-a311d-khadas-vim3.dtb || fail "the boot script's board path"
fi

admin_pw=admin-$RANDOM$RANDOM
smb_pw=share-$RANDOM$RANDOM

# The card as a user prepares it: a copy of the image, files on the boot partition.
cp --sparse=always "$img" "$run/disk.img"
ssh-keygen -q -t ed25519 -N '' -C takebox-image-test -f "$run/id"
echo takebox-test >"$run/first/hostname"
cp "$run/id.pub" "$run/first/authorized_keys"
echo "$admin_pw" >"$run/first/password"
echo "$smb_pw" >"$run/first/smb-password"
mcopy -o -i "$run/disk.img@@16M" "$run/first/"* ::/takebox/

# The recordings drive: a fresh ext4 labelled takebox, nothing else on it.
truncate -s 512M "$run/data.img"
mke2fs -q -t ext4 -L takebox "$run/data.img"
# Two sticks that must be ignored: one labelled like the drive, one like the
# board's /var (without the first-boot stamp, which would run first boot again).
truncate -s 32M "$run/stick-drive.img" "$run/stick-var.img"
mke2fs -q -t ext4 -L takebox "$run/stick-drive.img"
mke2fs -q -t ext4 -L takebox-var "$run/stick-var.img"

# The kit: what `make install` needs, built for this architecture.
# Stripped: a debug build carries some 50 MB of symbols the VM does not need.
strip_tool=strip
[[ $arch == arm64 ]] && strip_tool=aarch64-linux-gnu-strip
install -s --strip-program="$strip_tool" -m 0755 "$KIT_BIN_DIR/takebox-capture" "$run/kit/bin/takebox-capture"
mkdir -p "$run/kit/scripts" "$run/kit/examples/install"
cp scripts/install.sh "$run/kit/scripts/"
cp -r systemd "$run/kit/"
cp examples/install/recording-pc.json "$run/kit/examples/install/"
cp README.md "$run/kit/"
# The A/B scenarios' bundles travel on the kit (AB=0 leaves them out).
. image/ab-scenarios.sh
[[ ${AB:-1} != 0 ]] && ab_bundles "$run/kit/bundles"
kit_mb=$(($(du -sm "$run/kit" | cut -f1) * 2 + 16))
mke2fs -q -t ext4 -L tbkit -d "$run/kit" "$run/kit.ext4" "${kit_mb}M"

. scripts/free-port.sh
p_http=$(free_port) p_cap=$(free_port) p_smb=$(free_port) p_ssh=$(free_port)
fwd="hostfwd=tcp:127.0.0.1:$p_http-:5000,hostfwd=tcp:127.0.0.1:$p_cap-:5001"
fwd+=",hostfwd=tcp:127.0.0.1:$p_smb-:445,hostfwd=tcp:127.0.0.1:$p_ssh-:22"

# Mainline U-Boot (Debian's u-boot-qemu) runs the image's boot script, as the
# board's does: slot choice, tries, and the kernel loaded from the slot.
# amd64 needs the 32-bit qemu-x86 build (the 64-bit one cannot start Linux).
case $arch in
  arm64) qemu=(qemu-system-aarch64 -M virt -cpu cortex-a57 -bios /usr/lib/u-boot/qemu_arm64/u-boot.bin) ;;
  amd64) qemu=(qemu-system-x86_64 -M pc -cpu max -bios /usr/lib/u-boot/qemu-x86/u-boot.rom) ;;
esac
qemu+=(-accel tcg -m 1024 -smp "${SMP:-2}" -display none -monitor none
  -chardev "file,id=con,path=$run/console.log,append=on" -serial chardev:con
  -drive "file=$run/disk.img,format=raw,if=virtio"
  -drive "file=$run/kit.ext4,format=raw,if=virtio,readonly=on"
  -drive "file=$run/data.img,format=raw,if=none,id=nvm" -device nvme,serial=takebox-data,drive=nvm
  -drive "file=$run/stick-drive.img,format=raw,if=virtio"
  -drive "file=$run/stick-var.img,format=raw,if=virtio"
  -netdev "user,id=n,restrict=on,$fwd" -device virtio-net-pci,netdev=n)

# Power on (again): the same disks, one console log for every boot.
power_on() {
  start_ms=$(date +%s%3N)
  "${qemu[@]}" &
  qemu_pid=$!
}
power_on
trap 'kill "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true' EXIT
elapsed_ms() { echo $(($(date +%s%3N) - start_ms)); }
since() { local d; d=$(elapsed_ms); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }

# Wait for a condition, up to the boot timeout; print the seconds since power-on.
wait_for() { # WHAT CMD...
  local what=$1
  shift
  while ! "$@" >/dev/null 2>&1; do
    kill -0 "$qemu_pid" 2>/dev/null || fail "qemu exited while waiting for $what"
    (($(elapsed_ms) / 1000 < BOOT_TIMEOUT)) || fail "no $what after ${BOOT_TIMEOUT}s"
    sleep 0.5
  done
  since
}
ssh_banner() { timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p_ssh; head -c 7 <&3" | grep -q '^SSH-2.0'; }
smb_ls() { timeout 40 smbclient "//127.0.0.1/takebox" -p "$p_smb" -t 30 -U "recorder%$smb_pw" -c ls; }
page() { curl -fsS -m 5 "http://127.0.0.1:$p_http/" -o /dev/null; }

t_ssh=$(wait_for "SSH" ssh_banner)
say "power-on to SSH: ${t_ssh} s"
t_smb=$(wait_for "the share over SMB" smb_ls)
say "power-on to the share answering (SMB ls as recorder): ${t_smb} s"

ssh_opts=(-i "$run/id" -p "$p_ssh" -o StrictHostKeyChecking=accept-new
  -o UserKnownHostsFile="$run/known_hosts" -o ConnectTimeout=30 -o BatchMode=yes)
# A root shell on the VM: admin's key, then sudo with the password from first boot.
as_root() { # SCRIPT on stdin
  { echo "$admin_pw"; cat; } | ssh "${ssh_opts[@]}" admin@127.0.0.1 "sudo -S -k -p '' sh -s"
}

t_page=
if as_root <<<'test -x /usr/bin/takebox-control'; then
  t_page=$(wait_for "the page" page)
  say "power-on to the page (takebox-control :5000): ${t_page} s"
else
  say "this image has no takebox-control (not on this branch's build): no page to time"
fi

say "checking the running system"
as_root <<'VM' || fail "system checks"
set -eu
check() { printf '  %-52s' "$1"; shift; if out=$("$@" 2>&1); then echo "ok  ${out%%$'\n'*}"; else echo "FAILED: $out"; exit 1; fi; }
state=$(systemctl is-system-running --wait || true)
echo "  system state: $state"
systemctl --failed --no-legend --plain | sed 's/^/  failed unit: /'
check "no failed units" sh -c 'test -z "$(systemctl --failed --no-legend --plain)"'
check "first boot done" test -e /var/lib/takebox/first-boot.done
check "hostname from the boot partition" sh -c 'test "$(hostname)" = takebox-test && hostname'
check "password file removed after use" sh -c '! test -e /boot/firmware/takebox/password'
check "root file system read-only" sh -c 'findmnt -no OPTIONS / | grep -q "^ro," && findmnt -no SOURCE,OPTIONS /'
check "/var writable on its own partition" findmnt -no SOURCE,FSTYPE /var
check "drive mounted by udev+systemd at /srv/takebox" sh -c 'findmnt -no SOURCE,FSTYPE,OPTIONS /srv/takebox | grep "^/dev/nvme0n1 ext4"'
check "fsck ran before the mount" sh -c 'systemctl show -P Result "systemd-fsck@dev-takebox\x2ddrive.service" | grep -x success'
check "a stick labelled takebox is not the drive" sh -c 'test "$(readlink -f /dev/takebox-drive)" = /dev/nvme0n1 && readlink -f /dev/disk/by-label/takebox-var /dev/disk/by-label/takebox | tr "\n" " "'
check "/var and / (slot A) from the board's own partitions" sh -c 'findmnt -no SOURCE /var | grep -x /dev/vda4 && findmnt -no SOURCE / | grep -x /dev/vda2'
check "booted slot A by the boot script, kernel from the slot" sh -c 'grep -o "rauc.slot=A" /proc/cmdline && cmp /boot/vmlinuz "/boot/vmlinuz-$(uname -r)"'
check "RAUC sees slot A booted, marked good" sh -c 'systemctl is-active takebox-mark-good.service >/dev/null && rauc status --output-format=shell | grep -x "RAUC_SYSTEM_BOOTED_BOOTNAME=.A." && grep -a "^BOOT_A_LEFT=3" /boot/firmware/abstate.txt'
check "partitions mounted by UUID, /var nofail" sh -c '! grep -q "^LABEL=" /etc/fstab && grep -E "^UUID=.* /var .*nofail" /etc/fstab | cut -c 1-50'
check "first boot ran once, after its mounts" sh -c 'test "$(journalctl -b -u takebox-firstboot -o cat | grep -c "takebox-firstboot: done")" = 1 && systemctl show -P RequiresMountsFor takebox-firstboot.service'
check "SSH takes keys only" sh -c 'sshd -T | grep -x "passwordauthentication no"'
check "apt sees bookworm-security and -updates" sh -c 'grep -h "^deb " /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -c -e bookworm-security -e bookworm-updates | grep -x 2'
check "the board serves NTP to the LAN (chrony)" sh -c 'systemctl is-active chrony.service >/dev/null && ss -Hlun "sport = :123" | grep -q . && grep -h "^allow 192.168.0.0/16" /etc/chrony/conf.d/takebox.conf'
check "takebox-control logs to the journal (bounded)" sh -c '! test -e /var/log/takebox/takebox-control.log && grep -h SystemMaxUse /etc/systemd/journald.conf.d/*.conf'
check "share folder and marker on the drive" stat -c '%U %a %n' /srv/takebox/recordings/.takebox-share
check "takebox, recorder, gpio at their fixed ids" sh -c 'test "$(id -u takebox) $(id -u recorder) $(getent group gpio | cut -d : -f 3)" = "900 901 902" && id takebox'
check "smbd active" systemctl is-active smbd.service
check "nmbd masked" sh -c 'systemctl is-enabled nmbd.service | grep -x masked'
check "SSH host keys made on this boot" sh -c 'test /etc/ssh/ssh_host_ed25519_key -nt /usr/bin/ssh-keygen && ls /etc/ssh/ssh_host_ed25519_key'
if test -x /usr/bin/takebox-control; then
  check "takebox-control active (Type=notify)" systemctl is-active takebox-control.service
fi
VM

if [[ -n $t_page ]]; then
  # The settings page saves on the read-only root's board: through its
  # writable copy on /var (takebox-control.tmpfiles), as the engineer would.
  # Settings need the page password first boot made (takebox.env); Start does not.
  pw=$(as_root <<<"sed -n 's/^TAKEBOX_PAGE_PASSWORD=//p' /etc/takebox/takebox.env") jar=$(mktemp)
  post() { curl -sS -m 10 -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" -H "Origin: http://127.0.0.1:$p_http" --data "$2" "http://127.0.0.1:$p_http$1"; }
  [[ -n $pw && $(post /settings countdown_duration=3.5) == 401 && $(post /login "password=$pw") == 303 ]] ||
    fail "the page's Settings without the page password: not refused, or the login failed"
  code=$(post /settings countdown_duration=3.5) || code=none
  [[ $code == 303 ]] || fail "saving settings on the page: HTTP $code (expected 303)"
  as_root <<<'grep -q "\"countdown_duration\": 3.5" /var/lib/takebox/config.json' ||
    fail "the page answered 303 but /var/lib/takebox/config.json does not hold the new value"
  say "settings saved from the page into /var/lib/takebox/config.json"
fi

say "installing takebox-capture in the VM (it plays the recording computer)"
as_root <<VM || fail "make install in the VM"
set -eu
# A real-time ALSA device without a sound card: snd-dummy (amd64's kernel) or,
# where Debian's kernel lacks it (arm64), snd-aloop's capture side (silence).
if modprobe snd-dummy 2>/dev/null; then dev=hw:CARD=Dummy; else modprobe snd-aloop; dev=hw:CARD=Loopback,DEV=1; fi
echo "  capture device: \$dev"
mkdir -p /run/kit
mount -o ro LABEL=tbkit /run/kit
# The image's root is read-only; this throwaway copy is opened up to install.
mount -o remount,rw /
cd /run/kit
# The board's own config is /etc/takebox; the recording computer's goes beside it.
SHARE=//127.0.0.1/takebox SHARE_USER=recorder SHARE_PASSWORD='$smb_pw' PREFIX=/usr/local \
  BINDIR_SRC=/run/kit/bin CONFDIR=/etc/takebox-capture \
  scripts/install.sh install | sed 's/^/  /'
# snd-dummy, with long periods: an emulated CPU shared with other jobs stalls.
sed -i 's|"device": "[^"]*"|"device": "'\$dev'"|; s|"sample_format": "s24"|"sample_format": "s16",\n        "period_frames": 8192|' /etc/takebox-capture/config.json
mount -o remount,ro / || true
# The board's users file is its own, beside the recording computer's.
cmp /run/kit/systemd/takebox-board.sysusers /usr/lib/sysusers.d/takebox-board.conf
test -f /usr/lib/sysusers.d/takebox-capture.conf
echo "  sysusers.d: the board's takebox-board.conf kept beside takebox-capture.conf"
systemctl start mnt-takebox.mount
findmnt -no SOURCE,FSTYPE /mnt/takebox | sed 's/^/  CIFS mount: /'
systemctl start takebox-capture.service || { journalctl -b -u takebox-capture --no-pager | tail -n 30; exit 1; }
systemctl is-active takebox-capture.service | sed 's/^/  takebox-capture: /'
systemd-analyze security takebox-capture.service | tail -n 1 | sed 's/^/  /'
if test -f /etc/systemd/system/takebox-control.service; then
  systemd-analyze security takebox-control.service | tail -n 1 | sed 's/^/  /'
fi
VM
token=$(as_root <<<"sed -n 's/.*\"token\": \"\\([0-9a-f]*\\)\".*/\\1/p' /etc/takebox-capture/config.json")
[[ -n $token ]] || fail "no token in the VM's config"

# Wait until the recorder is ready (device running, clock established, the
# pre-roll's worth of history held), then record a take through the forwarded API.
cap_ready() { curl -fsS -m 5 "http://127.0.0.1:$p_cap/v1/status" | grep -q '"ready":true'; }
wait_for "capture ready" cap_ready >/dev/null
# Under TCG on a loaded host the dummy card can overrun; such a take is
# reported failed (never passed as good): say so and record another.
for attempt in 1 2 3; do
  take='{"take_id":"image-test-'$attempt'","session_id":"imagetest","instrument":"guitar","note":"A4","frequency":440.0,"articulation":"long","duration":1.0}'
  conf=$(curl -sS -m 60 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "$take" "http://127.0.0.1:$p_cap/v1/takes") || fail "POST /v1/takes"
  say "confirmation: $conf"
  grep -q '"state":"delivered"' <<<"$conf" && break
  grep -q '"xruns":[1-9]' <<<"$conf" || fail "the take was not delivered: $conf"
  say "take $attempt lost audio to an overrun in the emulated machine: recording another"
done
grep -q '"state":"delivered"' <<<"$conf" || fail "no take delivered in 3 attempts"
path=$(sed -n 's/.*"path":"\([^"]*\)".*/\1/p' <<<"$conf")
sha=$(sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p' <<<"$conf")
[[ -n $path && -n $sha ]] || fail "no path or sha256 in $conf"
# On a sound card the capture thread runs at real-time priority, which the
# unit grants through LimitRTPRIO alone (no capability).
sched=$(as_root <<<'journalctl -b -u takebox-capture --no-pager -o cat | grep -m 1 "capture thread runs"' || true)
[[ $sched == *SCHED_FIFO* ]] || fail "no real-time priority for the capture thread on the VM's sound card: ${sched:-no log line}"
say "on the sound card: ${sched##*msg=}"

# From the host, over SMB, through the forward: the very bytes.
(cd "$run" && smbclient "//127.0.0.1/takebox" -p "$p_smb" -t 30 -U "recorder%$smb_pw" \
  -c "get \"$path\" take.wav") >/dev/null || fail "smbclient get $path"
got=$(sha256sum "$run/take.wav" | cut -d ' ' -f 1)
[[ $got == "$sha" ]] || fail "SHA-256 over SMB $got != confirmed $sha"
say "take $path read back over SMB from the host: SHA-256 matches ($(stat -c %s "$run/take.wav") bytes)"
as_root <<<"stat -c '  on the drive: %U:%G %a %s bytes %n' '/srv/takebox/recordings/$path'" || fail "the take is not on the drive"
refused=$(timeout 40 smbclient "//127.0.0.1/takebox" -p "$p_smb" -t 30 -N -c ls 2>&1 || true)
grep -q NT_STATUS_ <<<"$refused" || fail "a guest got in: $refused"
say "guest refused: $(tail -n 1 <<<"$refused")"

case ${AB:-1} in
  1) ab_run ;;
  cut) ab_power_cut ;; # scenario 3 alone, from slot A
esac

# Where the boot time goes, as the guest's systemd saw it: under TCG every
# stage is several times slower than on the board, so the split says more
# than the total does.
boot_split=$(as_root <<<'systemd-analyze time | head -n 1' || true)
say "boot, from the guest's systemd: $boot_split; what the page waited for:"
as_root <<<'systemd-analyze critical-chain --no-pager takebox-control.service | grep -e @ -e +' |
  head -n 8 | sed 's/^/  /' || true

as_root <<<'systemctl poweroff' >/dev/null 2>&1 || true
for _ in $(seq 120); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.5; done

# The copies served their purpose; the console log and the take stay.
rm -f "$run/disk.img" "$run/data.img" "$run/kit.ext4"
size=$(du -h --apparent-size "$img" | cut -f 1)
echo
echo "image-test $arch: PASS"
echo "  image:                 $img, $size ($(du -h "$img" | cut -f 1) allocated)"
echo "  power-on to SSH:       ${t_ssh} s"
echo "  power-on to SMB share: ${t_smb} s (first boot, qemu TCG, smp ${SMP:-2})"
echo "  power-on to the page:  ${t_page:-n/a (no takebox-control in this image)}${t_page:+ s}"
sed 's/^/  guest: /' <<<"$boot_split"
if [[ ${AB:-1} != 0 ]]; then
  echo "  A/B updates (qemu TCG; times from the command to the board settled):"
  echo "    bundles (slot file system $(du -h --apparent-size "$out/slot-$arch.ext4" | cut -f 1)): ${ab_sizes%, }"
  echo "    bundle install into the inactive slot: ${ab_install_s:-n/a}${ab_install_s:+ s}"
  printf '    %s\n' "${ab_report[@]}"
fi
