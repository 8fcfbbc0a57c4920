"""Render notes of an SFZ through sfizz (PyPI pysfizz), for tests/catalog.rs.

Reads a JSON job on stdin: {"sfz": path, "rate": 48000, "notes": [{"key": 60,
"vel": 100, "on": 0.5, "len": 0.8, "out": "/path.wav"}, ...]}. The notes are
played one after the other on one synth (so round-robin counters advance as in
a performance), each held `on` seconds and rendered for `len` seconds, and
written as mono (the left channel) 32-bit float WAVs.
"""

import json
import struct
import sys

from pysfizz import Synth


def write_wav(path, rate, samples):
    data = struct.pack("<%df" % len(samples), *samples)
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def sounds(audio):
    return float((audio[0] ** 2).mean()) > 1e-12


def warm_up(synth, notes):
    """Wait until sfizz holds whole files for what the notes play.

    sfizz preloads the first 8192 frames of each sample and streams the rest
    from a background thread; measured here, on a loaded machine, notes came
    out silent after their preloaded 0.17 s (levels of -194 dB over 0.2-0.55 s,
    one run in three), freewheeling or not. So each distinct key and velocity
    is played in pairs, held 1 s, until the last 0.3 s of both sound: a pair
    leaves every round-robin counter where it was (seq_length 2 or 1), so the
    job's notes then play as from a fresh synth. Bounded: a sample that
    never loads fails the job.
    """
    tries = 0
    rate = int(synth.get_sample_rate())
    for key, vel in sorted({(n["key"], n["vel"]) for n in notes}):
        for _ in range(200):
            pair = [synth.render_note(key, vel, 1.0, 1.0) for _ in range(2)]
            if all(sounds(a[:, int(0.7 * rate) : rate]) for a in pair):
                break
            tries += 1
        else:
            sys.exit("sfizz never sounded key %d velocity %d" % (key, vel))
    return tries


def main():
    job = json.load(sys.stdin)
    rate = int(job.get("rate", 48000))
    synth = Synth(sample_rate=rate, block_size=256)
    if not synth.load_sfz_file(job["sfz"], quiet=False):
        sys.exit("sfizz could not load %s" % job["sfz"])
    retries = warm_up(synth, job["notes"])
    for n in job["notes"]:
        audio = synth.render_note(n["key"], n["vel"], n["on"], n["len"])
        write_wav(n["out"], rate, [float(x) for x in audio[0]])
    print(json.dumps({"regions": synth._synth.get_num_regions(), "warm_up_retries": retries}))


main()
