//! Playing a take's note on a MIDI instrument, timed against the capture
//! clock: the sequencer output ([`seq`], the one part that needs ALSA), the
//! timing as pure arithmetic ([`schedule`]), the note played on its own
//! thread ([`player`]), the ports and their stored latencies ([`hub`],
//! [`latency`]). Everything but `seq` works on any [`Sequencer`].

pub mod hub;
pub mod latency;
pub mod player;
pub mod schedule;
pub mod seq;
pub mod take;

use std::fmt;

pub use hub::MidiHub;

/// One message to an instrument; channels count from 0 here, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidiMessage {
    NoteOn { channel: u8, note: u8, velocity: u8 },
    NoteOff { channel: u8, note: u8 },
    Controller { channel: u8, param: u8, value: u8 },
    Program { channel: u8, program: u8 },
}

/// Controller numbers this module sends.
const CC_BANK_MSB: u8 = 0;
const CC_BANK_LSB: u8 = 32;
const CC_SUSTAIN: u8 = 64;
const CC_ALL_SOUND_OFF: u8 = 120;
const CC_ALL_NOTES_OFF: u8 = 123;

impl MidiMessage {
    /// Silence a channel whatever it holds: the sustain pedal up, all notes
    /// off (released), all sound off (cut) for instruments that ignore 123.
    pub fn silence(channel: u8) -> [MidiMessage; 3] {
        let cc = |param| MidiMessage::Controller {
            channel,
            param,
            value: 0,
        };
        [cc(CC_SUSTAIN), cc(CC_ALL_NOTES_OFF), cc(CC_ALL_SOUND_OFF)]
    }

    /// Bank select (MSB then LSB) and program change, in the order synths expect.
    pub fn program_change(channel: u8, bank: Option<u16>, program: u8) -> Vec<MidiMessage> {
        let mut v = Vec::with_capacity(3);
        if let Some(b) = bank {
            let cc = |param, value| MidiMessage::Controller {
                channel,
                param,
                value,
            };
            v.push(cc(CC_BANK_MSB, ((b >> 7) & 0x7f) as u8));
            v.push(cc(CC_BANK_LSB, (b & 0x7f) as u8));
        }
        v.push(MidiMessage::Program { channel, program });
        v
    }
}

/// An open output to one instrument.
pub trait MidiOut: Send {
    fn send(&mut self, m: MidiMessage) -> Result<(), MidiError>;
    /// The port as the sequencer names it (`client:port`).
    fn name(&self) -> &str;
    /// Whether the port this output sends to is still the one it opened: a
    /// synth that restarts (or is replugged) comes back as another client,
    /// and its old address is gone or names someone else.
    fn check(&self) -> Result<(), MidiError>;
}

/// Where outputs come from: the ALSA sequencer in the daemon.
pub trait Sequencer: Send + Sync {
    /// Open the first writable port whose name holds `port`.
    fn open(&self, port: &str) -> Result<Box<dyn MidiOut>, MidiError>;
    /// The full name of the port `port` would open.
    fn find(&self, port: &str) -> Result<String, MidiError>;
}

#[derive(Debug, Clone, PartialEq)]
pub enum MidiError {
    /// The sequencer itself cannot be opened (no `snd-seq`, no permission).
    NoSequencer { what: String },
    /// No writable port matches; `available` lists those there are.
    PortNotFound {
        port: String,
        available: Vec<String>,
    },
    /// Sending failed (the instrument went away).
    Send { port: String, what: String },
    /// The port an output was opened on is no longer there as it was.
    Gone { port: String, what: String },
}

impl fmt::Display for MidiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MidiError::NoSequencer { what } => {
                write!(f, "cannot open the ALSA sequencer: {what}")
            }
            MidiError::PortNotFound { port, available } if available.is_empty() => write!(
                f,
                "MIDI port {port:?} not found: the sequencer has no writable ports"
            ),
            MidiError::PortNotFound { port, available } => write!(
                f,
                "MIDI port {port:?} not found; the sequencer has {}",
                available.join(", ")
            ),
            MidiError::Send { port, what } => write!(f, "MIDI port {port}: {what}"),
            MidiError::Gone { port, what } => write!(f, "MIDI port {port} went away: {what}"),
        }
    }
}

impl std::error::Error for MidiError {}
