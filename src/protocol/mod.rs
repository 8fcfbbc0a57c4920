//! The JSON messages the board and the recording computers exchange.
//!
//! Defined once, used by both daemons. Paths are versioned under `/v1/`; a new
//! incompatible message shape gets a new prefix instead of changing these.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::{Duration, SystemTime};

pub const TAKES_PATH: &str = "/v1/takes";
pub const STATUS_PATH: &str = "/v1/status";

/// Longest accepted identifier or name field, in bytes.
pub const MAX_NAME_LEN: usize = 100;

/// A wall-clock instant, written as RFC 3339 UTC to the microsecond
/// (`2026-11-25T13:45:00.125250Z`; `.125Z` for a whole millisecond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub SystemTime);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(SystemTime::now())
    }

    /// Seconds since the Unix epoch (negative before it).
    pub fn unix_seconds(self) -> f64 {
        match self.0.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        }
    }

    pub fn from_unix_seconds(secs: f64) -> Self {
        let d = Duration::from_secs_f64(secs.abs());
        Timestamp(if secs >= 0.0 {
            SystemTime::UNIX_EPOCH + d
        } else {
            SystemTime::UNIX_EPOCH - d
        })
    }
}

impl fmt::Display for Timestamp {
    /// Microseconds, so that start instants and clock readings can line several
    /// recorders up to well within a millisecond; a whole millisecond keeps the
    /// short form (`.125Z`, not `.125000Z`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = humantime::format_rfc3339_micros(self.0).to_string();
        match text.strip_suffix("000Z") {
            Some(ms) => write!(f, "{ms}Z"),
            None => f.write_str(&text),
        }
    }
}

impl std::str::FromStr for Timestamp {
    type Err = humantime::TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).map(Timestamp)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "expected an RFC 3339 UTC time such as 2026-11-25T13:45:00.125Z, got {text:?}"
            ))
        })
    }
}

/// Sample formats a take can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SampleFormat {
    S16,
    #[default]
    S24,
    F32,
}

impl SampleFormat {
    pub fn bits(self) -> u16 {
        match self {
            SampleFormat::S16 => 16,
            SampleFormat::S24 => 24,
            SampleFormat::F32 => 32,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SampleFormat::S16 => "s16",
            SampleFormat::S24 => "s24",
            SampleFormat::F32 => "f32",
        }
    }
}

/// The board asks a recorder for one take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeCommand {
    /// Chosen by the board; the same id sent again never records twice.
    pub take_id: String,
    pub session_id: String,
    pub instrument: String,
    pub note: String,
    /// The planned fundamental in Hz.
    pub frequency: f64,
    pub articulation: String,
    /// Seconds of the note itself (the articulation's duration); pre-roll and
    /// release tail are added by the recorder.
    pub duration: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_initials: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_robin: Option<u32>,
    /// When the note starts. Absent: when the command arrives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<Timestamp>,
    /// Check the take against `frequency`; false for drums and noises. Absent: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitch_check: Option<bool>,
}

/// What was wrong with a message, naming the field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

fn field_err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Checks a name that becomes part of a file or folder name on the share.
///
/// Besides path tricks (`/`, `\`, `..`, a leading dot) it refuses what Windows
/// clients of the Samba share cannot open (`:*?"<>|`, a trailing dot or space).
pub fn check_name(field: &str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(field_err(field, "must not be empty"));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(field_err(
            field,
            format!("longer than {MAX_NAME_LEN} bytes"),
        ));
    }
    if let Some(c) = value.chars().find(|c| {
        c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
    }) {
        return Err(field_err(
            field,
            format!("must not contain {c:?} (names become file names on the share)"),
        ));
    }
    if value.starts_with('.') || value.contains("..") {
        return Err(field_err(
            field,
            "must not start with a dot or contain \"..\"",
        ));
    }
    if value.ends_with(' ') || value.ends_with('.') || value.starts_with(' ') {
        return Err(field_err(
            field,
            "must not start or end with a space or end with a dot",
        ));
    }
    Ok(())
}

impl TakeCommand {
    /// Field checks that need no configuration. The recorder adds its own limits
    /// (longest take, how late a start may be).
    pub fn validate(&self) -> Result<(), FieldError> {
        check_name("take_id", &self.take_id)?;
        check_name("session_id", &self.session_id)?;
        check_name("instrument", &self.instrument)?;
        check_name("articulation", &self.articulation)?;
        check_name("note", &self.note)?;
        if let Some(v) = &self.user_initials {
            check_name("user_initials", v)?;
        }
        if let Some(v) = &self.dynamic {
            check_name("dynamic", v)?;
        }
        if !(self.frequency.is_finite() && self.frequency > 0.0 && self.frequency <= 30_000.0) {
            return Err(field_err(
                "frequency",
                format!(
                    "must be a frequency in Hz above 0 and at most 30000, got {}",
                    self.frequency
                ),
            ));
        }
        if !(self.duration.is_finite() && self.duration > 0.0) {
            return Err(field_err(
                "duration",
                format!(
                    "must be a positive number of seconds, got {}",
                    self.duration
                ),
            ));
        }
        if self.round_robin == Some(0) {
            return Err(field_err("round_robin", "counts from 1"));
        }
        Ok(())
    }
}

/// Where a take stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeState {
    /// Recording or being written; ask again.
    InProgress,
    /// On the share under its final name, fsynced.
    Delivered,
    /// Safe in the recorder's local spool; delivered when the share returns.
    Spooled,
    /// No usable audio (frames lost, device gone): record it again with a new take_id.
    Failed,
}

impl TakeState {
    pub fn is_final(self) -> bool {
        !matches!(self, TakeState::InProgress)
    }
}

/// The recorder's answer about one take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    pub take_id: String,
    pub session_id: String,
    pub state: TakeState,
    /// Path of the WAV relative to the share root, `/`-separated.
    pub path: String,
    pub frames: u64,
    pub sample_rate: u32,
    pub channels: u16,
    pub format: SampleFormat,
    /// Sample peak per channel in dBFS; `null` for digital silence.
    pub peak_dbfs: Vec<Option<f64>>,
    /// Hex SHA-256 of the WAV file as delivered; empty for a failed take.
    pub sha256: String,
    /// Wall-clock time of the first frame in the file (the start of the pre-roll).
    pub recorded_at: Timestamp,
    /// Frames of pre-roll before the planned start of the note.
    pub pre_roll_frames: u64,
    /// Frames lost to overruns while this take was recorded (0 for a good take).
    pub frames_lost: u64,
    pub xruns: u64,
    /// Why the take failed or is still spooled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The recorder's check of the take; absent when the take failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<TakeCheck>,
    /// What processing did to the recorded audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing: Option<Processing>,
}

/// The check's overall judgement, worst first: silent, clipped, off_pitch, noisy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    OffPitch,
    Clipped,
    Silent,
    Noisy,
}

/// Figures behind a [`Verdict`], so the board can show why it asks for a retake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeCheck {
    pub verdict: Verdict,
    /// Every issue found, worst first (empty when ok).
    pub issues: Vec<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_hz: Option<f64>,
    /// Measured pitch against the planned frequency (positive: sharp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cents: Option<f64>,
    /// Noise floor from the pre-roll, dBFS RMS; absent for digital silence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_floor_dbfs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snr_db: Option<f64>,
    pub clipped_samples: u64,
    /// Plain-language notes on the figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Trim and gain applied to the recorded take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Processing {
    /// Kept range of the recording, in frames from its first frame (end exclusive).
    pub kept_from_frame: u64,
    pub kept_to_frame: u64,
    pub gain_db: f64,
    /// The gain was held back so that the peak stays under its target.
    pub limited_by_peak: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_lufs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_peak_dbtp: Option<f64>,
}

/// Answer for a take that is still being recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InProgress {
    pub take_id: String,
    pub state: TakeState,
}

/// What `GET /v1/takes/{id}` and a repeated `POST` may answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TakeReply {
    Done(Box<Confirmation>),
    Pending(InProgress),
}

/// Machine-readable error kinds, the `error` field of [`ErrorBody`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    Busy,
    StartOutOfRange,
    DeviceUnavailable,
    StorageFailed,
    Internal,
}

/// Every error answer has this shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    Opening,
    Running,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareStatus {
    pub path: String,
    /// The marker file is present: takes can be delivered.
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
}

/// `GET /v1/status`: readable without the token, polled by the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecorderStatus {
    pub version: String,
    pub device: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub format: SampleFormat,
    pub state: DeviceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_error: Option<String>,
    pub xruns: u64,
    pub frames_captured: u64,
    /// Recent input peak per channel in dBFS, for a meter; `null` for silence.
    pub input_peak_dbfs: Vec<Option<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    /// Take ids waiting in the spool for the share.
    pub spool_pending: Vec<String>,
    pub share: ShareStatus,
    /// The recorder's clock when it answered, for the board's offset estimate.
    pub clock: Timestamp,
}

/// Peak in dBFS for the protocol: `None` for digital silence.
pub fn peak_to_dbfs(peak: f32) -> Option<f64> {
    (peak > 0.0).then(|| (20.0 * f64::from(peak).log10() * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMAND: &str = r#"{"take_id":"t1","session_id":"s1","instrument":"guitar",
        "note":"A4","frequency":440.0,"articulation":"long","duration":1.0,
        "start_at":"2026-11-25T13:45:00.125Z"}"#;

    #[test]
    fn command_round_trips() {
        let c: TakeCommand = serde_json::from_str(COMMAND).unwrap();
        assert_eq!(c.start_at.unwrap().to_string(), "2026-11-25T13:45:00.125Z");
        let again: TakeCommand = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(c, again);
        c.validate().unwrap();
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = COMMAND.replace("\"duration\"", "\"durration\"");
        let e = serde_json::from_str::<TakeCommand>(&text).unwrap_err();
        assert!(e.to_string().contains("durration"), "{e}");
    }

    #[test]
    fn bad_time_is_explained() {
        let text = COMMAND.replace("2026-11-25T13:45:00.125Z", "yesterday");
        let e = serde_json::from_str::<TakeCommand>(&text).unwrap_err();
        assert!(e.to_string().contains("RFC 3339"), "{e}");
    }

    #[test]
    fn path_tricks_are_refused() {
        for bad in [
            "../x", "a/b", "a\\b", ".hidden", "a\0b", "a\nb", "x..y", "C:", "a ", "",
        ] {
            let e = check_name("session_id", bad).unwrap_err();
            assert_eq!(e.field, "session_id", "{bad:?}");
        }
        for good in ["2026-11-25_a", "Grand Piano", "C#4", "pp", "Flöte"] {
            check_name("instrument", good).unwrap();
        }
    }

    #[test]
    fn numbers_are_checked() {
        let mut c: TakeCommand = serde_json::from_str(COMMAND).unwrap();
        c.duration = -1.0;
        assert_eq!(c.validate().unwrap_err().field, "duration");
        c.duration = 1.0;
        c.frequency = f64::INFINITY;
        assert_eq!(c.validate().unwrap_err().field, "frequency");
        c.frequency = 440.0;
        c.round_robin = Some(0);
        assert_eq!(c.validate().unwrap_err().field, "round_robin");
    }

    #[test]
    fn replies_parse_both_ways() {
        let p = TakeReply::Pending(InProgress {
            take_id: "t".into(),
            state: TakeState::InProgress,
        });
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<TakeReply>(&text).unwrap(), p);
    }

    #[test]
    fn timestamps_round_trip_through_seconds() {
        let t: Timestamp = "2026-11-25T13:45:00.125Z".parse().unwrap();
        let back = Timestamp::from_unix_seconds(t.unix_seconds());
        assert_eq!(back.to_string(), t.to_string());
        let fine: Timestamp = "2026-11-25T13:45:00.125250Z".parse().unwrap();
        assert_eq!(fine.to_string(), "2026-11-25T13:45:00.125250Z");
        assert!((fine.unix_seconds() - t.unix_seconds() - 0.000_25).abs() < 1e-6);
        assert_eq!(peak_to_dbfs(0.0), None);
        assert_eq!(peak_to_dbfs(1.0), Some(0.0));
        assert_eq!(peak_to_dbfs(0.5), Some(-6.02));
    }
}
