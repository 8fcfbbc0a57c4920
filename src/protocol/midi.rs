//! The MIDI parts of the protocol: how the recorder plays a take's note on a
//! MIDI instrument, what it reports back, and its ports in status.

use super::FieldError;
use serde::{Deserialize, Serialize};

/// Longest release a take may wait for, seconds.
pub const MAX_RELEASE_SECONDS: f64 = 60.0;

/// The recorder plays the take's note (`TakeCommand::note`) itself, for
/// `TakeCommand::duration`, so that the sound starts at `start_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MidiTake {
    /// The ALSA sequencer port, by (part of) its `client:port` name.
    pub port: String,
    /// 1 to 16.
    pub channel: u8,
    /// 1 to 127.
    pub velocity: u8,
    /// Program change sent before the first note, 0 to 127 as on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<u8>,
    /// Bank select (CC 0 and 32) before the program, 0 to 16383.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<u16>,
    /// How long the instrument's release lasts: the take keeps at least that
    /// much after the note-off, and the next note waits for it to decay (at
    /// most twice that long).
    pub release_seconds: f64,
    /// Measure the port's latency on this take and store it for the next ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub calibrate: bool,
}

impl MidiTake {
    /// Longest wait for the previous release to decay before the note-on:
    /// twice the release, at least a second. The board allows for it (and
    /// the longer tail) in the take's timeout.
    pub fn max_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64((2.0 * self.release_seconds).max(1.0))
    }

    /// What a MIDI take may add to a played one: the wait and the release.
    pub fn extra(&self) -> std::time::Duration {
        self.max_wait() + std::time::Duration::from_secs_f64(self.release_seconds)
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        let bad = |f: &str, m: String| Err(FieldError::new(&format!("midi.{f}"), m));
        if self.port.trim().is_empty() || self.port.len() > super::MAX_NAME_LEN {
            return bad("port", "expected a port name of 1 to 100 bytes".into());
        }
        if !(1..=16).contains(&self.channel) {
            return bad("channel", format!("expected 1 to 16, got {}", self.channel));
        }
        if !(1..=127).contains(&self.velocity) {
            return bad(
                "velocity",
                format!("expected 1 to 127, got {}", self.velocity),
            );
        }
        if let Some(p) = self.program.filter(|p| *p > 127) {
            return bad("program", format!("expected 0 to 127, got {p}"));
        }
        if let Some(b) = self.bank.filter(|b| *b > 16383) {
            return bad("bank", format!("expected 0 to 16383, got {b}"));
        }
        let r = self.release_seconds;
        if !(r.is_finite() && (0.0..=MAX_RELEASE_SECONDS).contains(&r)) {
            return bad(
                "release_seconds",
                format!("expected 0 to {MAX_RELEASE_SECONDS} seconds, got {r}"),
            );
        }
        Ok(())
    }
}

/// What the recorder did for a MIDI take, in its confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MidiReport {
    /// The sequencer port played, as the recorder found it (`client:port`).
    pub port: String,
    /// How much earlier than `start_at` the note-on was sent, ms.
    pub latency_ms: f64,
    /// Where the sound started against `start_at`, ms (positive: late);
    /// absent when no onset stood out of the pre-roll's noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset_ms: Option<f64>,
    /// A calibration take: the latency now stored for the port, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrated_latency_ms: Option<f64>,
    /// Seconds waited for the previous note's release to decay.
    pub waited_seconds: f64,
    /// The wait reached its maximum before the input was quiet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait_timed_out: bool,
}

/// A MIDI port in the recorder's status (`capture.midi_ports` and every
/// port a take has used).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MidiPortStatus {
    /// As configured or asked for.
    pub port: String,
    pub available: bool,
    /// The stored latency, ms; absent until the port is calibrated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Why the port cannot be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take() -> MidiTake {
        serde_json::from_str(
            r#"{"port":"FLUID","channel":1,"velocity":100,"program":48,"release_seconds":1.5}"#,
        )
        .unwrap()
    }

    #[test]
    fn fields_are_checked_by_name() {
        take().validate().unwrap();
        type Spoil = fn(&mut MidiTake);
        let cases: [(&str, Spoil); 6] = [
            ("midi.port", |m| m.port = " ".into()),
            ("midi.channel", |m| m.channel = 17),
            ("midi.velocity", |m| m.velocity = 0),
            ("midi.program", |m| m.program = Some(128)),
            ("midi.bank", |m| m.bank = Some(16384)),
            ("midi.release_seconds", |m| m.release_seconds = f64::NAN),
        ];
        for (field, spoil) in cases {
            let mut m = take();
            spoil(&mut m);
            assert_eq!(m.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn the_wait_is_twice_the_release_and_at_least_a_second() {
        let mut m = take();
        assert_eq!(m.max_wait(), std::time::Duration::from_secs(3));
        assert_eq!(m.extra(), std::time::Duration::from_secs_f64(4.5));
        m.release_seconds = 0.0;
        assert_eq!(m.max_wait(), std::time::Duration::from_secs(1));
    }

    #[test]
    fn calibrate_is_left_out_when_false() {
        let text = serde_json::to_string(&take()).unwrap();
        assert!(!text.contains("calibrate"), "{text}");
        let mut m = take();
        m.calibrate = true;
        let back: MidiTake = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert!(back.calibrate);
    }
}
