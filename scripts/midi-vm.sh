#!/usr/bin/env bash
# The MIDI rig: a Debian amd64 VM with real ALSA kernel devices, a real
# software synth and takebox's three programs, sampling a synth unattended.
#
#   scripts/midi-vm.sh build     the VM's root file system and kernel (cached)
#   scripts/midi-vm.sh up RUN    boot it with RUN shared at /rig; prints the
#                                forwarded ports into RUN/ports (127.0.0.1 only)
#   scripts/midi-vm.sh down RUN  power it off
#
# The root file system (mmdebstrap: the kernel, fluidsynth with a GM
# soundfont, alsa-utils) is cached under artifacts/midi-vm, keyed by its
# recipe, and built under a lock: tests running at once build it once. Each
# boot runs on a qcow2 overlay, so the cached image is never changed.
# In the VM, /sbin/rig-init mounts RUN (9p) at /rig and runs /rig/guest.sh
# (scripts/midi-vm-guest.sh): modules snd-seq, snd-aloop, snd-virmidi,
# fluidsynth from the ALSA sequencer into the loopback, takebox-capture
# recording the loopback's other end, takebox-control beside it.
#
# Environment: MIRROR (default http://deb.debian.org/debian), MIDI_VM_OUT
# (default artifacts/midi-vm), BOOT_TIMEOUT (s, default 300), MIDI_VM_SMP
# (CPUs, default 2), MIDI_VM_KVM=1, MIDI_VM_QEMU_OPTS (more qemu options).
set -euo pipefail
cd "$(dirname "$0")/.."
MIRROR=${MIRROR:-http://deb.debian.org/debian}
out=$(mkdir -p "${MIDI_VM_OUT:-artifacts/midi-vm}" && cd "${MIDI_VM_OUT:-artifacts/midi-vm}" && pwd)
say() { echo "midi-vm: $*" >&2; }

packages=(kmod iproute2 procps linux-image-amd64 initramfs-tools
  fluidsynth timgm6mb-soundfont alsa-utils libasound2)
# PID 1 of the VM: the rest of the boot comes from the shared folder, so the
# cached image does not change with the rig's scripts.
rig_init='#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
modprobe 9pnet_virtio; modprobe 9p
mkdir -p /rig && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 rig /rig
exec /bin/bash /rig/guest.sh'

build() {
  local recipe key base=$out/root.img
  recipe="bookworm amd64 $MIRROR ${packages[*]} $rig_init $(date -u +%G-W%V)"
  key=$(printf '%s' "$recipe" | sha256sum | cut -c 1-16)
  exec 9>"$out/.lock"
  flock 9
  if [[ -f $base && $(cat "$base.key" 2>/dev/null) == "$key" ]]; then
    say "root file system from cache: $base"
    return
  fi
  say "mmdebstrap bookworm amd64 (a few minutes)"
  local start=$SECONDS work=$out/work
  rm -rf "$work" "$base" "$base.key"
  mkdir -p "$work"
  mmdebstrap --mode=root --variant=minbase --architectures=amd64 \
    --include="$(IFS=,; echo "${packages[*]}")" \
    --aptopt='Acquire::Retries "3"' --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$work/root.tar" "$MIRROR"
  mkdir "$work/root"
  tar -C "$work/root" --numeric-owner -xpf "$work/root.tar"
  printf '%s\n' "$rig_init" >"$work/root/sbin/rig-init"
  chmod 0755 "$work/root/sbin/rig-init"
  cp "$(ls "$work"/root/boot/vmlinuz-* | head -1)" "$out/vmlinuz"
  cp "$(ls "$work"/root/boot/initrd.img-* | head -1)" "$out/initrd.img"
  local mb=$(($(du -sm "$work/root" | cut -f1) + 400))
  mke2fs -q -t ext4 -L rigroot -d "$work/root" "$base.part" "${mb}M"
  mv "$base.part" "$base"
  echo "$key" >"$base.key"
  rm -rf "$work"
  say "root file system built in $((SECONDS - start)) s"
}

. scripts/free-port.sh

up() {
  local run=${1:?usage: midi-vm.sh up RUN}
  run=$(cd "$run" && pwd)
  build
  qemu-img create -q -f qcow2 -b "$out/root.img" -F raw "$run/overlay.qcow2"
  local p_ctl p_cap accel=(-accel tcg -cpu max)
  p_ctl=$(free_port) p_cap=$(free_port)
  # TCG as image/test.sh; MIDI_VM_KVM=1 uses KVM where it works (a nested
  # KVM refuses the arch-capabilities MSR, so the CPU goes without it).
  [[ ${MIDI_VM_KVM:-0} == 1 ]] && accel=(-accel kvm -cpu max,-arch-capabilities)
  # MIDI_VM_QEMU_OPTS: more options for a measurement (-icount shift=auto, say).
  local extra
  read -r -a extra <<<"${MIDI_VM_QEMU_OPTS:-}"
  qemu-system-x86_64 -M q35 "${accel[@]}" -m 1024 -smp "${MIDI_VM_SMP:-2}" \
    -display none -monitor none -serial "file:$run/console.log" \
    -kernel "$out/vmlinuz" -initrd "$out/initrd.img" \
    -append "root=/dev/vda rw rootwait init=/sbin/rig-init console=ttyS0 quiet nohz=off" \
    -drive "file=$run/overlay.qcow2,format=qcow2,if=virtio" \
    -virtfs "local,path=$run,mount_tag=rig,security_model=none" \
    -netdev "user,id=n,restrict=on,hostfwd=tcp:127.0.0.1:$p_ctl-:5000,hostfwd=tcp:127.0.0.1:$p_cap-:5001" \
    -device virtio-net-pci,netdev=n "${extra[@]}" &
  echo "$!" >"$run/qemu.pid"
  printf 'control=%s\ncapture=%s\n' "$p_ctl" "$p_cap" >"$run/ports"
  say "booting (qemu $(cat "$run/qemu.pid"), ${accel[*]}); control on 127.0.0.1:$p_ctl"
}

down() {
  local run=${1:?usage: midi-vm.sh down RUN} pid
  pid=$(cat "$run/qemu.pid" 2>/dev/null) || return 0
  touch "$run/stop"
  # The guest powers off once it sees the stop file; then qemu ends.
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill "$pid" 2>/dev/null || true
}

case ${1:-} in
  build) build ;;
  up) up "${2:-}" ;;
  down) down "${2:-}" ;;
  *) echo "usage: scripts/midi-vm.sh build | up RUN | down RUN" >&2; exit 2 ;;
esac
