//! The start button and the LEDs on the board's header. Everything above the
//! small [`GpioLines`] trait is hardware-free: the patterns ([`patterns`]) and the
//! button ([`button`]) are pure functions of time, the [`driver`] runs them, and
//! the lines are either the kernel's GPIO character device ([`chardev`]) or a
//! simulation ([`sim`]) for `make run` and the tests.

pub mod button;
pub mod chardev;
pub mod driver;
pub mod patterns;
pub mod sim;

use crate::config::{GpioBackend, GpioSettings};
use button::Edge;
use std::fmt;
use std::io;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Why the button and LEDs are off: each names the chip, and the line where one
/// is to blame.
#[derive(Debug)]
pub enum GpioError {
    /// The chip given by its path could not be opened.
    OpenChip {
        chip: String,
        source: gpiocdev::Error,
    },
    /// No chip at all to look the label up among.
    NoChips {
        label: String,
        source: gpiocdev::Error,
    },
    ChipNotFound {
        label: String,
        /// The chips there are: path and label.
        seen: Vec<String>,
    },
    /// A chip error, with the lines that wanted the chip.
    ChipWanted {
        error: Box<GpioError>,
        button: String,
        leds: Vec<String>,
    },
    ChipInfo {
        chip: String,
        source: gpiocdev::Error,
    },
    NoSuchOffset {
        chip: String,
        what: String,
        offset: u32,
        lines: u32,
    },
    NoSuchName {
        chip: String,
        what: String,
        name: String,
    },
    ButtonLine {
        chip: String,
        line: String,
        source: gpiocdev::Error,
    },
    LedLines {
        chip: String,
        offsets: Vec<u32>,
        source: gpiocdev::Error,
    },
    /// The simulated button's presses go nowhere: its driver has ended.
    DriverStopped,
}

impl fmt::Display for GpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpioError::OpenChip { chip, source } => write!(f, "GPIO chip {chip}: {source}"),
            GpioError::NoChips { label, source } => write!(
                f,
                "GPIO chip labelled {label:?}: no GPIO chips here ({source}); is /dev/gpiochip* present?"
            ),
            GpioError::ChipNotFound { label, seen } if seen.is_empty() => write!(
                f,
                "GPIO chip labelled {label:?} not found; chips here: none (no /dev/gpiochip* is there, or none can be opened)"
            ),
            GpioError::ChipNotFound { label, seen } => write!(
                f,
                "GPIO chip labelled {label:?} not found; chips here: {}",
                seen.join(", ")
            ),
            GpioError::ChipWanted {
                error,
                button,
                leds,
            } => write!(
                f,
                "{error} (wanted for the button on line {button} and the LEDs on lines {})",
                leds.join(", ")
            ),
            GpioError::ChipInfo { chip, source } => write!(f, "GPIO chip {chip}: {source}"),
            GpioError::NoSuchOffset {
                chip,
                what,
                offset,
                lines,
            } => write!(
                f,
                "GPIO chip {chip}: {what} line offset {offset} does not exist (the chip has {lines} lines)"
            ),
            GpioError::NoSuchName { chip, what, name } => {
                write!(f, "GPIO chip {chip}: no {what} line named {name:?}")
            }
            GpioError::ButtonLine { chip, line, source } => {
                write!(f, "GPIO chip {chip}: button line {line}: {source}")
            }
            GpioError::LedLines {
                chip,
                offsets,
                source,
            } => write!(f, "GPIO chip {chip}: LED lines {offsets:?}: {source}"),
            GpioError::DriverStopped => f.write_str("the GPIO driver has stopped"),
        }
    }
}

impl std::error::Error for GpioError {}

/// One change of the LEDs, as the driver made it.
#[derive(Debug, Clone, PartialEq)]
pub struct LedChange {
    pub at: Instant,
    /// `[status, countdown 1, countdown 2, ...]`, true = lit.
    pub leds: Vec<bool>,
    pub pattern: &'static str,
    /// The start of the take being counted down or recorded.
    pub start: Option<Instant>,
}

/// The output side of a backend. Setting the LEDs must not block: no network,
/// no disk (an ioctl on the chip, or a memory write in the simulation).
pub trait GpioLines: Send {
    fn set_leds(&mut self, change: &LedChange) -> io::Result<()>;
}

/// A backend opened: its LEDs, its button's edges, and for the simulation its handle.
pub struct Backend {
    pub lines: Box<dyn GpioLines>,
    pub edges: mpsc::Receiver<Edge>,
    pub sim: Option<sim::SimHandle>,
}

/// Names of the LEDs in the order of [`LedChange::leds`].
pub fn led_names(s: &GpioSettings) -> Vec<String> {
    let mut names = vec!["status".to_string()];
    names.extend((1..=s.countdown_leds.len()).map(|i| format!("countdown{i}")));
    names
}

/// Open the configured backend (`None` for backend "none"). Must run inside the
/// tokio runtime. The error names the chip and the line that are missing.
pub fn open(s: &GpioSettings) -> Result<Option<Backend>, GpioError> {
    match s.backend {
        GpioBackend::None => Ok(None),
        GpioBackend::Sim => {
            let (lines, edges, handle) = sim::backend(led_names(s));
            Ok(Some(Backend {
                lines: Box::new(lines),
                edges,
                sim: Some(handle),
            }))
        }
        GpioBackend::Chardev => {
            let (lines, edges) = chardev::open(s)?;
            Ok(Some(Backend {
                lines: Box::new(lines),
                edges,
                sim: None,
            }))
        }
    }
}
