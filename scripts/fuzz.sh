#!/usr/bin/env bash
# make fuzz: every target of takebox::fuzz under afl (coverage-guided, through
# cargo-afl and the AFL++ it builds), FUZZ_SECONDS each (default 60), one after
# the other; then executions, coverage, crashes and hangs per target. Crashes
# and hangs are copied to artifacts/afl/crashes/<target>/ and fail the run;
# replay one with
#   TAKEBOX_FUZZ_REPLAY=<target>:<file> cargo test --test fuzz <target> -- --nocapture
# Without afl (cargo-afl cannot be installed or built), the property driver of
# tests/fuzz.rs runs each target for FUZZ_SECONDS instead.
#
#   FUZZ_SECONDS=60 FUZZ_TARGETS="take_command wav_process" scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
ALL="take_command json_body recorder_answer form_body url cookie config_file instruments_file wav_reader wav_process session_log"
FUZZ_TARGETS=${FUZZ_TARGETS:-$ALL}
OUT=artifacts/afl
CARGO_AFL_VERSION=0.18.2

fallback() {
  echo "fuzz.sh: $1; running the property driver for ${FUZZ_SECONDS} s per target instead" >&2
  filter=()
  [[ $FUZZ_TARGETS == "$ALL" ]] || read -r -a filter <<<"$FUZZ_TARGETS"
  TAKEBOX_FUZZ_SECONDS=$FUZZ_SECONDS cargo test --locked --test fuzz -- \
    --nocapture --test-threads 1 "${filter[@]}" 2>&1 | tee "$OUT/driver.log"
  exit "${PIPESTATUS[0]}"
}

mkdir -p "$OUT"

# cargo-afl from crates.io; it builds AFL++ (afl-fuzz and the runtime) from
# the sources it ships, for this rustc, once.
if ! cargo afl --version 2>/dev/null | grep -q "cargo-afl $CARGO_AFL_VERSION"; then
  cargo install cargo-afl --locked --version "$CARGO_AFL_VERSION" ||
    fallback "cargo install cargo-afl failed"
fi
if ! cargo afl config --build >"$OUT/config.log" 2>&1; then
  grep -q "already built" "$OUT/config.log" || fallback "cargo afl config --build failed (see $OUT/config.log)"
fi

# Instrumented binaries, one per target (fuzz/ is its own workspace).
(cd fuzz && cargo afl build --release --locked --target-dir ../target/afl) ||
  fallback "cargo afl build failed"

# Starting corpora: the driver's seeds and regressions, written out.
rm -rf "$OUT/seeds"
TAKEBOX_FUZZ_SEEDS_DIR="$PWD/$OUT/seeds" cargo test --locked --test fuzz -q >/dev/null

# A shared machine: no CPU binding, no UI, no core-dump handler checks.
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_SKIP_CRASHES=1 AFL_NO_CRASH_README=1
failed=0
rows=()
for t in $FUZZ_TARGETS; do
  dir="$OUT/$t"
  rm -rf "$dir" "$OUT/crashes/$t"
  export TAKEBOX_FUZZ_SCRATCH="${TMPDIR:-/tmp}/takebox-afl-$t"
  echo "fuzz.sh: $t for ${FUZZ_SECONDS} s" >&2
  # -m: a memory limit (MB), so that an allocation by a header's word crashes;
  # -t: a hang is an input that takes over 2 s.
  timeout $((FUZZ_SECONDS + 300)) cargo afl fuzz -V "$FUZZ_SECONDS" -m 1024 -t 2000 \
    -i "$OUT/seeds/$t" -o "$dir" "target/afl/release/$t" >"$OUT/$t.log" 2>&1 || {
    echo "fuzz.sh: afl-fuzz on $t failed; the end of $OUT/$t.log:" >&2
    tail -n 15 "$OUT/$t.log" >&2
    failed=1
  }
  rm -rf "$TAKEBOX_FUZZ_SCRATCH"
  stats="$dir/default/fuzzer_stats"
  field() { awk -v k="$1" '$1 == k { print $3 }' "$stats" 2>/dev/null; }
  crashes=$(field saved_crashes)
  hangs=$(field saved_hangs)
  rows+=("$(printf '%-17s %12s %10s %8s %8s %8s %7s' "$t" "$(field execs_done)" \
    "$(field execs_per_sec)" "$(field corpus_count)" "$(field bitmap_cvg)" "${crashes:-?}" "${hangs:-?}")")
  found=$(find "$dir/default/crashes" "$dir/default/hangs" -type f -name 'id:*' 2>/dev/null || true)
  if [[ -n $found ]]; then
    mkdir -p "$OUT/crashes/$t"
    cp $found "$OUT/crashes/$t/"
    failed=1
  fi
done

echo
echo "afl, ${FUZZ_SECONDS} s per target ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '%-17s %12s %10s %8s %8s %8s %7s\n' target execs execs/s corpus coverage crashes hangs
printf '%s\n' "${rows[@]}"
if ((failed)); then
  echo "fuzz.sh: crashes, hangs or afl failures; inputs in $OUT/crashes/" >&2
  exit 1
fi
