//! Session logs as the catalog reads them: the shared reader
//! ([`crate::session_log_format`]) plus finding a session's log by id.

use super::CatalogError;
pub use crate::session_log_format::{LineError, SessionRecord, TakeLine, logs_in, read};
use std::path::{Path, PathBuf};

/// The log of `session` in any of `dirs` (`<dir>/<session>.jsonl`), or the path
/// itself when `session` names a log file.
pub fn find_log(session: &str, dirs: &[PathBuf]) -> Result<PathBuf, CatalogError> {
    let direct = Path::new(session);
    if session.ends_with(".jsonl") && direct.is_file() {
        return Ok(direct.to_path_buf());
    }
    if session.is_empty() || session.contains('/') || session.starts_with('.') {
        return Err(CatalogError::NotASessionId(session.into()));
    }
    for d in dirs {
        let p = d.join(format!("{session}.jsonl"));
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(CatalogError::NoLog {
        session: session.into(),
        looked: dirs.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_found_by_session_id_or_said_where_it_was_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("s1.jsonl");
        std::fs::write(&log, b"").unwrap();
        let dirs = [PathBuf::from("/nowhere"), dir.path().to_path_buf()];
        assert_eq!(find_log("s1", &dirs).unwrap(), log);
        assert_eq!(find_log(log.to_str().unwrap(), &[]).unwrap(), log);
        assert_eq!(
            find_log("s2", &dirs[..1]).unwrap_err().to_string(),
            "no log for session s2 in /nowhere"
        );
        assert!(matches!(
            find_log("../s1", &dirs),
            Err(CatalogError::NotASessionId(_))
        ));
    }
}
