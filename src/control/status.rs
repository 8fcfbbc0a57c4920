//! What the take cycle shows: its phase, the status the page and the API read,
//! and the events that subscribers (server-sent events, the LEDs) get.

use super::plan::Slot;
use super::verdict::{Disposition, Figures, Judgement};
use crate::protocol::{Processing, TakeEnvelope, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No session.
    Idle,
    /// The next take waits for Start.
    Armed,
    Countdown,
    Recording,
    /// The note is over; the recorders' confirmations are awaited.
    Waiting,
    Paused,
    Finished,
    Aborted,
}

impl Phase {
    /// The name in JSON (the status, the events, the session log).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Armed => "armed",
            Phase::Countdown => "countdown",
            Phase::Recording => "recording",
            Phase::Waiting => "waiting",
            Phase::Paused => "paused",
            Phase::Finished => "finished",
            Phase::Aborted => "aborted",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::Idle => "no session",
            Phase::Armed => "armed",
            Phase::Countdown => "countdown",
            Phase::Recording => "recording",
            Phase::Waiting => "waiting for confirmation",
            Phase::Paused => "paused",
            Phase::Finished => "finished",
            Phase::Aborted => "aborted",
        }
    }
}

/// What subscribers are told; the details are in the status.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Phase {
        phase: Phase,
    },
    /// Whole seconds left in the countdown (LEDs count these down).
    Countdown {
        remaining: u32,
    },
    Confirmed {
        take_id: String,
        verdict: Disposition,
    },
    /// Recorder health or meters changed.
    Recorders,
    /// Anything else on the page changed.
    Changed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastTake {
    pub take_id: String,
    pub slot: usize,
    pub note: String,
    pub articulation: String,
    pub dynamic: Option<String>,
    pub round_robin: Option<u32>,
    pub paths: Vec<String>,
    /// `verdict` and `reason` in JSON.
    #[serde(flatten)]
    pub judgement: Judgement,
    /// The verdict by name and the figures of the worst-judged file.
    pub figures: Figures,
    /// What the recorders said about a take recorded all the same (a short pre-roll).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub recorded_at: Option<Timestamp>,
    /// The first recorder's waveform, for every take (not only failed ones).
    pub waveform: Option<Waveform>,
}

#[cfg(test)]
impl LastTake {
    /// Take `t`, slot 0, A4 long, judged `judgement`, with no figures.
    pub(crate) fn for_test(judgement: Judgement) -> LastTake {
        LastTake {
            take_id: "t".into(),
            slot: 0,
            note: "A4".into(),
            articulation: "long".into(),
            dynamic: None,
            round_robin: None,
            paths: vec![],
            judgement,
            figures: Figures::default(),
            warnings: vec![],
            recorded_at: None,
            waveform: None,
        }
    }
}

/// A take's waveform as its recorder measured it, with the range trimming kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waveform {
    pub envelope: TakeEnvelope,
    /// Frames kept by trimming, from the recording's first frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_frames: Option<(u64, u64)>,
    pub sample_rate: u32,
}

impl Waveform {
    /// The waveform of a confirmation or its session log line, when it has one.
    pub fn new(
        envelope: Option<&TakeEnvelope>,
        processing: Option<&Processing>,
        sample_rate: Option<u32>,
    ) -> Option<Waveform> {
        Some(Waveform {
            envelope: envelope?.clone(),
            kept_frames: processing.map(|p| (p.kept_from_frame, p.kept_to_frame)),
            sample_rate: sample_rate?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CycleStatus {
    pub session_id: Option<String>,
    pub instrument: Option<String>,
    pub user_initials: Option<String>,
    pub auto_advance: bool,
    /// No one watches: flagged takes are recorded again by themselves
    /// (`control.unattended`) and warnings never pause.
    pub unattended: bool,
    pub phase: Phase,
    pub phase_label: &'static str,
    pub paused: bool,
    /// The slot being recorded or next up.
    pub slot: Option<Slot>,
    pub take_id: Option<String>,
    /// Whole seconds left in the countdown.
    pub countdown: Option<u32>,
    pub start_at: Option<Timestamp>,
    /// `start_at` on the monotonic clock, the very instant the take is timed
    /// from (the LEDs end the countdown on it).
    #[serde(skip)]
    pub start_instant: Option<Instant>,
    /// When the note is over (`start_instant` plus its duration).
    #[serde(skip)]
    pub end_instant: Option<Instant>,
    pub done: usize,
    pub total: usize,
    /// Of `done`, the slots skipped rather than recorded.
    pub skipped: usize,
    /// Slots done with a warning (the take list's review).
    pub attention: usize,
    /// The session's pace so far: seconds from one recorded take to the next.
    pub seconds_per_take: Option<f64>,
    pub last: Option<LastTake>,
    /// The latest problem (recorder down, command refused), for the page.
    pub message: Option<String>,
}

impl Default for CycleStatus {
    fn default() -> Self {
        CycleStatus {
            session_id: None,
            instrument: None,
            user_initials: None,
            auto_advance: false,
            unattended: false,
            phase: Phase::Idle,
            phase_label: Phase::Idle.label(),
            paused: false,
            slot: None,
            take_id: None,
            countdown: None,
            start_at: None,
            start_instant: None,
            end_instant: None,
            done: 0,
            total: 0,
            skipped: 0,
            attention: 0,
            seconds_per_take: None,
            last: None,
            message: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names_are_their_json() {
        use Phase::*;
        for p in [
            Idle, Armed, Countdown, Recording, Waiting, Paused, Finished, Aborted,
        ] {
            assert_eq!(serde_json::to_value(p).unwrap(), p.name());
        }
    }

    #[test]
    fn the_last_take_has_its_verdict_and_one_figures_object() {
        let last = LastTake {
            figures: Figures {
                verdict_name: "ok".into(),
                peak_dbfs: Some(-3.0),
                ..Figures::default()
            },
            ..LastTake::for_test(Judgement::ok())
        };
        assert_eq!(
            serde_json::to_string(&last).unwrap(),
            r#"{"take_id":"t","slot":0,"note":"A4","articulation":"long","dynamic":null,"round_robin":null,"paths":[],"verdict":"ok","reason":null,"figures":{"verdict_name":"ok","peak_dbfs":-3.0},"recorded_at":null,"waveform":null}"#
        );
    }
}
