#!/usr/bin/env bash
# The catalog import beside PostgreSQL's own bulk load: a generated session log
# of BENCH_TAKES (default 10000) takes imported by `takebox catalog import`
# (schema, upserts, one transaction), and the same rows as CSV loaded with
# psql's `\copy` into a table like `takes`. Prints takes per second for both.
# A PostgreSQL 15 of its own on a Unix socket in a temp folder (no TCP).
set -euo pipefail
cd "$(dirname "$0")/.."
takes=${BENCH_TAKES:-10000}
bin=${TAKEBOX_BIN:-target/release/takebox}
pgbin=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/takebox-bench-catalog.XXXXXX)
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
chmod 711 "$work"   # postgres must reach its folder inside
mkdir -p "$work/pg" "$work/logs"
[[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg/data" -A trust -U postgres --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" \
  -o "-k $work/pg -p 5432 -c listen_addresses=''" -w start >/dev/null
db="host=$work/pg port=5432 user=postgres dbname=postgres"
psql_() { psql -h "$work/pg" -p 5432 -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"; }

# The log, as takebox-control writes it, and the same takes as CSV.
python3 - "$takes" "$work/logs/bench.jsonl" "$work/takes.csv" <<'PY'
import csv, json, sys, datetime
n, log_path, csv_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t0 = datetime.datetime(2026, 11, 25, 10, 0, 0, tzinfo=datetime.timezone.utc)
ts = lambda i: (t0 + datetime.timedelta(seconds=i)).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
names = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B']
with open(log_path, 'w') as log, open(csv_path, 'w', newline='') as out:
    w = csv.writer(out)
    log.write(json.dumps({'time': ts(0), 'event': 'session_start', 'session_id': 'bench',
        'request': {'instrument': 'piano'}, 'settings': {'default_frequency': 440.0}}) + '\n')
    for i in range(n):
        midi = 21 + i % 88
        note = f'{names[midi % 12]}{midi // 12 - 1}'
        dyn = ['pp', 'mf', 'ff'][(i // 88) % 3]
        rr = 1 + (i // 264) % 4
        tid = f'bench-{i + 1}-1'
        fn = f'bench/bench_piano_{note}_long_{dyn}_rr{rr}_{tid}.wav'
        hz = 440.0 * 2 ** ((midi - 69) / 12)
        cents = ((i * 37) % 200 - 100) / 10.0
        log.write(json.dumps({'time': ts(i + 1), 'event': 'take', 'take_id': tid, 'slot': i + 1}) + '\n')
        log.write(json.dumps({'time': ts(i + 1), 'event': 'confirmation', 'session_id': 'bench',
            'filename': fn, 'note': note, 'frequency': hz, 'articulation': 'long', 'instrument': 'piano',
            'timestamp': ts(i + 1), 'take_id': tid, 'dynamic': dyn, 'round_robin': rr,
            'recorder': 'http://127.0.0.1:5001', 'verdict': 'ok', 'reason': None, 'state': 'delivered',
            'sha256': '0' * 64, 'check': {'verdict': 'ok', 'issues': [], 'cents': cents, 'clipped_samples': 0},
            'slot': i + 1}) + '\n')
        w.writerow([tid, 'bench', fn, note, hz, 'long', 'piano', ts(i + 1), dyn, rr,
                    'http://127.0.0.1:5001', 'ok', cents, 'f', 'delivered', '0' * 64, i + 1, 2 * i + 3])
PY

now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]):,.0f}')" "$1" "$2"; }

t=$(now)
"$bin" catalog import "$work/logs" --db "$db" >/dev/null
import_s=$(python3 -c "print($(now) - $t)")
rows=$(psql_ -c "SELECT count(*) FROM takes")
t=$(now)
"$bin" catalog import "$work/logs" --db "$db" >/dev/null
again_s=$(python3 -c "print($(now) - $t)")

psql_ -c "CREATE TABLE bench_copy (LIKE takes)"
t=$(now)
psql_ -c "\\copy bench_copy (take_id, session_id, filename, note, frequency, articulation, instrument, \"timestamp\", dynamic, round_robin, recorder, verdict, cents, superseded, state, sha256, slot, log_line) FROM '$work/takes.csv' WITH (FORMAT csv)"
copy_s=$(python3 -c "print($(now) - $t)")
copied=$(psql_ -c "SELECT count(*) FROM bench_copy")

printf '\ncatalog import of a %s-take log (PostgreSQL 15, Unix socket)\n' "$takes"
printf '%-42s %8s %10s %12s\n' "what" "rows" "seconds" "takes/s"
printf '%-42s %8s %10.3f %12s\n' "takebox catalog import (new)" "$rows" "$import_s" "$(rate "$rows" "$import_s")"
printf '%-42s %8s %10.3f %12s\n' "takebox catalog import (again, upserts)" "$rows" "$again_s" "$(rate "$rows" "$again_s")"
printf '%-42s %8s %10.3f %12s\n' "psql \\copy of the same rows as CSV" "$copied" "$copy_s" "$(rate "$copied" "$copy_s")"
