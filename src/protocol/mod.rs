//! The JSON messages the board and the recording computers exchange.
//!
//! Defined once, used by both daemons. Paths are versioned under `/v1/`; a new
//! incompatible message shape gets a new prefix instead of changing these.
//!
//! The board and the recording computers are updated apart (the board by its
//! A/B bundles, a recording computer by `make install`), so new fields are
//! optional, and the two directions differ on fields they do not know: a
//! command (`TakeCommand`, `MidiTake`) is refused when it carries one (it may
//! ask for something this recorder cannot do, and a typo must not pass
//! silently), while what a recorder reports (confirmations, status, levels,
//! errors) is read for the fields the board knows, so a newer recorder's
//! confirmation is never lost on an older board.

mod abort;
mod midi;
mod names;
mod take_id;
pub mod take_path;
mod time;

/// The check's overall judgement, worst first: silent, clipped, off_pitch, noisy.
pub use crate::dsp::{PitchMethod, Verdict};
pub use abort::{ABORT_ANSWER_WITHIN, ABORT_SUFFIX, AbortOutcome, AbortReply, abort_path};
pub use midi::{MAX_RELEASE_SECONDS, MidiPortStatus, MidiReport, MidiTake};
pub use names::{FieldError, MAX_NAME_LEN, check_name};
pub use take_id::TakeId;
pub use time::{TimeError, Timestamp, seconds};

use serde::{Deserialize, Serialize};

/// In the board's `GET /api/v1/status`: what it runs and how its last update
/// went (the image's A/B updates; README, "Updates").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardVersion {
    /// takebox-control's own version.
    pub takebox: String,
    /// The board image's version, when it runs from one.
    pub image: Option<String>,
    pub update: Option<UpdateOutcome>,
    /// A bundle on its way to the board's updater (Settings -> Update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadProgress>,
}

/// A bundle being uploaded (`uploading`), or uploaded and waiting for the
/// board's updater to take it (`queued`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadProgress {
    pub state: String,
    pub received: u64,
    pub total: u64,
    pub percent: u8,
}

/// The last update's outcome, as the board's update tools recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateOutcome {
    /// verifying, installing, installed, trying, good, rolled-back or failed.
    pub state: String,
    pub version: String,
    pub slot: String,
    /// Why it failed or was rolled back (empty when it did not).
    pub reason: String,
    pub time: String,
    /// While installing: RAUC's progress and its step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub step: String,
}

pub const TAKES_PATH: &str = "/v1/takes";
pub const STATUS_PATH: &str = "/v1/status";
/// `GET /v1/levels[?near_hz=F]`: the live input, polled several times a second.
pub const LEVELS_PATH: &str = "/v1/levels";

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
    /// The instrument's pitch limit for this note, cents. Absent: the
    /// recorder's `post_processing.max_cents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cents: Option<f64>,
    /// Where the instrument's tuning puts this note, cents from `frequency`
    /// (a stretched piano). Absent: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning_cents: Option<f64>,
    /// The recorder plays the note on a MIDI instrument (an unattended session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midi: Option<MidiTake>,
    /// The articulation is marked sustained: the recorder loops the take and
    /// says so when it finds no good loop. Absent: looped when it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sustain: Option<bool>,
    /// The instrument may sound below its key (an organ's 16' stop): a note
    /// repeating every 2 to 4 key periods is read at its key, as a MIDI
    /// take's is. Absent: only a MIDI take's is (a player may play the
    /// wrong octave).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sounds_below_key: Option<bool>,
}

impl TakeCommand {
    /// The parts of this take's path on the share. `note` is the note's
    /// canonical name; the two flags are the recorder's `file_naming`.
    pub fn take_name<'a>(
        &'a self,
        note: &'a str,
        include_session_id: bool,
        include_user_initials: bool,
    ) -> take_path::TakeName<'a> {
        take_path::TakeName {
            session_id: &self.session_id,
            take_id: &self.take_id,
            instrument: &self.instrument,
            note,
            articulation: &self.articulation,
            dynamic: self.dynamic.as_deref(),
            round_robin: self.round_robin,
            user_initials: self
                .user_initials
                .as_deref()
                .filter(|_| include_user_initials),
            include_session_id,
        }
    }

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
            return Err(FieldError::new(
                "frequency",
                format!(
                    "must be a frequency in Hz above 0 and at most 30000, got {}",
                    self.frequency
                ),
            ));
        }
        if !(self.duration.is_finite() && self.duration > 0.0) {
            return Err(FieldError::new(
                "duration",
                format!(
                    "must be a positive number of seconds, got {}",
                    self.duration
                ),
            ));
        }
        if self.round_robin == Some(0) {
            return Err(FieldError::new("round_robin", "counts from 1"));
        }
        self.midi.as_ref().map_or(Ok(()), MidiTake::validate)
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
    /// The name on the wire and in the session log.
    pub fn as_str(self) -> &'static str {
        match self {
            TakeState::InProgress => "in_progress",
            TakeState::Delivered => "delivered",
            TakeState::Spooled => "spooled",
            TakeState::Failed => "failed",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, TakeState::InProgress)
    }
}

/// The recorder's answer about one take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// What the board should show beside a take that was recorded all the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<TakeWarning>,
    /// The recorder's check of the take; absent when the take failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<TakeCheck>,
    /// What processing did to the recorded audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing: Option<Processing>,
    /// The recording's waveform, for the board's page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<TakeEnvelope>,
    /// A MIDI take: its latency, where the onset landed, the wait before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midi: Option<MidiReport>,
    /// The sustain loop written into the take's `smpl`, or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_loop: Option<TakeLoop>,
}

/// A take's sustain loop, in frames of the delivered file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TakeLoop {
    /// First frame of the loop, and the last one played before the jump
    /// (as `smpl` stores it); absent when no loop was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_frame: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame: Option<u64>,
    /// RMS of the difference around the seam, dB relative to the loop's
    /// signal (of the best loop found, written or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seam_db: Option<f64>,
    /// Why no loop was written (`None`: a good loop is in the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_loop: Option<String>,
    /// Frames of crossfade rendered into the loop's end in the delivered
    /// file (`capture.loop_crossfade_seconds`); `seam_db` is measured after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crossfade_frames: Option<u64>,
    /// The seam of the loop as recorded, before its crossfade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_seam_db: Option<f64>,
}

/// The waveform of a take as recorded (pre-roll included, before trimming):
/// per column of `frames_per_column` frames, the lowest and highest sample
/// over all channels, in thousandths of full scale. Frame positions are
/// counted from the recording's first frame, as `Processing`'s kept range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TakeEnvelope {
    pub frames: u64,
    pub frames_per_column: u64,
    pub min: Vec<i16>,
    pub max: Vec<i16>,
    /// Where the note was planned to start (the end of the pre-roll).
    pub planned_start_frame: u64,
}

impl TakeEnvelope {
    pub fn new(e: &crate::dsp::Envelope, planned_start_frame: u64) -> TakeEnvelope {
        let milli = |v: &[f32]| -> Vec<i16> {
            v.iter()
                .map(|x| (x * 1000.0).round().clamp(-1000.0, 1000.0) as i16)
                .collect()
        };
        TakeEnvelope {
            frames: e.frames,
            frames_per_column: e.frames_per_column,
            min: milli(&e.min),
            max: milli(&e.max),
            planned_start_frame,
        }
    }
}

/// `GET /v1/levels`: the input's recent peak per channel and, when asked
/// with `near_hz` and the input is loud enough, its pitch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputLevels {
    /// Peak of about the last 100 ms per channel in dBFS; `null` for silence.
    pub peak_dbfs: Vec<Option<f64>>,
    pub frames_captured: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitch: Option<LivePitch>,
}

/// The live input's pitch, measured on its most recent frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LivePitch {
    pub hz: f64,
    /// Periodicity 0..=1 (a clean tone reads over 0.99).
    pub clarity: f64,
    /// RMS of the measured frames, dBFS.
    pub rms_dbfs: f64,
}

#[cfg(test)]
impl Confirmation {
    /// A one-frame mono take with no check, for tests of what handles records.
    pub(crate) fn for_tests(take_id: &str, state: TakeState, peaks: Vec<Option<f64>>) -> Self {
        Confirmation {
            take_id: take_id.into(),
            session_id: "s".into(),
            state,
            path: format!("s/{take_id}.wav"),
            frames: 1,
            sample_rate: 48_000,
            channels: peaks.len().max(1) as u16,
            format: SampleFormat::S24,
            peak_dbfs: peaks,
            sha256: String::new(),
            recorded_at: Timestamp::now(),
            pre_roll_frames: 0,
            frames_lost: 0,
            xruns: 0,
            error: None,
            warnings: vec![],
            check: None,
            processing: None,
            envelope: None,
            midi: None,
            sample_loop: None,
        }
    }
}

/// Something about a recorded take that its audio alone does not show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum TakeWarning {
    /// Less audio before the note than configured: the recorder had only just
    /// started, or its stream was interrupted shortly before the note.
    ShortPreRoll {
        /// Frames recorded before the planned start of the note.
        frames: u64,
        /// Frames the configuration asks for.
        configured_frames: u64,
    },
    /// A warning a newer recorder gave that this board does not know: still
    /// a warning (the take is flagged), never a lost confirmation.
    #[serde(other)]
    Unrecognised,
}

impl std::fmt::Display for TakeWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TakeWarning::ShortPreRoll {
                frames,
                configured_frames,
            } => write!(
                f,
                "short pre-roll: {frames} frames before the note instead of {configured_frames}"
            ),
            TakeWarning::Unrecognised => {
                write!(f, "a warning from a newer recorder (update the board)")
            }
        }
    }
}

/// Figures behind a [`Verdict`], so the board can show why it asks for a retake.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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
    /// The instrument's tuning for this note, cents from equal temperament
    /// (absent: equal); the pitch is judged against `cents - target_cents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cents: Option<f64>,
    /// `settled` (the stable segment's median) or `window` (a short note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitch_method: Option<PitchMethod>,
    /// Length of the stable segment, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_ms: Option<f64>,
    /// The attack's pitch against the settled one, cents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack_cents: Option<f64>,
    /// Vibrato depth (± cents) and rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vibrato_cents: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vibrato_hz: Option<f64>,
    /// Why no pitch was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_pitch: Option<String>,
    /// The sound repeats every this many periods of its key (2: an octave
    /// below, a 16' stop; 3: a 10 2/3' quint; 4: 32'); the pitch is read on
    /// its harmonic at the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_key: Option<u8>,
    /// Mains hum found in the pre-roll: 50 or 60, and its level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hum_hz: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hum_dbfs: Option<f64>,
    /// Plain-language notes on the figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Trim and gain applied to the recorded take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The spool has no room for the longest file this take can produce.
    SpoolFull,
    /// The recorder is not ready yet (see [`RecorderStatus::ready`]).
    NotReady,
    /// The take id was cut short by a restart of the recorder: the board
    /// records the slot again under a new id.
    Interrupted,
    /// The take was aborted (`POST /v1/takes/{id}/abort`): nothing of it is
    /// kept and its id never records; the board records the slot again
    /// under a new id, as for `interrupted`.
    Aborted,
    Internal,
    /// A kind a newer recorder names and this board does not.
    #[serde(other)]
    Unrecognised,
}

/// Every error answer has this shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
pub struct ShareStatus {
    pub path: String,
    /// The marker file is present and the last write onto the share succeeded:
    /// takes are delivered as they are recorded.
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    /// Why the share is not available (no marker, the last write's error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpoolStatus {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_bytes: Option<u64>,
    /// Seconds of note (before pre-roll and release tail) a take may last
    /// and still fit in the spool; a take command asking for more is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_seconds: Option<f64>,
}

/// `GET /v1/status`: readable without the token, polled by the board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecorderStatus {
    pub version: String,
    pub device: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub format: SampleFormat,
    pub state: DeviceState,
    /// True exactly when a take command would be accepted now: the device
    /// runs, its clock is established and it holds the configured pre-roll.
    pub ready: bool,
    /// What `ready` waits for, while it is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_ready: Option<String>,
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
    pub spool: SpoolStatus,
    /// MIDI ports: configured (`capture.midi_ports`) or used by a take.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub midi_ports: Vec<MidiPortStatus>,
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
    fn a_newer_recorders_reports_are_read_for_the_fields_known_here() {
        let mut c = serde_json::to_value(Confirmation::for_tests(
            "t1",
            TakeState::Delivered,
            vec![Some(-6.0)],
        ))
        .unwrap();
        c["added_by_a_newer_recorder"] = serde_json::json!({"x": 1});
        c["warnings"] = serde_json::json!([
            {"warning": "short_pre_roll", "frames": 1, "configured_frames": 2, "later": 3},
            {"warning": "added_later", "seconds": 1.5}
        ]);
        let read: Confirmation = serde_json::from_value(c).unwrap();
        assert_eq!(read.take_id, "t1");
        assert_eq!(
            read.warnings,
            [
                TakeWarning::ShortPreRoll {
                    frames: 1,
                    configured_frames: 2
                },
                TakeWarning::Unrecognised
            ]
        );
        // A verdict this board does not know still flags the take.
        let mut c = serde_json::to_value(Confirmation::for_tests(
            "t2",
            TakeState::Delivered,
            vec![Some(-6.0)],
        ))
        .unwrap();
        c["check"] = serde_json::json!({"verdict": "wobbly", "issues": ["wobbly", "noisy"],
            "notes": [], "clipped_samples": 0});
        let read: Confirmation = serde_json::from_value(c).unwrap();
        let check = read.check.expect("the check is kept");
        assert_eq!(check.verdict, Verdict::Unrecognised);
        assert_eq!(check.issues, [Verdict::Unrecognised, Verdict::Noisy]);
        // A status missing what this board needs is still refused, by name.
        let status = r#"{"ready":true,"added_later":[1,2]}"#;
        let e = serde_json::from_str::<RecorderStatus>(status).unwrap_err();
        assert!(e.to_string().contains("missing field"), "{e}");
    }

    #[test]
    fn bad_time_is_explained() {
        for bad in [
            "yesterday",
            "2026-11-25T13:45:00.125",
            "2026-11-25 13:45:00Z",
        ] {
            let text = COMMAND.replace("2026-11-25T13:45:00.125Z", bad);
            let e = serde_json::from_str::<TakeCommand>(&text).unwrap_err();
            assert!(e.to_string().contains("RFC 3339"), "{e}");
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
    fn take_state_names_are_its_json() {
        use TakeState::*;
        for s in [InProgress, Delivered, Spooled, Failed] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
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
