#!/usr/bin/env bash
# Sustain loops on generated sustained tones: organ-like (steady harmonics),
# string-like (bright, 5.5 Hz vibrato, slow level drift, bow noise) and a pad
# (detuned partials that never repeat), 3 s held, 48 kHz 24-bit. Prints the
# seam figure of takebox's loop beside a naive zero-crossing loop's (first to
# last rising zero crossing of the sustained part), raw and with a 250 ms
# crossfade, and the time the search takes.
set -euo pipefail
cd "$(dirname "$0")/.."
tb=${TAKEBOX:-$PWD/target/release/takebox}
work=${BENCH_DIR:-/tmp/takebox-bench-loops}
venv=${BENCH_VENV:-$HOME/.cache/takebox-bench-venv}
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q librosa soundfile
fi
rm -rf "$work"; mkdir -p "$work/in" "$work/long"
"$venv/bin/python" - "$work/in" "$work/long" <<'PY'
import sys, numpy as np, soundfile as sf
out = sys.argv[1]; sr = 48000; rng = np.random.default_rng(18)
# For the FLAC timing and peak memory: 10 minutes of stereo strings-like tone
# with noise, 24-bit (60 s generated, written 10 times over).
tl = np.arange(60 * sr) / sr
long = sum(np.sin(2 * np.pi * 196 * k * tl + rng.uniform(0, 6.3)) / k for k in range(1, 10))
long = np.stack([long, np.roll(long, 31)], axis=1) + rng.normal(0, 0.003, (len(tl), 2))
long = 0.3 * long / np.max(np.abs(long))
with sf.SoundFile(f"{sys.argv[2]}/long.wav", "w", sr, 2, subtype="PCM_24") as f:
    for _ in range(10):
        f.write(long)
n = int(3.58 * sr); t = np.arange(n) / sr
env = np.minimum(t / 0.08, 1) * np.clip((3.58 - t) / 0.5, 0, 1)
def save(name, x): sf.write(f"{out}/{name}.wav", 0.5 * env * x / np.max(np.abs(x)), sr, subtype="PCM_24")
for hz, note in [(130.81, "C3"), (261.63, "C4"), (523.25, "C5")]:
    organ = sum(a * np.sin(2 * np.pi * hz * k * t + rng.uniform(0, 6.3))
                for k, a in [(1, 1), (2, .5), (3, .3), (4, .25), (6, .12), (8, .1)])
    save(f"organ_{note}", organ + rng.normal(0, 1e-4, n))
    phase = 2 * np.pi * np.cumsum(hz * 2 ** (12 / 1200 * np.sin(2 * np.pi * 5.5 * t))) / sr
    strings = sum(np.sin(k * phase) / k for k in range(1, 13))
    strings *= 1 + 0.1 * np.sin(2 * np.pi * 0.7 * t)
    save(f"strings_{note}", strings + rng.normal(0, 0.01, n))
    pad = sum(np.sin(2 * np.pi * hz * (1 + k % 4) * (1 + rng.uniform(-.01, .01)) * t + rng.uniform(0, 6.3))
              for k in range(30))
    save(f"pad_{note}", pad)
PY
note_of() { local b=${1##*_}; echo "${b%.wav}"; }
run() { # label, extra flags
  local label=$1; shift
  printf '\n%s\n%-18s %12s %14s %10s\n' "$label" "tone" "takebox dB" "naive ZC dB" "better by"
  local t0 t1
  t0=$(date +%s.%N)
  for f in "$work"/in/*.wav; do
    "$tb" process "$f" --out "$work/out" --note "$(note_of "$f")" --loop "$@" --jobs 1 >"$work/log" || true
    local line seam naive
    line=$(grep -E '^  (loop|no loop)' "$work/log")
    seam=$(sed -nE 's/.*seam (-?[0-9.]+) dB.*/\1/p; s/.*best seam is (-?[0-9.]+) dB.*/\1 (no loop)/p' <<<"$line" | head -1)
    naive=$(sed -nE 's/.*naive zero-crossing loop (-?[0-9.]+) dB.*/\1/p' <<<"$line")
    printf '%-18s %12s %14s %10s\n' "$(basename "$f" .wav)" "${seam:--}" "${naive:--}" \
      "$(awk -v a="${naive:-0}" -v b="${seam%% *}" 'BEGIN{ if (b != "") printf "%+.1f", b - a; else print "-" }')"
  done
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v n="$(ls "$work"/in/*.wav | wc -l)" \
    'BEGIN{ printf "%d files in %.2f s (%.0f ms a file, read + search + write)\n", n, b - a, (b - a) * 1000 / n }'
}
run "raw loops (seam: lower is smoother; -30 dB or lower counts as good)"
run "with a 250 ms linear crossfade rendered" --crossfade 250

# FLAC: flacenc inside takebox against the flac command (-5, its default) on
# the same processed WAVs, one file at a time; the encode time is takebox
# with --format flac less takebox without.
echo
echo "FLAC: takebox (flacenc) against flac -5: the 9 tones (3.6 s, mono) and 10 minutes of stereo, 24-bit 48 kHz"
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}'; }
rm -rf "$work/wav" "$work/flac"
t_wav=$(secs "$tb" process "$work"/in/*.wav "$work"/long/*.wav --out "$work/wav" --jobs 1)
t_tb=$(secs "$tb" process "$work"/in/*.wav "$work"/long/*.wav --out "$work/flac" --jobs 1 --format flac)
t_ref=$(secs flac -5 -s -f "$work"/wav/*.wav 2>/dev/null)
size() { cat "$@" | wc -c; }
wav_b=$(size "$work"/wav/*.wav); tb_b=$(size "$work"/flac/*.flac); ref_b=$(size "$work"/wav/*.flac)
identical=yes
for f in "$work"/flac/*.flac; do
  flac -d -s -f -o "$work/back.wav" "$f" 2>/dev/null
  cmp -s <(sox "$work/back.wav" -t raw -) <(sox "$work/wav/$(basename "${f%.flac}").wav" -t raw -) || identical=no
done
printf '%-22s %10s %10s\n' "" "seconds" "size %"
printf '%-22s %10s %10.1f\n' "takebox (flacenc)" "$(awk -v a="$t_tb" -v b="$t_wav" 'BEGIN{printf "%.3f", a - b}')" \
  "$(awk -v a="$tb_b" -v b="$wav_b" 'BEGIN{print 100 * a / b}')"
printf '%-22s %10s %10.1f\n' "flac -5" "$t_ref" "$(awk -v a="$ref_b" -v b="$wav_b" 'BEGIN{print 100 * a / b}')"
echo "takebox's FLACs decode (flac -d) to the WAVs' samples exactly: $identical"

# Peak memory encoding the 10-minute stereo file alone: takebox process with
# and without --format flac (the difference is the encoder's), and flac -5.
# takebox's encoder streams (one 4096-frame block at a time); before it did,
# it held the samples and the encoded frames: 1.8 GB here on a noisy file.
peak() { /usr/bin/time -f %M -o "$work/peak.txt" "$@" >/dev/null 2>&1; echo $(( $(cat "$work/peak.txt") / 1024 )); }
rm -rf "$work/mem"; mkdir -p "$work/mem"
m_wav=$(peak "$tb" process "$work/long/long.wav" --out "$work/mem" --jobs 1)
m_tb=$(peak "$tb" process "$work/long/long.wav" --out "$work/mem" --jobs 1 --format flac)
m_ref=$(peak flac -5 -s -f -o "$work/mem/ref.flac" "$work/mem/long.wav")
printf '\n%-34s %8s\n' "peak memory, 10 min stereo 24-bit" "MB"
printf '%-34s %8s\n' "takebox process (WAV only)" "$m_wav" "takebox process --format flac" "$m_tb" "flac -5" "$m_ref"
