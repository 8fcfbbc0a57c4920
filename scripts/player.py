#!/usr/bin/env python3
"""A stand-in for the player under `make run`: it watches the board's status
and plays each planned note (a plucked string at the slot's frequency) into the
PulseAudio sink when its countdown ends, the way a person at the instrument
would. A take asked of the recorder directly (the curl example) gets an A3.

Usage: player.py CONTROL_URL CAPTURE_URL TOKEN WORKDIR  (stdlib only)
"""
import datetime
import json
import os
import subprocess
import sys
import time
import urllib.request

control, capture, token, work = sys.argv[1:5]


def get(url, auth):
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=2) as r:
        return json.load(r)


def pluck(hz):
    path = os.path.join(work, f"pluck-{hz:.3f}.wav")
    if not os.path.exists(path):
        subprocess.run(["sox", "-q", "-n", "-r", "48000", "-c", "1", "-b", "16", path,
                        "synth", "1.8", "pluck", f"{hz:.3f}", "fade", "0", "1.8", "1.2", "vol", "0.5"],
                       check=True)
    subprocess.Popen(["paplay", "-d", "studio", path])


def when(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


played = set()
while True:
    try:
        cycle = get(f"{control}/api/v1/status", True)
        take, slot = cycle.get("take_id"), cycle.get("slot")
        if cycle.get("phase") in ("countdown", "recording") and take and slot and take not in played:
            played.add(take)
            # A person reacts a few tens of milliseconds after the count ends.
            time.sleep(max(0.0, when(cycle["start_at"]) - time.time() + 0.04))
            pluck(slot["frequency"])
            continue
        direct = get(f"{capture}/v1/status", False).get("recording")
        if direct and direct not in played and cycle.get("phase") not in ("countdown", "recording", "waiting"):
            played.add(direct)
            pluck(220.0)
    except Exception:
        time.sleep(0.5)
    time.sleep(0.05)
