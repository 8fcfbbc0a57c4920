#!/usr/bin/env bash
# How promptly takebox-capture stops an aborted take: BENCH_ABORTS (default 10)
# takes of 30 s on a generated sine, each aborted about 1 s into its note
# (POST /v1/takes/{id}/abort). Prints, in ms: the abort's answer (the take is
# stopped and its spool files gone by then), the waiting take command's
# `aborted` answer, and the capture period for scale; before the abort the
# take ran to its planned end (29 s more here) and was delivered.
# BENCH_BIN_DIR picks the binaries (default target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN_DIR:-target/release}
work=$(mktemp -d /tmp/takebox-bench-abort.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export TAKEBOX_TOKEN=bench
mkdir -p "$work/share" "$work/spool"
touch "$work/share/.takebox-share"
addr=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/config.json" <<JSON
{"logging": {"log_to_file": false, "log_level": "INFO"},
 "capture": {"device": "takebox:sine=440", "listen": "$addr",
   "share_path": "share", "spool_path": "spool", "pre_roll_seconds": 0.5,
   "release_tail_seconds": 0.2, "period_frames": 4096}}
JSON
"$bin/takebox-capture" --config "$work/config.json" 2>"$work/capture.log" &
for _ in $(seq 200); do
  curl -fs "http://$addr/v1/status" 2>/dev/null | grep -q '"ready":true' && break
  sleep 0.1
done
python3 - "$addr" "$work" "${BENCH_ABORTS:-10}" <<'PY'
import json, os, statistics, sys, threading, time, urllib.request, urllib.error
addr, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, path, body=None):
    req = urllib.request.Request(f"http://{addr}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer bench"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
answers, takes, outcomes = [], [], []
for i in range(n):
    tid = f"abort{i}"
    done = {}
    def take():
        done["answer"] = call("POST", "/v1/takes", {"take_id": tid, "session_id": "bench",
            "instrument": "tone", "note": "A4", "frequency": 440, "articulation": "long",
            "duration": 30.0})
        done["at"] = time.monotonic()
    t = threading.Thread(target=take)
    t.start()
    while call("GET", "/v1/status")[1].get("recording") != tid:
        time.sleep(0.01)
    time.sleep(1.0)  # about a second into the note
    sent = time.monotonic()
    code, reply = call("POST", f"/v1/takes/{tid}/abort")
    answered = time.monotonic()
    t.join()
    answers.append((answered - sent) * 1000)
    takes.append((done["at"] - sent) * 1000)
    outcomes.append(f"{code} {reply['outcome']} / {done['answer'][0]} {done['answer'][1].get('error')}")
wavs = [f for _, _, fs in os.walk(work) for f in fs if f.endswith(".wav")]
print(f"\n{n} takes of 30 s aborted about 1 s into the note (generated sine, period 4096 frames = 85.3 ms)")
for name, v in [("abort answered (take stopped)", answers), ("take command answered 422", takes)]:
    print(f"{name:32} median {statistics.median(v):7.1f} ms   max {max(v):7.1f} ms")
print(f"ratio of the median stop to the capture period: {statistics.median(answers) / 85.3:.2f}x;"
      f" to the 29 s the take had left: {statistics.median(answers) / 29000:.4f}x")
print(f"answers: {sorted(set(outcomes))}; WAV files left anywhere: {len(wavs)}")
PY
