//! Writes the board must not lose silently: the session log, the session's
//! progress, the settings and the daemon's own log file. On the board they all
//! live on `/var`; when it fills, each write fails in its own place. A failed
//! write is kept here by kind until the next write of that kind succeeds, and
//! the status and the page show it with the folder and its free space.

use crate::protocol::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Which write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    SessionLog,
    Progress,
    Settings,
    LogFile,
}

impl WriteKind {
    pub fn label(self) -> &'static str {
        match self {
            WriteKind::SessionLog => "session log",
            WriteKind::Progress => "session progress",
            WriteKind::Settings => "settings",
            WriteKind::LogFile => "log file",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageProblem {
    pub what: WriteKind,
    /// The folder the write went to.
    pub folder: PathBuf,
    pub error: String,
    /// Writes of this kind that failed in a row.
    pub failures: u64,
    pub since: Timestamp,
    /// Free space in `folder` now (`None`: not readable).
    pub free_bytes: Option<u64>,
}

/// A folder the board writes to and its free space.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FolderSpace {
    pub folder: PathBuf,
    pub free_bytes: Option<u64>,
}

/// `storage` in the status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageStatus {
    /// No write is failing now.
    pub ok: bool,
    pub problems: Vec<StorageProblem>,
    /// Lines the log file could not take since the daemon started.
    pub log_write_failures: u64,
    pub folders: Vec<FolderSpace>,
}

#[derive(Default)]
pub struct Storage {
    failing: Mutex<BTreeMap<WriteKind, StorageProblem>>,
}

impl Storage {
    /// A write of `what` into `folder` failed with `error`. Returns true the
    /// first time, when the page has something new to show.
    pub fn failed(&self, what: WriteKind, folder: &Path, error: &dyn std::fmt::Display) -> bool {
        let mut failing = crate::panics::locked(&self.failing);
        let entry = failing.entry(what).or_insert_with(|| StorageProblem {
            what,
            folder: folder.to_path_buf(),
            error: String::new(),
            failures: 0,
            since: Timestamp::now(),
            free_bytes: None,
        });
        entry.failures += 1;
        entry.folder = folder.to_path_buf();
        entry.error = error.to_string();
        entry.failures == 1
    }

    /// A write of `what` went through. Returns true when it had been failing.
    pub fn succeeded(&self, what: WriteKind) -> bool {
        crate::panics::locked(&self.failing).remove(&what).is_some()
    }

    /// What is failing now, with the free space of `folders` (the state and
    /// log folders) and of each failing one.
    pub fn status(&self, folders: &[&Path]) -> StorageStatus {
        let mut problems: Vec<StorageProblem> = crate::panics::locked(&self.failing)
            .values()
            .cloned()
            .collect();
        let log = crate::logging::file_writes();
        if let Some((file, error)) = log.failing {
            let folder = file.parent().unwrap_or(&file).to_path_buf();
            problems.push(StorageProblem {
                what: WriteKind::LogFile,
                error: format!("{}: {error}", file.display()),
                folder,
                failures: log.failures,
                since: Timestamp::now(),
                free_bytes: None,
            });
        }
        for p in &mut problems {
            p.free_bytes = free_bytes(&p.folder);
        }
        StorageStatus {
            ok: problems.is_empty(),
            problems,
            log_write_failures: log.failures,
            folders: folders
                .iter()
                .map(|f| FolderSpace {
                    folder: f.to_path_buf(),
                    free_bytes: free_bytes(f),
                })
                .collect(),
        }
    }
}

/// Free space of the file system holding `folder`, or of its nearest
/// existing parent (a folder not made yet).
fn free_bytes(folder: &Path) -> Option<u64> {
    folder
        .ancestors()
        .find_map(|f| crate::retention::free_bytes(f).ok())
}

/// The page's lines: one per failing write, naming the folder and free space.
pub fn problem_lines(s: &StorageStatus) -> Vec<String> {
    let mut lines: Vec<String> = s
        .problems
        .iter()
        .map(|p| {
            let free = p
                .free_bytes
                .map(|b| format!("{:.1} MB free", b as f64 / 1e6))
                .unwrap_or_else(|| "free space unknown".into());
            let times = if p.failures > 1 {
                format!(" ({} writes failed)", p.failures)
            } else {
                String::new()
            };
            format!(
                "The {} cannot be written in {} ({free}): {}{times}",
                p.what.label(),
                p.folder.display(),
                p.error
            )
        })
        .collect();
    if s.log_write_failures > 0 && !s.problems.iter().any(|p| p.what == WriteKind::LogFile) {
        lines.push(format!(
            "{} log lines could not be written to the log file since start (the journal has them)",
            s.log_write_failures
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_stays_until_that_kind_of_write_works_again() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::default();
        assert!(s.status(&[dir.path()]).ok);
        let e = std::io::Error::from_raw_os_error(28);
        assert!(s.failed(WriteKind::SessionLog, dir.path(), &e));
        assert!(!s.failed(WriteKind::SessionLog, dir.path(), &e));
        assert!(!s.succeeded(WriteKind::Progress));
        let st = s.status(&[dir.path()]);
        assert!(!st.ok);
        assert_eq!(st.problems[0].failures, 2);
        assert!(st.problems[0].free_bytes.is_some());
        assert!(st.folders[0].free_bytes.is_some());
        let line = &problem_lines(&st)[0];
        assert!(
            line.starts_with("The session log cannot be written in ")
                && line.contains("MB free")
                && line.contains("No space left on device")
                && line.ends_with("(2 writes failed)"),
            "{line}"
        );
        assert!(s.succeeded(WriteKind::SessionLog));
        assert!(s.status(&[dir.path()]).ok);
    }

    #[test]
    fn free_space_of_a_folder_not_made_yet_is_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(&dir.path().join("not/yet")).is_some());
    }
}
