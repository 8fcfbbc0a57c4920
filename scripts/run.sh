#!/usr/bin/env bash
# make run: both daemons on this machine, on loopback, with a capture source
# that needs no sound card. State lives in .run/ (share, spool, logs, config).
set -euo pipefail
cd "$(dirname "$0")/.."
run=$PWD/.run
token=${TAKEBOX_TOKEN:-takebox-dev}
export TAKEBOX_TOKEN=$token
mkdir -p "$run/share" "$run/spool" "$run/logs"
# The marker says "the share is mounted": here it is a plain folder.
touch "$run/share/.takebox-share"

if [[ ! -f $run/config.json ]]; then
  # The seed's config.json as users bring it, plus this machine's capture settings.
  python3 - "$run/config.json" <<'PY'
import json, sys
cfg = json.load(open("examples/seed/config.json"))
cfg["recording_computer_url"] = "http://127.0.0.1:5001"
cfg["logging"]["log_directory"] = "logs"
cfg["capture"] = {
    "device": "pulse",
    "listen": "127.0.0.1:5001",
    "share_path": "share",
    "spool_path": "spool",
}
json.dump(cfg, open(sys.argv[1], "w"), indent=4)
PY
  cp examples/seed/instruments.json "$run/instruments.json"
fi
# The board's settings, also added to a .run/config.json from before they existed.
python3 - "$run/config.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
if "control" not in cfg:
    cfg["control"] = {
        "listen": "127.0.0.1:5000",
        "recorders": ["http://127.0.0.1:5001"],
        "state_dir": "state",
    }
    json.dump(cfg, open(sys.argv[1], "w"), indent=4)
# No header pins here: the simulated button and LEDs (takebox button press).
if "gpio" not in cfg["control"]:
    cfg["control"]["gpio"] = {"backend": "sim"}
    json.dump(cfg, open(sys.argv[1], "w"), indent=4)
PY

scripts/pulse.sh start "$run/pulse"
export XDG_RUNTIME_DIR=$run/pulse PULSE_SERVER=unix:$run/pulse/pulse/native
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  scripts/pulse.sh stop "$run/pulse"
}
trap cleanup EXIT INT TERM

target/release/takebox-capture --config "$run/config.json" &
pids+=($!)
for _ in $(seq 100); do
  curl -fs http://127.0.0.1:5001/v1/status >/dev/null 2>&1 && break
  sleep 0.1
done

target/release/takebox-control --config "$run/config.json" --listen 127.0.0.1:5000 &
pids+=($!)
for _ in $(seq 100); do
  curl -fs -o /dev/null http://127.0.0.1:5000/app.js 2>/dev/null && break
  sleep 0.1
done

# The player: plays each planned note into the capture source when its countdown ends.
scripts/player.py http://127.0.0.1:5000 http://127.0.0.1:5001 "$token" "$run/pulse" &
pids+=($!)

cat <<EOT

takebox is running on loopback (state in .run/, Ctrl-C stops everything).
  the page:     http://127.0.0.1:5000/
  capture API:  http://127.0.0.1:5001/v1/status
  recordings:   $run/share
  the button:   TAKEBOX_TOKEN=$token target/release/takebox button press [--long]
  the LEDs:     curl -s -H 'Authorization: Bearer $token' http://127.0.0.1:5000/api/v1/gpio/leds

A stand-in player plays each planned note into the capture source when its
countdown ends. Or record a take directly (the player answers with an A3):
  curl -s -H 'Authorization: Bearer $token' -d '{"take_id":"demo-1","session_id":"demo","instrument":"guitar","note":"A3","frequency":220.0,"articulation":"long","duration":1.0}' http://127.0.0.1:5001/v1/takes

EOT
# Either daemon stopping ends the run (and the trap stops the rest).
wait -n "${pids[0]}" "${pids[1]}"
