//! Session logs as the catalog reads them: the shared reader
//! ([`crate::session_log_format`]) plus finding a session's log by id.

pub use crate::session_log_format::{LineError, SessionRecord, TakeLine, logs_in, read};
use std::path::{Path, PathBuf};

/// The log of `session` in any of `dirs` (`<dir>/<session>.jsonl`), or the path
/// itself when `session` names a log file.
pub fn find_log(session: &str, dirs: &[PathBuf]) -> Result<PathBuf, String> {
    let direct = Path::new(session);
    if session.ends_with(".jsonl") && direct.is_file() {
        return Ok(direct.to_path_buf());
    }
    if session.is_empty() || session.contains('/') || session.starts_with('.') {
        return Err(format!("{session:?} is not a session id"));
    }
    for d in dirs {
        let p = d.join(format!("{session}.jsonl"));
        if p.is_file() {
            return Ok(p);
        }
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(format!(
        "no log for session {session} in {}",
        looked.join(", ")
    ))
}
