# Sourced by the benchmarks that run daemons against a PulseAudio null sink:
# a work folder removed at exit, the daemons started into `pids` stopped at
# exit, a private PulseAudio playing a test tone, the token, and free_port.
# Usage: . scripts/bench-rig.sh NAME   (after `cd` to the repository)
work=$(mktemp -d "/tmp/takebox-bench-$1.XXXXXX")
pids=()
cleanup() {
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
  scripts/pulse.sh stop "$work/pulse"
  rm -rf "$work"
}
trap cleanup EXIT
scripts/pulse.sh start "$work/pulse"
export XDG_RUNTIME_DIR=$work/pulse PULSE_SERVER=unix:$work/pulse/pulse/native
scripts/pulse.sh tone "$work/pulse" >/dev/null 2>&1 &
pids+=($!)
export TAKEBOX_TOKEN=bench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
