//! Automatic deletion of old recordings (`storage_management`), shared by the
//! board's periodic job and `takebox cleanup`. The choice of what to delete is
//! pure ([`select`]); the executor ([`remove_session`]) deletes one session's
//! folder inside the recordings root, never follows a symlink (a link is removed
//! as a link), and reports every path it removes.
//!
//! A session is deleted only when its log says it ended (`session_end`), it is
//! not open in the board's state files, every take it sent was settled and every
//! confirmed file reached the share, its last log line is older than
//! `max_age_days`, and (with `require_imported`) the catalog import saw every line.

use crate::protocol::TakeState;
use crate::session_log_format::{self, SessionRecord};
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What the selection needs to know about one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionFacts {
    pub session_id: String,
    /// Time of the last line of its log.
    pub last_activity: Option<SystemTime>,
    /// A `session_end` line was written.
    pub ended: bool,
    /// The board's state file says the session is open.
    pub open: bool,
    /// Takes sent but not settled, plus confirmed files still spooled.
    pub unconfirmed: usize,
    /// Readable lines in the log, and lines the catalog import has seen.
    pub lines: usize,
    pub imported_lines: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub max_age: Duration,
    pub require_imported: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Delete,
    Keep(String),
}

/// Why a session stays, or that it may go.
pub fn decide(f: &SessionFacts, policy: &Policy, now: SystemTime) -> Decision {
    let keep = |why: String| Decision::Keep(why);
    if !is_plain_name(&f.session_id) {
        return keep(format!("{:?} is not a plain folder name", f.session_id));
    }
    if f.open || !f.ended {
        return keep("in progress".into());
    }
    if f.unconfirmed > 0 {
        return keep(format!("{} take(s) not yet confirmed", f.unconfirmed));
    }
    if policy.require_imported && f.imported_lines.is_none_or(|n| n < f.lines) {
        return keep("not yet imported into the catalog".into());
    }
    let Some(last) = f.last_activity else {
        return keep("its log has no readable time".into());
    };
    let age = now.duration_since(last).unwrap_or_default();
    if age < policy.max_age {
        return keep(format!(
            "{:.1} days old, under {} days",
            age.as_secs_f64() / 86400.0,
            policy.max_age.as_secs() / 86400
        ));
    }
    Decision::Delete
}

/// One name, no separators, not `.` or `..`.
pub fn is_plain_name(s: &str) -> bool {
    let mut c = Path::new(s).components();
    matches!((c.next(), c.next()), (Some(Component::Normal(n)), None) if n == s)
}

/// Facts from a session log, the board's state folder and the import marker.
pub fn facts(rec: &SessionRecord, state_dir: Option<&Path>) -> SessionFacts {
    let spooled = rec
        .takes
        .iter()
        .filter(|t| t.confirmed.state == Some(TakeState::Spooled))
        .count();
    let open = state_dir.is_some_and(|d| {
        let p = d.join("sessions").join(format!("{}.json", rec.session_id));
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .map(|v| v["status"] == "open")
                // A state file we cannot read: assume the worst.
                .unwrap_or(true),
            Err(_) => false,
        }
    });
    let mut marker = rec.path.as_os_str().to_owned();
    marker.push(".imported");
    let imported_lines = std::fs::read_to_string(PathBuf::from(marker))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    SessionFacts {
        session_id: rec.session_id.clone(),
        last_activity: rec
            .last_time
            .as_deref()
            .and_then(session_log_format::parse_time),
        ended: rec.end_status.is_some(),
        open,
        unconfirmed: rec.unsettled.len() + spooled,
        lines: rec.lines,
        imported_lines,
    }
}

/// One session's verdict, with the folder it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub session_id: String,
    pub folder: PathBuf,
    pub decision: Decision,
}

/// Every session with a log in `log_dir`: what to do with its folder under `root`.
/// Unreadable lines are reported through `warn` and the rest is used.
pub fn plan(
    log_dir: &Path,
    state_dir: Option<&Path>,
    root: &Path,
    policy: &Policy,
    now: SystemTime,
    warn: &mut dyn FnMut(String),
) -> io::Result<Vec<Planned>> {
    let mut out = Vec::new();
    for log in session_log_format::logs_in(log_dir)? {
        let rec = match session_log_format::read(&log) {
            Ok(r) => r,
            Err(e) => {
                warn(e.to_string());
                continue;
            }
        };
        for e in &rec.errors {
            warn(e.to_string());
        }
        let f = facts(&rec, state_dir);
        out.push(Planned {
            folder: root.join(&f.session_id),
            decision: decide(&f, policy, now),
            session_id: f.session_id,
        });
    }
    Ok(out)
}

/// Remove `root/<session_id>` and everything under it, never following a
/// symlink: a link (to a file or a folder, inside or outside the root) is
/// removed as a link. Calls `removed` for each path (also with `dry_run`, which
/// removes nothing). Returns how many paths were (or would be) removed.
pub fn remove_session(
    root: &Path,
    session_id: &str,
    dry_run: bool,
    removed: &mut dyn FnMut(&Path),
) -> io::Result<usize> {
    if !is_plain_name(session_id) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{session_id:?} is not a plain folder name"),
        ));
    }
    let target = root.join(session_id);
    match std::fs::symlink_metadata(&target) {
        Ok(_) => remove_tree(&target, dry_run, removed),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(ctx(e, &target)),
    }
}

fn ctx(e: io::Error, p: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

fn remove_tree(path: &Path, dry_run: bool, removed: &mut dyn FnMut(&Path)) -> io::Result<usize> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| ctx(e, path))?;
    let mut n = 0;
    if meta.file_type().is_dir() {
        let mut entries = Vec::new();
        for e in std::fs::read_dir(path).map_err(|e| ctx(e, path))? {
            entries.push(e.map_err(|e| ctx(e, path))?.path());
        }
        entries.sort();
        for e in entries {
            n += remove_tree(&e, dry_run, removed)?;
        }
        if !dry_run {
            std::fs::remove_dir(path).map_err(|e| ctx(e, path))?;
        }
    } else if !dry_run {
        // Files, symlinks (the link itself), anything else that is not a folder.
        std::fs::remove_file(path).map_err(|e| ctx(e, path))?;
    }
    removed(path);
    Ok(n + 1)
}

/// Where a sweep looks and what it may do.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub log_dir: PathBuf,
    /// The board's state folder (`control.state_dir`), for sessions still open.
    pub state_dir: Option<PathBuf>,
    /// The recordings root (the share); nothing outside it is touched.
    pub root: PathBuf,
    /// File at the root that proves the share is mounted (`capture.share_marker`).
    pub marker: String,
    pub policy: Policy,
    pub dry_run: bool,
}

/// What a sweep did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Sessions whose folders were (or, dry, would be) removed.
    pub deleted: Vec<String>,
    /// Paths removed (or that would be), in order.
    pub removed: Vec<PathBuf>,
    pub kept: Vec<(String, String)>,
    /// Unreadable log lines and the like.
    pub warnings: Vec<String>,
    /// Removals that failed.
    pub errors: Vec<String>,
}

impl Sweep {
    /// The sweep `config.json` describes: logs in `logging.log_directory`, the
    /// recordings root `capture.share_path` with its marker, open sessions in
    /// `control.state_dir`.
    pub fn from_config(config: &crate::config::Config, dry_run: bool) -> Sweep {
        let sm = &config.storage_management;
        Sweep {
            log_dir: config.logging.log_directory.clone(),
            state_dir: Some(config.control.state_dir.clone()),
            root: config.capture.share_path.clone(),
            marker: config.capture.share_marker.clone(),
            policy: Policy {
                max_age: Duration::from_secs(u64::from(sm.max_age_days) * 86400),
                require_imported: sm.require_imported,
            },
            dry_run,
        }
    }

    /// Decide and delete. Every removed path is logged (target `takebox::cleanup`).
    pub fn run(&self, now: SystemTime) -> Result<SweepReport, SweepError> {
        if !self.root.join(&self.marker).is_file() {
            return Err(SweepError::NotMounted {
                root: self.root.clone(),
                marker: self.marker.clone(),
            });
        }
        let mut report = SweepReport::default();
        let mut warnings = Vec::new();
        let planned = plan(
            &self.log_dir,
            self.state_dir.as_deref(),
            &self.root,
            &self.policy,
            now,
            &mut |w| warnings.push(w),
        )
        .map_err(SweepError::Logs)?;
        report.warnings = warnings;
        for p in planned {
            match p.decision {
                Decision::Keep(why) => report.kept.push((p.session_id, why)),
                Decision::Delete => {
                    let dry = self.dry_run;
                    let mut removed = Vec::new();
                    let r = remove_session(&self.root, &p.session_id, dry, &mut |path| {
                        if dry {
                            log::info!(target: "takebox::cleanup", "would remove {}", path.display());
                        } else {
                            log::info!(target: "takebox::cleanup", "removed {}", path.display());
                        }
                        removed.push(path.to_path_buf());
                    });
                    match r {
                        Ok(0) => {}
                        Ok(_) => report.deleted.push(p.session_id),
                        Err(e) => {
                            log::error!(target: "takebox::cleanup", "session {}: {e}", p.session_id);
                            report.errors.push(format!("session {}: {e}", p.session_id));
                        }
                    }
                    report.removed.extend(removed);
                }
            }
        }
        Ok(report)
    }
}

/// Why a sweep deleted nothing at all.
#[derive(Debug)]
pub enum SweepError {
    /// The recordings root lacks its marker file.
    NotMounted { root: PathBuf, marker: String },
    /// The log folder could not be listed (the error names it).
    Logs(io::Error),
}

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweepError::NotMounted { root, marker } => write!(
                f,
                "{} has no {marker}: the share is not mounted, nothing is deleted",
                root.display()
            ),
            SweepError::Logs(e) => write!(f, "reading the session logs: {e}"),
        }
    }
}

impl std::error::Error for SweepError {}

/// Why no take may be armed: the share is (nearly) full.
#[derive(Debug)]
pub enum NoRoom {
    Short {
        share: PathBuf,
        free_bytes: u64,
        min_free_bytes: u64,
    },
    /// Its free space could not be read.
    Unknown(io::Error),
}

impl fmt::Display for NoRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoRoom::Short {
                share,
                free_bytes,
                min_free_bytes,
            } => write!(
                f,
                "only {:.2} GB free on the share {} (at least {:.2} GB needed): free space or lower storage_management.min_free_gb",
                *free_bytes as f64 / 1e9,
                share.display(),
                *min_free_bytes as f64 / 1e9
            ),
            NoRoom::Unknown(e) => write!(f, "cannot read the share's free space: {e}"),
        }
    }
}

impl std::error::Error for NoRoom {}

/// Free space on the file system holding `path`, for an unprivileged writer.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(path).map_err(|e| ctx(io::Error::from(e), path))?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// Why a take may not be armed: less than `min_free_bytes` free on the share.
pub fn disk_guard(share: &Path, min_free_bytes: u64) -> Result<(), NoRoom> {
    match free_bytes(share) {
        Ok(free) if free >= min_free_bytes => Ok(()),
        Ok(free) => Err(NoRoom::Short {
            share: share.to_path_buf(),
            free_bytes: free,
            min_free_bytes,
        }),
        Err(e) => Err(NoRoom::Unknown(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86400);

    fn facts(id: &str, days_old: u32) -> SessionFacts {
        SessionFacts {
            session_id: id.into(),
            last_activity: Some(SystemTime::UNIX_EPOCH + 100 * DAY - days_old * DAY),
            ended: true,
            open: false,
            unconfirmed: 0,
            lines: 10,
            imported_lines: None,
        }
    }

    fn run(f: &SessionFacts, require_imported: bool) -> Decision {
        let p = Policy {
            max_age: 30 * DAY,
            require_imported,
        };
        decide(f, &p, SystemTime::UNIX_EPOCH + 100 * DAY)
    }

    #[test]
    fn only_old_finished_confirmed_sessions_go() {
        assert_eq!(run(&facts("s", 31), false), Decision::Delete);
        assert!(matches!(run(&facts("s", 29), false), Decision::Keep(_)));
        let mut f = facts("s", 40);
        f.ended = false;
        assert_eq!(run(&f, false), Decision::Keep("in progress".into()));
        let mut f = facts("s", 40);
        f.open = true;
        assert_eq!(run(&f, false), Decision::Keep("in progress".into()));
        let mut f = facts("s", 40);
        f.unconfirmed = 2;
        assert_eq!(
            run(&f, false),
            Decision::Keep("2 take(s) not yet confirmed".into())
        );
        let mut f = facts("s", 40);
        assert!(matches!(run(&f, true), Decision::Keep(_)));
        f.imported_lines = Some(9);
        assert!(matches!(run(&f, true), Decision::Keep(_)));
        f.imported_lines = Some(10);
        assert_eq!(run(&f, true), Decision::Delete);
        assert!(matches!(run(&facts("..", 40), false), Decision::Keep(_)));
        assert!(matches!(run(&facts("a/b", 40), false), Decision::Keep(_)));
        let mut f = facts("s", 40);
        f.last_activity = None;
        assert!(matches!(run(&f, false), Decision::Keep(_)));
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_name("20261125-1"));
        for bad in ["", ".", "..", "a/b", "/a", "a/"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }
}
