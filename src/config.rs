//! `config.json` and `instruments.json`: the seed's formats, loaded as users write
//! them, plus takebox's own sections (`capture`, `notes`) with defaults.
//!
//! Parsing is strict (unknown fields are errors that name the field) and is followed
//! by a semantic check. Every error names the file, the field and what was expected.

use crate::notes::{MiddleC, Note};
use crate::protocol::SampleFormat;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Environment variable that overrides the shared bearer token.
pub const TOKEN_ENV: &str = "TAKEBOX_TOKEN";

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
pub fn parse_json<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
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

fn read(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })
}

/// Longest note a configuration may plan (an articulation's duration), and so
/// the longest `capture.max_take_seconds`.
pub const MAX_NOTE_SECONDS: f64 = 3600.0;

// ---- config.json: the seed's sections ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileNaming {
    pub include_session_id: bool,
    pub include_user_initials: bool,
}

impl Default for FileNaming {
    fn default() -> Self {
        FileNaming {
            include_session_id: true,
            include_user_initials: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageManagement {
    pub auto_cleanup: bool,
    pub max_age_days: u32,
    /// How often takebox-control looks for old sessions (with `auto_cleanup`).
    pub cleanup_interval_minutes: f64,
    /// Keep a session until the catalog import has seen its whole log.
    pub require_imported: bool,
    /// Below this much free space on the share the board arms no take.
    pub min_free_gb: f64,
}

impl Default for StorageManagement {
    fn default() -> Self {
        StorageManagement {
            auto_cleanup: true,
            max_age_days: 30,
            cleanup_interval_minutes: 60.0,
            require_imported: false,
            min_free_gb: 2.0,
        }
    }
}

/// How a take is normalized when `normalize_audio` is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormalizeTo {
    /// Sample peak to `peak_target_dbfs`.
    #[default]
    Peak,
    /// True peak (4x oversampled) to `peak_target_dbfs`.
    TruePeak,
    /// Integrated loudness to `loudness_target_lufs`, never over the peak target.
    Loudness,
}

/// The seed's `post_processing` (`normalize_audio`) and takebox's options beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostProcessing {
    /// Per take. For velocity layers, leave it off and run
    /// `takebox process --normalize group` on the session instead.
    pub normalize_audio: bool,
    pub normalize_to: NormalizeTo,
    pub peak_target_dbfs: f64,
    pub loudness_target_lufs: f64,
    /// Cut leading and trailing silence (the pre-roll is measured first).
    pub trim_silence: bool,
    /// Fixed trim threshold; ignored when `trim_from_noise_floor` is set.
    pub trim_threshold_dbfs: f64,
    /// Threshold = the pre-roll's noise peak plus `trim_noise_margin_db`.
    pub trim_from_noise_floor: bool,
    pub trim_noise_margin_db: f64,
    /// Kept before the onset so no attack is cut.
    pub trim_pad_ms: f64,
    pub fade_in_ms: f64,
    pub fade_out_ms: f64,
    pub remove_dc: bool,
    /// Check limits: pitch deviation, signal-to-noise, clipping ceiling.
    pub max_cents: f64,
    pub min_snr_db: f64,
    pub clip_ceiling_dbfs: f64,
}

impl Default for PostProcessing {
    fn default() -> Self {
        PostProcessing {
            normalize_audio: true,
            normalize_to: NormalizeTo::Peak,
            peak_target_dbfs: -1.0,
            loudness_target_lufs: -23.0,
            trim_silence: true,
            trim_threshold_dbfs: -60.0,
            trim_from_noise_floor: false,
            trim_noise_margin_db: 12.0,
            trim_pad_ms: 10.0,
            fade_in_ms: 1.0,
            fade_out_ms: 10.0,
            remove_dc: false,
            max_cents: 15.0,
            min_snr_db: 40.0,
            clip_ceiling_dbfs: -0.1,
        }
    }
}

impl PostProcessing {
    fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let p = "post_processing.";
        for (field, v, lo, hi) in [
            ("peak_target_dbfs", self.peak_target_dbfs, -60.0, 0.0),
            (
                "loudness_target_lufs",
                self.loudness_target_lufs,
                -70.0,
                0.0,
            ),
            ("trim_threshold_dbfs", self.trim_threshold_dbfs, -140.0, 0.0),
            ("trim_noise_margin_db", self.trim_noise_margin_db, 0.0, 60.0),
            ("trim_pad_ms", self.trim_pad_ms, 0.0, 1000.0),
            ("fade_in_ms", self.fade_in_ms, 0.0, 1000.0),
            ("fade_out_ms", self.fade_out_ms, 0.0, 5000.0),
            ("max_cents", self.max_cents, 0.0, 100.0),
            ("min_snr_db", self.min_snr_db, 0.0, 140.0),
            ("clip_ceiling_dbfs", self.clip_ceiling_dbfs, -20.0, 0.0),
        ] {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return Err(invalid(
                    file,
                    &format!("{p}{field}"),
                    format!("expected {lo} to {hi}, got {v}"),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warning,
    Error,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    pub log_directory: PathBuf,
    pub log_to_file: bool,
    pub log_level: LogLevel,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            log_directory: PathBuf::from("logs"),
            log_to_file: true,
            log_level: LogLevel::Info,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    pub default_instrument: String,
    pub default_note: String,
    /// Pitch of A4 in Hz, the tuning reference for every note.
    pub default_frequency: f64,
    pub default_articulation: String,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            default_instrument: "guitar".into(),
            default_note: "A4".into(),
            default_frequency: 440.0,
            default_articulation: "long".into(),
        }
    }
}

// ---- config.json: takebox's own sections ----

/// How notes are named (see [`crate::notes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct NoteSettings {
    pub middle_c: MiddleC,
}

/// The recording computer's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureSettings {
    /// ALSA PCM name, e.g. `hw:CARD=US16x08` or `pulse`.
    pub device: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: SampleFormat,
    /// Frames per ALSA period: the capture thread wakes once per period.
    pub period_frames: u32,
    /// Audio kept from before each take's start.
    pub pre_roll_seconds: f64,
    /// Audio kept after the articulation's duration, for the release.
    pub release_tail_seconds: f64,
    /// How late a command may arrive after its `start_at` and still get its audio.
    pub late_start_seconds: f64,
    /// How far ahead a `start_at` may lie.
    pub max_start_ahead_seconds: f64,
    /// Longest accepted note duration.
    pub max_take_seconds: f64,
    /// Root of the board's share as mounted on this computer.
    pub share_path: PathBuf,
    /// File that must exist at the share root before anything is written there,
    /// so that a missing mount never fills the bare mount point.
    pub share_marker: String,
    /// Local folder that holds takes until the share takes them, and take records.
    pub spool_path: PathBuf,
    pub listen: SocketAddr,
    /// Bearer token; the `TAKEBOX_TOKEN` environment variable overrides it.
    pub token: String,
    /// Keep real-time pace by the wall clock, for PCMs that are not clocked
    /// (alsa-lib's `file` plugin). Real devices pace themselves: leave it off.
    pub pace: bool,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            device: "default".into(),
            sample_rate: 48_000,
            channels: 1,
            sample_format: SampleFormat::S24,
            period_frames: 4096,
            pre_roll_seconds: 2.0,
            release_tail_seconds: 1.0,
            late_start_seconds: 5.0,
            max_start_ahead_seconds: 30.0,
            max_take_seconds: 120.0,
            share_path: PathBuf::from("/mnt/takebox"),
            share_marker: ".takebox-share".into(),
            spool_path: PathBuf::from("/var/spool/takebox"),
            listen: SocketAddr::from(([0, 0, 0, 0], 5001)),
            token: String::new(),
            pace: false,
        }
    }
}

impl CaptureSettings {
    pub fn frames(&self, seconds: f64) -> u64 {
        (seconds * f64::from(self.sample_rate)).round() as u64
    }
}

/// The board's daemon (`takebox-control`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlSettings {
    pub listen: SocketAddr,
    /// Recorders' base URLs (`http://host:port`); empty: the seed's `recording_computer_url`.
    pub recorders: Vec<String>,
    /// Bearer token for the recorders and the board's JSON API; empty: `capture.token`.
    /// The `TAKEBOX_TOKEN` environment variable overrides both.
    pub token: String,
    pub instruments_file: PathBuf,
    /// Session progress lives here (`sessions/<id>.json`).
    pub state_dir: PathBuf,
    /// Empty: the page needs no password.
    pub page_password: String,
    /// Names the board answers to besides its hostname, `hostname.local`,
    /// `localhost` and its addresses (a DNS alias); any other Host gets 421.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_names: Vec<String>,
    /// Connecting to a recorder and waiting for its status.
    pub request_timeout_seconds: f64,
    /// Added to a take's countdown and duration before a take request times out.
    pub take_timeout_seconds: f64,
    pub max_connections: usize,
    /// The start button and the LEDs (`control::gpio`).
    pub gpio: GpioSettings,
}

/// A GPIO line: an offset on the chip, or a line name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LineId {
    Offset(u32),
    Name(String),
}

impl std::fmt::Display for LineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineId::Offset(o) => write!(f, "offset {o}"),
            LineId::Name(n) => write!(f, "{n:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioLine {
    pub line: LineId,
    #[serde(default)]
    pub active_low: bool,
}

impl GpioLine {
    fn at(offset: u32, active_low: bool) -> GpioLine {
        GpioLine {
            line: LineId::Offset(offset),
            active_low,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpioBackend {
    None,
    Sim,
    Chardev,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpioBias {
    PullUp,
    PullDown,
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PressDuringTake {
    Ignore,
    Abort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountdownStyle {
    /// One countdown LED per remaining second.
    PerSecond,
    /// The status LED blinks each second, faster in the last one.
    SingleBlink,
}

/// `control.gpio`: defaults fit the Khadas VIM3 header (README, Button and LEDs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpioSettings {
    pub backend: GpioBackend,
    /// A path (`/dev/gpiochip1`) or a chip label (`periphs-banks`).
    pub chip: String,
    /// Wired to ground: active low with the pull-up.
    pub button: GpioLine,
    pub bias: GpioBias,
    pub debounce_ms: u32,
    pub long_press_ms: u32,
    pub press_during_take: PressDuringTake,
    pub countdown_style: CountdownStyle,
    /// Recording, confirmations, warnings, recorder down, heartbeat.
    pub status_led: GpioLine,
    /// One per second of the countdown, the first lit longest.
    pub countdown_leds: Vec<GpioLine>,
}

impl Default for GpioSettings {
    fn default() -> Self {
        GpioSettings {
            backend: GpioBackend::None,
            chip: "periphs-banks".into(),
            button: GpioLine::at(20, true),
            bias: GpioBias::PullUp,
            debounce_ms: 20,
            long_press_ms: 1500,
            press_during_take: PressDuringTake::Ignore,
            countdown_style: CountdownStyle::PerSecond,
            status_led: GpioLine::at(21, false),
            countdown_leds: vec![
                GpioLine::at(22, false),
                GpioLine::at(23, false),
                GpioLine::at(49, false),
            ],
        }
    }
}

impl Default for ControlSettings {
    fn default() -> Self {
        ControlSettings {
            listen: SocketAddr::from(([0, 0, 0, 0], 5000)),
            recorders: Vec::new(),
            token: String::new(),
            instruments_file: PathBuf::from("instruments.json"),
            state_dir: PathBuf::from("/var/lib/takebox"),
            page_password: String::new(),
            host_names: Vec::new(),
            request_timeout_seconds: 2.0,
            take_timeout_seconds: 30.0,
            max_connections: 64,
            gpio: GpioSettings::default(),
        }
    }
}

impl ControlSettings {
    /// The recorders to drive: `control.recorders`, else the seed's URL.
    pub fn recorder_urls<'a>(&'a self, config: &'a Config) -> Vec<&'a str> {
        if self.recorders.is_empty() {
            vec![config.recording_computer_url.as_str()]
        } else {
            self.recorders.iter().map(String::as_str).collect()
        }
    }

    /// The token control sends and accepts.
    pub fn effective_token<'a>(&'a self, config: &'a Config) -> &'a str {
        if self.token.is_empty() {
            &config.capture.token
        } else {
            &self.token
        }
    }
}

/// A name in `control.host_names`: a DNS name (labels of letters, digits and
/// `-`, at most 253 characters) or an IP address, without a port.
pub fn check_host_name(name: &str) -> Result<(), String> {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let bare = name.strip_suffix('.').unwrap_or(name);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if bare.is_empty() || bare.len() > 253 || !bare.split('.').all(label_ok) {
        return Err(format!(
            "expected a host name such as \"studio-board.lan\" or an IP address (no port, no scheme), got {name:?}"
        ));
    }
    Ok(())
}

/// Split `http://host:port[/]` into host and port (80 when absent).
pub fn parse_http_url(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("expected http://host:port, got {url:?}"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return Err(format!("expected http://host:port, got {url:?}"));
    }
    let bad_port = || format!("bad port in {url:?}");
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in {url:?}"))?;
        match after.strip_prefix(':') {
            Some(p) => (h, p.parse::<u16>().map_err(|_| bad_port())?),
            None if after.is_empty() => (h, 80),
            None => return Err(bad_port()),
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad_port())?),
            None => (rest, 80),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in {url:?}"));
    }
    Ok((host.to_string(), port))
}

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

    /// Take the token from the environment when it is set there.
    pub fn apply_env(&mut self) {
        if let Ok(token) = std::env::var(TOKEN_ENV)
            && !token.is_empty()
        {
            self.capture.token = token.clone();
            self.control.token = token;
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

    pub fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(invalid(
                    file,
                    field,
                    format!("expected a positive number, got {v}"),
                ))
            }
        };
        let non_negative = |field: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(invalid(
                    file,
                    field,
                    format!("expected a number of seconds >= 0, got {v}"),
                ))
            }
        };
        non_negative("countdown_duration", self.countdown_duration)?;
        if self.countdown_duration > 60.0 {
            return Err(invalid(
                file,
                "countdown_duration",
                "expected at most 60 seconds",
            ));
        }
        if self.articulation_durations.is_empty() {
            return Err(invalid(
                file,
                "articulation_durations",
                "expected at least one articulation",
            ));
        }
        for (name, secs) in &self.articulation_durations {
            let field = format!("articulation_durations.{name}");
            crate::protocol::check_name(&field, name)
                .map_err(|e| invalid(file, &field, e.message))?;
            positive(&field, *secs)?;
            if *secs > MAX_NOTE_SECONDS {
                return Err(invalid(
                    file,
                    &field,
                    format!("expected at most {MAX_NOTE_SECONDS} seconds (an hour), got {secs}"),
                ));
            }
        }
        positive(
            "session_settings.default_frequency",
            self.session_settings.default_frequency,
        )?;
        if !(400.0..=480.0).contains(&self.session_settings.default_frequency) {
            return Err(invalid(
                file,
                "session_settings.default_frequency",
                "expected the pitch of A4 in Hz, between 400 and 480",
            ));
        }
        Note::parse(&self.session_settings.default_note, self.notes.middle_c)
            .map_err(|e| invalid(file, "session_settings.default_note", e.to_string()))?;
        if !self
            .articulation_durations
            .contains_key(&self.session_settings.default_articulation)
        {
            return Err(invalid(
                file,
                "session_settings.default_articulation",
                format!(
                    "expected one of the articulation_durations ({}), got {:?}",
                    self.articulation_durations
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.session_settings.default_articulation
                ),
            ));
        }
        self.post_processing.validate(file)?;
        if !(1..=36_500).contains(&self.storage_management.max_age_days) {
            return Err(invalid(
                file,
                "storage_management.max_age_days",
                "expected 1 to 36500 days",
            ));
        }
        let minutes = self.storage_management.cleanup_interval_minutes;
        if !(minutes.is_finite() && minutes > 0.0 && minutes <= 10_080.0) {
            return Err(invalid(
                file,
                "storage_management.cleanup_interval_minutes",
                format!("expected more than 0 and at most 10080 minutes (a week), got {minutes}"),
            ));
        }
        let free = self.storage_management.min_free_gb;
        if !(free.is_finite() && (0.0..=1e9).contains(&free)) {
            return Err(invalid(
                file,
                "storage_management.min_free_gb",
                format!("expected a number of GB from 0 to 1000000000, got {free}"),
            ));
        }
        self.validate_capture(file)?;
        self.validate_control(file)
    }

    fn validate_control(&self, file: &Path) -> Result<(), ConfigError> {
        let c = &self.control;
        for (i, url) in c.recorders.iter().enumerate() {
            parse_http_url(url)
                .map_err(|e| invalid(file, &format!("control.recorders[{i}]"), e))?;
        }
        if c.host_names.len() > 32 {
            return Err(invalid(
                file,
                "control.host_names",
                "expected at most 32 names",
            ));
        }
        for (i, name) in c.host_names.iter().enumerate() {
            check_host_name(name)
                .map_err(|e| invalid(file, &format!("control.host_names[{i}]"), e))?;
        }
        for (field, v) in [
            ("control.request_timeout_seconds", c.request_timeout_seconds),
            ("control.take_timeout_seconds", c.take_timeout_seconds),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 600.0) {
                return Err(invalid(
                    file,
                    field,
                    "expected more than 0 and at most 600 seconds",
                ));
            }
        }
        if !(1..=10_000).contains(&c.max_connections) {
            return Err(invalid(
                file,
                "control.max_connections",
                "expected 1 to 10000",
            ));
        }
        let g = &c.gpio;
        if g.chip.is_empty() {
            return Err(invalid(
                file,
                "control.gpio.chip",
                "expected a path or a label",
            ));
        }
        if !(1..=1000).contains(&g.debounce_ms) {
            return Err(invalid(
                file,
                "control.gpio.debounce_ms",
                "expected 1 to 1000 ms",
            ));
        }
        if !(100..=10_000).contains(&g.long_press_ms) || g.long_press_ms <= g.debounce_ms {
            return Err(invalid(
                file,
                "control.gpio.long_press_ms",
                "expected 100 to 10000 ms, longer than debounce_ms",
            ));
        }
        if g.countdown_leds.len() > 16 {
            return Err(invalid(
                file,
                "control.gpio.countdown_leds",
                "expected at most 16 LEDs",
            ));
        }
        let mut lines = vec![&g.button.line, &g.status_led.line];
        lines.extend(g.countdown_leds.iter().map(|l| &l.line));
        for (i, l) in lines.iter().enumerate() {
            if lines[..i].contains(l) {
                return Err(invalid(
                    file,
                    "control.gpio",
                    format!("line {l} is used twice"),
                ));
            }
        }
        Ok(())
    }

    fn validate_capture(&self, file: &Path) -> Result<(), ConfigError> {
        let c = &self.capture;
        if ![44_100, 48_000, 96_000].contains(&c.sample_rate) {
            return Err(invalid(
                file,
                "capture.sample_rate",
                format!("expected 44100, 48000 or 96000, got {}", c.sample_rate),
            ));
        }
        if !(1..=8).contains(&c.channels) {
            return Err(invalid(
                file,
                "capture.channels",
                format!("expected 1 to 8 channels, got {}", c.channels),
            ));
        }
        if !(16..=16_384).contains(&c.period_frames) {
            return Err(invalid(
                file,
                "capture.period_frames",
                "expected 16 to 16384 frames",
            ));
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
        ] {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return Err(invalid(
                    file,
                    field,
                    format!("expected 0 to {max} seconds, got {v}"),
                ));
            }
        }
        if !(c.max_take_seconds.is_finite()
            && c.max_take_seconds > 0.0
            && c.max_take_seconds <= MAX_NOTE_SECONDS)
        {
            return Err(invalid(
                file,
                "capture.max_take_seconds",
                "expected more than 0 and at most 3600 seconds",
            ));
        }
        if c.device.is_empty() {
            return Err(invalid(
                file,
                "capture.device",
                "expected an ALSA PCM name such as \"default\" or \"hw:1\"",
            ));
        }
        crate::protocol::check_name("capture.share_marker", &c.share_marker.replacen('.', "", 1))
            .map_err(|e| invalid(file, "capture.share_marker", e.message))?;
        Ok(())
    }
}

// ---- instruments.json ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRange {
    pub lowest_note: String,
    pub highest_note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    pub name: String,
    /// The seed's `type` (string, wind, percussion, ...).
    #[serde(rename = "type")]
    pub kind: String,
    pub range: NoteRange,
    pub default_articulations: Vec<String>,
    /// Whether takes are checked against the planned pitch; off for drums and noises.
    #[serde(default = "yes")]
    pub pitch_check: bool,
}

fn yes() -> bool {
    true
}

impl Instrument {
    /// Lowest and highest note, parsed.
    pub fn notes(&self, middle_c: MiddleC) -> Result<(Note, Note), crate::notes::NoteError> {
        Ok((
            Note::parse(&self.range.lowest_note, middle_c)?,
            Note::parse(&self.range.highest_note, middle_c)?,
        ))
    }
}

/// `instruments.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instruments {
    pub instruments: Vec<Instrument>,
}

impl Instruments {
    pub fn load(file: &Path, config: &Config) -> Result<Instruments, ConfigError> {
        let list: Instruments = parse_json(file, &read(file)?)?;
        list.validate(file, config)?;
        Ok(list)
    }

    pub fn get(&self, name: &str) -> Option<&Instrument> {
        self.instruments.iter().find(|i| i.name == name)
    }

    pub fn validate(&self, file: &Path, config: &Config) -> Result<(), ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, inst) in self.instruments.iter().enumerate() {
            let at = |f: &str| format!("instruments[{i}].{f}");
            crate::protocol::check_name(&at("name"), &inst.name)
                .map_err(|e| invalid(file, &at("name"), e.message))?;
            if !seen.insert(inst.name.as_str()) {
                return Err(invalid(
                    file,
                    &at("name"),
                    format!("{:?} is listed twice", inst.name),
                ));
            }
            let middle_c = config.notes.middle_c;
            let low = Note::parse(&inst.range.lowest_note, middle_c)
                .map_err(|e| invalid(file, &at("range.lowest_note"), e.to_string()))?;
            let high = Note::parse(&inst.range.highest_note, middle_c)
                .map_err(|e| invalid(file, &at("range.highest_note"), e.to_string()))?;
            if low > high {
                return Err(invalid(
                    file,
                    &at("range"),
                    "expected lowest_note at or below highest_note",
                ));
            }
            for (j, art) in inst.default_articulations.iter().enumerate() {
                if !config.articulation_durations.contains_key(art) {
                    return Err(invalid(
                        file,
                        &at(&format!("default_articulations[{j}]")),
                        format!("{art:?} has no duration in config.json's articulation_durations"),
                    ));
                }
            }
            for art in config.articulation_durations.keys() {
                let naming = &config.file_naming;
                crate::protocol::take_path::fits_every_session(
                    &inst.name,
                    art,
                    naming.include_session_id,
                    naming.include_user_initials,
                )
                .map_err(|e| {
                    let field = if e.field == "articulation" {
                        format!("articulation_durations.{art}")
                    } else {
                        at("name")
                    };
                    invalid(file, &field, e.message)
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            parse_http_url(&cfg.recording_computer_url).unwrap(),
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
        assert_eq!(parse_http_url("http://127.0.0.1:5001/").unwrap().1, 5001);
        assert_eq!(parse_http_url("http://[::1]:7").unwrap().0, "::1");
        assert!(parse_http_url("http://h:x").is_err());

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
                r#"{"control": {"take_timeout_seconds": 1e20}}"#,
                "control.take_timeout_seconds",
            ),
        ] {
            let cfg: Config = parse_json(file, patch).unwrap();
            let e = cfg.validate(file).unwrap_err();
            assert_eq!(e.field(), Some(field), "{patch}: {e}");
        }
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
