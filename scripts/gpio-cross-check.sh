#!/usr/bin/env bash
# The board's GPIO backend builds for aarch64 and starts (rigs, section 3):
# takebox-control cross-built (debug, quicker than the release in cross.sh) and
# run under qemu-user with the chardev backend on the default chip label. No
# board here, so it must say which chip and lines are missing and serve the page.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/cross.sh --bin takebox-control
bin=target/aarch64-unknown-linux-gnu/debug/takebox-control

dir=$(mktemp -d)
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
cp examples/seed/instruments.json "$dir/"
python3 - "$dir/config.json" <<'PY'
import json, sys
cfg = json.load(open("examples/seed/config.json"))
cfg["logging"]["log_directory"] = "logs"
cfg["control"] = {"listen": "127.0.0.1:0", "token": "cross-check", "state_dir": "state",
                  "recorders": ["http://127.0.0.1:9"],
                  "gpio": {"backend": "chardev", "chip": "periphs-banks"}}
json.dump(cfg, open(sys.argv[1], "w"), indent=4)
PY
# No -L (rigs, section 3): the arm64 libraries come from multiarch.
qemu-aarch64-static "$bin" --config "$dir/config.json" 2>"$dir/stderr" &
pid=$!
for _ in $(seq 600); do
  grep -q "listening on" "$dir/stderr" && grep -q "button and LEDs off" "$dir/stderr" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
cat "$dir/stderr"
addr=$(grep -o 'listening on http://[0-9.:]*' "$dir/stderr" | head -1 | sed 's|listening on ||')
[[ -n $addr ]] || { echo "gpio-cross-check: takebox-control (aarch64) did not start" >&2; exit 1; }
grep -q 'button and LEDs off: GPIO chip labelled \\"periphs-banks\\"' "$dir/stderr" \
  || { echo "gpio-cross-check: no clear error naming the missing chip" >&2; exit 1; }
grep -q 'button on line offset 20' "$dir/stderr" \
  || { echo "gpio-cross-check: the error does not name the button's line" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$addr/")
[[ $code == 200 ]] || { echo "gpio-cross-check: the page answered $code" >&2; exit 1; }
echo "gpio-cross-check: aarch64 takebox-control started under qemu, named the missing chip, served the page"
