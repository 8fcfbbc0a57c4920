#!/bin/bash
# The MIDI rig's VM after the kernel (run by /sbin/rig-init, see
# scripts/midi-vm.sh): real ALSA devices, fluidsynth playing from the
# sequencer into snd-aloop, takebox-capture recording the loopback's other
# end, takebox-control driving it. /rig is the host's run folder: binaries,
# config.json and instruments.json in, share, logs and guest.log out.
# Ends (powering off) when the host creates /rig/stop.
exec >/rig/guest.log 2>&1
set -u
say() { echo "guest: $(date +%T.%3N) $*"; }
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
export HOME=/tmp PATH=/usr/sbin:/usr/bin:/sbin:/bin
# The rig's knobs (tests/midi_vm.rs writes MIDI_VM_GUEST_<NAME>=... from its
# environment as <NAME>=... here): fluidsynth's period size and count, its
# device, polyphony and priority, snd-aloop's options.
[ -f /rig/rig.env ] && . /rig/rig.env
say "rig: PERIOD=${PERIOD:-256} PERIODS=${PERIODS:-64} DEVICE=${DEVICE:-hw:Loopback,0,0} POLYPHONY=${POLYPHONY:-256} PRIO=${PRIO:-60} ALOOP=${ALOOP:-}"

# No udev here: the network card's and the sound modules are loaded by name.
modprobe virtio_net
ip link set lo up
# The card's name comes from the kernel once the driver has probed it.
for _ in $(seq 100); do
  nic=$(ls /sys/class/net | grep -vx lo | head -1)
  [ -n "$nic" ] && break
  sleep 0.1
done
ip link set "$nic" up && ip addr add 10.0.2.15/24 dev "$nic"
say "network: $nic $(ip -br addr show "$nic")"
modprobe snd-seq
modprobe snd-aloop pcm_substreams=1 ${ALOOP:-}
modprobe snd-virmidi
say "modules: $(lsmod | grep -oE '^snd_(seq|aloop|virmidi)\b' | tr '\n' ' ')"
say "cards: $(tr '\n' ' ' </proc/asound/cards)"

# fluidsynth: MIDI in from the sequencer, audio out into the loopback's
# playback side, in short periods (a note starts within one period of its
# note-on) but a long buffer: a write that waits longer than 1.1 times the
# buffer (at least 100 ms) for room fails with EIO, and under TCG on a loaded
# host the guest's timers stall that long (with 4 periods, 21 ms, fluidsynth
# failed every 10-30 s while other VMs ran). The buffer's length is a
# constant latency, which calibration takes out. No reverb or chorus, so a
# release ends when its envelope does.
sf2=$(ls /usr/share/sounds/sf2/*.sf2 | head -1)
synth() {
  # Kept running: a synth whose audio stops (fluidsynth's ALSA thread ends on
  # an error but the process stays) is started again, as a studio's synth
  # would be switched on again; the kernel's last words are kept beside it.
  while ! test -e /rig/stop; do
    fluidsynth -is -a alsa -m alsa_seq -r 48000 -z "${PERIOD:-256}" -c "${PERIODS:-64}" \
      -R 0 -C 0 -g 0.6 -o synth.polyphony="${POLYPHONY:-256}" \
      -o audio.realtime-prio="${PRIO:-60}" \
      -o audio.alsa.device="${DEVICE:-hw:Loopback,0,0}" -o audio.sample-format=16bits \
      -o shell.port=9800 "$sf2" </dev/null 2>&1 | while read -r line; do
      say "fluidsynth: $line"
      case $line in *"audio device error"*) kill "$(pidof fluidsynth)" ;; esac
    done
    say "fluidsynth ended; kernel: $(dmesg | tail -3 | tr '\n' ' ')"
    sleep 1
  done
}
synth >>/rig/fluidsynth.log 2>&1 &
# The host may ask for the synth to be restarted mid-session (tests/midi_vm.rs
# touches /rig/restart-synth): it comes back as another sequencer client,
# which the recorder must find again by name.
restarts() {
  while ! test -e /rig/stop; do
    if test -e /rig/restart-synth; then
      rm -f /rig/restart-synth
      say "restarting fluidsynth as the host asked"
      kill "$(pidof fluidsynth)"
    fi
    sleep 0.5
  done
}
restarts >>/rig/fluidsynth.log 2>&1 &
for _ in $(seq 200); do aconnect -o 2>/dev/null | grep -q FLUID && break; sleep 0.1; done
say "sequencer ports: $(aconnect -o | grep -E '^client|^ ' | tr -s ' ' | tr '\n' ' ')"

export TAKEBOX_TOKEN
TAKEBOX_TOKEN=$(cat /rig/token)
/rig/bin/takebox-capture --config /rig/config.json --check || say "takebox-capture --check failed"
/rig/bin/takebox-capture --config /rig/config.json >/rig/capture.log 2>&1 &
capture=$!
/rig/bin/takebox-control --config /rig/config.json >/rig/control.log 2>&1 &
control=$!
say "ready: capture $capture, control $control"

while ! test -e /rig/stop; do sleep 0.5; done
say "stopping"
# The recorder silences its instruments as it stops (all notes off).
kill -TERM "$capture" "$control"
wait "$capture" "$control"
say "stopped"
sync
echo o >/proc/sysrq-trigger
