//! Structured log lines to stderr (journald stores them), and to a file in the
//! seed's `log_directory` when `log_to_file` is set.
//!
//! A line: `2026-11-25T13:45:00.125Z level=info target=takebox::capture msg="..."`.
//! When stderr is the journal (systemd's `JOURNAL_STREAM` names the very stream
//! fd 2 is), each line on stderr starts with its syslog priority, `<3>` error
//! (the config's CRITICAL too), `<4>` warning, `<6>` info, `<7>` debug, so
//! `journalctl -p warning` finds the warnings; the log file never has it.

use crate::config::{LogLevel, Logging};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

struct Logger {
    file: Option<Mutex<File>>,
    path: PathBuf,
    /// stderr is the journal: lines there carry their priority.
    journal: bool,
}

/// The syslog priority journald reads from a line's `<N>` prefix.
pub fn priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// Does `JOURNAL_STREAM` (`<device>:<inode>`, decimal) name this file? A
/// child started with stderr elsewhere inherits the variable, hence the check
/// against the file itself (as sd_journal_stream_fd(3) says).
pub fn names_stream(journal_stream: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = journal_stream.trim().split_once(':') else {
        return false;
    };
    d.parse::<u64>() == Ok(dev) && i.parse::<u64>() == Ok(ino)
}

/// Is fd 2 the journal's stream?
pub fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    match nix::sys::stat::fstat(std::io::stderr()) {
        Ok(st) => names_stream(&value, st.st_dev, st.st_ino),
        Err(_) => false,
    }
}

fn filter(level: LogLevel) -> log::LevelFilter {
    match level {
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Warning => log::LevelFilter::Warn,
        LogLevel::Error | LogLevel::Critical => log::LevelFilter::Error,
    }
}

/// Quote a message so that a line stays one line and parses as key=value.
fn quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 2);
    out.push('"');
    for c in msg.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn format_line(level: log::Level, target: &str, msg: &str) -> String {
    format!(
        "{} level={} target={} msg={}\n",
        crate::protocol::Timestamp::now(),
        level.as_str().to_ascii_lowercase(),
        target,
        quoted(msg)
    )
}

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        if !record.target().starts_with("takebox") {
            return;
        }
        let line = format_line(record.level(), record.target(), &record.args().to_string());
        if self.journal {
            let prefixed = format!("<{}>{line}", priority(record.level()));
            let _ = std::io::stderr().write_all(prefixed.as_bytes());
        } else {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        if let Some(file) = &self.file
            && let Ok(mut f) = file.lock()
        {
            FILE_WRITES.note(&self.path, f.write_all(line.as_bytes()));
        }
    }

    fn flush(&self) {}
}

/// The log file's failed writes (a full `/var` on the board): counted and the
/// latest kept, so the page can say that lines were lost instead of losing them
/// silently; stderr (the journal) still has them.
struct FileWrites {
    failures: AtomicU64,
    /// The file and the error of the latest write, while the latest failed.
    failing: Mutex<Option<(PathBuf, String)>>,
}

static FILE_WRITES: FileWrites = FileWrites {
    failures: AtomicU64::new(0),
    failing: Mutex::new(None),
};

impl FileWrites {
    fn note(&self, path: &Path, result: std::io::Result<()>) {
        let failed = result.err().map(|e| (path.to_path_buf(), e.to_string()));
        if failed.is_some() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut f) = self.failing.lock() {
            *f = failed;
        }
    }
}

/// What became of the log file's writes since start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileWriteReport {
    /// Lines the log file could not take.
    pub failures: u64,
    /// The file and the error, while its latest write failed.
    pub failing: Option<(PathBuf, String)>,
}

pub fn file_writes() -> FileWriteReport {
    FileWriteReport {
        failures: FILE_WRITES.failures.load(Ordering::Relaxed),
        failing: FILE_WRITES.failing.lock().ok().and_then(|f| f.clone()),
    }
}

/// Why the logger was not installed.
#[derive(Debug)]
pub enum LogInitError {
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    OpenFile {
        file: PathBuf,
        source: std::io::Error,
    },
    /// A logger is installed already (once per process).
    AlreadySet(log::SetLoggerError),
}

impl std::fmt::Display for LogInitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogInitError::CreateDir { dir, source } => {
                write!(
                    f,
                    "{}: cannot create log directory: {source}",
                    dir.display()
                )
            }
            LogInitError::OpenFile { file, source } => {
                write!(f, "{}: cannot open log file: {source}", file.display())
            }
            LogInitError::AlreadySet(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LogInitError {}

/// Install the logger once per process. `program` names the log file
/// (`<log_directory>/<program>.log`).
pub fn init(settings: &Logging, log_dir: &Path, program: &str) -> Result<(), LogInitError> {
    let path = log_dir.join(format!("{program}.log"));
    let file = if settings.log_to_file {
        std::fs::create_dir_all(log_dir).map_err(|source| LogInitError::CreateDir {
            dir: log_dir.to_path_buf(),
            source,
        })?;
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| LogInitError::OpenFile {
                file: path.clone(),
                source,
            })?;
        Some(Mutex::new(f))
    } else {
        None
    };
    let journal = stderr_is_journal();
    log::set_boxed_logger(Box::new(Logger {
        file,
        path,
        journal,
    }))
    .map_err(LogInitError::AlreadySet)?;
    log::set_max_level(filter(settings.log_level));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_stay_single_and_quoted() {
        let line = format_line(log::Level::Warn, "takebox::capture", "a \"b\"\nc");
        assert!(line.ends_with("level=warn target=takebox::capture msg=\"a \\\"b\\\"\\nc\"\n"));
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn priorities_for_journald() {
        assert_eq!(priority(log::Level::Error), 3);
        assert_eq!(priority(log::Level::Warn), 4);
        assert_eq!(priority(log::Level::Info), 6);
        assert_eq!(priority(log::Level::Debug), 7);
        // CRITICAL is logged as an error, so it is priority 3.
        assert_eq!(filter(LogLevel::Critical), log::LevelFilter::Error);
    }

    #[test]
    fn the_journal_stream_must_be_stderr_itself() {
        assert!(names_stream("8:1234", 8, 1234));
        assert!(names_stream("8:1234\n", 8, 1234));
        for other in [
            "8:1235", "9:1234", "", "8", "8:", ":1234", "x:y", "8:1234:5", "-8:1234",
        ] {
            assert!(!names_stream(other, 8, 1234), "{other:?}");
        }
        // A real file: its own device and inode match, another's do not.
        let f = tempfile::tempfile().unwrap();
        let st = nix::sys::stat::fstat(&f).unwrap();
        let mine = format!("{}:{}", st.st_dev, st.st_ino);
        assert!(names_stream(&mine, st.st_dev, st.st_ino));
        let g = tempfile::tempfile().unwrap();
        let other = nix::sys::stat::fstat(&g).unwrap();
        assert!(!names_stream(&mine, other.st_dev, other.st_ino));
    }

    #[test]
    fn seed_levels_map() {
        assert_eq!(filter(LogLevel::Warning), log::LevelFilter::Warn);
        assert_eq!(filter(LogLevel::Critical), log::LevelFilter::Error);
    }
}
