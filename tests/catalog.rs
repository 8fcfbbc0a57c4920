//! The catalog against a real PostgreSQL 15 (started here on a Unix socket in a
//! temp folder, no TCP), exports parsed back and linted with sfzlint (from PyPI,
//! in a venv this test makes), and cleanup on a temp tree.

mod common;

use common::sfizz::{Play, RATE, checked_cents, opcodes, rms_db, sfizz_render, worst_jump};
use common::sfzlint::{assert_sfzlint_passes, sfzlint};

use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn takebox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_takebox"))
        .args(args)
        .output()
        .expect("run takebox")
}

/// `takebox export FORMAT SESSION --out OUT --logs LOGS --share SHARE`.
fn export(format: &str, session: &str, out: &Path, logs: &Path, share: &Path) -> Output {
    takebox(&[
        "export",
        format,
        session,
        "--out",
        &out.display().to_string(),
        "--logs",
        &logs.display().to_string(),
        "--share",
        &share.display().to_string(),
    ])
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A PostgreSQL server of our own: initdb and pg_ctl as `postgres` (when we are
/// root) on a temp folder, listening only on a Unix socket in that folder.
struct Postgres {
    dir: tempfile::TempDir,
}

impl Postgres {
    fn start() -> Postgres {
        assert!(
            Path::new(PG_BIN).join("initdb").exists(),
            "PostgreSQL 15 is not installed ({PG_BIN}): run scripts/deps.sh test"
        );
        let dir = tempfile::Builder::new()
            .prefix("takebox-pg")
            .tempdir()
            .unwrap();
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(st.success(), "chown postgres");
        }
        let pg = Postgres { dir };
        pg.as_postgres(&[
            &format!("{PG_BIN}/initdb"),
            "-D",
            &pg.data().display().to_string(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        let opts = format!(
            "-k {} -p 5432 -c listen_addresses='' -c fsync=off",
            pg.dir.path().display()
        );
        pg.as_postgres(&[
            &format!("{PG_BIN}/pg_ctl"),
            "-D",
            &pg.data().display().to_string(),
            "-l",
            &pg.dir.path().join("server.log").display().to_string(),
            "-o",
            &opts,
            "-w",
            "start",
        ]);
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(&self, argv: &[&str]) {
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(argv);
            c
        } else {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        };
        let out = cmd.output().expect("run a PostgreSQL tool");
        assert!(
            out.status.success(),
            "{argv:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!(
            "host={} port=5432 user=postgres dbname=postgres",
            self.dir.path().display()
        )
    }

    /// One value from psql (unaligned, tuples only).
    fn query(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-h"])
            .arg(self.dir.path())
            .args([
                "-p",
                "5432",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-XAt",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let argv = [
            &format!("{PG_BIN}/pg_ctl"),
            "-D",
            &self.data().display().to_string(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ];
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(argv);
            c
        } else {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        };
        let _ = cmd.output();
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// A session log as takebox-control writes it (see control::cycle).
struct LogWriter {
    id: String,
    time: SystemTime,
    lines: Vec<String>,
}

fn hz(midi: u8) -> f64 {
    440.0 * 2f64.powf((f64::from(midi) - 69.0) / 12.0)
}

const NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

fn note_name(midi: u8) -> String {
    format!(
        "{}{}",
        NAMES[usize::from(midi % 12)],
        i32::from(midi / 12) - 1
    )
}

/// One planned take: (midi, articulation, dynamic, round robin, cents, verdict).
type Take<'a> = (
    u8,
    &'a str,
    Option<&'a str>,
    Option<u32>,
    Option<f64>,
    &'a str,
);

impl LogWriter {
    fn new(id: &str, time: SystemTime) -> LogWriter {
        let mut w = LogWriter {
            id: id.into(),
            time,
            lines: Vec::new(),
        };
        w.event(
            "session_start",
            json!({"session_id": id, "request": {"instrument": "cello", "user_initials": "tb",
                   "lowest_note": "C4", "highest_note": "E4", "articulations": ["long"]},
                   "takes": 0, "recorders": ["http://127.0.0.1:5001"],
                   "settings": {"countdown_duration": 5.0, "default_frequency": 440.0,
                                "storage_management": {"auto_cleanup": true, "max_age_days": 30}}}),
        );
        w
    }

    fn event(&mut self, event: &str, fields: Value) {
        let mut v = json!({"time": rfc3339(self.time), "event": event});
        v.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        self.lines.push(v.to_string());
        self.time += Duration::from_secs(3);
    }

    fn filename(&self, take_id: &str, t: &Take) -> String {
        let (midi, art, dynamic, rr, _, _) = *t;
        let mut f = format!("{0}/{0}_cello_{1}_{art}", self.id, note_name(midi));
        if let Some(d) = dynamic {
            write!(f, "_{d}").unwrap();
        }
        if let Some(rr) = rr {
            write!(f, "_rr{rr}").unwrap();
        }
        format!("{f}_{take_id}.wav")
    }

    /// A `take` line and its confirmation; returns the take id and file name.
    fn take(&mut self, slot: usize, attempt: usize, t: Take) -> (String, String) {
        let take_id = format!("{}-{slot}-{attempt}", self.id);
        let (midi, art, dynamic, rr, cents, verdict) = t;
        self.event(
            "take",
            json!({"take_id": take_id, "slot": slot, "note": note_name(midi), "articulation": art,
                   "dynamic": dynamic, "round_robin": rr, "start_at": rfc3339(self.time)}),
        );
        let filename = self.filename(&take_id, &t);
        let check = json!({"verdict": "ok", "issues": [], "cents": cents, "clipped_samples": 0});
        self.event(
            "confirmation",
            json!({"session_id": self.id, "filename": filename, "note": note_name(midi),
                   "frequency": hz(midi), "articulation": art, "instrument": "cello",
                   "timestamp": rfc3339(self.time), "take_id": take_id, "dynamic": dynamic,
                   "round_robin": rr, "recorder": "http://127.0.0.1:5001", "verdict": verdict,
                   "reason": null, "state": "delivered", "sha256": "00", "peak_dbfs": [-3.0],
                   "check": check, "processing": null, "slot": slot, "start_at": rfc3339(self.time)}),
        );
        (take_id, filename)
    }

    fn end(&mut self) {
        self.event(
            "session_end",
            json!({"status": "finished", "done": 1, "total": 1}),
        );
    }

    fn write(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(format!("{}.jsonl", self.id));
        std::fs::write(&p, self.lines.join("\n") + "\n").unwrap();
        p
    }
}

fn write_wav(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..4800 {
        w.write_sample(((i as f64 * 0.05).sin() * 8000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn import_is_idempotent_grows_with_the_log_and_keeps_the_seed_columns() {
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let mut w = LogWriter::new("s1", SystemTime::now());
    w.take(1, 1, (60, "long", None, None, Some(2.0), "ok"));
    let (retaken, _) = w.take(2, 1, (62, "long", None, None, Some(9.0), "warn"));
    w.event("retake", json!({"slot": 2, "superseded": retaken}));
    w.take(2, 2, (62, "long", None, None, Some(1.0), "ok"));
    w.write(&logs);
    let logs_arg = logs.display().to_string();
    let url = pg.url();
    for round in 0..2 {
        let o = takebox(&["catalog", "import", &logs_arg, "--db", &url]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "round {round}: {out}{err}");
        assert!(out.contains("imported 1 sessions, 3 takes"), "{out}");
        assert_eq!(pg.query("SELECT count(*) FROM takes"), "3");
        assert_eq!(pg.query("SELECT count(*) FROM verdicts"), "3");
        assert_eq!(pg.query("SELECT count(*) FROM sessions"), "1");
    }
    assert_eq!(
        pg.query("SELECT string_agg(version::text, ',') FROM schema_version"),
        "1"
    );
    assert_eq!(
        pg.query(&format!(
            "SELECT superseded FROM takes WHERE take_id = '{retaken}'"
        )),
        "t"
    );
    assert_eq!(pg.query("SELECT count(*) FROM takes WHERE superseded"), "1");
    assert_eq!(
        pg.query("SELECT cents FROM takes WHERE take_id = 's1-2-2'"),
        "1"
    );
    assert_eq!(
        pg.query("SELECT settings->>'countdown_duration' FROM sessions WHERE session_id = 's1'"),
        "5.0"
    );
    // The seed's recordings columns, by name.
    assert_eq!(
        pg.query("SELECT count(*) FROM recordings WHERE session_id = 's1' AND note = 'C4' AND articulation = 'long' AND instrument = 'cello' AND frequency > 261 AND filename LIKE 's1/%' AND \"timestamp\" IS NOT NULL"),
        "1"
    );

    // The log grows: two more takes and the end; only those are new rows.
    w.take(3, 1, (64, "long", None, None, None, "ok"));
    w.take(4, 1, (65, "long", None, None, Some(-3.0), "failed"));
    w.end();
    w.write(&logs);
    let o = takebox(&["catalog", "import", &logs_arg, "--db", &url]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(pg.query("SELECT count(*) FROM takes"), "5");
    assert_eq!(pg.query("SELECT count(DISTINCT take_id) FROM takes"), "5");
    assert_eq!(
        pg.query("SELECT end_status FROM sessions WHERE session_id = 's1'"),
        "finished"
    );
    assert_eq!(
        pg.query("SELECT verdict FROM verdicts WHERE take_id = 's1-4-1'"),
        "failed"
    );
    // The import marker the retention rule reads.
    let marker = std::fs::read_to_string(logs.join("s1.jsonl.imported")).unwrap();
    assert_eq!(marker.trim(), w.lines.len().to_string());
}

#[test]
fn corrupt_and_truncated_lines_are_reported_with_file_and_line_and_the_rest_imported() {
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let mut w = LogWriter::new("s2", SystemTime::now());
    w.take(1, 1, (60, "long", None, None, None, "ok"));
    w.lines.push("this is not json".into()); // line 4
    w.take(2, 1, (61, "long", None, None, None, "ok"));
    w.lines
        .push(r#"{"time":"2026-11-25T10:00:00Z","event":"confirmation","take_id":"x"}"#.into()); // line 7
    w.take(3, 1, (62, "long", None, None, None, "ok"));
    let cut = w.lines.pop().unwrap();
    w.lines.push(cut[..cut.len() / 2].to_string()); // line 9: truncated confirmation
    let path = w.write(&logs);
    // A second, healthy session in the same folder is imported as well.
    let mut ok = LogWriter::new("s3", SystemTime::now());
    ok.take(1, 1, (70, "long", None, None, None, "ok"));
    ok.write(&logs);

    let o = takebox(&[
        "catalog",
        "import",
        &logs.display().to_string(),
        "--db",
        &pg.url(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let p = path.display();
    assert!(err.contains(&format!("{p}:4: not JSON")), "{err}");
    assert!(err.contains(&format!("{p}:7: confirmation")), "{err}");
    assert!(err.contains(&format!("{p}:9: truncated line")), "{err}");
    assert!(out.contains("3 lines skipped"), "{out}");
    assert_eq!(
        pg.query("SELECT string_agg(take_id, ',' ORDER BY take_id) FROM takes"),
        "s2-1-1,s2-2-1,s3-1-1"
    );
    // A database that is not there: a clear error, exit 1.
    let o = takebox(&[
        "catalog",
        "import",
        &logs.display().to_string(),
        "--db",
        "host=/nonexistent port=1 user=x",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("cannot connect"), "{:?}", text(&o));
    // No --db: a usage error.
    let o = takebox(&["catalog", "import", &logs.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
}

/// A session for the exports: C4 and E4, pp and ff, two round robins each, a
/// second articulation, a superseded take and a failed one.
fn export_session(root: &Path) -> (PathBuf, PathBuf, Vec<String>) {
    let logs = root.join("logs");
    let share = root.join("share");
    let mut w = LogWriter::new("s4", SystemTime::now());
    let mut slot = 0;
    let mut excluded = Vec::new();
    for midi in [60u8, 64] {
        for dynamic in ["pp", "ff"] {
            for rr in [1u32, 2] {
                slot += 1;
                let cents = f64::from(midi - 60) + if dynamic == "ff" { 3.4 } else { -7.6 };
                let (id, file) = w.take(
                    slot,
                    1,
                    (midi, "long", Some(dynamic), Some(rr), Some(cents), "ok"),
                );
                write_wav(&share.join(&file));
                if slot == 2 {
                    // Retaken: the first attempt is superseded.
                    w.event("retake", json!({"slot": slot, "superseded": id}));
                    excluded.push(id);
                    let (_, file) = w.take(
                        slot,
                        2,
                        (midi, "long", Some(dynamic), Some(rr), Some(0.4), "ok"),
                    );
                    write_wav(&share.join(&file));
                }
            }
        }
    }
    slot += 1;
    let (_, file) = w.take(slot, 1, (62, "short", None, None, Some(-1.0), "ok"));
    write_wav(&share.join(&file));
    slot += 1;
    let (id, file) = w.take(slot, 1, (67, "short", None, None, None, "failed"));
    write_wav(&share.join(&file));
    excluded.push(id);
    w.end();
    w.write(&logs);
    (logs, share, excluded)
}

#[test]
fn sfz_export_maps_keys_velocities_round_robins_and_passes_sfzlint() {
    let tmp = tempfile::tempdir().unwrap();
    let (logs, share, excluded) = export_session(tmp.path());
    let out = tmp.path().join("export");
    let o = export("sfz", "s4", &out, &logs, &share);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    let long = std::fs::read_to_string(out.join("s4_cello_long.sfz")).unwrap();
    let short = std::fs::read_to_string(out.join("s4_cello_short.sfz")).unwrap();
    for id in &excluded {
        assert!(
            !long.contains(&format!("_{id}.wav")) && !short.contains(&format!("_{id}.wav")),
            "{id} exported"
        );
    }
    let regions: Vec<_> = long
        .lines()
        .filter(|l| l.starts_with("<region>"))
        .map(opcodes)
        .collect();
    assert_eq!(regions.len(), 8, "{long}");
    for r in &regions {
        for k in [
            "sample",
            "lokey",
            "hikey",
            "pitch_keycenter",
            "tune",
            "lovel",
            "hivel",
            "seq_length",
            "seq_position",
        ] {
            assert!(r.contains_key(k), "{k} missing in {r:?}");
        }
        assert!(
            out.join(&r["sample"]).is_file(),
            "{} is not relative to the export",
            r["sample"]
        );
        assert!(!r["sample"].starts_with('/'));
        let (root, lo, hi) = (&r["pitch_keycenter"], &r["lokey"], &r["hikey"]);
        let expect = if root == "60" {
            ("0", "62")
        } else {
            ("63", "127")
        };
        assert_eq!((lo.as_str(), hi.as_str()), expect, "{r:?}");
        assert_eq!(r["seq_length"], "2");
        let ff = r["sample"].contains("_ff_");
        assert_eq!(
            (r["lovel"].as_str(), r["hivel"].as_str()),
            if ff { ("64", "127") } else { ("1", "63") }
        );
        let rr = if r["sample"].contains("_rr1_") {
            "1"
        } else {
            "2"
        };
        assert_eq!(r["seq_position"], rr);
    }
    // Tune is the measured cents turned around: E4 ff measured +7.4 -> -7.
    let e4ff: Vec<_> = regions
        .iter()
        .filter(|r| r["pitch_keycenter"] == "64" && r["sample"].contains("_ff_"))
        .collect();
    assert!(e4ff.iter().all(|r| r["tune"] == "-7"), "{e4ff:?}");
    let retaken: Vec<_> = regions
        .iter()
        .filter(|r| r["sample"].contains("s4-2-2"))
        .collect();
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0]["tune"], "0");
    let short_regions: Vec<_> = short
        .lines()
        .filter(|l| l.starts_with("<region>"))
        .map(opcodes)
        .collect();
    assert_eq!(short_regions.len(), 1);
    assert_eq!(
        (
            short_regions[0]["lokey"].as_str(),
            short_regions[0]["hikey"].as_str(),
            short_regions[0]["tune"].as_str()
        ),
        ("0", "127", "1")
    );

    let lint = sfzlint();
    for f in ["s4_cello_long.sfz", "s4_cello_short.sfz"] {
        let o = Command::new(&lint).arg(out.join(f)).output().unwrap();
        let (so, se) = text(&o);
        assert!(o.status.success(), "sfzlint {f}: {so}{se}");
        assert!(
            so.trim().is_empty() && se.trim().is_empty(),
            "sfzlint {f} complains:\n{so}{se}"
        );
    }
    // A session without a log: a clear error, exit 1.
    let o = export("sfz", "nope", &out, &logs, &share);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("no log for session nope"));
    let o = takebox(&["export", "wav", "s4", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn dspreset_is_well_formed_xml_with_round_robin_groups_and_csv_lists_every_region() {
    let tmp = tempfile::tempdir().unwrap();
    let (logs, share, _) = export_session(tmp.path());
    let out = tmp.path().join("ds");
    let args = |fmt: &str| {
        export(
            fmt,
            &logs.join("s4.jsonl").display().to_string(),
            &out,
            &logs,
            &share,
        )
    };
    let o = args("dspreset");
    assert!(o.status.success(), "{:?}", text(&o));
    // Parsed by Python's XML parser: any malformation fails here.
    let script = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
groups = root.find('groups')
print(json.dumps({'root': root.tag, 'mode': groups.get('seqMode'),
  'groups': [{'pos': g.get('seqPosition'), 'veltrack': g.get('ampVelTrack'), 'samples': [dict(s.attrib) for s in g.findall('sample')]} for g in groups.findall('group')]}))
"#;
    let py = Command::new("python3")
        .args(["-c", script])
        .arg(out.join("s4_cello_long.dspreset"))
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let v: Value = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(v["root"], "DecentSampler");
    assert_eq!(v["mode"], "round_robin");
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{v}");
    for (i, g) in groups.iter().enumerate() {
        assert_eq!(g["pos"], (i + 1).to_string());
        // pp and ff layers keep their recorded levels: velocity does not scale them.
        assert_eq!(g["veltrack"], "0", "{g}");
        let samples = g["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 4);
        for s in samples {
            assert!(out.join(s["path"].as_str().unwrap()).is_file(), "{s}");
            assert!(["60", "64"].contains(&s["rootNote"].as_str().unwrap()));
            assert_eq!(s["seqLength"], "2");
        }
    }
    let o = args("csv");
    assert!(o.status.success(), "{:?}", text(&o));
    let csv = std::fs::read_to_string(out.join("s4_cello.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("take_id,sample,articulation"));
    assert_eq!(rows.len(), 1 + 8 + 1, "{csv}");
}

fn days_ago(d: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(d * 86400)
}

fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(d: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                walk(&p, base, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn cleanup_deletes_only_old_finished_confirmed_sessions_inside_the_root_without_following_links() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let (logs, share, state, outside) = (
        base.join("logs"),
        base.join("share"),
        base.join("state"),
        base.join("outside"),
    );
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join(".takebox-share"), "").unwrap();
    std::fs::create_dir_all(state.join("sessions")).unwrap();
    std::fs::create_dir_all(outside.join("keep")).unwrap();
    std::fs::write(outside.join("keep/precious.wav"), "x").unwrap();
    std::fs::write(outside.join("alone.wav"), "x").unwrap();
    std::fs::write(
        base.join("config.json"),
        json!({"logging": {"log_directory": "logs"}, "capture": {"share_path": "share"},
               "control": {"state_dir": "state"},
               "storage_management": {"auto_cleanup": true, "max_age_days": 30}})
        .to_string(),
    )
    .unwrap();
    let session = |id: &str, age: u64, end: bool, confirm_all: bool| {
        let mut w = LogWriter::new(id, days_ago(age));
        let (_, f) = w.take(1, 1, (60, "long", None, None, None, "ok"));
        write_wav(&share.join(f));
        if !confirm_all {
            w.event("take", json!({"take_id": format!("{id}-2-1"), "slot": 2}));
        }
        if end {
            w.end();
        }
        w.write(&logs);
    };
    session("old", 40, true, true);
    session("new", 2, true, true);
    session("running", 40, false, true);
    session("unconfirmed", 40, true, false);
    session("open", 40, true, true);
    std::fs::write(
        state.join("sessions/open.json"),
        r#"{"id":"open","status":"open"}"#,
    )
    .unwrap();
    // Links pointing outside the root, inside an old session: removed as links.
    std::os::unix::fs::symlink(outside.join("keep"), share.join("old/linked-dir")).unwrap();
    std::os::unix::fs::symlink(outside.join("alone.wav"), share.join("old/linked.wav")).unwrap();
    // An old session whose folder itself is a link to outside the root.
    session("linked", 40, true, true);
    std::fs::rename(share.join("linked"), outside.join("linked-real")).unwrap();
    std::os::unix::fs::symlink(outside.join("linked-real"), share.join("linked")).unwrap();
    let outside_before = snapshot(&outside);
    let share_before = snapshot(&share);
    let config = base.join("config.json").display().to_string();

    let o = takebox(&["cleanup", "--dry-run", "--config", &config]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(
        snapshot(&share),
        share_before,
        "--dry-run removed something"
    );
    assert!(
        out.contains(&format!("would remove {}", share.join("old").display())),
        "{out}"
    );
    assert!(out.contains("2 sessions to delete"), "{out}");

    let o = takebox(&["cleanup", "--config", &config]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(
        snapshot(&outside),
        outside_before,
        "something outside the root changed"
    );
    assert!(outside.join("keep/precious.wav").is_file() && outside.join("alone.wav").is_file());
    let after = snapshot(&share);
    for gone in share_before.iter().filter(|p| !after.contains(p)) {
        assert!(
            out.contains(&format!("removed {}", share.join(gone).display())),
            "{gone} removed without a log line:\n{out}"
        );
    }
    assert!(
        !share.join("old").exists() && std::fs::symlink_metadata(share.join("linked")).is_err()
    );
    for kept in ["new", "running", "unconfirmed", "open"] {
        assert!(share.join(kept).is_dir(), "{kept} deleted");
    }
    assert!(out.contains("kept running: in progress"), "{out}");
    assert!(out.contains("kept open: in progress"), "{out}");
    assert!(
        out.contains("kept unconfirmed: 1 take(s) not yet confirmed"),
        "{out}"
    );
    assert!(share.join(".takebox-share").is_file());
    assert!(logs.join("old.jsonl").is_file(), "logs are kept");

    // With the share's marker gone (not mounted), nothing is deleted.
    std::fs::remove_file(share.join(".takebox-share")).unwrap();
    let o = takebox(&["cleanup", "--config", &config]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("not mounted"));
}

#[test]
fn a_session_recorded_by_the_real_daemons_imports_and_exports() {
    let pulse = common::Pulse::start();
    let ws = common::Workspace::new();
    ws.mount_share();
    let port = common::free_port();
    // A quiet room: the silent takes go on (no pause on the warning).
    ws.write_board_config(port, json!({"control": {"on_warning": "continue"}}));
    let _capture = common::Daemon::capture(&ws, Some(&pulse));
    let control = common::Daemon::control(&ws);
    common::wait_for(
        "the recorder to show as up",
        Duration::from_secs(30),
        || {
            let (_, s) = common::http(
                control.addr,
                "GET",
                "/api/v1/status",
                Some(common::TOKEN),
                None,
            );
            (s["recorders"][0]["up"] == true).then_some(())
        },
    );
    let post = |path: &str, body: Value| {
        common::http(
            control.addr,
            "POST",
            path,
            Some(common::TOKEN),
            Some(serde_json::to_vec(&body).unwrap()),
        )
    };
    let (code, begun) = post(
        "/api/v1/session",
        json!({"instrument": "guitar", "lowest_note": "A4", "highest_note": "Bb4",
               "articulations": ["short"], "dynamics": ["pp", "ff"], "auto_advance": true}),
    );
    assert_eq!(code, 201, "{begun}");
    let id = begun["session_id"].as_str().unwrap().to_string();
    let (code, st) = post("/api/v1/start", json!({}));
    assert_eq!(code, 200, "{st}");
    common::wait_for("the session to finish", Duration::from_secs(60), || {
        let (_, s) = common::http(
            control.addr,
            "GET",
            "/api/v1/status",
            Some(common::TOKEN),
            None,
        );
        (s["phase"] == "finished").then_some(())
    });
    let log = common::session_log(&ws, &id);
    let confirmed = log.iter().filter(|l| l["event"] == "confirmation").count();
    assert_eq!(confirmed, 4);

    let pg = Postgres::start();
    let o = takebox(&[
        "catalog",
        "import",
        &ws.log_dir().display().to_string(),
        "--db",
        &pg.url(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        err.is_empty(),
        "a line of the daemon's own log was skipped: {err}"
    );
    assert_eq!(
        pg.query(&format!(
            "SELECT count(*) FROM takes WHERE session_id = '{id}'"
        )),
        "4"
    );
    assert_eq!(
        pg.query("SELECT string_agg(DISTINCT dynamic, ',' ORDER BY dynamic) FROM takes"),
        "ff,pp"
    );
    assert_eq!(
        pg.query("SELECT count(*) FROM sessions WHERE end_status = 'finished'"),
        "1"
    );

    // Export through the board's config: its log folder and share.
    let out_dir = ws.dir.path().join("export");
    let config = ws.config_path().display().to_string();
    let o = takebox(&[
        "export",
        "sfz",
        &id,
        "--out",
        &out_dir.display().to_string(),
        "--config",
        &config,
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    let sfz = std::fs::read_to_string(out_dir.join(format!("{id}_guitar_short.sfz"))).unwrap();
    let regions: Vec<_> = sfz
        .lines()
        .filter(|l| l.starts_with("<region>"))
        .map(opcodes)
        .collect();
    assert_eq!(regions.len(), 4, "{sfz}");
    for r in &regions {
        assert!(out_dir.join(&r["sample"]).is_file(), "{r:?}");
        assert!(
            ["69", "70"].contains(&r["pitch_keycenter"].as_str()),
            "{r:?}"
        );
    }
    let se = assert_sfzlint_passes(&out_dir.join(format!("{id}_guitar_short.sfz")));
    assert!(se.trim().is_empty(), "sfzlint: {se}");
}

#[test]
fn with_require_imported_cleanup_waits_for_the_catalog_to_have_the_whole_log() {
    let pg = Postgres::start();
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let (logs, share) = (base.join("logs"), base.join("share"));
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join(".takebox-share"), "").unwrap();
    std::fs::write(
        base.join("config.json"),
        json!({"logging": {"log_directory": "logs"}, "capture": {"share_path": "share"},
               "control": {"state_dir": "state"},
               "storage_management": {"max_age_days": 30, "require_imported": true}})
        .to_string(),
    )
    .unwrap();
    let mut w = LogWriter::new("old", days_ago(40));
    let (_, f) = w.take(1, 1, (60, "long", None, None, None, "ok"));
    write_wav(&share.join(f));
    w.write(&logs);
    let config = base.join("config.json").display().to_string();
    let logs_arg = logs.display().to_string();

    // Imported before it ended: the log grew since, so it stays.
    let o = takebox(&["catalog", "import", &logs_arg, "--db", &pg.url()]);
    assert!(o.status.success(), "{:?}", text(&o));
    w.end();
    w.write(&logs);
    let o = takebox(&["cleanup", "--config", &config]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.contains("kept old: not yet imported into the catalog"),
        "{out}"
    );
    assert!(share.join("old").is_dir());

    let o = takebox(&["catalog", "import", &logs_arg, "--db", &pg.url()]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = takebox(&["cleanup", "--config", &config]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("1 sessions deleted"), "{out}");
    assert!(!share.join("old").exists());
    assert_eq!(
        pg.query("SELECT count(*) FROM takes WHERE session_id = 'old'"),
        "1",
        "the catalog keeps the deleted session's takes"
    );
}

/// Rewrites a share's WAV (a 16-bit mono sine) with a `smpl` chunk holding one loop.
fn write_looped_wav(path: &Path, start: u32, last: u32) {
    use takebox::dsp::{SmplLoop, SmplPitch, smpl_chunk_looped};
    let spec = takebox::wav::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        format: takebox::protocol::SampleFormat::S16,
    };
    let smpl = smpl_chunk_looped(
        48_000,
        SmplPitch::from_cents(60, 0.0),
        &[SmplLoop { start, last }],
    )
    .unwrap();
    let x: Vec<f32> = (0..4800).map(|i| (i as f32 * 0.05).sin() * 0.25).collect();
    let f = std::fs::File::create(path).unwrap();
    let mut w = takebox::wav::WavWriter::new(f, spec, x.len() as u64, &smpl).unwrap();
    w.write(&x).unwrap();
    w.finish().unwrap();
}

#[test]
fn a_sample_with_a_smpl_loop_exports_looped_and_the_others_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let (logs, share, _) = export_session(tmp.path());
    let (plain, looped) = (tmp.path().join("plain"), tmp.path().join("looped"));
    for fmt in ["sfz", "dspreset"] {
        let o = export(fmt, "s4", &plain, &logs, &share);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let before = std::fs::read_to_string(plain.join("s4_cello_long.sfz")).unwrap();
    let region = before.lines().find(|l| l.starts_with("<region>")).unwrap();
    let sample = opcodes(region)["sample"].clone();
    write_looped_wav(&plain.join(&sample), 1_257, 3_769);
    for fmt in ["sfz", "dspreset"] {
        let o = export(fmt, "s4", &looped, &logs, &share);
        let (so, se) = text(&o);
        assert!(o.status.success(), "{so}{se}");
        assert!(so.contains("9 regions, 1 with a sustain loop"), "{so}");
        // The log gives the loop's seam figure and its verdict (whole periods: good).
        let seam = so.lines().find(|l| l.starts_with("loop ")).expect(&so);
        assert!(
            seam.contains(&sample) && seam.contains("1257..=3769 seam"),
            "{seam}"
        );
        assert!(seam.ends_with(": good"), "{seam}");
    }
    let after = std::fs::read_to_string(looped.join("s4_cello_long.sfz")).unwrap();
    // Only the looped sample's region changed, by the loop opcodes.
    for (b, a) in before.lines().zip(after.lines()) {
        if b.contains(&sample) {
            let r = opcodes(a);
            assert_eq!(r["loop_mode"], "loop_continuous");
            assert_eq!(
                (r["loop_start"].as_str(), r["loop_end"].as_str()),
                ("1257", "3769")
            );
            assert_eq!(r["sample"], sample);
        } else {
            assert_eq!(a, b);
        }
    }
    assert_eq!(before.lines().count(), after.lines().count());
    assert_sfzlint_passes(&looped.join("s4_cello_long.sfz"));
    let ds = std::fs::read_to_string(looped.join("s4_cello_long.dspreset")).unwrap();
    let ds_before = std::fs::read_to_string(plain.join("s4_cello_long.dspreset")).unwrap();
    let looped_lines: Vec<_> = ds.lines().filter(|l| l.contains("loopEnabled")).collect();
    assert_eq!(looped_lines.len(), 1, "{ds}");
    assert!(looped_lines[0].contains(&sample));
    assert!(looped_lines[0].contains("loopStart=\"1257\" loopEnd=\"3769\" loopEnabled=\"true\""));
    let unlooped = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.contains(&sample))
            .map(String::from)
            .collect()
    };
    assert_eq!(unlooped(&ds), unlooped(&ds_before));
}

#[test]
fn export_flac_is_self_contained_and_decodes_to_the_share_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let (logs, share, _) = export_session(tmp.path());
    let out = tmp.path().join("shipped");
    let o = takebox(&[
        "export",
        "sfz",
        "s4",
        "--out",
        out.to_str().unwrap(),
        "--logs",
        logs.to_str().unwrap(),
        "--share",
        share.to_str().unwrap(),
        "--flac",
    ]);
    let (so, se) = text(&o);
    assert!(o.status.success(), "{so}{se}");
    let sfz = std::fs::read_to_string(out.join("s4_cello_long.sfz")).unwrap();
    let regions: Vec<_> = sfz
        .lines()
        .filter(|l| l.starts_with("<region>"))
        .map(opcodes)
        .collect();
    assert_eq!(regions.len(), 8);
    let wavs: Vec<PathBuf> = walk(&share);
    for r in &regions {
        let s = &r["sample"];
        assert!(s.starts_with("samples/") && s.ends_with(".flac"), "{s}");
        let flac = out.join(s);
        let back = tmp.path().join("back.wav");
        let st = Command::new("flac")
            .args(["-d", "-s", "-f", "-o"])
            .arg(&back)
            .arg(&flac)
            .status()
            .expect("flac (scripts/deps.sh test)");
        assert!(st.success());
        let stem = flac.file_stem().unwrap().to_string_lossy().into_owned();
        let wav = wavs
            .iter()
            .find(|w| w.file_stem().unwrap().to_string_lossy() == stem)
            .unwrap_or_else(|| panic!("{stem} on the share"));
        let samples = |p: &Path| -> Vec<i32> {
            hound::WavReader::open(p)
                .unwrap()
                .samples::<i32>()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(samples(&back), samples(wav), "{stem}");
    }
    assert_sfzlint_passes(&out.join("s4_cello_long.sfz"));
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

// ---- Exports played by sfizz (pysfizz from PyPI) ----

/// Peak dBFS of a sample by dynamic and round robin: ff 18 dB over pp, and
/// round robin 2 two dB under 1, so a rendered level names the sample played.
fn sample_level_db(dynamic: &str, rr: u32) -> f64 {
    (if dynamic == "ff" { -8.0 } else { -26.0 }) - 2.0 * f64::from(rr - 1)
}

/// A 24-bit mono steady tone at `hz`, `secs` long, 10 ms fade in.
fn write_steady_tone(path: &Path, hz: f64, peak_db: f64, secs: f64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE as u32,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let a = 10f64.powf(peak_db / 20.0) * 8_388_607.0;
    for i in 0..(secs * RATE) as usize {
        let fade = (i as f64 / (0.01 * RATE)).min(1.0);
        let x = (std::f64::consts::TAU * hz * i as f64 / RATE).sin();
        w.write_sample((a * fade * x).round() as i32).unwrap();
    }
    w.finalize().unwrap();
}

/// Session s5: C4 and E4 long, pp and ff, two round robins, each sample a
/// steady tone off its note by the cents its confirmation logs, looped by
/// `takebox process --loop` (as the share would hold them).
fn sfizz_session(root: &Path) -> (PathBuf, PathBuf) {
    let (logs, share) = (root.join("logs"), root.join("share"));
    let mut w = LogWriter::new("s5", SystemTime::now());
    let mut files = Vec::new();
    let mut slot = 0;
    for midi in [60u8, 64] {
        for dynamic in ["pp", "ff"] {
            for rr in [1u32, 2] {
                slot += 1;
                let cents = if dynamic == "ff" { 3.4 } else { -7.6 };
                let t = (midi, "long", Some(dynamic), Some(rr), Some(cents), "ok");
                let (_, file) = w.take(slot, 1, t);
                let hz = hz(midi) * (cents / 1200.0).exp2();
                write_steady_tone(&share.join(&file), hz, sample_level_db(dynamic, rr), 1.5);
                files.push(share.join(&file).display().to_string());
            }
        }
    }
    w.end();
    w.write(&logs);
    let mut args = vec!["process", "--loop", "--in-place"];
    args.extend(files.iter().map(String::as_str));
    let o = takebox(&args);
    assert!(o.status.success(), "{:?}", text(&o));
    (logs, share)
}

/// The steady part of a rendered note (from 0.2 s to `until` s).
fn steady(x: &[f32], until: f64) -> &[f32] {
    &x[(0.2 * RATE) as usize..(until * RATE) as usize]
}

#[test]
fn sfizz_plays_every_key_at_its_pitch_from_the_sfz_export() {
    let tmp = tempfile::tempdir().unwrap();
    let (logs, share) = sfizz_session(tmp.path());
    let out = tmp.path().join("sfz");
    let o = export("sfz", "s5", &out, &logs, &share);
    assert!(o.status.success(), "{:?}", text(&o));
    let sfz = out.join("s5_cello_long.sfz");
    assert_sfzlint_passes(&sfz);
    let renders = tmp.path().join("keys");
    let plays: Vec<Play> = (0..=127)
        .map(|key| Play {
            key,
            vel: 127,
            on: 0.6,
            len: 0.6,
        })
        .collect();
    let keys = sfizz_render(&sfz, &renders, &plays);
    for (key, x) in keys.iter().enumerate() {
        let level = rms_db(steady(x, 0.55));
        assert!(level > -40.0, "key {key} is silent ({level:.1} dB)");
    }
    // The pitch of every key whose fundamental takebox's check can measure
    // well (C2 to C7): the sampled note shifted to the key, within 3 cents
    // (the export's tune is whole cents, so up to 0.5 off by design).
    let mut worst = (0u8, 0f64);
    for key in 36u8..=96 {
        let c = checked_cents(&renders.join(format!("{key}.wav")), key);
        if c.abs() > worst.1.abs() {
            worst = (key, c);
        }
    }
    eprintln!(
        "sfizz pitch: worst key {} at {:+.2} cents",
        worst.0, worst.1
    );
    assert!(
        worst.1.abs() < 3.0,
        "key {} at {:+.2} cents",
        worst.0,
        worst.1
    );
}

#[test]
fn sfizz_switches_layers_alternates_round_robins_loops_and_keeps_levels() {
    let tmp = tempfile::tempdir().unwrap();
    let (logs, share) = sfizz_session(tmp.path());
    let out = tmp.path().join("sfz");
    let o = export("sfz", "s5", &out, &logs, &share);
    let (so, _) = text(&o);
    assert!(
        o.status.success() && so.contains("8 regions, 8 with a sustain loop"),
        "{so}"
    );
    let sfz = out.join("s5_cello_long.sfz");
    let text_sfz = std::fs::read_to_string(&sfz).unwrap();
    let c4: Vec<_> = text_sfz
        .lines()
        .filter(|l| l.starts_with("<region>"))
        .map(opcodes)
        .filter(|r| r["pitch_keycenter"] == "60")
        .collect();
    let vel =
        |r: &std::collections::BTreeMap<String, String>, k: &str| -> u8 { r[k].parse().unwrap() };
    let pp_top = c4.iter().map(|r| vel(r, "hivel")).min().unwrap();
    let ff_bottom = c4.iter().map(|r| vel(r, "lovel")).max().unwrap();
    assert_eq!(ff_bottom, pp_top + 1, "{text_sfz}");
    let held = |key, vel| Play {
        key,
        vel,
        on: 0.6,
        len: 0.6,
    };
    // Each velocity twice (both round robins), at the layers' edges, then
    // ff four times in a row, then one long ff note past its sample's end.
    let mut plays = Vec::new();
    for v in [1, pp_top, ff_bottom, 127] {
        plays.extend([held(60, v), held(60, v)]);
    }
    plays.extend((0..4).map(|_| held(60, 127)));
    plays.push(Play {
        key: 60,
        vel: 127,
        on: 4.0,
        len: 4.0,
    });
    let x = sfizz_render(&sfz, &tmp.path().join("r"), &plays);
    let levels: Vec<f64> = x.iter().map(|r| rms_db(steady(r, 0.55))).collect();
    // Which sample played, by level: from a sample's peak to the rendered
    // RMS (a sine's -3 dB, sfizz's default volume and pan law on this left
    // channel: -14.5 dB) is the same for all, so levels are compared with
    // the loudest, ff round robin 1.
    let gain = levels.iter().copied().fold(f64::MIN, f64::max) - sample_level_db("ff", 1);
    let played = |db: f64| -> (&str, u32) {
        let mut best = ("?", 0, f64::INFINITY);
        for d in ["pp", "ff"] {
            for rr in [1, 2] {
                let off = (db - gain - sample_level_db(d, rr)).abs();
                if off < best.2 {
                    best = (d, rr, off);
                }
            }
        }
        assert!(best.2 < 0.5, "a level of {db:.2} dB is no sample's");
        (best.0, best.1)
    };
    eprintln!("sfizz levels: {levels:.2?}, output gain {gain:.2} dB");
    for (i, want) in ["pp", "pp", "pp", "pp", "ff", "ff", "ff", "ff"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            played(levels[i]).0,
            *want,
            "velocity play {i}: {levels:.2?}"
        );
    }
    // Round robins alternate (whatever position the counter is at).
    let rrs: Vec<u32> = levels[8..12].iter().map(|&l| played(l).1).collect();
    assert!(rrs.windows(2).all(|w| w[0] != w[1]), "round robins {rrs:?}");
    // pp softer than ff by the recorded difference (same round robin).
    let pp = levels[0].max(levels[1]);
    let ff = levels[6].max(levels[7]);
    let recorded = sample_level_db("ff", 1) - sample_level_db("pp", 1);
    assert!(
        ((ff - pp) - recorded).abs() < 0.3,
        "ff - pp {:.2} dB, recorded {recorded}",
        ff - pp
    );
    // The long note sustains past the sample's 1.5 s, as loud, without a click.
    let long = &x[12];
    let early = rms_db(&long[(0.5 * RATE) as usize..(1.0 * RATE) as usize]);
    let late = rms_db(&long[(3.0 * RATE) as usize..(3.5 * RATE) as usize]);
    assert!(
        (early - late).abs() < 0.5,
        "sustain {early:.2} dB then {late:.2} dB"
    );
    let sustain = |x: &[f32]| x[(0.05 * RATE) as usize..(3.9 * RATE) as usize].to_vec();
    let ratio = click_ratio(&sustain(long), 60);
    // Measured 0.98 (the seam is as smooth as the tone); a loop half a period
    // off reads 4.5 through sfizz's interpolation (below), so 2 splits them.
    assert!(ratio < 2.0, "a click: {ratio:.1} times a sine's own jump");
    // The same check hears a loop half a period off (C4's ff samples).
    for f in walk(&share)
        .iter()
        .filter(|f| f.to_string_lossy().contains("C4_long_ff"))
    {
        shift_loop_end(f, 92);
    }
    let bad = tmp.path().join("bad");
    let o = export("sfz", "s5", &bad, &logs, &share);
    assert!(o.status.success(), "{:?}", text(&o));
    let play = [Play {
        key: 60,
        vel: 127,
        on: 4.0,
        len: 4.0,
    }];
    let x = sfizz_render(
        &bad.join("s5_cello_long.sfz"),
        &tmp.path().join("rb"),
        &play,
    );
    let ratio = click_ratio(&sustain(&x[0]), 60);
    assert!(ratio > 3.0, "a loop half a period off reads {ratio:.1}");
}

/// Rewrites a 24-bit mono WAV's first `smpl` loop to end `by` frames later.
fn shift_loop_end(path: &Path, by: u32) {
    use takebox::dsp::{SmplLoop, SmplPitch, chunks::smpl_loops, smpl_chunk_looped};
    let f = std::fs::File::open(path).unwrap();
    let mut r = takebox::wav::WavReader::new(std::io::BufReader::new(f)).unwrap();
    let smpl = r.info.other_chunks.iter().find(|(id, _)| id == b"smpl");
    let l = smpl_loops(&smpl.unwrap().1)[0];
    let mut x = Vec::new();
    while r.read_append(&mut x, 65_536).unwrap() > 0 {}
    let last = l.last + by;
    let chunk = smpl_chunk_looped(
        48_000,
        SmplPitch::from_cents(60, 0.0),
        &[SmplLoop {
            start: l.start,
            last,
        }],
    )
    .unwrap();
    let spec = takebox::wav::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        format: takebox::protocol::SampleFormat::S24,
    };
    let out = std::fs::File::create(path).unwrap();
    let mut w = takebox::wav::WavWriter::new(out, spec, x.len() as u64, &chunk).unwrap();
    w.write(&x).unwrap();
    w.finish().unwrap();
}

/// A steady tone near `midi` has no sample-to-sample jump: its second
/// difference stays within the sine's own (A·ω²); a seam off by one frame
/// jumps by up to about A·ω, ω = 2πf/rate (sfizz's interpolation smooths
/// it). Returns the worst second difference over the sine's own.
fn click_ratio(x: &[f32], midi: u8) -> f64 {
    let amp = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let w = std::f64::consts::TAU * hz(midi) * 1.01 / RATE;
    let own = f64::from(amp) * w * w;
    let (at, worst) = worst_jump(x);
    eprintln!("click check: worst second difference {worst:.2e} at {at}, a sine's own {own:.2e}");
    worst / own
}

#[test]
fn sfizz_plays_the_self_contained_flac_export_as_the_wav_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (logs, share) = sfizz_session(tmp.path());
    let (wav, flac) = (tmp.path().join("wav"), tmp.path().join("flac"));
    let o = export("sfz", "s5", &wav, &logs, &share);
    assert!(o.status.success(), "{:?}", text(&o));
    let mut args = vec![
        "export",
        "sfz",
        "s5",
        "--flac",
        "--out",
        flac.to_str().unwrap(),
    ];
    let (l, s) = (logs.display().to_string(), share.display().to_string());
    args.extend(["--logs", &l, "--share", &s]);
    let o = takebox(&args);
    assert!(o.status.success(), "{:?}", text(&o));
    let sfz = flac.join("s5_cello_long.sfz");
    assert!(std::fs::read_to_string(&sfz).unwrap().contains(".flac"));
    assert_sfzlint_passes(&sfz);
    // Both layers, both round robins, and a note held past its loop.
    let plays = || {
        [1, 1, 127, 127]
            .map(|vel| Play {
                key: 62,
                vel,
                on: 0.6,
                len: 0.6,
            })
            .into_iter()
            .chain([Play {
                key: 60,
                vel: 127,
                on: 3.0,
                len: 3.0,
            }])
            .collect::<Vec<_>>()
    };
    let a = sfizz_render(
        &wav.join("s5_cello_long.sfz"),
        &tmp.path().join("a"),
        &plays(),
    );
    let b = sfizz_render(&sfz, &tmp.path().join("b"), &plays());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(rms_db(steady(x, 0.55)) > -50.0, "play {i} sounds");
        let worst = x
            .iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        assert!(
            worst < 1e-6,
            "play {i}: FLAC and WAV renders differ by {worst}"
        );
    }
}
