//! The board's backend: the kernel's GPIO character device (uAPI v2) through
//! `gpiocdev`. Thin on purpose: open the lines, set values, turn edge events
//! into [`Edge`]s. Everything else is in the hardware-free modules.

use super::button::Edge;
use super::{GpioError, GpioLines, LedChange};
use crate::config::{GpioBias, GpioLine, GpioSettings, LineId};
use gpiocdev::Request;
use gpiocdev::chip::Chip;
use gpiocdev::line::{Bias, EdgeDetection, EdgeKind, Offset, Value, Values};
use gpiocdev::tokio::AsyncRequest;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub const CONSUMER: &str = "takebox-control";

pub struct ChardevLines {
    request: Request,
    offsets: Vec<Offset>,
}

impl GpioLines for ChardevLines {
    fn set_leds(&mut self, change: &LedChange) -> io::Result<()> {
        let mut values = Values::default();
        for (o, on) in self.offsets.iter().zip(&change.leds) {
            values.set(*o, Value::from(*on));
        }
        self.request
            .set_values(&values)
            .map_err(|e| io::Error::other(format!("setting the LEDs: {e}")))
    }
}

/// The chip by path, or the one whose label is `name`.
fn find_chip(name: &str) -> Result<Chip, GpioError> {
    if name.starts_with('/') {
        return Chip::from_path(name).map_err(|source| GpioError::OpenChip {
            chip: name.to_string(),
            source,
        });
    }
    let paths = gpiocdev::chip::chips().map_err(|source| GpioError::NoChips {
        label: name.to_string(),
        source,
    })?;
    let mut seen = Vec::new();
    for p in paths {
        if let Ok(chip) = Chip::from_path(&p)
            && let Ok(info) = chip.info()
        {
            if info.label == name {
                return Ok(chip);
            }
            seen.push(format!("{} ({})", p.display(), info.label));
        }
    }
    Err(GpioError::ChipNotFound {
        label: name.to_string(),
        seen,
    })
}

fn offset(chip: &Chip, chip_name: &str, what: &str, line: &GpioLine) -> Result<Offset, GpioError> {
    let info = chip.info().map_err(|source| GpioError::ChipInfo {
        chip: chip_name.to_string(),
        source,
    })?;
    match &line.line {
        LineId::Offset(o) if *o < info.num_lines => Ok(*o),
        LineId::Offset(o) => Err(GpioError::NoSuchOffset {
            chip: chip_name.to_string(),
            what: what.to_string(),
            offset: *o,
            lines: info.num_lines,
        }),
        LineId::Name(n) => {
            chip.find_line_info(n)
                .map(|i| i.offset)
                .ok_or_else(|| GpioError::NoSuchName {
                    chip: chip_name.to_string(),
                    what: what.to_string(),
                    name: n.clone(),
                })
        }
    }
}

/// The monotonic instant of a kernel event timestamp (CLOCK_MONOTONIC, ns).
fn instant_of(timestamp_ns: u64) -> Instant {
    let now = Instant::now();
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return now;
    }
    let mono_ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
    now - Duration::from_nanos(mono_ns.saturating_sub(timestamp_ns))
}

/// Open the button and the LEDs. Must run inside the tokio runtime.
pub fn open(s: &GpioSettings) -> Result<(ChardevLines, mpsc::Receiver<Edge>), GpioError> {
    let chip = find_chip(&s.chip).map_err(|error| GpioError::ChipWanted {
        error: Box::new(error),
        button: s.button.line.to_string(),
        leds: std::iter::once(&s.status_led)
            .chain(&s.countdown_leds)
            .map(|l| l.line.to_string())
            .collect(),
    })?;
    let path: PathBuf = chip.path().to_path_buf();
    let chip_name = format!("{} ({})", s.chip, path.display());
    let button = offset(&chip, &chip_name, "button", &s.button)?;
    let mut leds = vec![offset(&chip, &chip_name, "status LED", &s.status_led)?];
    for (i, l) in s.countdown_leds.iter().enumerate() {
        leds.push(offset(
            &chip,
            &chip_name,
            &format!("countdown LED {}", i + 1),
            l,
        )?);
    }
    let input = request_button(s, &path, &chip_name, button)?;
    let out = request_leds(s, &path, &chip_name, &leds)?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(forward_edges(AsyncRequest::new(input), tx));
    log::info!(target: "takebox::gpio", "{chip_name}: button on line {button}, LEDs on lines {leds:?}");
    Ok((
        ChardevLines {
            request: out,
            offsets: leds,
        },
        rx,
    ))
}

/// The button's line: an input with both edges, the kernel's debounce where
/// the chip has one.
fn request_button(
    s: &GpioSettings,
    path: &Path,
    chip_name: &str,
    button: Offset,
) -> Result<Request, GpioError> {
    let input = |debounce: bool| {
        let mut b = Request::builder();
        b.on_chip(path)
            .with_consumer(CONSUMER)
            .with_line(button)
            .as_input()
            .with_bias(match s.bias {
                GpioBias::PullUp => Bias::PullUp,
                GpioBias::PullDown => Bias::PullDown,
                GpioBias::Disabled => Bias::Disabled,
            })
            .with_edge_detection(EdgeDetection::BothEdges);
        if s.button.active_low {
            b.as_active_low();
        }
        if debounce {
            b.with_debounce_period(Duration::from_millis(s.debounce_ms.into()));
        }
        b.request()
    };
    match input(true) {
        Ok(r) => Ok(r),
        Err(e) => {
            // Not every chip debounces in the kernel; the software debounce stays.
            let r = input(false).map_err(|source| GpioError::ButtonLine {
                chip: chip_name.to_string(),
                line: s.button.line.to_string(),
                source,
            })?;
            log::warn!(target: "takebox::gpio", "{chip_name}: no kernel debounce ({e}); debouncing in software");
            Ok(r)
        }
    }
}

/// The LEDs' lines, outputs starting dark.
fn request_leds(
    s: &GpioSettings,
    path: &Path,
    chip_name: &str,
    leds: &[Offset],
) -> Result<Request, GpioError> {
    let mut out = Request::builder();
    out.on_chip(path).with_consumer(CONSUMER);
    let lines = std::iter::once(&s.status_led).chain(&s.countdown_leds);
    for (o, l) in leds.iter().zip(lines) {
        out.with_line(*o).as_output(Value::Inactive);
        if l.active_low {
            out.as_active_low();
        } else {
            out.as_active_high();
        }
    }
    out.request().map_err(|source| GpioError::LedLines {
        chip: chip_name.to_string(),
        offsets: leds.to_vec(),
        source,
    })
}

/// The button's edge events as [`Edge`]s, until the driver stops listening.
async fn forward_edges(events: AsyncRequest, tx: mpsc::Sender<Edge>) {
    loop {
        match events.read_edge_event().await {
            Ok(e) => {
                let edge = Edge {
                    pressed: e.kind == EdgeKind::Rising,
                    at: instant_of(e.timestamp_ns),
                };
                if tx.send(edge).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                log::error!(target: "takebox::gpio", "button: reading edge events: {e}; the button is off");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_chip_is_named() {
        let s = GpioSettings {
            chip: "/nonexistent/gpiochip9".into(),
            ..GpioSettings::default()
        };
        let e = open(&s).err().unwrap().to_string();
        assert!(e.contains("/nonexistent/gpiochip9"), "{e}");
        assert!(e.contains("button on line offset 20"), "{e}");
        assert!(
            e.contains("LEDs on lines offset 21, offset 22, offset 23, offset 49"),
            "{e}"
        );
        let s = GpioSettings {
            chip: "no-such-label".into(),
            ..GpioSettings::default()
        };
        let e = open(&s).err().unwrap().to_string();
        assert!(e.contains("\"no-such-label\""), "{e}");
    }
}
