//! The board's backend: the kernel's GPIO character device (uAPI v2) through
//! `gpiocdev`. Thin on purpose: open the lines, set values, turn edge events
//! into [`Edge`]s. Everything else is in the hardware-free modules.

use super::button::Edge;
use super::{GpioLines, LedChange};
use crate::config::{GpioBias, GpioLine, GpioSettings, LineId};
use gpiocdev::Request;
use gpiocdev::chip::Chip;
use gpiocdev::line::{Bias, EdgeDetection, EdgeKind, Offset, Value, Values};
use gpiocdev::tokio::AsyncRequest;
use std::io;
use std::path::PathBuf;
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
fn find_chip(name: &str) -> Result<Chip, String> {
    if name.starts_with('/') {
        return Chip::from_path(name).map_err(|e| format!("GPIO chip {name}: {e}"));
    }
    let paths = gpiocdev::chip::chips().map_err(|e| {
        format!("GPIO chip labelled {name:?}: no GPIO chips here ({e}); is /dev/gpiochip* present?")
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
    Err(format!(
        "GPIO chip labelled {name:?} not found; chips here: {}",
        if seen.is_empty() {
            "none (no /dev/gpiochip* is there, or none can be opened)".to_string()
        } else {
            seen.join(", ")
        }
    ))
}

fn offset(chip: &Chip, chip_name: &str, what: &str, line: &GpioLine) -> Result<Offset, String> {
    let info = chip
        .info()
        .map_err(|e| format!("GPIO chip {chip_name}: {e}"))?;
    match &line.line {
        LineId::Offset(o) if *o < info.num_lines => Ok(*o),
        LineId::Offset(o) => Err(format!(
            "GPIO chip {chip_name}: {what} line offset {o} does not exist (the chip has {} lines)",
            info.num_lines
        )),
        LineId::Name(n) => chip
            .find_line_info(n)
            .map(|i| i.offset)
            .ok_or_else(|| format!("GPIO chip {chip_name}: no {what} line named {n:?}")),
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
pub fn open(s: &GpioSettings) -> Result<(ChardevLines, mpsc::Receiver<Edge>), String> {
    let chip = find_chip(&s.chip).map_err(|e| {
        let leds: Vec<String> = std::iter::once(&s.status_led)
            .chain(&s.countdown_leds)
            .map(|l| l.line.to_string())
            .collect();
        format!(
            "{e} (wanted for the button on line {} and the LEDs on lines {})",
            s.button.line,
            leds.join(", ")
        )
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

    let input = |debounce: bool| {
        let mut b = Request::builder();
        b.on_chip(&path)
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
    let request = match input(true) {
        Ok(r) => r,
        Err(e) => {
            // Not every chip debounces in the kernel; the software debounce stays.
            let r = input(false).map_err(|e| {
                format!("GPIO chip {chip_name}: button line {}: {e}", s.button.line)
            })?;
            log::warn!(target: "takebox::gpio", "{chip_name}: no kernel debounce ({e}); debouncing in software");
            r
        }
    };

    let mut out = Request::builder();
    out.on_chip(&path).with_consumer(CONSUMER);
    let lines = std::iter::once(&s.status_led).chain(&s.countdown_leds);
    for (o, l) in leds.iter().zip(lines) {
        out.with_line(*o).as_output(Value::Inactive);
        if l.active_low {
            out.as_active_low();
        } else {
            out.as_active_high();
        }
    }
    let out = out
        .request()
        .map_err(|e| format!("GPIO chip {chip_name}: LED lines {leds:?}: {e}"))?;

    let (tx, rx) = mpsc::channel(64);
    let events = AsyncRequest::new(request);
    tokio::spawn(async move {
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
    });
    log::info!(target: "takebox::gpio", "{chip_name}: button on line {button}, LEDs on lines {leds:?}");
    Ok((
        ChardevLines {
            request: out,
            offsets: leds,
        },
        rx,
    ))
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
        let e = open(&s).err().unwrap();
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
        let e = open(&s).err().unwrap();
        assert!(e.contains("\"no-such-label\""), "{e}");
    }
}
