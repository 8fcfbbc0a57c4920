//! Reading a session log (`<log_directory>/<session>.jsonl`, written by the
//! board's `control::session_log`) back into what the catalog, the exports and
//! the retention job need. It sits below `control` and `catalog` so that both
//! read one format without depending on each other.
//!
//! Every line is a JSON object with `time` and `event`. The lines that matter
//! here: `session_start` (session_id, request, settings), `take` (take_id, slot,
//! note, ...), `confirmation` (the seed's recordings columns plus take_id, dynamic,
//! round_robin, recorder, verdict, state, check with the measured cents), `retake`
//! (slot, superseded take id), `rearm`, `take_cancelled`, `take_abandoned`,
//! `error` (take_id), `session_end` (status). A line that does not parse is
//! reported as `file:line` and skipped; the rest is read.

use crate::protocol::TakeId;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A line that could not be read, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// One recorded file, from a `confirmation` line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TakeLine {
    pub session_id: String,
    /// Path of the WAV relative to the share root.
    pub filename: String,
    pub note: String,
    pub frequency: f64,
    pub articulation: String,
    pub instrument: String,
    /// RFC 3339: when the file's first frame was recorded.
    pub timestamp: String,
    pub take_id: String,
    #[serde(default)]
    pub dynamic: Option<String>,
    #[serde(default)]
    pub round_robin: Option<u32>,
    #[serde(default)]
    pub recorder: Option<String>,
    /// `ok`, `warn` or `failed`.
    pub verdict: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// `delivered`, `spooled` or `failed`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub slot: Option<u32>,
    #[serde(default)]
    pub check: Option<Value>,
    /// Filled in by the reader: the measured pitch against the plan, in cents.
    #[serde(skip)]
    pub cents: Option<f64>,
    /// Filled in by the reader: a later retake replaced this take.
    #[serde(skip)]
    pub superseded: bool,
    /// Filled in by the reader: the line number in the log.
    #[serde(skip)]
    pub line: usize,
}

impl TakeLine {
    /// Recorded, on the share and not judged unusable.
    pub fn usable(&self) -> bool {
        self.verdict != "failed" && self.state.as_deref().unwrap_or("delivered") == "delivered"
    }
}

/// Everything a session log says, line errors included.
#[derive(Debug, Clone, Default)]
pub struct SessionRecord {
    pub path: PathBuf,
    pub session_id: String,
    /// The `time` of the `session_start` line.
    pub started: Option<String>,
    /// The `time` of the last readable line.
    pub last_time: Option<String>,
    pub instrument: Option<String>,
    pub user_initials: Option<String>,
    /// The `session_start` line's `settings` object (the config in force).
    pub settings: Value,
    /// The `session_start` line's `request` object.
    pub request: Value,
    /// `finished` or `aborted` once a `session_end` line was written.
    pub end_status: Option<String>,
    /// One per confirmation line, in log order; a later line for the same take id
    /// replaces the earlier one.
    pub takes: Vec<TakeLine>,
    /// Take ids sent to a recorder (a `take` line) that no later line settled:
    /// neither confirmed, re-armed, cancelled, abandoned nor failed.
    pub unsettled: BTreeSet<String>,
    /// Readable lines (the count an import has seen).
    pub lines: usize,
    pub errors: Vec<LineError>,
}

impl SessionRecord {
    /// Confirmed, usable and not superseded: what an instrument is made of.
    pub fn playable(&self) -> impl Iterator<Item = &TakeLine> {
        self.takes.iter().filter(|t| t.usable() && !t.superseded)
    }
}

/// Read a session log. I/O errors fail; bad lines are collected in `errors`.
pub fn read(path: &Path) -> std::io::Result<SessionRecord> {
    let file = std::fs::File::open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let reader = std::io::BufReader::new(file);
    let mut lines = Vec::new();
    for line in reader.split(b'\n') {
        lines.push(
            line.map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
        );
    }
    Ok(parse(path, lines.iter().map(|l| l.as_slice())))
}

/// Parse the lines of a log (without their newlines); `path` names it in errors.
pub fn parse<'a>(path: &Path, lines: impl Iterator<Item = &'a [u8]>) -> SessionRecord {
    let mut rec = SessionRecord {
        path: path.to_path_buf(),
        session_id: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..SessionRecord::default()
    };
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    let mut superseded: BTreeSet<String> = BTreeSet::new();
    for (i, raw) in lines.enumerate() {
        let n = i + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let err = |message: String| LineError {
            file: path.to_path_buf(),
            line: n,
            message,
        };
        let v: Value = match serde_json::from_slice(raw) {
            Ok(Value::Object(m)) => Value::Object(m),
            Ok(_) => {
                rec.errors.push(err("not a JSON object".into()));
                continue;
            }
            Err(e) => {
                let what = if e.is_eof() {
                    "truncated line"
                } else {
                    "not JSON"
                };
                rec.errors.push(err(format!("{what}: {e}")));
                continue;
            }
        };
        let Some(event) = v["event"].as_str() else {
            rec.errors.push(err("no \"event\" field".into()));
            continue;
        };
        let take_id = v["take_id"].as_str().map(String::from);
        match event {
            "session_start" => {
                if let Some(id) = v["session_id"].as_str() {
                    rec.session_id = id.to_string();
                }
                rec.started = v["time"].as_str().map(String::from);
                rec.request = v["request"].clone();
                rec.settings = v["settings"].clone();
                rec.instrument = v["request"]["instrument"].as_str().map(String::from);
                rec.user_initials = v["request"]["user_initials"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(String::from);
            }
            "take" => {
                if let Some(id) = take_id {
                    rec.unsettled.insert(id);
                }
            }
            "confirmation" => {
                let mut t: TakeLine = match serde_path_to_error::deserialize(&v) {
                    Ok(t) => t,
                    Err(e) => {
                        rec.errors
                            .push(err(format!("confirmation: {}: {}", e.path(), e.inner())));
                        continue;
                    }
                };
                t.line = n;
                t.cents = t
                    .check
                    .as_ref()
                    .and_then(|c| c["cents"].as_f64())
                    .filter(|c| c.is_finite());
                settle(&mut rec.unsettled, &t.take_id);
                match by_id.get(&t.take_id) {
                    Some(&k) => rec.takes[k] = t,
                    None => {
                        by_id.insert(t.take_id.clone(), rec.takes.len());
                        rec.takes.push(t);
                    }
                }
            }
            "retake" => match v["superseded"].as_str() {
                Some(old) => {
                    superseded.insert(old.to_string());
                }
                None => {
                    rec.errors
                        .push(err("retake without a \"superseded\" take id".into()));
                    continue;
                }
            },
            "rearm" | "take_cancelled" | "take_abandoned" | "error" => {
                if let Some(id) = take_id {
                    settle(&mut rec.unsettled, &id);
                }
            }
            "session_end" => {
                rec.end_status = Some(v["status"].as_str().unwrap_or("ended").to_string());
            }
            _ => {}
        }
        if let Some(t) = v["time"].as_str() {
            rec.last_time = Some(t.to_string());
        }
        rec.lines += 1;
    }
    // A retake names the first recorder's take id; it supersedes the others' too.
    for t in &mut rec.takes {
        let base = TakeId::parse(&t.take_id);
        t.superseded = superseded
            .iter()
            .any(|old| t.take_id == *old || base.base() == old);
    }
    rec
}

/// A take is settled for its own id and every recorder's sibling.
fn settle(unsettled: &mut BTreeSet<String>, id: &str) {
    unsettled.remove(id);
    unsettled.remove(TakeId::parse(id).base());
}

/// Every `*.jsonl` file in `dir`, sorted by name.
pub fn logs_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
    {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "jsonl") && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Parse an RFC 3339 UTC time as the logs write it.
pub fn parse_time(s: &str) -> Option<SystemTime> {
    s.parse::<crate::protocol::Timestamp>().ok().map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> SessionRecord {
        parse(
            Path::new("logs/s1.jsonl"),
            text.lines().map(|l| l.as_bytes()),
        )
    }

    const START: &str = r#"{"time":"2026-11-25T10:00:00.000000Z","event":"session_start","session_id":"s1","request":{"instrument":"guitar","user_initials":"ab"},"settings":{"countdown_duration":5.0}}"#;

    fn conf(take: &str, note: &str, verdict: &str, cents: f64) -> String {
        format!(
            r#"{{"time":"2026-11-25T10:00:01Z","event":"confirmation","session_id":"s1","filename":"s1/s1_guitar_{note}_long_{take}.wav","note":"{note}","frequency":440.0,"articulation":"long","instrument":"guitar","timestamp":"2026-11-25T10:00:00Z","take_id":"{take}","dynamic":null,"round_robin":null,"recorder":"http://r","verdict":"{verdict}","state":"delivered","check":{{"verdict":"ok","issues":[],"cents":{cents},"clipped_samples":0}}}}"#
        )
    }

    #[test]
    fn confirmations_retakes_and_bad_lines() {
        let text = [
            START.to_string(),
            r#"{"time":"2026-11-25T10:00:00Z","event":"take","take_id":"s1-1-1"}"#.into(),
            conf("s1-1-1", "A4", "ok", 3.5),
            r#"{"time":"2026-11-25T10:00:02Z","event":"retake","slot":1,"superseded":"s1-1-1"}"#
                .into(),
            r#"{"time":"2026-11-25T10:00:02Z","event":"take","take_id":"s1-1-2"}"#.into(),
            "{\"time\":\"2026-11-25T1".into(),
            conf("s1-1-2", "A4", "warn", -2.0),
            r#"[1,2]"#.into(),
            r#"{"time":"2026-11-25T10:00:03Z","event":"take","take_id":"s1-2-1"}"#.into(),
        ]
        .join("\n");
        let r = lines(&text);
        assert_eq!(r.session_id, "s1");
        assert_eq!(r.instrument.as_deref(), Some("guitar"));
        assert_eq!(r.takes.len(), 2);
        assert!(r.takes[0].superseded && !r.takes[1].superseded);
        assert_eq!(r.takes[0].cents, Some(3.5));
        assert_eq!(r.playable().count(), 1);
        assert_eq!(
            r.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![6, 8]
        );
        assert!(
            r.errors[0]
                .to_string()
                .starts_with("logs/s1.jsonl:6: truncated")
        );
        assert_eq!(
            r.unsettled.iter().collect::<Vec<_>>(),
            vec![&"s1-2-1".to_string()]
        );
        assert_eq!(r.end_status, None);
        assert_eq!(r.lines, 7);
    }

    #[test]
    fn a_confirmation_missing_a_column_is_an_error_with_its_field() {
        let r = lines(&format!(
            "{START}\n{}",
            r#"{"time":"t","event":"confirmation","take_id":"x"}"#
        ));
        assert_eq!(r.takes.len(), 0);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 2);
        assert!(
            r.errors[0].message.contains("confirmation"),
            "{}",
            r.errors[0]
        );
    }

    #[test]
    fn times_parse() {
        assert!(parse_time("2026-11-25T10:00:00.123456Z").is_some());
        assert!(parse_time("2026-11-25T10:00:00Z").is_some());
        assert!(parse_time("yesterday").is_none());
    }
}
