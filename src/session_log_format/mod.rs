//! The session log (`<log_directory>/<session>.jsonl`): its lines as types
//! ([`event`]), the board's judgement they carry ([`judgement`]), and reading a
//! log back into what the catalog, the exports and the retention job need
//! ([`SessionRecord`]). It sits below `control` and `catalog` so that the board
//! writes and both read one format without depending on each other.
//!
//! A line that does not read is reported as `file:line` and skipped; the rest
//! is read.

pub mod event;
pub mod judgement;

pub use event::{BadLine, Confirmed, EndStatus, LogEvent, LogLine, PlannedSlot, decode, encode};
pub use judgement::{Disposition, Judgement};

use crate::protocol::{TakeId, TakeState};
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

/// One recorded file: its `confirmation` line and what the rest of the log
/// says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct TakeLine {
    pub confirmed: Confirmed,
    /// A later retake replaced this take.
    pub superseded: bool,
    /// The line number in the log.
    pub line: usize,
}

impl TakeLine {
    /// Recorded, on the share and not judged unusable.
    pub fn usable(&self) -> bool {
        !self.confirmed.judgement.is_failed()
            && self.confirmed.state.unwrap_or(TakeState::Delivered) == TakeState::Delivered
    }

    /// The measured pitch against the plan, in cents.
    pub fn cents(&self) -> Option<f64> {
        let check = self.confirmed.check.as_ref()?;
        check.cents.filter(|c| c.is_finite())
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
    /// Set once a `session_end` line was written.
    pub end_status: Option<EndStatus>,
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
    let mut reading = Reading::new(path);
    for (i, raw) in lines.enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match decode(raw) {
            Ok(line) => reading.apply(i + 1, line),
            Err(bad) => reading.rec.errors.push(LineError {
                file: path.to_path_buf(),
                line: i + 1,
                message: bad.to_string(),
            }),
        }
    }
    reading.finish()
}

/// A log being read: the record so far, and what settles only at the end.
struct Reading {
    rec: SessionRecord,
    /// Index in `rec.takes` by take id.
    by_id: BTreeMap<String, usize>,
    /// Take ids a retake replaced.
    superseded: BTreeSet<String>,
}

impl Reading {
    fn new(path: &Path) -> Reading {
        let session_id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Reading {
            rec: SessionRecord {
                path: path.to_path_buf(),
                session_id,
                ..SessionRecord::default()
            },
            by_id: BTreeMap::new(),
            superseded: BTreeSet::new(),
        }
    }

    /// Line `n`, readable.
    fn apply(&mut self, n: usize, line: LogLine) {
        match line.event {
            LogEvent::SessionStart {
                session_id,
                request,
                settings,
                ..
            } => self.session_start(session_id, line.time.clone(), request, settings),
            LogEvent::Take { take_id, .. } => {
                self.rec.unsettled.insert(take_id.to_string());
            }
            LogEvent::Confirmation(confirmed) => self.confirmed(n, *confirmed),
            LogEvent::Retake { superseded, .. } => {
                self.superseded.insert(superseded.to_string());
            }
            LogEvent::Rearm { take_id, .. }
            | LogEvent::TakeCancelled { take_id }
            | LogEvent::TakeAbandoned { take_id }
            | LogEvent::TakeAborted { take_id, .. }
            | LogEvent::Error {
                take_id: Some(take_id),
                ..
            } => self.settle(&take_id),
            LogEvent::SessionEnd { status, .. } => self.rec.end_status = Some(status),
            // Open again until its next `session_end`.
            LogEvent::SessionReopened { .. } => self.rec.end_status = None,
            _ => {}
        }
        if line.time.is_some() {
            self.rec.last_time = line.time;
        }
        self.rec.lines += 1;
    }

    fn session_start(
        &mut self,
        session_id: String,
        time: Option<String>,
        request: Value,
        settings: Value,
    ) {
        let rec = &mut self.rec;
        if !session_id.is_empty() {
            rec.session_id = session_id;
        }
        rec.started = time;
        rec.instrument = request["instrument"].as_str().map(String::from);
        rec.user_initials = request["user_initials"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from);
        rec.request = request;
        rec.settings = settings;
    }

    /// A confirmation replaces an earlier one for the same take id.
    fn confirmed(&mut self, n: usize, confirmed: Confirmed) {
        self.settle(&confirmed.take_id);
        let take = TakeLine {
            confirmed,
            superseded: false,
            line: n,
        };
        let id = take.confirmed.take_id.to_string();
        match self.by_id.get(&id) {
            Some(&k) => self.rec.takes[k] = take,
            None => {
                self.by_id.insert(id, self.rec.takes.len());
                self.rec.takes.push(take);
            }
        }
    }

    /// A take is settled for its own id and every recorder's sibling.
    fn settle(&mut self, id: &TakeId) {
        self.rec.unsettled.remove(&id.to_string());
        self.rec.unsettled.remove(id.base());
    }

    /// A retake names the first recorder's take id; it supersedes the others' too.
    fn finish(mut self) -> SessionRecord {
        for t in &mut self.rec.takes {
            let id = &t.confirmed.take_id;
            t.superseded =
                self.superseded.contains(id.base()) || self.superseded.contains(&id.to_string());
        }
        self.rec
    }
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
        assert_eq!(r.takes[0].cents(), Some(3.5));
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
