//! The one error type of the DSP module: bad construction parameters.
//!
//! Sample data never produces an error (NaN, silence, clipping are all
//! measured, not rejected); only parameters a caller could get wrong do.

use std::fmt;

/// Most channels an analyzer accepts. WAV allows 65535; capping keeps the
/// per-channel state of every analyzer small and the allocation bounded.
pub const MAX_CHANNELS: usize = 64;

/// A parameter given to a constructor or builder was out of range.
#[derive(Debug, Clone, PartialEq)]
pub enum DspError {
    /// `channels` must be in `1..=MAX_CHANNELS`.
    Channels(usize),
    /// `rate` (frames per second) is 0 or below what the analyzer supports.
    Rate(u32),
    /// A named numeric parameter is NaN, infinite or out of its range.
    Parameter { name: &'static str, value: f64 },
    /// A per-channel list has the wrong length.
    Length {
        name: &'static str,
        expected: usize,
        got: usize,
    },
    /// A chunk payload would not fit the 32-bit RIFF size field.
    ChunkTooLarge { id: [u8; 4], len: usize },
}

impl fmt::Display for DspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DspError::Channels(c) => {
                write!(f, "channels must be 1..={MAX_CHANNELS}, got {c}")
            }
            DspError::Rate(r) => write!(f, "rate {r} Hz is not supported"),
            DspError::Parameter { name, value } => {
                write!(f, "parameter {name} is out of range: {value}")
            }
            DspError::Length {
                name,
                expected,
                got,
            } => write!(f, "{name} needs {expected} values, got {got}"),
            DspError::ChunkTooLarge { id, len } => write!(
                f,
                "chunk {} payload of {len} bytes exceeds the RIFF size limit",
                String::from_utf8_lossy(id)
            ),
        }
    }
}

impl std::error::Error for DspError {}

/// Validates the stream format shared by every analyzer.
pub(crate) fn check_format(channels: usize, rate: u32) -> Result<(), DspError> {
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(DspError::Channels(channels));
    }
    if rate == 0 {
        return Err(DspError::Rate(rate));
    }
    Ok(())
}

/// Validates a finite parameter that must be `>= min`.
pub(crate) fn check_param(name: &'static str, value: f64, min: f64) -> Result<f64, DspError> {
    if value.is_finite() && value >= min {
        Ok(value)
    } else {
        Err(DspError::Parameter { name, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_checks_name_the_parameter() {
        assert_eq!(check_format(0, 48_000), Err(DspError::Channels(0)));
        assert_eq!(
            check_format(MAX_CHANNELS + 1, 48_000),
            Err(DspError::Channels(MAX_CHANNELS + 1))
        );
        assert_eq!(check_format(2, 0), Err(DspError::Rate(0)));
        assert!(check_format(8, 44_100).is_ok());
        assert!(DspError::Channels(0).to_string().contains("channels"));
        assert!(DspError::Rate(0).to_string().contains("rate"));
        let e = check_param("pad_ms", f64::NAN, 0.0).unwrap_err();
        assert!(e.to_string().contains("pad_ms"));
        assert!(check_param("pad_ms", -1.0, 0.0).is_err());
        assert_eq!(check_param("pad_ms", 0.0, 0.0), Ok(0.0));
    }
}
