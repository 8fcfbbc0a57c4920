//! `config.json` and `instruments.json`: the seed's formats, loaded as users write
//! them, plus takebox's own sections (`capture`, `notes`) with defaults.
//!
//! Parsing is strict (unknown fields are errors that name the field) and is followed
//! by a semantic check. Every error names the file, the field and what was expected.

mod capture;
mod control;
mod device;
mod instruments;
mod seed;

pub use capture::*;
pub use control::*;
pub use device::{CaptureDevice, GeneratorSpec, Signal, SpecError};
pub use instruments::*;
pub use seed::*;

use crate::notes::Note;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable that overrides the shared bearer token.
pub const TOKEN_ENV: &str = "TAKEBOX_TOKEN";
/// Overrides `control.page_password` (the image's first boot writes it).
pub const PAGE_PASSWORD_ENV: &str = "TAKEBOX_PAGE_PASSWORD";

#[derive(Debug)]
pub enum ConfigError {
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    Write {
        file: PathBuf,
        source: std::io::Error,
    },
    /// Not JSON, a wrong type, an unknown or missing field.
    Parse {
        file: PathBuf,
        field: String,
        message: String,
    },
    /// Well-formed but not usable.
    Invalid {
        file: PathBuf,
        field: String,
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { file, source } => {
                write!(f, "{}: cannot read: {source}", file.display())
            }
            ConfigError::Write { file, source } => {
                write!(f, "{}: cannot save: {source}", file.display())
            }
            ConfigError::Parse {
                file,
                field,
                message,
            }
            | ConfigError::Invalid {
                file,
                field,
                message,
            } => {
                if field.is_empty() || field == "." {
                    write!(f, "{}: {message}", file.display())
                } else {
                    write!(f, "{}: field `{field}`: {message}", file.display())
                }
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// The dotted path of the offending field, where there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Parse { field, .. } | ConfigError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn invalid(file: &Path, field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_path_buf(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// Parse JSON text strictly, reporting the path of the field that failed.
/// Both files are JSON objects: anything else is refused in words.
pub fn parse_json<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let got = match text.trim_start().chars().next() {
        Some('{') | Some('/') => None,
        None => Some("an empty file"),
        Some('[') => Some("an array"),
        Some('"') => Some("a string"),
        Some('t' | 'f') => Some("true or false"),
        Some('n') => Some("null"),
        Some(c) if c == '-' || c.is_ascii_digit() => Some("a number"),
        Some(_) => None,
    };
    if let Some(got) = got {
        return Err(ConfigError::Parse {
            file: file.to_path_buf(),
            field: String::new(),
            message: format!("expected a JSON object ({{ ... }}), got {got}"),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = if inner.is_eof() {
            format!("the file ends too early ({inner})")
        } else {
            inner.to_string()
        };
        ConfigError::Parse {
            file: file.to_path_buf(),
            field,
            message,
        }
    })?;
    de.end().map_err(|e| ConfigError::Parse {
        file: file.to_path_buf(),
        field: String::new(),
        message: format!("trailing characters after the JSON value ({e})"),
    })?;
    Ok(value)
}

/// Largest config.json or instruments.json read: a real one is a few KiB; a
/// bigger file is refused before it is read.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Most attempts after the first an unattended session makes of one slot.
pub const MAX_UNATTENDED_RETAKES: u32 = 10;

/// The text of a config file: at most [`MAX_CONFIG_BYTES`], UTF-8, a leading
/// byte order mark (as some Windows editors write) dropped.
pub fn read(file: &Path) -> Result<String, ConfigError> {
    read_text(file).map(|(_, text)| text)
}

/// [`read`], and whether the file started with a byte order mark.
fn read_text(file: &Path) -> Result<(bool, String), ConfigError> {
    use std::io::Read;
    let read_err = |source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    };
    let too_big = |len: u64| {
        invalid(
            file,
            "",
            format!(
                "the file is {len} bytes or more; a config file is at most {MAX_CONFIG_BYTES} bytes (1 MiB)"
            ),
        )
    };
    let f = std::fs::File::open(file).map_err(read_err)?;
    let meta = f.metadata().map_err(read_err)?;
    if meta.is_dir() {
        return Err(invalid(file, "", "is a folder, not a file"));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::new();
    f.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        invalid(
            file,
            "",
            format!(
                "not UTF-8 text (byte {} is not valid UTF-8)",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(match text.strip_prefix(BOM) {
        Some(rest) => (true, rest.to_string()),
        None => (false, text),
    })
}

/// The UTF-8 byte order mark.
pub const BOM: &str = "\u{feff}";

/// Longest note a configuration may plan (an articulation's duration), and so
/// the longest `capture.max_take_seconds`.
pub const MAX_NOTE_SECONDS: f64 = 3600.0;

/// The longest `capture.loop_crossfade_seconds`: the loop and the audio
/// before it each need that much, within the 12 s the live search reads.
pub const MAX_LOOP_CROSSFADE_SECONDS: f64 = 5.0;

/// Shortest countdown: the board sends each take's command up to
/// `control::take_runner::SEND_LEAD` (1 s) before the countdown ends, at once
/// when the countdown is shorter; half a second is left for it to reach every
/// recorder before the note starts. With no countdown the command always came
/// late, and a recorder whose `late_start_seconds` is 0 would refuse every take.
pub const MIN_COUNTDOWN_SECONDS: f64 = 0.5;
pub const MAX_COUNTDOWN_SECONDS: f64 = 60.0;

/// Largest `storage_management.min_free_gb` (an exabyte: "never arm").
pub const MAX_MIN_FREE_GB: f64 = 1e9;

/// `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub countdown_duration: f64,
    pub articulation_durations: BTreeMap<String, f64>,
    pub recording_computer_url: String,
    pub recording_computer_port: u16,
    pub file_naming: FileNaming,
    pub storage_management: StorageManagement,
    pub post_processing: PostProcessing,
    pub logging: Logging,
    pub session_settings: SessionSettings,
    pub notes: NoteSettings,
    pub capture: CaptureSettings,
    pub control: ControlSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            countdown_duration: 5.0,
            articulation_durations: [
                ("short", 0.2),
                ("medium", 0.5),
                ("long", 1.0),
                ("transient", 0.05),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            recording_computer_url: "http://recording-computer.local:5001".into(),
            recording_computer_port: 5001,
            file_naming: FileNaming::default(),
            storage_management: StorageManagement::default(),
            post_processing: PostProcessing::default(),
            logging: Logging::default(),
            session_settings: SessionSettings::default(),
            notes: NoteSettings::default(),
            capture: CaptureSettings::default(),
            control: ControlSettings::default(),
        }
    }
}

impl Config {
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let config: Config = parse_json(file, &read(file)?)?;
        config.validate(file)?;
        Ok(config)
    }

    /// Save atomically: the settings page writes this file while daemons may read it.
    pub fn save(&self, file: &Path) -> Result<(), ConfigError> {
        self.validate(file)?;
        let mut text = serde_json::to_string_pretty(self).expect("config serializes");
        text.push('\n');
        crate::durable::write_atomic(file, text.as_bytes()).map_err(|source| ConfigError::Write {
            file: file.to_path_buf(),
            source,
        })
    }

    /// Save what changed from `old` to `new` into `file` and nothing else: the
    /// file keeps its key order, indentation, number forms, byte order mark and
    /// absent fields; a changed whole number keeps its form (`5` -> `3`, not
    /// `3.0`); a field that was absent is added at the end of its section.
    /// The changes are applied to the file as it is now (an edit made by hand
    /// since `old` was read stays). Written atomically. Returns the config as
    /// saved, or every problem of the result.
    pub fn save_changes(
        file: &Path,
        old: &Config,
        new: &Config,
    ) -> Result<Config, Vec<ConfigError>> {
        let (bom, text) = read_text(file).map_err(|e| vec![e])?;
        let on_disk: Config = parse_json(file, &text).map_err(|e| vec![e])?;
        let value = |c: &Config| serde_json::to_value(c).expect("config serializes");
        let mut target = value(&on_disk);
        for (path, change) in crate::json_edit::diff(&value(old), &value(new)) {
            crate::json_edit::patch(&mut target, &path, change);
        }
        let saved: Config = serde_json::from_value(target.clone()).map_err(|e| {
            vec![invalid(
                file,
                "",
                format!("the changes do not fit the file: {e}"),
            )]
        })?;
        let problems = saved.problems(file);
        if !problems.is_empty() {
            return Err(problems);
        }
        let edited = crate::json_edit::rewrite(
            &text,
            |t| parse_json::<Config>(file, t).map(|c| value(&c)),
            &target,
        )
        .map_err(|e| vec![invalid(file, "", e.to_string())])?;
        let out = if bom {
            format!("{BOM}{edited}")
        } else {
            edited
        };
        crate::durable::write_atomic(file, out.as_bytes()).map_err(|source| {
            vec![ConfigError::Write {
                file: file.to_path_buf(),
                source,
            }]
        })?;
        Ok(saved)
    }

    /// Take the token and the page password from the environment when they
    /// are set there.
    pub fn apply_env(&mut self) {
        if let Ok(token) = std::env::var(TOKEN_ENV)
            && !token.is_empty()
        {
            self.capture.token = token.clone();
            self.control.token = token;
        }
        if let Ok(password) = std::env::var(PAGE_PASSWORD_ENV)
            && !password.is_empty()
        {
            self.control.page_password = password;
        }
    }

    /// Make relative folders (logs, share, spool) relative to the config file's
    /// folder, not to wherever the daemon happens to be started.
    pub fn resolve_paths(&mut self, config_file: &Path) {
        let base = config_file.parent().unwrap_or(Path::new("."));
        for dir in [
            &mut self.logging.log_directory,
            &mut self.capture.share_path,
            &mut self.capture.spool_path,
            &mut self.control.instruments_file,
            &mut self.control.state_dir,
        ] {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
    }

    /// Every problem of the config, each naming its field (the settings page
    /// shows them all at once); empty when it is usable.
    pub fn problems(&self, file: &Path) -> Vec<ConfigError> {
        let mut p = Problems {
            file,
            list: Vec::new(),
        };
        self.check_seed(&mut p);
        self.post_processing.check(&mut p);
        self.check_capture(&mut p);
        self.check_control(&mut p);
        p.list
    }

    /// The first of [`Config::problems`].
    pub fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        match self.problems(file).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn check_seed(&self, p: &mut Problems) {
        self.check_durations(p);
        self.check_session_settings(p);
        self.check_storage(p);
    }

    /// The countdown and each articulation's note length.
    fn check_durations(&self, p: &mut Problems) {
        let c = self.countdown_duration;
        if !(c.is_finite() && c <= MAX_COUNTDOWN_SECONDS) {
            p.add(
                "countdown_duration",
                format!("expected at most {MAX_COUNTDOWN_SECONDS} seconds, got {c}"),
            );
        } else if c < MIN_COUNTDOWN_SECONDS {
            p.add(
                "countdown_duration",
                format!(
                    "expected at least {MIN_COUNTDOWN_SECONDS} seconds, got {c}: the board sends \
                     each take's command during the countdown, and it must reach the \
                     recorders before the note starts"
                ),
            );
        }
        if self.articulation_durations.is_empty() {
            p.add(
                "articulation_durations",
                "expected at least one articulation",
            );
        }
        for (name, secs) in &self.articulation_durations {
            let field = format!("articulation_durations.{name}");
            if let Err(e) = crate::protocol::check_name(&field, name) {
                p.add(&field, e.message);
            } else if !(secs.is_finite() && *secs > 0.0 && *secs <= MAX_NOTE_SECONDS) {
                p.add(
                    &field,
                    format!(
                        "expected more than 0 and at most {MAX_NOTE_SECONDS} seconds (an hour), got {secs}"
                    ),
                );
            }
        }
    }

    /// The Initiate form's defaults.
    fn check_session_settings(&self, p: &mut Problems) {
        let s = &self.session_settings;
        if !(s.default_frequency.is_finite() && (400.0..=480.0).contains(&s.default_frequency)) {
            p.add(
                "session_settings.default_frequency",
                format!(
                    "expected the pitch of A4 in Hz, between 400 and 480, got {}",
                    s.default_frequency
                ),
            );
        }
        if let Err(e) = Note::parse(&s.default_note, self.notes.middle_c) {
            p.add("session_settings.default_note", e.to_string());
        }
        if !self
            .articulation_durations
            .contains_key(&s.default_articulation)
        {
            p.add(
                "session_settings.default_articulation",
                format!(
                    "expected one of the articulation_durations ({}), got {:?}",
                    self.articulation_durations
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    s.default_articulation
                ),
            );
        }
    }

    /// Retention, the cleanup's interval and the free-space guard.
    fn check_storage(&self, p: &mut Problems) {
        let m = &self.storage_management;
        if !(1..=36_500).contains(&m.max_age_days) {
            p.add(
                "storage_management.max_age_days",
                format!("expected 1 to 36500 days, got {}", m.max_age_days),
            );
        }
        let minutes = m.cleanup_interval_minutes;
        if !(minutes.is_finite() && minutes > 0.0 && minutes <= 10_080.0) {
            p.add(
                "storage_management.cleanup_interval_minutes",
                format!("expected more than 0 and at most 10080 minutes (a week), got {minutes}"),
            );
        }
        let free = m.min_free_gb;
        if !(free.is_finite() && (0.0..=MAX_MIN_FREE_GB).contains(&free)) {
            p.add(
                "storage_management.min_free_gb",
                format!("expected a number of GB from 0 to 1000000000, got {free}"),
            );
        }
    }

    fn check_control(&self, p: &mut Problems) {
        let c = &self.control;
        for (i, url) in c.recorders.iter().enumerate() {
            if let Err(e) = crate::http::parse_http_url(url) {
                p.add(&format!("control.recorders[{i}]"), e.to_string());
            }
        }
        if let Err(e) = check_token(&c.token) {
            p.add("control.token", e.to_string());
        }
        if c.host_names.len() > 32 {
            p.add("control.host_names", "expected at most 32 names");
        }
        for (i, name) in c.host_names.iter().enumerate() {
            if let Err(e) = check_host_name(name) {
                p.add(&format!("control.host_names[{i}]"), e.to_string());
            }
        }
        for (field, v) in [
            ("control.request_timeout_seconds", c.request_timeout_seconds),
            ("control.take_timeout_seconds", c.take_timeout_seconds),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 600.0) {
                p.add(field, "expected more than 0 and at most 600 seconds");
            }
        }
        if !(1..=10_000).contains(&c.max_connections) {
            p.add("control.max_connections", "expected 1 to 10000");
        }
        if c.unattended.retakes > MAX_UNATTENDED_RETAKES {
            p.add(
                "control.unattended.retakes",
                format!("expected 0 to {MAX_UNATTENDED_RETAKES}"),
            );
        }
        let tol = c.unattended.onset_tolerance_ms;
        if !(tol.is_finite() && tol > 0.0 && tol <= 1000.0) {
            p.add(
                "control.unattended.onset_tolerance_ms",
                "expected more than 0 and at most 1000 ms",
            );
        }
        let g = &c.gpio;
        if g.chip.is_empty() {
            p.add("control.gpio.chip", "expected a path or a label");
        }
        if !(1..=1000).contains(&g.debounce_ms) {
            p.add("control.gpio.debounce_ms", "expected 1 to 1000 ms");
        }
        if !(100..=10_000).contains(&g.long_press_ms) || g.long_press_ms <= g.debounce_ms {
            p.add(
                "control.gpio.long_press_ms",
                "expected 100 to 10000 ms, longer than debounce_ms",
            );
        }
        if g.countdown_leds.len() > 16 {
            p.add("control.gpio.countdown_leds", "expected at most 16 LEDs");
        }
        let mut lines = vec![&g.button.line, &g.status_led.line];
        lines.extend(g.countdown_leds.iter().map(|l| &l.line));
        if let Some(l) = (0..lines.len())
            .find(|&i| lines[..i].contains(&lines[i]))
            .map(|i| lines[i])
        {
            p.add("control.gpio", format!("line {l} is used twice"));
        }
    }

    fn check_capture(&self, p: &mut Problems) {
        let c = &self.capture;
        if ![44_100, 48_000, 96_000].contains(&c.sample_rate) {
            p.add(
                "capture.sample_rate",
                format!("expected 44100, 48000 or 96000, got {}", c.sample_rate),
            );
        }
        if !(1..=8).contains(&c.channels) {
            p.add(
                "capture.channels",
                format!("expected 1 to 8 channels, got {}", c.channels),
            );
        }
        if !(16..=16_384).contains(&c.period_frames) {
            p.add("capture.period_frames", "expected 16 to 16384 frames");
        }
        for (field, v, max) in [
            ("capture.pre_roll_seconds", c.pre_roll_seconds, 30.0),
            ("capture.release_tail_seconds", c.release_tail_seconds, 30.0),
            ("capture.late_start_seconds", c.late_start_seconds, 60.0),
            (
                "capture.max_start_ahead_seconds",
                c.max_start_ahead_seconds,
                3600.0,
            ),
            (
                "capture.loop_crossfade_seconds",
                c.loop_crossfade_seconds,
                MAX_LOOP_CROSSFADE_SECONDS,
            ),
        ] {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                p.add(field, format!("expected 0 to {max} seconds, got {v}"));
            }
        }
        if !(c.max_take_seconds.is_finite()
            && c.max_take_seconds > 0.0
            && c.max_take_seconds <= MAX_NOTE_SECONDS)
        {
            p.add(
                "capture.max_take_seconds",
                "expected more than 0 and at most 3600 seconds",
            );
        }
        if let Err(e) = crate::protocol::check_name(
            "capture.share_marker",
            &c.share_marker.replacen('.', "", 1),
        ) {
            p.add("capture.share_marker", e.message);
        }
        if let Err(e) = check_token(&c.token) {
            p.add("capture.token", e.to_string());
        }
    }

    /// The folders a daemon makes at start (the log folder when logging to a
    /// file; the capture's spool; the board's `state_dir`), checked without
    /// making them: each must be a folder or one that can be made (its nearest
    /// existing parent a writable folder on a file system that takes files).
    /// Call it on the resolved config (absolute paths).
    pub fn check_folders(&self, file: &Path, daemon: Daemon) -> Result<(), ConfigError> {
        let mut dirs: Vec<(&str, PathBuf)> = Vec::new();
        if self.logging.log_to_file {
            dirs.push(("logging.log_directory", self.logging.log_directory.clone()));
        }
        match daemon {
            Daemon::Capture { spool_folders } => {
                let spool = &self.capture.spool_path;
                dirs.push(("capture.spool_path", spool.clone()));
                for sub in spool_folders {
                    dirs.push(("capture.spool_path", spool.join(sub)));
                }
            }
            Daemon::Control => {
                dirs.push(("control.state_dir", self.control.state_dir.clone()));
                dirs.push(("control.state_dir", self.control.state_dir.join("sessions")));
            }
        }
        for (field, dir) in dirs {
            crate::durable::check_can_make_dir(&dir)
                .map_err(|e| invalid(file, field, e.to_string()))?;
        }
        Ok(())
    }
}

/// Which daemon a config is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// The recorder, with the folders its spool makes in `capture.spool_path`
    /// (the spool's layout is the recorder's to say).
    Capture {
        spool_folders: &'static [&'static str],
    },
    Control,
}

/// Why a token can never match an `Authorization: Bearer` header.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenError {
    Whitespace,
    NotPrintable(char),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Whitespace => f.write_str(
                "has leading or trailing whitespace, which no bearer header carries: it could never match",
            ),
            TokenError::NotPrintable(c) => write!(
                f,
                "contains {c:?}: a bearer token is printable ASCII, or no client can send it"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// Why `token` can never match an `Authorization: Bearer` header, if it cannot.
/// The empty token (none set) is left to the daemons, which say where to set one.
pub fn check_token(token: &str) -> Result<(), TokenError> {
    if token.trim() != token {
        return Err(TokenError::Whitespace);
    }
    if let Some(c) = token.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(TokenError::NotPrintable(c));
    }
    Ok(())
}

/// Collects every problem of a config.
struct Problems<'a> {
    file: &'a Path,
    list: Vec<ConfigError>,
}

impl Problems<'_> {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.list.push(invalid(self.file, field, message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notes::MiddleC;

    fn seed_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed")
    }

    #[test]
    fn seed_files_load_unchanged() {
        let cfg = Config::load(&seed_dir().join("config.json")).unwrap();
        assert_eq!(cfg.countdown_duration, 5.0);
        assert_eq!(cfg.articulation_durations["transient"], 0.05);
        assert_eq!(cfg.recording_computer_port, 5001);
        assert_eq!(cfg.logging.log_level, LogLevel::Info);
        // Sections the seed does not have take their defaults.
        assert_eq!(cfg.capture, CaptureSettings::default());
        assert_eq!(cfg.control, ControlSettings::default());
        assert_eq!(
            cfg.control.recorder_urls(&cfg),
            ["http://recording-computer.local:5001"]
        );
        assert_eq!(
            crate::http::parse_http_url(&cfg.recording_computer_url).unwrap(),
            ("recording-computer.local".to_string(), 5001)
        );
        let inst = Instruments::load(&seed_dir().join("instruments.json"), &cfg).unwrap();
        let guitar = inst.get("guitar").unwrap();
        let (lo, hi) = guitar.notes(MiddleC::C4).unwrap();
        assert_eq!((lo.midi(), hi.midi()), (40, 88));
        assert!(guitar.pitch_check);
    }

    fn parse_err(text: &str) -> ConfigError {
        let file = Path::new("/etc/takebox/config.json");
        parse_json::<Config>(file, text)
            .and_then(|c| c.validate(file).map(|_| c))
            .unwrap_err()
    }

    #[test]
    fn host_names_are_names_or_addresses() {
        let file = Path::new("/etc/takebox/config.json");
        let c: Config = parse_json(
            file,
            r#"{"control": {"host_names": ["studio-board.lan", "Board2.", "192.0.2.7", "fe80::1"]}}"#,
        )
        .unwrap();
        c.validate(file).unwrap();
        assert_eq!(c.control.host_names.len(), 4);
        // Absent stays absent when saved.
        let saved = serde_json::to_value(Config::default()).unwrap();
        assert!(saved["control"].get("host_names").is_none(), "{saved}");
        for bad in [
            r#""""#,
            r#""evil.example:5000""#,
            r#""http://board""#,
            r#""-board""#,
            r#""board..lan""#,
            r#""bo ard""#,
            r#""[::1]""#,
        ] {
            let e = parse_err(&format!(r#"{{"control": {{"host_names": [{bad}]}}}}"#));
            assert_eq!(e.field(), Some("control.host_names[0]"), "{bad}: {e}");
        }
        let many: Vec<String> = (0..33).map(|i| format!("\"b{i}\"")).collect();
        let e = parse_err(&format!(
            r#"{{"control": {{"host_names": [{}]}}}}"#,
            many.join(",")
        ));
        assert_eq!(e.field(), Some("control.host_names"), "{e}");
    }

    #[test]
    fn gpio_lines_are_offsets_or_names_and_strictly_checked() {
        let file = Path::new("/etc/takebox/config.json");
        let c: Config = parse_json(
            file,
            r#"{"control": {"gpio": {"backend": "chardev", "chip": "/dev/gpiochip1",
                "button": {"line": "START"}, "status_led": {"line": 5, "active_low": true},
                "countdown_leds": [], "press_during_take": "abort",
                "countdown_style": "single_blink"}}}"#,
        )
        .unwrap();
        c.validate(file).unwrap();
        let g = &c.control.gpio;
        assert_eq!(g.button.line, LineId::Name("START".into()));
        assert!(!g.button.active_low);
        assert_eq!(g.status_led, GpioLine::at(5, true));
        assert_eq!(g.long_press_ms, 1500);
        assert_eq!(
            Config::default().control.gpio.button,
            GpioLine::at(20, true)
        );

        let e = parse_err(r#"{"control": {"gpio": {"backend": "spi"}}}"#);
        assert_eq!(e.field(), Some("control.gpio.backend"), "{e}");
        let e = parse_err(r#"{"control": {"gpio": {"button": {"line": 20, "pull": 1}}}}"#);
        assert!(e.to_string().contains("control.gpio.button"), "{e}");
        let e = parse_err(r#"{"control": {"gpio": {"status_led": {"line": 20}}}}"#);
        assert_eq!(e.field(), Some("control.gpio"), "{e}");
        assert!(e.to_string().contains("offset 20 is used twice"), "{e}");
        let e = parse_err(r#"{"control": {"gpio": {"long_press_ms": 10}}}"#);
        assert_eq!(e.field(), Some("control.gpio.long_press_ms"), "{e}");
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = parse_err(r#"{"countdown_duraton": 5}"#);
        assert!(e.to_string().starts_with("/etc/takebox/config.json"), "{e}");
        assert!(e.to_string().contains("countdown_duraton"), "{e}");

        let e = parse_err(r#"{"capture": {"sample_rate": "fast"}}"#);
        assert_eq!(e.field(), Some("capture.sample_rate"), "{e}");

        let e = parse_err(r#"{"capture": {"sample_rate": 22050}}"#);
        assert_eq!(e.field(), Some("capture.sample_rate"));
        assert!(e.to_string().contains("48000"), "{e}");

        let e = parse_err(r#"{"control": {"recorders": ["ftp://x"]}}"#);
        assert_eq!(e.field(), Some("control.recorders[0]"), "{e}");
        assert_eq!(
            crate::http::parse_http_url("http://127.0.0.1:5001/")
                .unwrap()
                .1,
            5001
        );
        assert_eq!(
            crate::http::parse_http_url("http://[::1]:7").unwrap().0,
            "::1"
        );
        assert!(crate::http::parse_http_url("http://h:x").is_err());

        let e = parse_err(r#"{"capture": {"channels": 9}}"#);
        assert_eq!(e.field(), Some("capture.channels"));

        let e = parse_err(r#"{"logging": {"log_level": "LOUD"}}"#);
        assert_eq!(e.field(), Some("logging.log_level"), "{e}");

        let e = parse_err(r#"{"session_settings": {"default_note": "H2"}}"#);
        assert_eq!(e.field(), Some("session_settings.default_note"));
        assert!(e.to_string().contains("\"H2\""), "{e}");

        let e = parse_err(r#"{"countdown_duration": 5"#);
        assert!(e.to_string().contains("ends too early"), "{e}");

        let e = parse_err(
            r#"{"articulation_durations": {"../x": 1.0}, "session_settings": {"default_articulation": "../x"}}"#,
        );
        assert_eq!(e.field(), Some("articulation_durations.../x"));
    }

    #[test]
    fn missing_file_is_named() {
        let e = Config::load(Path::new("/no/such/config.json")).unwrap_err();
        assert!(e.to_string().contains("/no/such/config.json"), "{e}");
    }

    #[test]
    fn instruments_are_checked_against_config() {
        let cfg = Config::default();
        let file = Path::new("instruments.json");
        let bad = r#"{"instruments":[{"name":"cello","type":"string",
            "range":{"lowest_note":"C2","highest_note":"A5"},
            "default_articulations":["long","pizzicato"]}]}"#;
        let list: Instruments = parse_json(file, bad).unwrap();
        let e = list.validate(file, &cfg).unwrap_err();
        assert_eq!(e.field(), Some("instruments[0].default_articulations[1]"));

        let upside_down = bad.replace("C2", "B5").replace(",\"pizzicato\"", "");
        let list: Instruments = parse_json(file, &upside_down).unwrap();
        assert_eq!(
            list.validate(file, &cfg).unwrap_err().field(),
            Some("instruments[0].range")
        );
    }

    #[test]
    fn instrument_tuning_and_pitch_limits() {
        use crate::notes::Note;
        let cfg = Config::default();
        let file = Path::new("instruments.json");
        let piano = r#"{"instruments":[{"name":"piano","type":"keys",
            "range":{"lowest_note":"A0","highest_note":"C8"},
            "default_articulations":["long"], "max_cents": 12,
            "max_cents_by_range": [{"lowest_note":"C7","highest_note":"C8","max_cents":25}],
            "tuning": {"stretch": {"A0": -20, "A4": 0, "C8": 36}}}]}"#;
        let list: Instruments = parse_json(file, piano).unwrap();
        list.validate(file, &cfg).unwrap();
        let inst = list.get("piano").unwrap();
        let mc = cfg.notes.middle_c;
        let at = |n: &str| inst.pitch_limits(Note::parse(n, mc).unwrap(), mc);
        assert_eq!(at("A4").target_cents, 0.0);
        assert_eq!(at("A0").target_cents, -20.0);
        // C8 is 39 semitones over A4: C6 (15 over) is 15/39 of the way.
        assert!((at("C6").target_cents - 36.0 * 15.0 / 39.0).abs() < 1e-9);
        assert!((at("A2").target_cents + 20.0 * 24.0 / 48.0).abs() < 1e-9);
        assert_eq!(at("A4").max_cents, Some(12.0));
        assert_eq!(at("C7").max_cents, Some(25.0));

        let table = piano.replace(
            r#"{"stretch": {"A0": -20, "A4": 0, "C8": 36}}"#,
            r#"{"table": {"C8": 90}}"#,
        );
        let list: Instruments = parse_json(file, &table).unwrap();
        let inst = list.get("piano").unwrap();
        assert_eq!(
            inst.pitch_limits(Note::parse("C8", mc).unwrap(), mc)
                .target_cents,
            90.0
        );
        assert_eq!(
            inst.pitch_limits(Note::parse("B7", mc).unwrap(), mc)
                .target_cents,
            0.0
        );
        let equal = piano.replace(
            r#"{"stretch": {"A0": -20, "A4": 0, "C8": 36}}"#,
            r#""equal""#,
        );
        let list: Instruments = parse_json(file, &equal).unwrap();
        assert_eq!(
            list.instruments[0].tuning,
            Some(crate::config::instruments::Tuning::Equal)
        );

        for (bad, field) in [
            (
                piano.replace("\"A0\": -20", "\"Q9\": -20"),
                "instruments[0].tuning.Q9",
            ),
            (piano.replace("-20", "-500"), "instruments[0].tuning.A0"),
            (
                piano.replace("\"max_cents\": 12", "\"max_cents\": -1"),
                "instruments[0].max_cents",
            ),
            (
                piano.replace("\"max_cents\":25", "\"max_cents\":1e9"),
                "instruments[0].max_cents_by_range[0].max_cents",
            ),
        ] {
            let list: Instruments = parse_json(file, &bad).unwrap();
            assert_eq!(
                list.validate(file, &cfg).unwrap_err().field(),
                Some(field),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_duration_and_size_has_an_upper_bound() {
        let file = Path::new("config.json");
        for (patch, field) in [
            (
                r#"{"articulation_durations": {"long": 1e20}}"#,
                "articulation_durations.long",
            ),
            (
                r#"{"storage_management": {"cleanup_interval_minutes": 1e20}}"#,
                "storage_management.cleanup_interval_minutes",
            ),
            (
                r#"{"storage_management": {"min_free_gb": 1e300}}"#,
                "storage_management.min_free_gb",
            ),
            (
                r#"{"storage_management": {"max_age_days": 4000000000}}"#,
                "storage_management.max_age_days",
            ),
            (r#"{"countdown_duration": 1e20}"#, "countdown_duration"),
            (
                r#"{"capture": {"max_take_seconds": 1e20}}"#,
                "capture.max_take_seconds",
            ),
            (
                r#"{"capture": {"loop_crossfade_seconds": 6}}"#,
                "capture.loop_crossfade_seconds",
            ),
            (
                r#"{"capture": {"loop_crossfade_seconds": -0.1}}"#,
                "capture.loop_crossfade_seconds",
            ),
            (
                r#"{"control": {"take_timeout_seconds": 1e20}}"#,
                "control.take_timeout_seconds",
            ),
        ] {
            let cfg: Config = parse_json(file, patch).unwrap();
            let e = cfg.validate(file).unwrap_err();
            assert_eq!(e.field(), Some(field), "{patch}: {e}");
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("takebox-cfg-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn files_are_capped_objects_and_a_bom_is_dropped() {
        let dir = temp_dir("read");
        let file = dir.join("config.json");
        let load = |bytes: &[u8]| {
            std::fs::write(&file, bytes).unwrap();
            Config::load(&file)
        };
        let mut big = b"{\"countdown_duration\": 5".to_vec();
        big.resize(2 << 20, b' ');
        big.push(b'}');
        let e = load(&big).unwrap_err().to_string();
        assert!(
            e.contains("config.json") && e.contains("at most 1048576 bytes"),
            "{e}"
        );
        for (text, got) in [
            ("[]", "an array"),
            ("  \"x\"", "a string"),
            ("", "an empty file"),
            ("42", "a number"),
        ] {
            let e = load(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("expected a JSON object"), "{text:?}: {e}");
            assert!(e.contains(got), "{text:?}: {e}");
        }
        let cfg = load("\u{feff}{\"countdown_duration\": 3}".as_bytes()).unwrap();
        assert_eq!(cfg.countdown_duration, 3.0);
        let e = load(b"{\"countdown_duration\": 3, \"x\": \"\xff\"}").unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
        let inst = dir.join("instruments.json");
        std::fs::write(&inst, b"[]").unwrap();
        let e = Instruments::load(&inst, &Config::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("instruments.json") && e.contains("expected a JSON object"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tokens_that_can_never_match_are_refused() {
        for (patch, field) in [
            (r#"{"capture": {"token": "secret "}}"#, "capture.token"),
            (r#"{"control": {"token": "\tsecret"}}"#, "control.token"),
            (r#"{"control": {"token": "sécret"}}"#, "control.token"),
        ] {
            let e = parse_err(patch);
            assert_eq!(e.field(), Some(field), "{patch}: {e}");
        }
        assert!(
            parse_err(r#"{"capture": {"token": " x"}}"#)
                .to_string()
                .contains("whitespace")
        );
        let file = Path::new("config.json");
        let ok: Config = parse_json(file, r#"{"capture": {"token": "two words"}}"#).unwrap();
        ok.validate(file).unwrap();
    }

    #[test]
    fn every_problem_is_reported_at_once_and_a_countdown_needs_time() {
        let file = Path::new("config.json");
        let cfg: Config = parse_json(
            file,
            r#"{"countdown_duration": 0, "articulation_durations": {"long": 1, "legato": 1e9},
                "storage_management": {"min_free_gb": 1e300}}"#,
        )
        .unwrap();
        let fields: Vec<String> = cfg
            .problems(file)
            .iter()
            .map(|e| e.field().unwrap().to_string())
            .collect();
        assert_eq!(
            fields,
            [
                "countdown_duration",
                "articulation_durations.legato",
                "storage_management.min_free_gb"
            ]
        );
        for (countdown, ok) in [
            (0.0, false),
            (0.4, false),
            (0.5, true),
            (60.0, true),
            (61.0, false),
        ] {
            let c = Config {
                countdown_duration: countdown,
                ..Config::default()
            };
            assert_eq!(c.validate(file).is_ok(), ok, "countdown {countdown}");
        }
        // 10^9 GB stays allowed: tests use it to mean "never arm".
        let mut c = Config::default();
        c.storage_management.min_free_gb = 1e9;
        c.validate(file).unwrap();
    }

    #[test]
    fn folders_start_would_make_are_checked_for_each_daemon() {
        let file = Path::new("config.json");
        let mut c = Config::default();
        c.logging.log_to_file = false;
        c.capture.spool_path = PathBuf::from("/proc/takebox/spool");
        let capture = Daemon::Capture {
            spool_folders: &["takes"],
        };
        let e = c.check_folders(file, capture).unwrap_err();
        assert_eq!(e.field(), Some("capture.spool_path"), "{e}");
        // The board makes no spool.
        c.control.state_dir = temp_dir("state");
        c.check_folders(file, Daemon::Control).unwrap();
        c.logging.log_to_file = true;
        c.logging.log_directory = PathBuf::from("/sys/takebox-logs");
        let e = c.check_folders(file, Daemon::Control).unwrap_err();
        assert_eq!(e.field(), Some("logging.log_directory"), "{e}");
        std::fs::remove_dir_all(&c.control.state_dir).unwrap();
    }

    #[test]
    fn names_that_cannot_make_a_file_name_are_refused() {
        let file = Path::new("instruments.json");
        let inst = |name: &str| {
            parse_json::<Instruments>(
                file,
                &format!(
                    r#"{{"instruments":[{{"name":"{name}","type":"string",
                    "range":{{"lowest_note":"C2","highest_note":"A5"}},
                    "default_articulations":["long"]}}]}}"#
                ),
            )
            .unwrap()
        };
        let mut cfg = Config::default();
        cfg.file_naming.include_session_id = false;
        cfg.articulation_durations.insert("a".repeat(90), 1.0);
        inst(&"i".repeat(90)).validate(file, &cfg).unwrap();
        // With the session id in every name, 90 + 90 bytes leave too little room.
        cfg.file_naming.include_session_id = true;
        let e = inst(&"i".repeat(90)).validate(file, &cfg).unwrap_err();
        assert_eq!(e.field(), Some("instruments[0].name"), "{e}");
        assert!(e.to_string().contains("255"), "{e}");
        cfg.articulation_durations.insert("b".repeat(99), 1.0);
        inst(&"i".repeat(70)).validate(file, &cfg).unwrap();
        let e = inst(&"i".repeat(80)).validate(file, &cfg).unwrap_err();
        let field = format!("articulation_durations.{}", "b".repeat(99));
        assert_eq!(e.field(), Some(field.as_str()), "{e}");
        for bad in ["CON", "nul.wav", "pi\\u200bano", "evil\\u202eno"] {
            let e = inst(bad).validate(file, &Config::default()).unwrap_err();
            assert_eq!(e.field(), Some("instruments[0].name"), "{bad}: {e}");
        }
    }

    #[test]
    fn saving_changes_keeps_the_file_as_written() {
        let dir = temp_dir("save");
        let file = dir.join("config.json");
        let seed = std::fs::read_to_string(seed_dir().join("config.json")).unwrap();
        std::fs::write(&file, format!("{BOM}{seed}")).unwrap();
        let old = Config::load(&file).unwrap();
        let mut new = old.clone();
        new.countdown_duration = 3.0;
        new.articulation_durations.insert("legato".into(), 1.5);
        new.articulation_durations.remove("medium");
        new.file_naming.include_user_initials = true;
        new.post_processing.peak_target_dbfs = -3.0;
        let saved = Config::save_changes(&file, &old, &new).unwrap();
        assert_eq!(saved, new);
        let text = std::fs::read_to_string(&file).unwrap();
        let want = seed
            .replace("\"countdown_duration\": 5,", "\"countdown_duration\": 3,")
            .replace("        \"medium\": 0.5,\n", "")
            .replace(
                "\"transient\": 0.05\n",
                "\"transient\": 0.05,\n        \"legato\": 1.5\n",
            )
            .replace(
                "\"include_user_initials\": false",
                "\"include_user_initials\": true",
            )
            .replace(
                "\"normalize_audio\": true\n",
                "\"normalize_audio\": true,\n        \"peak_target_dbfs\": -3.0\n",
            );
        assert_eq!(text, format!("{BOM}{want}"));
        assert!(
            !text.contains("pace") && !text.contains("capture"),
            "{text}"
        );
        // A bad result is refused with every problem, and the file stays.
        let mut bad = new.clone();
        bad.countdown_duration = 0.0;
        bad.storage_management.min_free_gb = 1e300;
        let errs = Config::save_changes(&file, &new, &bad).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn save_is_atomic_and_round_trips() {
        let dir = std::env::temp_dir().join(format!("takebox-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.json");
        let mut cfg = Config {
            countdown_duration: 3.0,
            ..Config::default()
        };
        cfg.save(&file).unwrap();
        assert_eq!(Config::load(&file).unwrap(), cfg);
        cfg.capture.channels = 0;
        assert!(cfg.save(&file).is_err());
        assert_eq!(Config::load(&file).unwrap().capture.channels, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
