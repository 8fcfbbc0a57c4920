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
use std::io;
use tokio::sync::mpsc;
use tokio::time::Instant;

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
pub fn open(s: &GpioSettings) -> Result<Option<Backend>, String> {
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
