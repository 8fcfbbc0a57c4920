//! The per-session log: one JSON object per line in the seed's `log_directory`,
//! appended and fsynced line by line. A power cut loses at most the line being
//! written; a torn last line is closed off before the next one is appended, so
//! every earlier line still parses.

use crate::protocol::Timestamp;
use crate::session_log_format::{LogEvent, encode};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub struct SessionLog {
    file: File,
    path: PathBuf,
}

impl SessionLog {
    /// Open (or create) `<dir>/<session_id>.jsonl` for appending.
    pub fn open(dir: &Path, session_id: &str) -> std::io::Result<SessionLog> {
        let ctx = |e: std::io::Error, p: &Path| {
            std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| ctx(e, dir))?;
        let path = dir.join(format!("{session_id}.jsonl"));
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(|e| ctx(e, &path))?;
        if created {
            crate::durable::sync_dir(dir).map_err(|e| ctx(e, dir))?;
        }
        // A line cut short by a power loss: end it so the next line stands alone.
        let len = file.metadata().map_err(|e| ctx(e, &path))?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))
                .map_err(|e| ctx(e, &path))?;
            file.read_exact(&mut last).map_err(|e| ctx(e, &path))?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(|e| ctx(e, &path))?;
                file.sync_data().map_err(|e| ctx(e, &path))?;
            }
        }
        Ok(SessionLog { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `event` as a line stamped with the time now, and fsync it.
    pub fn append(&mut self, event: &LogEvent) -> std::io::Result<()> {
        let mut bytes = encode(Timestamp::now(), event);
        bytes.push(b'\n');
        // One write call: with O_APPEND the line lands whole at the end.
        self.file
            .write_all(&bytes)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn lines_parse_and_a_torn_line_is_closed_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SessionLog::open(dir.path(), "s1").unwrap();
        let start = LogEvent::SessionStart {
            session_id: "s1".into(),
            request: serde_json::json!({"instrument": "guitar"}),
            takes: 1,
            recorders: vec![],
            settings: Value::Null,
        };
        log.append(&start).unwrap();
        drop(log);
        // A power cut in the middle of the second line.
        let path = dir.path().join("s1.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"time":"2026-11-25T1"#).unwrap();
        drop(f);
        let mut log = SessionLog::open(dir.path(), "s1").unwrap();
        let command = LogEvent::Command {
            command: "start".into(),
        };
        log.append(&command).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let first: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["event"], "session_start");
        assert_eq!(first["request"]["instrument"], "guitar");
        assert!(serde_json::from_str::<Value>(lines[1]).is_err());
        let last: Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(last["command"], "start");
        assert!(last["time"].as_str().unwrap().ends_with('Z'));
    }
}
