#!/usr/bin/env bash
# CPU time and peak RSS of takebox-capture recording one take of BENCH_SECONDS
# (default 60; BENCH_PERIOD sets capture.period_frames, default 4096) against arecord recording the same device and format for the
# same time, side by side. Both capture from the PulseAudio null sink while a
# tone plays into it.
# For profiling: BENCH_WRAP="perf record -e cpu-clock -g -o /tmp/tb.perf --"
# runs takebox-capture under that command (its CPU then counts too), and
# BENCH_ARECORD=0 skips the arecord half. BENCH_MATCHED=1 also runs arecord with
# takebox-capture's period and buffer (period x 8), for comparison: the sound
# server's work grows with the number of periods. BENCH_THREADS=1 also lists the
# daemon's CPU per thread. BENCH_TRIM=true and BENCH_NORMALIZE=true switch
# post-processing on (the take is then rendered, not kept as recorded).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-60}
rate=48000 channels=2
work=$(mktemp -d /tmp/takebox-bench.XXXXXX)
trap 'scripts/pulse.sh stop "$work/pulse"; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
scripts/pulse.sh start "$work/pulse"
export XDG_RUNTIME_DIR=$work/pulse PULSE_SERVER=unix:$work/pulse/pulse/native
scripts/pulse.sh tone "$work/pulse" 2>/dev/null &
export TAKEBOX_TOKEN=bench

mkdir -p "$work/share" "$work/spool"
touch "$work/share/.takebox-share"
cat >"$work/config.json" <<JSON
{"logging": {"log_to_file": false, "log_level": "INFO"},
 "post_processing": {"normalize_audio": ${BENCH_NORMALIZE:-false}, "trim_silence": ${BENCH_TRIM:-false}},
 "capture": {"device": "pulse", "sample_rate": $rate, "channels": $channels, "sample_format": "s24",
   "listen": "127.0.0.1:0", "share_path": "share", "spool_path": "spool",
   "pre_roll_seconds": 2.0, "release_tail_seconds": 0.0, "period_frames": ${BENCH_PERIOD:-4096}}}
JSON

# takebox-capture: from start to stop, the whole daemon, one take of $secs.
/usr/bin/time -f "%U %S %M" -o "$work/takebox.time" \
  ${BENCH_WRAP:-} target/release/takebox-capture --config "$work/config.json" 2>"$work/takebox.log" &
tb_pid=$!
addr=""
for _ in $(seq 100); do
  addr=$(grep -o 'listening on http://[0-9.:]*' "$work/takebox.log" | sed 's|.*http://||' || true)
  [[ -n $addr ]] && curl -fs "http://$addr/v1/status" | grep -q '"ready":true' && break
  sleep 0.1
done
sleep 2.5   # the pre-roll fills
note=$(python3 -c "print($secs - 2.0)")
curl -fs -H "Authorization: Bearer bench" \
  -d "{\"take_id\":\"bench\",\"session_id\":\"bench\",\"instrument\":\"tone\",\"note\":\"A3\",\"frequency\":220,\"articulation\":\"long\",\"duration\":$note}" \
  "http://$addr/v1/takes" >"$work/take.json"
xruns=$(curl -fs "http://$addr/v1/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['xruns'])")
kill_pid=$(pgrep -P "$tb_pid" takebox-captur || echo "$tb_pid")
[[ -n ${BENCH_WRAP:-} ]] && kill_pid=$(pgrep -P "$(pgrep -P "$tb_pid" | head -1)" takebox-captur || echo "$kill_pid")
# CPU per thread so far, just before the stop: where the take's cost went.
for t in /proc/"$kill_pid"/task/*; do
  echo "$(cat "$t/comm") $(awk '{print $1 / 1e9}' "$t/schedstat")"
done >"$work/threads.txt"
# Bytes the daemon read and wrote through system calls (files, sockets): the
# take's spool file, its delivery, and whatever reading it back costs.
awk '/^[rw]char:/ { sub(":", "", $1); printf "%s %.1f MB\n", $1, $2 / 1e6 }' /proc/"$kill_pid"/io >"$work/io.txt"
if [[ ${BENCH_THREADS:-0} == 1 ]]; then
  awk '{printf "  %-18s %8.1f ms\n", $1, $2 * 1000}' "$work/threads.txt"
fi
kill -TERM "$kill_pid"
wait "$tb_pid" || true
state=$(python3 -c "import json; print(json.load(open('$work/take.json'))['state'])")

cp "$work/takebox.log" "${BENCH_LOG:-/dev/null}" 2>/dev/null || true
# The daemon's threads: the capture thread and the sound server's client
# thread record (arecord does that, plus writing its file); the runtime's
# workers are almost all the take's work (writing, analysing, checking,
# hashing and copying it to the share), plus the few HTTP requests.
by_thread=$(awk '{ k = ($1 == "capture" || $1 == "threaded-ml") ? "recording" : ($1 == "tokio-rt-worker") ? "take work" : "other"; s[k] += $2 }
  END { printf "takebox-capture by thread: other %.3f s, recording %.3f s, take work %.3f s", s["other"], s["recording"], s["take work"] }' "$work/threads.txt")
if [[ ${BENCH_ARECORD:-1} == 0 ]]; then
  read -r u s m <"$work/takebox.time"
  echo "takebox-capture: CPU $(python3 -c "print($u + $s)") s, peak RSS $((m / 1024)) MB, take $state, xruns $xruns"
  echo "$by_thread"
  echo "takebox-capture I/O: read $(awk '$1 == "rchar" { print $2, $3 }' "$work/io.txt"), written $(awk '$1 == "wchar" { print $2, $3 }' "$work/io.txt")"
  exit 0
fi
# arecord: the same device, format and length.
/usr/bin/time -f "%U %S %M" -o "$work/arecord.time" \
  arecord -q -D pulse -f S24_3LE -c $channels -r $rate -d "$secs" "$work/arecord.wav"

period=${BENCH_PERIOD:-4096}
if [[ ${BENCH_MATCHED:-0} == 1 ]]; then
  /usr/bin/time -f "%U %S %M" -o "$work/arecord-matched.time" \
    arecord -q -D pulse -f S24_3LE -c $channels -r $rate -d "$secs" \
    --period-size="$period" --buffer-size=$((period * 8)) "$work/arecord.wav"
fi

python3 - "$work" "$secs" "$xruns" "$state" "$rate" "$channels" "$period" "$by_thread" <<'PY'
import os, sys
work, secs, xruns, state, rate, ch = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
period = int(sys.argv[7])
def read(name):
    u, s, rss = open(f"{work}/{name}.time").read().split()[-3:]
    return float(u) + float(s), int(rss) / 1024
tb_cpu, tb_rss = read("takebox")
ar_cpu, ar_rss = read("arecord")
ring_mb = (2.0 + 5.0 + 1.0) * rate * ch * 4 / 1048576
print(f"\ncapture of {secs} s, {ch} ch S24_3LE {rate} Hz from the PulseAudio null sink")
print(f"{'':22}{'CPU s':>8}{'peak RSS MB':>13}")
print(f"{'takebox-capture':22}{tb_cpu:8.2f}{tb_rss:13.1f}   take {state}, xruns {xruns}")
print(f"{'arecord':22}{ar_cpu:8.2f}{ar_rss:13.1f}")
ratio = tb_cpu / ar_cpu if ar_cpu > 0 else float('inf')
print(f"{'ratio':22}{ratio:8.2f}x{tb_rss / ar_rss:12.2f}x")
print(sys.argv[8])
io = dict(l.split(None, 1) for l in open(f"{work}/io.txt").read().splitlines())
print(f"takebox-capture I/O: read {io['rchar']}, written {io['wchar']} (the take is {secs} s of {ch} ch S24: {float(secs) * rate * ch * 3 / 1e6:.1f} MB)")
if os.path.exists(f"{work}/arecord-matched.time"):
    am_cpu, am_rss = read("arecord-matched")
    print(f"{'arecord, period ' + str(period):22}{am_cpu:8.2f}{am_rss:13.1f}")
    print(f"{'ratio to that':22}{tb_cpu / am_cpu if am_cpu > 0 else float('inf'):8.2f}x")
print(f"goals: CPU <= 1.2x arecord; RSS <= 16 MB + ring ({ring_mb:.1f} MB) = {16 + ring_mb:.1f} MB; no xrun")
PY
