//! Why the recorder refuses a take or is not ready: the recorder's own words,
//! mapped to HTTP status and JSON only by [`super::server`].

use crate::protocol::FieldError;
use std::fmt;
use std::path::PathBuf;

/// Why a take starting now would not be accepted with its full pre-roll.
#[derive(Debug, Clone, PartialEq)]
pub enum NotReady {
    /// The capture device is not running (`error`: why, if known).
    DeviceNotRunning { error: Option<String> },
    /// No frame has been tied to the wall clock yet.
    ClockNotEstablished,
    /// The ring does not hold a whole pre-roll yet.
    FillingPreRoll {
        held_seconds: f64,
        want_seconds: f64,
    },
    /// The spool has no room for a note of any length.
    SpoolFull { spool: PathBuf },
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReady::DeviceNotRunning { error } => write!(
                f,
                "capture device is not running: {}",
                error.as_deref().unwrap_or("still opening")
            ),
            NotReady::ClockNotEstablished => write!(f, "capture clock not established yet"),
            NotReady::FillingPreRoll {
                held_seconds,
                want_seconds,
            } => write!(
                f,
                "filling the pre-roll: {held_seconds:.2} of {want_seconds} s captured"
            ),
            NotReady::SpoolFull { spool } => write!(f, "the spool {} is full", spool.display()),
        }
    }
}

impl std::error::Error for NotReady {}

/// Why a take command was not recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum TakeRefused {
    /// A field of the command is wrong (or names what this recorder cannot do).
    BadField(FieldError),
    /// Another take is recording.
    Busy { recording: String },
    /// The spool cannot hold the longest file this take can produce.
    SpoolFull {
        spool: PathBuf,
        free_bytes: u64,
        take_id: String,
        need_bytes: u64,
    },
    /// The device or its clock is not there to record from.
    NotReady(NotReady),
    /// `start_at` lies further ahead than the recorder waits.
    StartTooFarAhead {
        ahead_seconds: f64,
        max_seconds: f64,
    },
    /// `start_at` lies further back than the ring keeps.
    StartTooLate {
        late_seconds: f64,
        keeps_seconds: f64,
    },
    /// This take id was cut short by a restart of the recorder; an id never
    /// records twice, so the board records the slot under a new one.
    Interrupted { take_id: String },
    /// The board aborted this take: nothing of it is kept and its id never
    /// records (the board records the slot under a new one).
    Aborted { take_id: String },
    /// The daemon is stopping; the take was abandoned.
    ShuttingDown,
    /// The take's record could not be written: it did not happen.
    NotStored { take_id: String, error: String },
    /// The take's MIDI port cannot be found or played.
    Midi(crate::capture::midi::MidiError),
    /// The worker recording the take failed.
    Internal(String),
}

impl From<FieldError> for TakeRefused {
    fn from(e: FieldError) -> Self {
        TakeRefused::BadField(e)
    }
}

impl From<NotReady> for TakeRefused {
    fn from(e: NotReady) -> Self {
        TakeRefused::NotReady(e)
    }
}

impl fmt::Display for TakeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TakeRefused::BadField(e) => e.fmt(f),
            TakeRefused::Busy { recording } => {
                write!(f, "take {recording:?} is recording; one take at a time")
            }
            TakeRefused::SpoolFull {
                spool,
                free_bytes,
                take_id,
                need_bytes,
            } => write!(
                f,
                "the spool {} has {:.1} MB free; take {take_id} can need up to {:.1} MB",
                spool.display(),
                *free_bytes as f64 / 1e6,
                *need_bytes as f64 / 1e6
            ),
            TakeRefused::NotReady(e) => e.fmt(f),
            TakeRefused::StartTooFarAhead {
                ahead_seconds,
                max_seconds,
            } => write!(
                f,
                "start_at lies {ahead_seconds:.1} s ahead; this recorder accepts at most {max_seconds} s"
            ),
            TakeRefused::StartTooLate {
                late_seconds,
                keeps_seconds,
            } => write!(
                f,
                "start_at lies {late_seconds:.1} s in the past; this recorder keeps {keeps_seconds} s of late start"
            ),
            TakeRefused::Interrupted { take_id } => write!(
                f,
                "take {take_id:?} was cut short by a restart of the recorder; a take id never records twice"
            ),
            TakeRefused::Aborted { take_id } => write!(
                f,
                "take {take_id:?} was aborted; nothing of it is kept and a take id never records twice"
            ),
            TakeRefused::ShuttingDown => {
                write!(f, "the recorder is shutting down; send the take again")
            }
            TakeRefused::NotStored { take_id, error } => {
                write!(f, "take {take_id} could not be stored: {error}")
            }
            TakeRefused::Midi(e) => e.fmt(f),
            TakeRefused::Internal(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TakeRefused {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_ready_says_why_as_the_status_shows_it() {
        let cases = [
            (
                NotReady::DeviceNotRunning {
                    error: Some("no such device".into()),
                },
                "capture device is not running: no such device",
            ),
            (
                NotReady::FillingPreRoll {
                    held_seconds: 0.456,
                    want_seconds: 2.0,
                },
                "filling the pre-roll: 0.46 of 2 s captured",
            ),
            (
                NotReady::SpoolFull {
                    spool: "/var/spool/takebox".into(),
                },
                "the spool /var/spool/takebox is full",
            ),
        ];
        for (why, text) in cases {
            assert_eq!(why.to_string(), text);
        }
    }
}
