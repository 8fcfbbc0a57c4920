//! `capture.device` as written in config.json: an ALSA PCM name, or
//! `takebox:` and a generated signal. Parsed once, when the config loads, so
//! a malformed value is refused by `--check` naming the field.
//!
//! ```text
//! takebox:sine=440[,level=-12][,faults=/abs/dir]
//! takebox:silence[,faults=/abs/dir]
//! takebox:file=/abs/take.wav[,faults=/abs/dir]
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Marks a generated source; no ALSA PCM is named like that.
const PREFIX: &str = "takebox:";

/// A sine's level when none is given: loud enough to be a signal, far from clipping.
const DEFAULT_LEVEL_DBFS: f64 = -12.0;

/// Where the capture thread's audio comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CaptureDevice {
    /// An ALSA PCM name, e.g. `hw:CARD=US16x08` or `pulse`.
    Alsa(String),
    /// A signal generated in real time. `text` is the value as written, so
    /// status and a saved config show it unchanged.
    Generator { text: String, spec: GeneratorSpec },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorSpec {
    pub signal: Signal,
    /// A folder whose files are fault commands (see `generator::Faults`).
    pub faults: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Sine {
        hz: f64,
        level_dbfs: f64,
    },
    Silence,
    /// A WAV file's frames, played in a loop.
    File(PathBuf),
}

/// Why a `capture.device` value is not usable.
#[derive(Debug, Clone, PartialEq)]
pub enum SpecError {
    Empty,
    /// `takebox:` with no signal (`sine=`, `silence`, `file=`).
    NoSignal,
    /// A second signal after the first.
    TwoSignals(String),
    UnknownOption(String),
    Repeated(&'static str),
    /// A number that is not one, or out of its range.
    Number {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
    RelativePath {
        key: &'static str,
        value: String,
    },
    /// `level` given for a signal that has none.
    LevelWithoutSine,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FORMS: &str =
            "takebox:sine=HZ[,level=DBFS], takebox:silence or takebox:file=/path.wav";
        match self {
            SpecError::Empty => write!(
                f,
                "expected an ALSA PCM name such as \"default\" or \"hw:1\", or {FORMS}"
            ),
            SpecError::NoSignal => write!(f, "expected a signal after \"takebox:\": {FORMS}"),
            SpecError::TwoSignals(s) => write!(f, "{s:?} is a second signal; give one of {FORMS}"),
            SpecError::UnknownOption(o) => write!(
                f,
                "unknown option {o:?} (expected sine=, silence, file=, level= or faults=)"
            ),
            SpecError::Repeated(key) => write!(f, "{key} is given twice"),
            SpecError::Number {
                key,
                value,
                expected,
            } => write!(f, "{key}={value}: expected {expected}"),
            SpecError::RelativePath { key, value } => {
                write!(f, "{key}={value}: expected an absolute path")
            }
            SpecError::LevelWithoutSine => write!(f, "level= applies to sine= only"),
        }
    }
}

impl std::error::Error for SpecError {}

impl Default for CaptureDevice {
    fn default() -> Self {
        CaptureDevice::Alsa("default".into())
    }
}

impl fmt::Display for CaptureDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureDevice::Alsa(name) => f.write_str(name),
            CaptureDevice::Generator { text, .. } => f.write_str(text),
        }
    }
}

impl From<CaptureDevice> for String {
    fn from(d: CaptureDevice) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for CaptureDevice {
    type Error = SpecError;

    fn try_from(text: String) -> Result<Self, SpecError> {
        if text.is_empty() {
            return Err(SpecError::Empty);
        }
        match text.strip_prefix(PREFIX) {
            None => Ok(CaptureDevice::Alsa(text)),
            Some(rest) => {
                let spec = GeneratorSpec::parse(rest)?;
                Ok(CaptureDevice::Generator { text, spec })
            }
        }
    }
}

impl FromStr for CaptureDevice {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        CaptureDevice::try_from(s.to_string())
    }
}

impl GeneratorSpec {
    /// The options after `takebox:`, comma-separated, in any order.
    fn parse(options: &str) -> Result<GeneratorSpec, SpecError> {
        let mut signal = None;
        let mut level = None;
        let mut faults = None;
        for option in options.split(',').filter(|o| !o.is_empty()) {
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            let parsed = match key {
                "sine" => Some(Signal::Sine {
                    hz: number("sine", value, 1.0..=20_000.0, "1 to 20000 Hz")?,
                    level_dbfs: DEFAULT_LEVEL_DBFS,
                }),
                "silence" if value.is_empty() => Some(Signal::Silence),
                "file" => Some(Signal::File(absolute("file", value)?)),
                "level" => {
                    set_once(&mut level, "level", || {
                        number("level", value, -120.0..=0.0, "-120 to 0 dBFS")
                    })?;
                    None
                }
                "faults" => {
                    set_once(&mut faults, "faults", || absolute("faults", value))?;
                    None
                }
                _ => return Err(SpecError::UnknownOption(option.to_string())),
            };
            if let Some(s) = parsed {
                if signal.is_some() {
                    return Err(SpecError::TwoSignals(option.to_string()));
                }
                signal = Some(s);
            }
        }
        let mut signal = signal.ok_or(SpecError::NoSignal)?;
        if let Some(l) = level {
            match &mut signal {
                Signal::Sine { level_dbfs, .. } => *level_dbfs = l,
                _ => return Err(SpecError::LevelWithoutSine),
            }
        }
        Ok(GeneratorSpec { signal, faults })
    }
}

fn set_once<T>(
    slot: &mut Option<T>,
    key: &'static str,
    parse: impl FnOnce() -> Result<T, SpecError>,
) -> Result<(), SpecError> {
    if slot.is_some() {
        return Err(SpecError::Repeated(key));
    }
    *slot = Some(parse()?);
    Ok(())
}

fn number(
    key: &'static str,
    value: &str,
    range: std::ops::RangeInclusive<f64>,
    expected: &'static str,
) -> Result<f64, SpecError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| SpecError::Number {
            key,
            value: value.to_string(),
            expected,
        })
}

/// Absolute only: the daemon's working folder is nobody's business.
fn absolute(key: &'static str, value: &str) -> Result<PathBuf, SpecError> {
    let path = PathBuf::from(value);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(SpecError::RelativePath {
            key,
            value: value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Result<GeneratorSpec, SpecError> {
        match text.parse::<CaptureDevice>()? {
            CaptureDevice::Generator { spec, .. } => Ok(spec),
            other => panic!("{text} parsed as {other:?}"),
        }
    }

    #[test]
    fn alsa_names_pass_through_and_generators_parse() {
        assert_eq!(
            "plughw:CARD=x,DEV=0".parse(),
            Ok(CaptureDevice::Alsa("plughw:CARD=x,DEV=0".into()))
        );
        assert_eq!(
            spec("takebox:sine=440"),
            Ok(GeneratorSpec {
                signal: Signal::Sine {
                    hz: 440.0,
                    level_dbfs: DEFAULT_LEVEL_DBFS
                },
                faults: None
            })
        );
        assert_eq!(
            spec("takebox:faults=/run/f,level=-3,sine=1000"),
            Ok(GeneratorSpec {
                signal: Signal::Sine {
                    hz: 1000.0,
                    level_dbfs: -3.0
                },
                faults: Some("/run/f".into())
            })
        );
        assert_eq!(
            spec("takebox:file=/a/b.wav").map(|s| s.signal),
            Ok(Signal::File("/a/b.wav".into()))
        );
        assert_eq!(
            spec("takebox:silence").map(|s| s.signal),
            Ok(Signal::Silence)
        );
    }

    #[test]
    fn the_value_round_trips_as_written() {
        for text in ["default", "takebox:level=-6,sine=440.0"] {
            let d: CaptureDevice = text.parse().unwrap();
            assert_eq!(String::from(d), text);
        }
    }

    #[test]
    fn malformed_values_are_refused_in_words() {
        for (text, expect) in [
            ("", "expected an ALSA PCM name"),
            ("takebox:", "expected a signal"),
            ("takebox:sine=abc", "sine=abc: expected 1 to 20000 Hz"),
            ("takebox:sine=0", "expected 1 to 20000 Hz"),
            ("takebox:sine=440,silence", "a second signal"),
            (
                "takebox:sine=440,level=3",
                "level=3: expected -120 to 0 dBFS",
            ),
            ("takebox:silence,level=-3", "level= applies to sine= only"),
            (
                "takebox:file=take.wav",
                "file=take.wav: expected an absolute path",
            ),
            ("takebox:sine=440,faults=f", "expected an absolute path"),
            (
                "takebox:sine=440,faults=/a,faults=/b",
                "faults is given twice",
            ),
            ("takebox:noise", "unknown option \"noise\""),
            ("takebox:silence=1", "unknown option"),
        ] {
            let e = text.parse::<CaptureDevice>().unwrap_err().to_string();
            assert!(e.contains(expect), "{text:?}: {e}");
        }
    }
}
