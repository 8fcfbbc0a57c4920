#!/usr/bin/env bash
# Take processing against its peers on a generated corpus: 200 files of 3 s,
# mono, 24-bit, 48 kHz (0.5 s of low noise, then a decaying harmonic tone),
# plus one 10-minute stereo file for peak memory. Peers: cp (the floor), sox
# one file at a time, librosa (trim top_db=60 + normalize, written as 24-bit).
set -euo pipefail
cd "$(dirname "$0")/.."
tb=$PWD/target/release/takebox
work=${BENCH_DIR:-/tmp/takebox-bench-process}
venv=${BENCH_VENV:-$HOME/.cache/takebox-bench-venv}
mkdir -p "$work"
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q librosa soundfile
fi
py=$venv/bin/python

if [[ ! -f $work/long/long.wav ]]; then
  rm -rf "$work/corpus" "$work/long"; mkdir -p "$work/corpus" "$work/long"
  "$py" - "$work" <<'PY'
import sys, numpy as np, soundfile as sf
work = sys.argv[1]; sr = 48000; rng = np.random.default_rng(7)
def take(seconds, hz, channels=1):
    n = int(seconds * sr); t = np.arange(n) / sr
    x = rng.normal(0, 10 ** (-70 / 20), (n, channels))
    on = int(0.5 * sr); tt = t[on:] - t[on]
    tone = sum(a * np.sin(2 * np.pi * hz * k * tt) for k, a in [(1, .5), (2, .25), (3, .12), (4, .06)])
    x[on:, :] += (0.6 * tone * np.exp(-tt * 1.5))[:, None]
    return x
for i in range(200):
    hz = 110 * 2 ** ((i % 36) / 12)
    sf.write(f"{work}/corpus/take{i:03d}.wav", take(3, hz), sr, subtype="PCM_24")
sf.write(f"{work}/long/long.wav", take(600, 220, 2) * 0.9, sr, subtype="PCM_24")
PY
fi

cat >"$work/librosa_batch.py" <<'PY'
import sys, os, librosa, soundfile as sf
out = sys.argv[1]
for f in sys.argv[2:]:
    y, sr = librosa.load(f, sr=None, mono=False)
    y, _ = librosa.effects.trim(y, top_db=60)
    y = librosa.util.normalize(y, axis=None) * 10 ** (-1 / 20)
    sf.write(os.path.join(out, os.path.basename(f)), y.T, sr, subtype="PCM_24")
PY

runs=${BENCH_RUNS:-5}
measure() {  # name, runs, command...: appends "name seconds peakMB" (median run) to results.txt
  local name=$1 n=$2; shift 2
  : >"$work/runs.txt"
  for _ in $(seq "$n"); do
    # Each run writes into an empty folder, with nothing dirty left from the last.
    for d in "$work"/out_*; do rm -rf "$d"; mkdir -p "$d"; done
    sync
    # takebox check exits 1 when a verdict is not ok: a result, not a failure.
    # Wall time to the microsecond (time's %e has 10 ms steps, a fifth of cp's run).
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/$name.err" || true
    t1=$(date +%s%N)
    echo "$(((t1 - t0) / 1000)) $(tail -1 "$work/time.txt")" >>"$work/runs.txt"
  done
  local us kb
  read -r us kb < <(sort -n "$work/runs.txt" | sed -n "$(((n + 1) / 2))p")
  echo "$name $(printf '%d.%06d' $((us / 1000000)) $((us % 1000000))) $((kb / 1024))" >>"$work/results.txt"
}
: >"$work/results.txt"
files=("$work"/corpus/*.wav)
for d in cp tb sox librosa long_tb long_librosa; do mkdir -p "$work/out_$d"; done
# The fast ones vary from run to run on a shared machine: the median of $runs.
measure cp "$runs" cp -r "$work/corpus/." "$work/out_cp/"
# takebox's outputs are on disk when it exits (one syncfs); cp's are not.
measure cp_sync "$runs" bash -c 'cp -r "$1/corpus/." "$1/out_cp/" && sync -f "$1/out_cp"' _ "$work"
measure "takebox_process" "$runs" "$tb" process "${files[@]}" --out "$work/out_tb" --trim --normalize peak
measure "takebox_check" "$runs" "$tb" check "${files[@]}" --preroll 0.4
measure sox 1 bash -c 'for f in "$@"; do sox "$f" "'"$work"'/out_sox/${f##*/}" silence 1 0.01 -60d reverse silence 1 0.01 -60d reverse gain -n -1; done' _ "${files[@]}"
measure librosa 1 "$py" "$work/librosa_batch.py" "$work/out_librosa" "${files[@]}"
measure long_takebox 1 "$tb" process "$work/long/long.wav" --out "$work/out_long_tb" --trim --normalize peak
measure long_librosa 1 "$py" "$work/librosa_batch.py" "$work/out_long_librosa" "$work/long/long.wav"

"$py" - "$work/results.txt" <<'PY'
import sys
r = {n: (float(s), int(m)) for n, s, m in (l.split() for l in open(sys.argv[1]))}
audio = 200 * 3.0
cp = r["cp"][0]
print(f"\ntake processing: 200 files x 3 s mono 24-bit 48 kHz ({audio:.0f} s of audio); cp and takebox: median of several runs")
print(f"{'':18}{'wall s':>8}{'x realtime':>12}{'vs cp':>8}{'peak MB':>9}")
for n in ["cp", "cp_sync", "takebox_process", "takebox_check", "sox", "librosa"]:
    s, m = r[n]
    print(f"{n:18}{s:8.3f}{audio / max(s, 1e-3):12.0f}{s / max(cp, 1e-3):8.2f}{m:9d}")
tb = r["takebox_process"][0]
print(f"takebox process is {r['sox'][0] / tb:.1f}x faster than sox and {r['librosa'][0] / tb:.1f}x faster than librosa")
print("goal: within 2x of cp (3x is the floor)")
print(f"\none 10-minute stereo file: takebox {r['long_takebox'][0]:.2f} s, {r['long_takebox'][1]} MB peak;"
      f" librosa {r['long_librosa'][0]:.2f} s, {r['long_librosa'][1]} MB peak (goal: takebox under 64 MB)")
PY
