//! The invariants of issue 15, checked after a run from the session log, the
//! board's session file, the drive (the share), the spool and the recorder's
//! answers. Each broken promise is one line in `Findings::violations`.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use takebox::capture::take::sha256_file;

/// What the run left, to be judged.
pub struct Evidence<'a> {
    pub session_id: &'a str,
    pub log: PathBuf,
    pub session_file: PathBuf,
    pub drive: &'a Path,
    pub spool: &'a Path,
    /// Every line each takebox-capture process logged, all restarts.
    pub capture_logs: Vec<String>,
    /// The recorder's stored confirmation for a take id (GET /v1/takes/{id}).
    pub recorder_answer: &'a dyn Fn(&str) -> Option<(u16, Value)>,
}

#[derive(Default)]
pub struct Findings {
    pub slots: usize,
    pub confirmed_ok: usize,
    pub confirmed_warn: usize,
    pub skipped: usize,
    pub open: usize,
    pub rearmed: usize,
    /// Confirmations of one take's one file logged again after a restart.
    pub repeated_lines: usize,
    /// Confirmed takes with a warning, by the reason's first words.
    pub warnings: BTreeMap<String, usize>,
    pub lost: usize,
    pub duplicated: usize,
    pub overwritten: usize,
    pub violations: Vec<String>,
}

impl Findings {
    fn violation(&mut self, what: String) {
        self.violations.push(what);
    }
}

pub fn check(e: &Evidence) -> Findings {
    let mut f = Findings::default();
    let lines = log_lines(e, &mut f);
    let session: Value = serde_json::from_slice(
        &std::fs::read(&e.session_file)
            .unwrap_or_else(|err| panic!("{}: {err}", e.session_file.display())),
    )
    .unwrap_or_else(|err| panic!("{}: {err}", e.session_file.display()));
    f.rearmed = lines.iter().filter(|l| l["event"] == "rearm").count();

    // Confirmations: one per take id, one take id per path.
    let mut by_take: BTreeMap<String, Value> = BTreeMap::new();
    let mut by_path: BTreeMap<String, String> = BTreeMap::new();
    for c in lines.iter().filter(|l| l["event"] == "confirmation") {
        let id = c["take_id"].as_str().unwrap_or_default().to_string();
        let path = c["filename"].as_str().unwrap_or_default().to_string();
        if let Some(before) = by_take.insert(id.clone(), c.clone()) {
            // The same file confirmed again is a repeated line (the board was
            // killed between the line and its session file, and asked again by
            // id); the catalog keeps one row per take id. Anything else is a
            // second recording under one id.
            if before["sha256"] != c["sha256"] || before["filename"] != c["filename"] {
                f.duplicated += 1;
                f.violation(format!("take {id} confirmed twice with different files"));
            } else {
                f.repeated_lines += 1;
            }
            continue;
        }
        if let Some(other) = by_path.insert(path.clone(), id.clone()) {
            f.duplicated += 1;
            f.violation(format!("takes {other} and {id} both confirmed as {path}"));
        }
    }

    // Each confirmed take: exactly once on the share, its sha256, and the
    // recorder agrees.
    for (id, c) in &by_take {
        if c["state"] == "failed" {
            continue;
        }
        let path = c["filename"].as_str().unwrap_or_default();
        let file = e.drive.join(path);
        match sha256_file(&file) {
            Err(err) => {
                f.lost += 1;
                f.violation(format!(
                    "take {id}: confirmed as {path}, not on the share: {err}"
                ));
            }
            Ok(sum) if c["sha256"].as_str() != Some(sum.as_str()) => {
                f.overwritten += 1;
                f.violation(format!(
                    "take {id}: {path} holds sha256 {sum}, the confirmation says {}",
                    c["sha256"]
                ));
            }
            Ok(_) => {}
        }
        match (e.recorder_answer)(id) {
            Some((200, a))
                if a["state"] == "delivered" && a["sha256"] == c["sha256"] && a["path"] == path => {
            }
            other => f.violation(format!(
                "take {id}: the recorder answers {other:?}, the board confirmed {path} {}",
                c["sha256"]
            )),
        }
    }

    // Every WAV under a final name is a confirmed take's; no old temporary file.
    let old = SystemTime::now() - Duration::from_secs(60);
    let mut on_share: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (rel, modified) in walk(e.drive) {
        let name = rel.rsplit('/').next().unwrap_or_default();
        if name.starts_with('.') && name.ends_with(".part") {
            if modified < old {
                f.violation(format!("temporary file left on the share: {rel}"));
            }
            continue;
        }
        if !name.ends_with(".wav") {
            continue;
        }
        let folder = rel.split('/').next().unwrap_or_default();
        let id = takebox::protocol::take_path::take_id_of(folder, name);
        match id
            .as_deref()
            .and_then(|id| by_take.get(id).map(|c| (id, c)))
        {
            Some((id, c)) if c["filename"].as_str() == Some(rel.as_str()) => {
                on_share.entry(id.to_string()).or_default().push(rel);
            }
            _ => {
                f.duplicated += 1;
                f.violation(format!(
                    "{rel} is on the share under a final name no confirmation names (take {id:?})"
                ));
            }
        }
    }
    for (rel, modified) in walk(e.spool) {
        let name = rel.rsplit('/').next().unwrap_or_default();
        if name.starts_with('.') && name.ends_with(".part") && modified < old {
            f.violation(format!("temporary file left in the spool: {rel}"));
        }
    }

    // Every planned slot: confirmed ok, confirmed with a warning, skipped, or
    // still open and resumable.
    let open_session = session["status"] == "open";
    let skipped: BTreeSet<u64> = lines
        .iter()
        .filter(|l| l["event"] == "skip")
        .filter_map(|l| l["slot"].as_u64())
        .collect();
    let progress = session["progress"].as_array().cloned().unwrap_or_default();
    f.slots = session["plan"].as_array().map_or(0, Vec::len);
    for (i, p) in progress.iter().enumerate() {
        let slot = i as u64 + 1;
        match p["state"].as_str() {
            Some("done") => {
                let done: Vec<&Value> = p["takes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| t["outcome"] == "done")
                    .collect();
                if done.len() != 1 {
                    f.duplicated += done.len().saturating_sub(1);
                    f.violation(format!("slot {slot}: {} takes done: {done:?}", done.len()));
                }
                let Some(t) = done.first() else { continue };
                let id = t["take_id"].as_str().unwrap_or_default();
                match by_take.get(id).map(|c| c["verdict"].as_str()) {
                    Some(Some("ok")) => f.confirmed_ok += 1,
                    Some(Some("warn")) => {
                        f.confirmed_warn += 1;
                        let reason = by_take[id]["reason"].as_str().unwrap_or("?");
                        // "off pitch (+12.3 cents)": the kind, not the figures.
                        let kind: String = reason
                            .split(|c: char| c == '(' || c == ':' || c.is_ascii_digit())
                            .next()
                            .unwrap_or(reason)
                            .trim()
                            .to_string();
                        *f.warnings.entry(kind).or_default() += 1;
                    }
                    other => {
                        f.lost += 1;
                        f.violation(format!(
                            "slot {slot}: done by take {id}, whose confirmation is {other:?}"
                        ))
                    }
                }
                if on_share.get(id).map_or(0, Vec::len) != 1 {
                    f.violation(format!(
                        "slot {slot}: take {id} is on the share {:?}",
                        on_share.get(id)
                    ));
                }
            }
            Some("skipped") if skipped.contains(&slot) => f.skipped += 1,
            Some("pending") if open_session => f.open += 1,
            other => {
                f.lost += 1;
                f.violation(format!(
                    "slot {slot} is {other:?} in a session that is {}",
                    session["status"]
                ));
            }
        }
    }

    // No take id recorded twice, by any recorder process.
    let mut recorded: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &e.capture_logs {
        if let Some(rest) = l.split("msg=\"take ").nth(1)
            && let Some((id, what)) = rest.split_once(": ")
            && what.starts_with("recording ")
        {
            *recorded.entry(id).or_default() += 1;
        }
    }
    for (id, n) in recorded {
        if n > 1 {
            f.duplicated += 1;
            f.violation(format!("take {id} was recorded {n} times"));
        }
    }
    let _ = e.session_id;
    f
}

/// The session log's lines: each whole, JSON, in time order.
fn log_lines(e: &Evidence, f: &mut Findings) -> Vec<Value> {
    let text =
        std::fs::read_to_string(&e.log).unwrap_or_else(|err| panic!("{}: {err}", e.log.display()));
    if !text.ends_with('\n') {
        f.violation(format!("{}: the last line is torn", e.log.display()));
    }
    let mut out = Vec::new();
    let mut last: Option<SystemTime> = None;
    for (n, line) in text.lines().enumerate() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            f.violation(format!("{}:{}: torn line {line:?}", e.log.display(), n + 1));
            continue;
        };
        let time = v["time"]
            .as_str()
            .and_then(|t| t.parse::<takebox::protocol::Timestamp>().ok());
        match (time, last) {
            (None, _) => f.violation(format!("{}:{}: no time", e.log.display(), n + 1)),
            (Some(t), Some(l)) if t.0 < l => f.violation(format!(
                "{}:{}: out of order ({} before the line above)",
                e.log.display(),
                n + 1,
                v["time"]
            )),
            (Some(t), _) => last = Some(t.0),
        }
        out.push(v);
    }
    out
}

/// Every file under `root`, relative, with its modification time.
fn walk(root: &Path) -> Vec<(String, SystemTime)> {
    fn go(dir: &Path, root: &Path, out: &mut Vec<(String, SystemTime)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                go(&p, root, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
            }
        }
    }
    let mut out = Vec::new();
    go(root, root, &mut out);
    out.sort();
    out
}

/// The defects filed before the soak, put back by hand: each is caught.
/// Colliding file names (two takes, one path), a spool name reachable from
/// another take id (a file with other contents), an undeliverable long name
/// (confirmed, never on the share), a stray file, a torn and a late line, a
/// take recorded twice.
#[test]
fn each_known_defect_breaks_an_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let drive = dir.path().join("drive");
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(drive.join("s")).unwrap();
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(drive.join("s/g_A4_s_0001-1.wav"), b"take one").unwrap();
    std::fs::write(drive.join("s/g_B4_s_0003-1.wav"), b"someone else's audio").unwrap();
    std::fs::write(drive.join("s/g_C5_s_0009-1.wav"), b"named by nobody").unwrap();
    let sum = |b: &[u8]| {
        use sha2::Digest;
        hex(&sha2::Sha256::digest(b))
    };
    let conf = |slot: u32, id: &str, path: &str, sha: &str, time: &str| {
        serde_json::json!({"time": time, "event": "confirmation", "take_id": id,
            "filename": path, "sha256": sha, "verdict": "ok", "state": "delivered", "slot": slot})
        .to_string()
    };
    let log = [
        conf(
            1,
            "s-0001-1",
            "s/g_A4_s_0001-1.wav",
            &sum(b"take one"),
            "2026-12-01T10:00:01Z",
        ),
        // Colliding names: take 2 confirmed under take 1's path.
        conf(
            2,
            "s-0002-1",
            "s/g_A4_s_0001-1.wav",
            &sum(b"take two"),
            "2026-12-01T10:00:02Z",
        ),
        // Overwritten: the file holds other audio.
        conf(
            3,
            "s-0003-1",
            "s/g_B4_s_0003-1.wav",
            &sum(b"take three"),
            "2026-12-01T10:00:03Z",
        ),
        // Never delivered.
        conf(
            4,
            "s-0004-1",
            "s/g_B4_long_0004-1.wav",
            &sum(b"take four"),
            "2026-12-01T10:00:04Z",
        ),
        // Out of order.
        conf(
            5,
            "s-0005-1",
            "s/g_D5_s_0005-1.wav",
            "",
            "2026-12-01T09:00:00Z",
        ),
    ]
    .join("\n")
        + "\n{\"time\": \"2026-12-01T10:00:06Z\", \"ev";
    let log_path = dir.path().join("s.jsonl");
    std::fs::write(&log_path, log).unwrap();
    let done = |id: &str| serde_json::json!({"state": "done", "attempts": 1, "takes": [{"take_id": id, "outcome": "done"}]});
    let session = serde_json::json!({"status": "finished", "plan": [{}, {}, {}, {}, {}, {}],
        "progress": [done("s-0001-1"), done("s-0002-1"), done("s-0003-1"), done("s-0004-1"),
                     done("s-0005-1"), {"state": "pending", "attempts": 0, "takes": []}]});
    let session_path = dir.path().join("s.json");
    std::fs::write(&session_path, session.to_string()).unwrap();
    let answer = |_: &str| None;
    let f = check(&Evidence {
        session_id: "s",
        log: log_path,
        session_file: session_path,
        drive: &drive,
        spool: &spool,
        capture_logs: vec![
            r#"t level=info target=takebox::capture msg="take s-0001-1: recording 10 frames""#
                .into(),
            r#"t level=info target=takebox::capture msg="take s-0001-1: recording 10 frames""#
                .into(),
        ],
        recorder_answer: &answer,
    });
    let all = f.violations.join("\n");
    for expected in [
        "both confirmed as s/g_A4_s_0001-1.wav",
        "s-0003-1: s/g_B4_s_0003-1.wav holds sha256",
        "s-0004-1: confirmed as s/g_B4_long_0004-1.wav, not on the share",
        "s/g_C5_s_0009-1.wav is on the share under a final name no confirmation names",
        "out of order",
        "the last line is torn",
        "take s-0001-1 was recorded 2 times",
        "slot 6 is Some(\"pending\") in a session that is \"finished\"",
    ] {
        assert!(all.contains(expected), "{expected:?} not in:\n{all}");
    }
    assert!(
        f.lost >= 2 && f.duplicated >= 3 && f.overwritten >= 1,
        "{all}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
