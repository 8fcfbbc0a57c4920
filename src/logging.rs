//! Structured log lines to stderr (journald stores them), and to a file in the
//! seed's `log_directory` when `log_to_file` is set.
//!
//! A line: `2026-11-25T13:45:00.125Z level=info target=takebox::capture msg="..."`.

use crate::config::{LogLevel, Logging};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

struct Logger {
    file: Option<Mutex<File>>,
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
        let _ = std::io::stderr().write_all(line.as_bytes());
        if let Some(file) = &self.file
            && let Ok(mut f) = file.lock()
        {
            let _ = f.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

/// Install the logger once per process. `program` names the log file
/// (`<log_directory>/<program>.log`).
pub fn init(settings: &Logging, log_dir: &Path, program: &str) -> Result<(), String> {
    let file = if settings.log_to_file {
        std::fs::create_dir_all(log_dir)
            .map_err(|e| format!("{}: cannot create log directory: {e}", log_dir.display()))?;
        let path = log_dir.join(format!("{program}.log"));
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: cannot open log file: {e}", path.display()))?;
        Some(Mutex::new(f))
    } else {
        None
    };
    log::set_boxed_logger(Box::new(Logger { file })).map_err(|e| e.to_string())?;
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
    fn seed_levels_map() {
        assert_eq!(filter(LogLevel::Warning), log::LevelFilter::Warn);
        assert_eq!(filter(LogLevel::Critical), log::LevelFilter::Error);
    }
}
