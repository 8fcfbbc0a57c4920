//! The session log's lines as types. The board writes a [`LogEvent`] with
//! [`encode`]; the catalog and the retention job read it back with [`decode`].
//! On disk a line is one JSON object, keys sorted: `time`, `event` (the
//! variant's name in snake case) and the event's fields.
//!
//! Older and hand-written lines still read: the fields a reader uses are
//! required, the others take their default when absent, and an event this
//! enum does not name reads as [`LogEvent::Other`].

use super::judgement::Judgement;
use crate::protocol::{
    AbortOutcome, Processing, TakeCheck, TakeEnvelope, TakeId, TakeState, TakeWarning, Timestamp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LogEvent {
    SessionStart {
        #[serde(default)]
        session_id: String,
        /// The session request as the board took it, kept whole.
        #[serde(default)]
        request: Value,
        /// Slots in the plan.
        #[serde(default)]
        takes: usize,
        #[serde(default)]
        recorders: Vec<String>,
        /// The seed's settings in force, kept whole (the catalog stores them).
        #[serde(default)]
        settings: Value,
    },
    /// The board came back with this session open.
    SessionResumed {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        done: usize,
        #[serde(default)]
        total: usize,
        /// The take that was out when the board went down, asked for again.
        #[serde(default)]
        in_flight: Option<TakeId>,
    },
    /// A command to the cycle (`start`, `retake`, ...), before what it caused.
    Command {
        #[serde(default)]
        command: String,
    },
    /// A command, or a take, the cycle would not carry out.
    Refused {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        take_id: Option<TakeId>,
        #[serde(default)]
        reason: String,
    },
    /// A press of the GPIO button: short or long, in which phase, and what it did.
    Button {
        #[serde(default)]
        press: String,
        #[serde(default)]
        held_ms: u64,
        #[serde(default)]
        phase: String,
        #[serde(default)]
        action: String,
    },
    /// A take sent to the recorders (every recorder's id derives from `take_id`).
    Take {
        take_id: TakeId,
        #[serde(flatten)]
        slot: PlannedSlot,
        #[serde(default)]
        start_at: Option<Timestamp>,
        /// Each recorder's clock against the board's, ms (`null`: not known).
        #[serde(default)]
        offsets_ms: Vec<Option<f64>>,
    },
    /// One recorder's file of a take.
    Confirmation(Box<Confirmed>),
    /// The last confirmed slot is recorded again; `superseded` names the take it
    /// replaces (the first recorder's id, which stands for all recorders' files).
    Retake {
        #[serde(default)]
        slot: usize,
        superseded: TakeId,
        /// Why an unattended session recorded it again by itself (the
        /// superseded take's verdict by name); absent for a person's retake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A take that cannot be used: its slot is armed again.
    Rearm {
        take_id: TakeId,
        #[serde(default)]
        slot: usize,
        #[serde(default)]
        reason: String,
    },
    Skip {
        #[serde(flatten)]
        slot: PlannedSlot,
    },
    /// A skipped slot taken up again (from the take list); a confirmed slot
    /// recorded again is a `retake` line instead.
    Requeue {
        #[serde(flatten)]
        slot: PlannedSlot,
    },
    /// A finished (or aborted) session opened again to record `slots` (from 1)
    /// again; a second `session_end` follows when it is done.
    SessionReopened {
        #[serde(default)]
        session_id: String,
        #[serde(default)]
        slots: Vec<usize>,
    },
    /// Stopped before its command went out.
    TakeCancelled { take_id: TakeId },
    /// Out on the recorders when the session was aborted.
    TakeAbandoned { take_id: TakeId },
    /// What one recorder did when the board aborted its take (`take_id` as
    /// that recorder knows it): `outcome`, with `state` and `path` for a
    /// take it had recorded already, or `error` when it did not answer.
    TakeAborted {
        take_id: TakeId,
        #[serde(default)]
        recorder: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<AbortOutcome>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<TakeState>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A recorder in trouble while a take is out (`recorder`, the take if any),
    /// or a take the recorders refused (no `recorder`).
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recorder: Option<String>,
        #[serde(default)]
        error: String,
        #[serde(default)]
        take_id: Option<TakeId>,
    },
    RecorderBack {
        #[serde(default)]
        recorder: String,
    },
    SessionEnd {
        #[serde(default)]
        status: EndStatus,
        #[serde(default)]
        done: usize,
        #[serde(default)]
        total: usize,
    },
    /// An event this version does not know.
    #[serde(other)]
    Other,
}

/// The slot a `take` or `skip` line is about.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PlannedSlot {
    /// From 1.
    pub slot: usize,
    pub note: String,
    pub articulation: String,
    pub dynamic: Option<String>,
    pub round_robin: Option<u32>,
}

/// One recorded file, as a `confirmation` line has it: the seed's recordings
/// columns, the board's judgement and what the recorder reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confirmed {
    pub session_id: String,
    /// Path of the WAV relative to the share root.
    pub filename: String,
    pub note: String,
    pub frequency: f64,
    pub articulation: String,
    pub instrument: String,
    /// When the file's first frame was recorded.
    pub timestamp: Timestamp,
    pub take_id: TakeId,
    #[serde(default)]
    pub dynamic: Option<String>,
    #[serde(default)]
    pub round_robin: Option<u32>,
    /// The recorder's URL.
    #[serde(default)]
    pub recorder: Option<String>,
    #[serde(flatten)]
    pub judgement: Judgement,
    /// Absent: delivered.
    #[serde(default)]
    pub state: Option<TakeState>,
    /// Empty for a failed take.
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub peak_dbfs: Vec<Option<f64>>,
    #[serde(default)]
    pub check: Option<TakeCheck>,
    #[serde(default)]
    pub processing: Option<Processing>,
    #[serde(default)]
    pub warnings: Vec<TakeWarning>,
    /// From 1.
    #[serde(default)]
    pub slot: Option<usize>,
    /// When the note was to start, on the board's clock.
    #[serde(default)]
    pub start_at: Option<Timestamp>,
    /// The file's sample rate: the waveform's time scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// The recording's waveform as the recorder measured it, so the board's
    /// page still draws it after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<TakeEnvelope>,
    /// A MIDI take: latency, where the onset landed against `start_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midi: Option<crate::protocol::MidiReport>,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    Finished,
    Aborted,
    /// A `session_end` line that does not say how.
    #[default]
    Ended,
}

impl EndStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EndStatus::Finished => "finished",
            EndStatus::Aborted => "aborted",
            EndStatus::Ended => "ended",
        }
    }
}

/// A line read back: its event and its `time` as written.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// RFC 3339; kept as text so that a line with a time nobody can read
    /// still counts (the retention job then keeps the session).
    pub time: Option<String>,
    pub event: LogEvent,
}

/// One line as the board appends it, without its newline.
pub fn encode(time: Timestamp, event: &LogEvent) -> Vec<u8> {
    let Ok(Value::Object(mut fields)) = serde_json::to_value(event) else {
        unreachable!("a tagged enum serializes to an object");
    };
    fields.insert("time".into(), Value::String(time.to_string()));
    serde_json::to_vec(&Value::Object(fields)).expect("a JSON value serializes")
}

/// Why a line does not read.
#[derive(Debug)]
pub enum BadLine {
    /// Cut short, as by a power loss while it was written.
    Truncated(serde_json::Error),
    NotJson(serde_json::Error),
    NotAnObject,
    NoEvent,
    /// A known event without the fields it needs: the event's name, where in
    /// the line (`.` for the line itself) and what is wrong.
    Fields {
        event: String,
        path: String,
        error: serde_json::Error,
    },
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadLine::Truncated(e) => write!(f, "truncated line: {e}"),
            BadLine::NotJson(e) => write!(f, "not JSON: {e}"),
            BadLine::NotAnObject => f.write_str("not a JSON object"),
            BadLine::NoEvent => f.write_str("no \"event\" field"),
            BadLine::Fields { event, path, error } if path == "." => {
                write!(f, "{event}: {error}")
            }
            BadLine::Fields { event, path, error } => write!(f, "{event}: {path}: {error}"),
        }
    }
}

impl std::error::Error for BadLine {}

/// One line (without its newline), or what is wrong with it.
pub fn decode(raw: &[u8]) -> Result<LogLine, BadLine> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| {
        if e.is_eof() {
            BadLine::Truncated(e)
        } else {
            BadLine::NotJson(e)
        }
    })?;
    if !value.is_object() {
        return Err(BadLine::NotAnObject);
    }
    let Some(name) = value["event"].as_str() else {
        return Err(BadLine::NoEvent);
    };
    let event = serde_path_to_error::deserialize(&value).map_err(|e| {
        // Reading by the tag loses the path within the line; a confirmation,
        // the line with most fields, is read again alone to find it.
        let e = match name {
            "confirmation" => serde_path_to_error::deserialize::<_, Confirmed>(&value)
                .err()
                .unwrap_or(e),
            _ => e,
        };
        BadLine::Fields {
            event: name.to_string(),
            path: e.path().to_string(),
            error: e.into_inner(),
        }
    })?;
    Ok(LogLine {
        time: value["time"].as_str().map(String::from),
        event,
    })
}

/// The `settings` of a `session_start` line with the default config.
#[cfg(test)]
pub(crate) const DEFAULT_SETTINGS: &str = r#"{"articulation_durations":{"long":1.0,"medium":0.5,"short":0.2,"transient":0.05},"countdown_duration":5.0,"default_frequency":440.0,"file_naming":{"include_session_id":true,"include_user_initials":false},"middle_c":"C4","post_processing":{"clip_ceiling_dbfs":-0.1,"fade_in_ms":1.0,"fade_out_ms":10.0,"loudness_target_lufs":-23.0,"max_cents":15.0,"min_snr_db":40.0,"normalize_audio":true,"normalize_to":"peak","peak_target_dbfs":-1.0,"remove_dc":false,"trim_from_noise_floor":false,"trim_noise_margin_db":12.0,"trim_pad_ms":10.0,"trim_silence":true,"trim_threshold_dbfs":-60.0},"storage_management":{"auto_cleanup":true,"cleanup_interval_minutes":60.0,"max_age_days":30,"min_free_gb":2.0,"require_imported":false}}"#;

#[cfg(test)]
mod tests {
    use super::super::judgement::Disposition;
    use super::*;
    use crate::protocol::Verdict;

    const TIME: &str = "2026-11-25T10:00:00.000001Z";

    /// Lines as the board wrote them before these types (one per event kind and
    /// shape), each with the event it reads as.
    fn written() -> Vec<(&'static str, LogEvent)> {
        let id = TakeId::parse;
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        vec![
            (
                r#"{"event":"session_start","recorders":["http://127.0.0.1:5001"],"request":{"articulations":["long"],"auto_advance":false,"dynamics":[],"highest_note":"","instrument":"guitar","lowest_note":"","round_robins":0,"user_initials":"ab"},"session_id":"s1","settings":{"articulation_durations":{"long":1.0,"medium":0.5,"short":0.2,"transient":0.05},"countdown_duration":5.0,"default_frequency":440.0,"file_naming":{"include_session_id":true,"include_user_initials":false},"middle_c":"C4","post_processing":{"clip_ceiling_dbfs":-0.1,"fade_in_ms":1.0,"fade_out_ms":10.0,"loudness_target_lufs":-23.0,"max_cents":15.0,"min_snr_db":40.0,"normalize_audio":true,"normalize_to":"peak","peak_target_dbfs":-1.0,"remove_dc":false,"trim_from_noise_floor":false,"trim_noise_margin_db":12.0,"trim_pad_ms":10.0,"trim_silence":true,"trim_threshold_dbfs":-60.0},"storage_management":{"auto_cleanup":true,"cleanup_interval_minutes":60.0,"max_age_days":30,"min_free_gb":2.0,"require_imported":false}},"takes":3,"time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::SessionStart {
                    session_id: "s1".into(),
                    request: serde_json::json!({"articulations":["long"],"auto_advance":false,"dynamics":[],"highest_note":"","instrument":"guitar","lowest_note":"","round_robins":0,"user_initials":"ab"}),
                    takes: 3,
                    recorders: vec!["http://127.0.0.1:5001".into()],
                    settings: serde_json::from_str(DEFAULT_SETTINGS).unwrap(),
                },
            ),
            (
                r#"{"done":1,"event":"session_resumed","in_flight":"s1-0001-1","session_id":"s1","time":"2026-11-25T10:00:00.000001Z","total":3}"#,
                LogEvent::SessionResumed {
                    session_id: "s1".into(),
                    done: 1,
                    total: 3,
                    in_flight: Some(id("s1-0001-1")),
                },
            ),
            (
                r#"{"done":1,"event":"session_resumed","in_flight":null,"session_id":"s1","time":"2026-11-25T10:00:00.000001Z","total":3}"#,
                LogEvent::SessionResumed {
                    session_id: "s1".into(),
                    done: 1,
                    total: 3,
                    in_flight: None,
                },
            ),
            (
                r#"{"command":"start","event":"command","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Command {
                    command: "start".into(),
                },
            ),
            (
                r#"{"command":"retake","event":"refused","reason":"no confirmed take to record again","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Refused {
                    command: Some("retake".into()),
                    take_id: None,
                    reason: "no confirmed take to record again".into(),
                },
            ),
            (
                r#"{"event":"refused","reason":"take s1-0001-1 (slot 1) cannot be recorded: x","take_id":"s1-0001-1","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Refused {
                    command: None,
                    take_id: Some(id("s1-0001-1")),
                    reason: "take s1-0001-1 (slot 1) cannot be recorded: x".into(),
                },
            ),
            (
                r#"{"action":"start","event":"button","held_ms":200,"phase":"countdown","press":"short","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Button {
                    press: "short".into(),
                    held_ms: 200,
                    phase: "countdown".into(),
                    action: "start".into(),
                },
            ),
            (
                r#"{"articulation":"long","dynamic":"ff","event":"take","note":"A4","offsets_ms":[250.0,null],"round_robin":2,"slot":1,"start_at":"2026-11-25T10:00:05.125Z","take_id":"s1-0001-1","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Take {
                    take_id: id("s1-0001-1"),
                    slot: PlannedSlot {
                        slot: 1,
                        note: "A4".into(),
                        articulation: "long".into(),
                        dynamic: Some("ff".into()),
                        round_robin: Some(2),
                    },
                    start_at: Some(at("2026-11-25T10:00:05.125Z")),
                    offsets_ms: vec![Some(250.0), None],
                },
            ),
            (
                r#"{"articulation":"long","check":{"cents":46.6,"clipped_samples":0,"issues":["off_pitch"],"measured_hz":452.0,"noise_floor_dbfs":-80.0,"notes":["pitch"],"snr_db":60.0,"verdict":"off_pitch"},"dynamic":"ff","event":"confirmation","filename":"s1/s1_guitar_A4_long_ff_rr2_s1-0001-1-r2.wav","frequency":440.0,"instrument":"guitar","note":"A4","peak_dbfs":[-3.5,null],"processing":{"gain_db":1.5,"kept_from_frame":10,"kept_to_frame":1000,"limited_by_peak":false,"true_peak_dbtp":-1.0},"reason":"off pitch: +46.6 cents (452.0 Hz)","recorder":"http://127.0.0.1:5002","round_robin":2,"session_id":"s1","sha256":"ab12","slot":1,"start_at":"2026-11-25T10:00:05.125Z","state":"delivered","take_id":"s1-0001-1-r2","time":"2026-11-25T10:00:00.000001Z","timestamp":"2026-11-25T10:00:04.625Z","verdict":"warn","warnings":[{"configured_frames":100,"frames":10,"warning":"short_pre_roll"}]}"#,
                LogEvent::Confirmation(Box::new(Confirmed {
                    session_id: "s1".into(),
                    filename: "s1/s1_guitar_A4_long_ff_rr2_s1-0001-1-r2.wav".into(),
                    note: "A4".into(),
                    frequency: 440.0,
                    articulation: "long".into(),
                    instrument: "guitar".into(),
                    timestamp: at("2026-11-25T10:00:04.625Z"),
                    take_id: id("s1-0001-1-r2"),
                    dynamic: Some("ff".into()),
                    round_robin: Some(2),
                    recorder: Some("http://127.0.0.1:5002".into()),
                    judgement: Judgement::warn("off pitch: +46.6 cents (452.0 Hz)"),
                    state: Some(TakeState::Delivered),
                    sha256: Some("ab12".into()),
                    peak_dbfs: vec![Some(-3.5), None],
                    check: Some(TakeCheck {
                        verdict: Verdict::OffPitch,
                        issues: vec![Verdict::OffPitch],
                        measured_hz: Some(452.0),
                        cents: Some(46.6),
                        noise_floor_dbfs: Some(-80.0),
                        snr_db: Some(60.0),
                        clipped_samples: 0,
                        notes: vec!["pitch".into()],
                        ..Default::default()
                    }),
                    processing: Some(Processing {
                        kept_from_frame: 10,
                        kept_to_frame: 1000,
                        gain_db: 1.5,
                        limited_by_peak: false,
                        integrated_lufs: None,
                        true_peak_dbtp: Some(-1.0),
                    }),
                    warnings: vec![TakeWarning::ShortPreRoll {
                        frames: 10,
                        configured_frames: 100,
                    }],
                    slot: Some(1),
                    start_at: Some(at("2026-11-25T10:00:05.125Z")),
                    sample_rate: None,
                    envelope: None,
                    midi: None,
                })),
            ),
            (
                r#"{"articulation":"short","check":null,"dynamic":null,"event":"confirmation","filename":"s/s1-0002-1.wav","frequency":493.88,"instrument":"guitar","note":"B4","peak_dbfs":[-6.0],"processing":null,"reason":null,"recorder":"http://127.0.0.1:5002","round_robin":null,"session_id":"s1","sha256":"","slot":2,"start_at":"2026-11-25T10:00:05.125Z","state":"spooled","take_id":"s1-0002-1","time":"2026-11-25T10:00:00.000001Z","timestamp":"2026-11-25T10:00:04.625Z","verdict":"ok","warnings":[]}"#,
                LogEvent::Confirmation(Box::new(Confirmed {
                    session_id: "s1".into(),
                    filename: "s/s1-0002-1.wav".into(),
                    note: "B4".into(),
                    frequency: 493.88,
                    articulation: "short".into(),
                    instrument: "guitar".into(),
                    timestamp: at("2026-11-25T10:00:04.625Z"),
                    take_id: id("s1-0002-1"),
                    dynamic: None,
                    round_robin: None,
                    recorder: Some("http://127.0.0.1:5002".into()),
                    judgement: Judgement::ok(),
                    state: Some(TakeState::Spooled),
                    sha256: Some(String::new()),
                    peak_dbfs: vec![Some(-6.0)],
                    check: None,
                    processing: None,
                    warnings: vec![],
                    slot: Some(2),
                    start_at: Some(at("2026-11-25T10:00:05.125Z")),
                    sample_rate: None,
                    envelope: None,
                    midi: None,
                })),
            ),
            (
                r#"{"event":"retake","slot":1,"superseded":"s1-0001-1","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Retake {
                    slot: 1,
                    superseded: id("s1-0001-1"),
                    reason: None,
                },
            ),
            (
                r#"{"event":"rearm","reason":"frames lost","slot":1,"take_id":"s1-0001-2","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Rearm {
                    take_id: id("s1-0001-2"),
                    slot: 1,
                    reason: "frames lost".into(),
                },
            ),
            (
                r#"{"articulation":"short","dynamic":null,"event":"skip","note":"B4","round_robin":null,"slot":2,"time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Skip {
                    slot: PlannedSlot {
                        slot: 2,
                        note: "B4".into(),
                        articulation: "short".into(),
                        dynamic: None,
                        round_robin: None,
                    },
                },
            ),
            (
                r#"{"articulation":"short","dynamic":"ff","event":"requeue","note":"B4","round_robin":2,"slot":2,"time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Requeue {
                    slot: PlannedSlot {
                        slot: 2,
                        note: "B4".into(),
                        articulation: "short".into(),
                        dynamic: Some("ff".into()),
                        round_robin: Some(2),
                    },
                },
            ),
            (
                r#"{"event":"session_reopened","session_id":"s1","slots":[1,2],"time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::SessionReopened {
                    session_id: "s1".into(),
                    slots: vec![1, 2],
                },
            ),
            (
                r#"{"event":"take_cancelled","take_id":"s1-0002-1","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::TakeCancelled {
                    take_id: id("s1-0002-1"),
                },
            ),
            (
                r#"{"event":"take_abandoned","take_id":"s1-0002-2","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::TakeAbandoned {
                    take_id: id("s1-0002-2"),
                },
            ),
            (
                r#"{"event":"take_aborted","outcome":"stopped","recorder":"http://127.0.0.1:5001","take_id":"s1-0002-2","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::TakeAborted {
                    take_id: id("s1-0002-2"),
                    recorder: "http://127.0.0.1:5001".into(),
                    outcome: Some(AbortOutcome::Stopped),
                    state: None,
                    path: None,
                    error: None,
                },
            ),
            (
                r#"{"event":"take_aborted","outcome":"recorded","path":"s1/x_0002-2.wav","recorder":"http://127.0.0.1:5002","state":"delivered","take_id":"s1-0002-2-r2","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::TakeAborted {
                    take_id: id("s1-0002-2-r2"),
                    recorder: "http://127.0.0.1:5002".into(),
                    outcome: Some(AbortOutcome::Recorded),
                    state: Some(TakeState::Delivered),
                    path: Some("s1/x_0002-2.wav".into()),
                    error: None,
                },
            ),
            (
                r#"{"error":"connection refused","event":"error","recorder":"http://127.0.0.1:5002","take_id":null,"time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Error {
                    recorder: Some("http://127.0.0.1:5002".into()),
                    error: "connection refused".into(),
                    take_id: None,
                },
            ),
            (
                r#"{"error":"connection refused","event":"error","recorder":"http://127.0.0.1:5002","take_id":"s1-0003-1","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Error {
                    recorder: Some("http://127.0.0.1:5002".into()),
                    error: "connection refused".into(),
                    take_id: Some(id("s1-0003-1")),
                },
            ),
            (
                r#"{"error":"bad request","event":"error","take_id":"s1-0003-1","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::Error {
                    recorder: None,
                    error: "bad request".into(),
                    take_id: Some(id("s1-0003-1")),
                },
            ),
            (
                r#"{"event":"recorder_back","recorder":"http://127.0.0.1:5002","time":"2026-11-25T10:00:00.000001Z"}"#,
                LogEvent::RecorderBack {
                    recorder: "http://127.0.0.1:5002".into(),
                },
            ),
            (
                r#"{"done":1,"event":"session_end","status":"aborted","time":"2026-11-25T10:00:00.000001Z","total":3}"#,
                LogEvent::SessionEnd {
                    status: EndStatus::Aborted,
                    done: 1,
                    total: 3,
                },
            ),
            (
                r#"{"done":3,"event":"session_end","status":"finished","time":"2026-11-25T10:00:00.000001Z","total":3}"#,
                LogEvent::SessionEnd {
                    status: EndStatus::Finished,
                    done: 3,
                    total: 3,
                },
            ),
        ]
    }

    #[test]
    fn every_line_the_board_wrote_reads_and_is_written_again_byte_for_byte() {
        let time: Timestamp = TIME.parse().unwrap();
        for (text, event) in written() {
            let line = decode(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(line.time.as_deref(), Some(TIME));
            assert_eq!(line.event, event, "{text}");
            assert_eq!(String::from_utf8(encode(time, &event)).unwrap(), text);
        }
    }

    #[test]
    fn the_typed_fields() {
        let lines = written();
        let LogEvent::Confirmation(c) = &lines[8].1 else {
            panic!("a confirmation");
        };
        assert_eq!(c.judgement.disposition, Disposition::Warn);
        assert_eq!(c.take_id.recorder(), Some(2));
        assert_eq!(c.take_id.base(), "s1-0001-1");
    }

    #[test]
    fn hand_written_lines_read_and_unknown_events_are_other() {
        let read = |t: &str| {
            decode(t.as_bytes())
                .map(|l| l.event)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            read(r#"{"event":"session_end"}"#),
            Ok(LogEvent::SessionEnd {
                status: EndStatus::Ended,
                done: 0,
                total: 0
            })
        );
        assert!(matches!(
            read(r#"{"event":"take","take_id":"s1-1-1"}"#),
            Ok(LogEvent::Take { .. })
        ));
        assert_eq!(read(r#"{"event":"lamp_test","x":1}"#), Ok(LogEvent::Other));
        assert_eq!(read("[1]"), Err("not a JSON object".into()));
        assert_eq!(read(r#"{"time":"t"}"#), Err("no \"event\" field".into()));
        assert!(
            read(r#"{"event":"tak"#)
                .unwrap_err()
                .starts_with("truncated line")
        );
        assert!(read("nope").unwrap_err().starts_with("not JSON"));
        let e = read(r#"{"event":"retake","slot":1}"#).unwrap_err();
        assert!(e.starts_with("retake: ") && e.contains("superseded"), "{e}");
        let e = read(r#"{"event":"confirmation","take_id":"x"}"#).unwrap_err();
        assert!(e.starts_with("confirmation: "), "{e}");
        // A confirmation's field is named with its path.
        let conf = |extra: &str| {
            format!(
                r#"{{"event":"confirmation","session_id":"s","filename":"f","note":"A4","articulation":"a","instrument":"i","timestamp":"2026-11-25T10:00:00Z","take_id":"x","verdict":"ok",{extra}}}"#
            )
        };
        assert_eq!(
            read(&conf(r#""frequency":"high""#)),
            Err(r#"confirmation: frequency: invalid type: string "high", expected f64"#.into())
        );
        let e = read(&conf(r#""frequency":1,"check":{"verdict":7}"#)).unwrap_err();
        assert!(e.starts_with("confirmation: check.verdict: "), "{e}");
    }
}
