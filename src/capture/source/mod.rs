//! Where the capture thread's audio comes from, behind two small traits: a
//! [`Source`] opens a [`Stream`], again after it was lost. The ALSA device is
//! one source; the generator ([`generator`]) is another, paced by the clock
//! like a device and able to fail like one, so the engine and the recorder can
//! be tested without a sound server where sound is not the point.

pub mod alsa;
pub mod generator;
mod pacer;

pub use crate::config::{CaptureDevice, GeneratorSpec, Signal, SpecError};

use pacer::Pacer;

use crate::config::CaptureSettings;
use std::fmt;

/// Periods a stream buffers: slack so a late wake-up of the capture thread
/// is not an overrun.
const BUFFER_PERIODS: usize = 8;

/// A capture device that can be opened, and opened again after it was lost.
pub trait Source: Send + 'static {
    type Stream: Stream;

    fn open(&mut self, settings: &CaptureSettings) -> Result<Self::Stream, SourceError>;
}

/// One open capture stream, read one period at a time on the capture thread.
pub trait Stream {
    /// Wait up to `timeout_ms` for a period, and convert it into `out`
    /// (interleaved f32, full scale 1.0, at least `period * channels` long).
    fn read(&mut self, out: &mut [f32], timeout_ms: u32) -> Result<Read, SourceError>;

    /// Frames per read.
    fn period(&self) -> usize;

    /// Frames captured but not read yet, to tell when the newest one was captured.
    fn pending(&self) -> u64;

    /// Whether a sound card is behind the stream (it then wants real-time scheduling).
    fn has_card(&self) -> bool;

    /// What the stream delivers natively, e.g. "S24_3LE", for the status.
    fn native_format(&self) -> &'static str;
}

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// This many frames were converted into the output buffer.
    Frames(usize),
    /// An overrun (or resume from suspend) was recovered: frames were lost.
    Xrun,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// Opening or configuring failed: no such device, format refused, ...
    Open { device: String, what: String },
    /// The device stopped delivering (unplugged, server gone): reopen it.
    Lost { device: String, what: String },
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Open { device, what } => write!(f, "capture device {device:?}: {what}"),
            SourceError::Lost { device, what } => {
                write!(f, "capture device {device:?} stopped delivering: {what}")
            }
        }
    }
}

impl std::error::Error for SourceError {}

impl SourceError {
    pub fn open(device: &str, what: impl fmt::Display) -> SourceError {
        SourceError::Open {
            device: device.to_string(),
            what: what.to_string(),
        }
    }

    pub fn lost(device: &str, what: impl fmt::Display) -> SourceError {
        SourceError::Lost {
            device: device.to_string(),
            what: what.to_string(),
        }
    }
}
