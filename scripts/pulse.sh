#!/usr/bin/env bash
# A PulseAudio server with a null sink "studio" whose monitor is the default
# source: a real-time capture device without a sound card (rigs, section 1).
# Usage: scripts/pulse.sh start|stop|tone DIR
#   start: start the server with its runtime files in DIR (idempotent)
#   stop:  stop it (by its own socket, never by process name)
#   tone:  keep playing plucked notes into the sink until the server stops
set -euo pipefail
cmd=${1:?start|stop|tone}
dir=$(mkdir -p "${2:?runtime dir}" && cd "$2" && pwd)
export XDG_RUNTIME_DIR=$dir
export PULSE_SERVER=unix:$dir/pulse/native

case $cmd in
  start)
    if pactl info >/dev/null 2>&1; then exit 0; fi
    pulseaudio --daemonize=yes --exit-idle-time=-1 -n --use-pid-file=yes \
      --log-target=file:"$dir/pulseaudio.log" \
      --load="module-null-sink sink_name=studio rate=48000" \
      --load="module-native-protocol-unix" --disable-shm=yes 2>/dev/null
    for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
    pactl set-default-source studio.monitor
    ;;
  stop)
    pactl exit 2>/dev/null || true
    ;;
  tone)
    # A plucked A3 with a second of room after it, over and over.
    note=$dir/pluck.wav
    [[ -f $note ]] || sox -q -n -r 48000 -c 1 -b 16 "$note" synth 1.5 pluck A3 fade 0 1.5 1.2 vol 0.5 pad 0.5
    while pactl info >/dev/null 2>&1; do paplay -d studio "$note" || sleep 1; done
    ;;
  *) echo "pulse.sh: unknown command $cmd" >&2; exit 2 ;;
esac
