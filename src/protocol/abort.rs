//! `POST /v1/takes/{take_id}/abort` (bearer token): the board stops a take it
//! abandoned (the session aborted) on a recorder. The recorder stops recording
//! it, silences its MIDI note, keeps nothing of it, and never records the id
//! afterwards; the take command still waiting for it is answered with the
//! `aborted` error. Asking again changes nothing (`already_aborted`).

use super::{TAKES_PATH, TakeState};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// After the take id: `/v1/takes/{take_id}/abort`.
pub const ABORT_SUFFIX: &str = "/abort";

/// The recorder answers within this: stopped by then, or `stopping` (202).
pub const ABORT_ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The path that aborts `take_id` (a checked name: no `/`, `?` or `#`).
pub fn abort_path(take_id: &str) -> String {
    format!("{TAKES_PATH}/{take_id}{ABORT_SUFFIX}")
}

/// What the recorder did about an abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortOutcome {
    /// It was under way (waiting for its start or its MIDI instrument, or
    /// recording): stopped, and nothing of it kept.
    Stopped,
    /// Still stopping when the answer went out (it stops: ask again to see).
    Stopping,
    /// An earlier abort stopped it.
    AlreadyAborted,
    /// Recorded before the abort came: kept as it is (`state`, `path`).
    Recorded,
    /// The recorder never had it; the id is refused from now on, so a command
    /// still on its way cannot record it.
    Unknown,
    /// An outcome a newer recorder names and this board does not.
    #[serde(other)]
    Unrecognised,
}

impl AbortOutcome {
    /// The name on the wire and in the session log.
    pub fn as_str(self) -> &'static str {
        match self {
            AbortOutcome::Stopped => "stopped",
            AbortOutcome::Stopping => "stopping",
            AbortOutcome::AlreadyAborted => "already_aborted",
            AbortOutcome::Recorded => "recorded",
            AbortOutcome::Unknown => "unknown",
            AbortOutcome::Unrecognised => "unrecognised",
        }
    }
}

/// The answer to an abort: 200, or 202 while `stopping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbortReply {
    pub take_id: String,
    pub outcome: AbortOutcome,
    /// A take `recorded` before the abort: where it stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TakeState>,
    /// A take `recorded` before the abort: its file, relative to the share root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl AbortReply {
    pub fn new(take_id: &str, outcome: AbortOutcome) -> AbortReply {
        AbortReply {
            take_id: take_id.to_string(),
            outcome,
            state: None,
            path: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_are_its_json_and_a_newer_one_still_reads() {
        use AbortOutcome::*;
        for o in [Stopped, Stopping, AlreadyAborted, Recorded, Unknown] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        let newer = r#"{"take_id":"t1","outcome":"rewound","later":1}"#;
        let read: AbortReply = serde_json::from_str(newer).unwrap();
        assert_eq!(read.outcome, Unrecognised);
    }

    #[test]
    fn a_recorded_take_says_where_it_stands() {
        let mut r = AbortReply::new("s-0001-1", AbortOutcome::Recorded);
        r.state = Some(TakeState::Delivered);
        r.path = Some("s/x_~t1.wav".into());
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"take_id":"s-0001-1","outcome":"recorded","state":"delivered","path":"s/x_~t1.wav"}"#
        );
        assert_eq!(serde_json::from_str::<AbortReply>(&text).unwrap(), r);
        let stopped = AbortReply::new("t1", AbortOutcome::Stopped);
        assert_eq!(
            serde_json::to_string(&stopped).unwrap(),
            r#"{"take_id":"t1","outcome":"stopped"}"#
        );
        assert_eq!(abort_path("s-0001-1"), "/v1/takes/s-0001-1/abort");
    }
}
