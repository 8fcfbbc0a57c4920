#!/usr/bin/env bash
# Two recorders, one take: how far apart the same sound lies in their files.
# Two takebox-capture daemons read one PulseAudio null sink while plucks play
# into it; each take is asked of both with one start_at, and the pluck's onset
# is found in each file. Prints each take's skew and the largest (goal: 1 ms).
# The pass/fail test (tests/control.rs) only holds 10 ms, which a loaded
# machine meets; this is where the tight figure is measured.
# BENCH_SKEW_TAKES (default 5) takes; TAKEBOX_BIN (default target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TAKEBOX_BIN:-target/release}
takes=${BENCH_SKEW_TAKES:-5}
. scripts/bench-rig.sh skew

addrs=()
for k in 1 2; do
  dir=$work/r$k port=$(free_port)
  mkdir -p "$dir/share" "$dir/spool"
  touch "$dir/share/.takebox-share"
  cat >"$dir/config.json" <<JSON
{"logging": {"log_to_file": false, "log_level": "WARNING"},
 "post_processing": {"normalize_audio": false, "trim_silence": false},
 "capture": {"device": "pulse", "listen": "127.0.0.1:$port", "share_path": "share", "spool_path": "spool",
   "pre_roll_seconds": 0.5, "release_tail_seconds": 0.2}}
JSON
  "$bin/takebox-capture" --config "$dir/config.json" 2>"$dir/capture.log" &
  pids+=($!)
  addrs+=("127.0.0.1:$port")
done
for a in "${addrs[@]}"; do
  for _ in $(seq 200); do
    curl -fs "http://$a/v1/status" | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(not (s["state"] == "running" and s.get("ready", True) and s["frames_captured"] > 48000))' \
      2>/dev/null && break
    sleep 0.1
  done
done

for n in $(seq "$takes"); do
  at=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=0.5)).isoformat(timespec="milliseconds").replace("+00:00", "Z"))')
  body="{\"take_id\":\"skew$n\",\"session_id\":\"skew\",\"instrument\":\"tone\",\"note\":\"A3\",\"frequency\":220,\"articulation\":\"long\",\"duration\":2.5,\"start_at\":\"$at\"}"
  posts=()
  for k in 1 2; do
    curl -fs -H "Authorization: Bearer bench" -d "$body" "http://${addrs[k - 1]}/v1/takes" >"$work/r$k/take$n.json" &
    posts+=($!)
  done
  wait "${posts[@]}"
done

python3 - "$work" "$takes" <<'PY'
import json, struct, sys
work, takes = sys.argv[1], int(sys.argv[2])

def onset(path):
    """First frame above 0.1 after 0.1 s below 0.01 (a pluck after the pause)."""
    # RIFF by hand: the takes are WAVE_FORMAT_EXTENSIBLE, which `wave` refuses.
    data = open(path, "rb").read()
    at, fmt, raw = 12, None, b""
    while at + 8 <= len(data):
        cid, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        body = data[at + 8:at + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            raw = body
        at += 8 + size + size % 2
    ch, rate, width = fmt[1], fmt[2], fmt[5] // 8
    full = float(1 << (8 * width - 1))
    step = width * ch
    quiet_since = 0
    for i in range(len(raw) // step):
        v = abs(int.from_bytes(raw[i * step:i * step + width], "little", signed=True)) / full
        if v >= 0.01:
            if v > 0.1 and i - quiet_since >= rate // 10:
                return i / rate
            quiet_since = i + 1
    return None

skews = []
for n in range(1, takes + 1):
    confs = [json.load(open(f"{work}/r{k}/take{n}.json")) for k in (1, 2)]
    if any(c.get("state") != "delivered" for c in confs):
        print(f"take {n}: not delivered: {[c.get('state') for c in confs]}")
        continue
    ons = [onset(f"{work}/r{k}/share/{c['path']}") for k, c in zip((1, 2), confs)]
    if None in ons:
        print(f"take {n}: no pluck onset in both files")
        continue
    skews.append(abs(ons[0] - ons[1]) * 1000)
    print(f"take {n}: onsets {ons[0]:.5f} s and {ons[1]:.5f} s, {skews[-1]:.3f} ms apart")
if skews:
    print(f"two recorders, one take: skew max {max(skews):.3f} ms over {len(skews)} takes (goal: 1 ms)")
else:
    print("two recorders, one take: no take to measure")
    sys.exit(1)
PY
