#!/usr/bin/env bash
# takebox-control beside the seed's stack (a minimal Flask app serving a page of
# the same size): resident memory idle and during a session, and page/API
# latency under 50 concurrent clients (wrk), side by side.
# Then the page while other addresses hold idle and stalled connections
# (bench-hostile.py), and two recorders, one take: the skew between their
# files (bench-skew.sh).
# BENCH_SECONDS (default 10) is the length of each load run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${BENCH_SECONDS:-10}
. scripts/bench-rig.sh control
cport=$(free_port) bport=$(free_port) fport=$(free_port)

mkdir -p "$work/share" "$work/spool"
touch "$work/share/.takebox-share"
cp examples/seed/instruments.json "$work/instruments.json"
cat >"$work/config.json" <<JSON
{"countdown_duration": 0.5,
 "logging": {"log_directory": "logs", "log_to_file": false, "log_level": "WARNING"},
 "capture": {"device": "pulse", "listen": "127.0.0.1:$cport", "share_path": "share", "spool_path": "spool",
   "pre_roll_seconds": 0.5, "release_tail_seconds": 0.2},
 "control": {"listen": "127.0.0.1:$bport", "recorders": ["http://127.0.0.1:$cport"], "state_dir": "state", "on_warning": "continue"}}
JSON
target/release/takebox-capture --config "$work/config.json" 2>"$work/capture.log" &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$cport/v1/status" | grep -q '"ready":true' && break; sleep 0.1; done
target/release/takebox-control --config "$work/config.json" 2>"$work/control.log" &
ctl=$!
pids+=($ctl)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$bport/app.js" && break; sleep 0.1; done

kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
sleep 3
ctl_idle=$(kb "$ctl" VmRSS)

# A session: 13 notes x 1 articulation, one take after the other.
auth=(-H "Authorization: Bearer bench")
curl -fs "${auth[@]}" -d '{"instrument":"guitar","lowest_note":"E2","highest_note":"E3","articulations":["short"],"auto_advance":true}' \
  "http://127.0.0.1:$bport/api/v1/session" >/dev/null
curl -fs "${auth[@]}" -X POST "http://127.0.0.1:$bport/api/v1/start" >/dev/null
ctl_session=0
for _ in $(seq 600); do
  rss=$(kb "$ctl" VmRSS); ((rss > ctl_session)) && ctl_session=$rss
  curl -fs "${auth[@]}" "http://127.0.0.1:$bport/api/v1/status" | grep -q '"phase":"finished"' && break
  sleep 0.1
done
takes=$(find "$work/share" -name '*.wav' | wc -l)

# The seed's stack: Flask serving the same page (as rendered by control) and a
# JSON status of the same size.
curl -fs "http://127.0.0.1:$bport/" >"$work/page.html"
curl -fs "${auth[@]}" "http://127.0.0.1:$bport/api/v1/status" >"$work/status.json"
cat >"$work/flask_app.py" <<'PY'
import sys
from flask import Flask, Response
page = open(sys.argv[1], "rb").read()
status = open(sys.argv[2], "rb").read()
app = Flask(__name__)
@app.route("/")
def index():
    return Response(page, mimetype="text/html")
@app.route("/api/v1/status")
def api_status():
    return Response(status, mimetype="application/json")
app.run(host="127.0.0.1", port=int(sys.argv[3]), threaded=True)
PY
python3 "$work/flask_app.py" "$work/page.html" "$work/status.json" "$fport" >"$work/flask.log" 2>&1 &
flask=$!
pids+=($flask)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$fport/" && break; sleep 0.1; done
sleep 1
flask_idle=$(kb "$flask" VmRSS)

# wrk: 2 threads, 50 connections; prints p50/p99 latency and requests per second.
load() {
  wrk -t2 -c50 -d"${secs}s" --latency "${@:2}" "$1" >"$work/wrk.out" 2>&1
  awk '/^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /^Requests\/sec/ {rps=$2} /Non-2xx/ {bad=$NF}
       END {printf "%s|%s|%s|%s", p50, p99, rps, (bad == "" ? 0 : bad)}' "$work/wrk.out"
}
ctl_page=$(load "http://127.0.0.1:$bport/")
ctl_api=$(load "http://127.0.0.1:$bport/api/v1/status" -H "Authorization: Bearer bench")
flask_page=$(load "http://127.0.0.1:$fport/")
flask_api=$(load "http://127.0.0.1:$fport/api/v1/status")
ctl_peak=$(kb "$ctl" VmHWM)
flask_peak=$(kb "$flask" VmHWM)

python3 - "$ctl_idle" "$ctl_session" "$ctl_peak" "$flask_idle" "$flask_peak" "$takes" \
  "$ctl_page" "$ctl_api" "$flask_page" "$flask_api" "$(stat -c %s "$work/page.html")" "$secs" <<'PY'
import sys
a = sys.argv[1:]
mb = lambda kb: f"{int(kb) / 1024:.1f} MB"
print(f"\ntakebox-control vs Flask (the seed's stack), page {a[10]} bytes, wrk -c50 for {a[11]} s each")
print(f"{'':34}{'takebox-control':>18}{'Flask':>18}")
print(f"{'RSS idle':34}{mb(a[0]):>18}{mb(a[3]):>18}")
print(f"{'RSS during a session (' + a[5] + ' takes)':34}{mb(a[1]):>18}{'-':>18}")
print(f"{'peak RSS (VmHWM) after the load':34}{mb(a[2]):>18}{mb(a[4]):>18}")
for name, c, f in (("page /", a[6], a[8]), ("API status", a[7], a[9])):
    c, f = c.split("|"), f.split("|")
    print(f"{name + ' p50 latency':34}{c[0]:>18}{f[0]:>18}")
    print(f"{name + ' p99 latency':34}{c[1]:>18}{f[1]:>18}")
    print(f"{name + ' requests/s':34}{c[2]:>18}{f[2]:>18}")
    print(f"{name + ' non-2xx answers':34}{c[3]:>18}{f[3]:>18}")
print("goal: control RSS at most 8 MB")
PY

# The page for a real client while other addresses hold 2,000 idle sockets
# and 64 stalled uploads, takebox-control beside Flask.
python3 scripts/bench-hostile.py takebox-control "$bport" Flask "$fport"

# Two recorders, one take: how far apart the same sound lies in their files
# (the tests hold 10 ms; the tight figure is measured here).
scripts/bench-skew.sh
