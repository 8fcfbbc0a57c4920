//! The GPIO driver: one tokio task that shows the cycle on the LEDs and turns
//! button presses into commands. Its LED path reads only memory (the watched
//! status, the events) and the monotonic clock; the commands and the session
//! log lines for presses go through a second task, so an LED never waits on the
//! cycle, the network or the disk.

use super::button::{self, Action, Debouncer, Edge, Press};
use super::patterns::{self, Inputs, Layout};
use super::{GpioLines, LedChange};
use crate::config::GpioSettings;
use crate::control::cycle::{CycleStatus, Event};
use crate::control::cycle_worker::{CycleError, CycleSender};
use crate::control::health::Health;
use crate::control::status::Phase;
use crate::session_log_format::LogEvent;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

/// The last stretch before an LED change, waited on the thread for precision.
const PRECISE: Duration = Duration::from_millis(1);

pub struct Driver {
    pub lines: Box<dyn GpioLines>,
    pub edges: mpsc::Receiver<Edge>,
    pub settings: GpioSettings,
    pub status: watch::Receiver<CycleStatus>,
    pub events: broadcast::Receiver<Event>,
    pub health: Arc<Health>,
    pub cycle: CycleSender,
    pub shutdown: watch::Receiver<bool>,
}

fn inputs_from(st: &CycleStatus, mut inp: Inputs) -> Inputs {
    inp.phase = Some(st.phase);
    inp.start = st.start_instant;
    inp.end = st.end_instant;
    inp
}

fn recorders_down(health: &Health) -> bool {
    health.snapshot().iter().any(|r| !r.up)
}

/// A classified press on its way to the cycle.
struct Pressed {
    press: Press,
    kind: &'static str,
    action: Action,
    phase: Phase,
}

/// Log each press in the session log, then send its command.
async fn presses(mut rx: mpsc::Receiver<Pressed>, cycle: CycleSender) {
    while let Some(p) = rx.recv().await {
        let held_ms = p.press.held.as_millis() as u64;
        log::info!(target: "takebox::gpio", "button: {} press ({held_ms} ms) during {}: {}", p.kind, p.phase.label(), p.action.name());
        let line = LogEvent::Button {
            press: p.kind.into(),
            held_ms,
            phase: p.phase.name().into(),
            action: p.action.name().into(),
        };
        if cycle.log(line).await.is_err() {
            return;
        }
        if let Action::Command(cmd) = p.action {
            match cycle.command(cmd).await {
                Ok(()) => {}
                Err(CycleError::Stopped) => return,
                Err(CycleError::Refused(refused)) => {
                    log::info!(target: "takebox::gpio", "button: {} refused: {}", cmd.name(), refused.0);
                }
            }
        }
    }
}

/// The last stretch to `wake` after tokio's early wake-up, slept on the
/// thread: the instant the frame is due, or `None` when woken too early for
/// that (the loop waits again).
fn sleep_rest(wake: Instant) -> Option<Instant> {
    let rest = wake.saturating_duration_since(Instant::now());
    if rest > PRECISE {
        return None;
    }
    if !rest.is_zero() {
        std::thread::sleep(rest);
    }
    Some(wake)
}

/// What the LEDs show: a frame that changes nothing is not set again, and a
/// failing chip is logged once, not every frame.
#[derive(Default)]
struct Shown {
    last: Option<(Vec<bool>, &'static str)>,
    failing: bool,
}

impl Shown {
    fn show(&mut self, lines: &mut dyn GpioLines, change: LedChange) {
        if self.last.as_ref() == Some(&(change.leds.clone(), change.pattern)) {
            return;
        }
        match lines.set_leds(&change) {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                log::error!(target: "takebox::gpio", "LEDs: {e}");
            }
            Err(_) => {}
        }
        self.last = Some((change.leds, change.pattern));
    }
}

impl Driver {
    /// A press, with what it does in the cycle's phase now.
    fn classify(&self, press: Press, long: Duration) -> Pressed {
        let phase = self.status.borrow().phase;
        Pressed {
            press,
            kind: button::kind(press.held, long),
            action: button::classify(press.held, long, phase, self.settings.press_during_take),
            phase,
        }
    }

    pub async fn run(mut self) {
        let layout = Layout {
            countdown_leds: self.settings.countdown_leds.len(),
            style: self.settings.countdown_style,
        };
        let long = Duration::from_millis(self.settings.long_press_ms.into());
        let mut debounce = Debouncer::new(Duration::from_millis(self.settings.debounce_ms.into()));
        let (press_tx, press_rx) = mpsc::channel(8);
        let press_task = tokio::spawn(presses(press_rx, self.cycle.clone()));
        let epoch = Instant::now();
        let mut inp = inputs_from(&self.status.borrow_and_update(), Inputs::default());
        inp.recorders_down = recorders_down(&self.health);
        let mut shown = Shown::default();
        let mut edges_open = true;
        // Set after the precise wait below: the instant the frame is due.
        let mut due: Option<Instant> = None;
        loop {
            let now = due
                .take()
                .map_or_else(Instant::now, |d| Instant::now().max(d));
            let f = patterns::frame(&inp, &layout, epoch, now);
            shown.show(
                self.lines.as_mut(),
                LedChange {
                    at: now,
                    leds: f.leds,
                    pattern: f.pattern,
                    start: inp.start,
                },
            );
            let wake = debounce.deadline().map_or(f.next, |d| d.min(f.next));
            let mut pressed = None;
            // tokio's timer rounds up to whole milliseconds: wake a little early and
            // sleep the rest on the thread (well under a millisecond, a few times a
            // second), so an LED changes within a fraction of a ms of its instant.
            let early = wake.checked_sub(PRECISE).unwrap_or(wake).max(now);
            tokio::select! {
                _ = tokio::time::sleep_until(early) => {
                    due = sleep_rest(wake);
                    pressed = debounce.settle(due.unwrap_or_else(Instant::now));
                }
                r = self.status.changed() => {
                    if r.is_err() { break; }
                    inp = inputs_from(&self.status.borrow_and_update(), inp);
                }
                r = self.events.recv() => match r {
                    Ok(Event::Confirmed { verdict, .. }) => {
                        inp.flash = Some((verdict, Instant::now()));
                    }
                    Ok(Event::Recorders) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        inp.recorders_down = recorders_down(&self.health);
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                e = self.edges.recv(), if edges_open => match e {
                    Some(e) => pressed = debounce.edge(e),
                    None => {
                        log::error!(target: "takebox::gpio", "the button's events stopped; the LEDs go on");
                        edges_open = false;
                    }
                },
                _ = self.shutdown.changed() => break,
            }
            if let Some(press) = pressed
                && press_tx.try_send(self.classify(press, long)).is_err()
            {
                log::warn!(target: "takebox::gpio", "button: presses come faster than the cycle takes them; one dropped");
            }
        }
        let off = LedChange {
            at: Instant::now(),
            leds: vec![false; 1 + layout.countdown_leds],
            pattern: "off",
            start: None,
        };
        let _ = self.lines.set_leds(&off);
        drop(press_tx);
        let _ = press_task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GpioBackend;
    use crate::control::cycle::{Command, Request};
    use crate::control::gpio::{led_names, sim};
    use serde_json::Value;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// 3, 2, then 1 countdown LED lit a second apart, the status LED steady from
    /// the take's start instant for its second, then the verdict's signal.
    fn countdown_then_recording_on_time(j: &Value) {
        let changes = j["changes"].as_array().unwrap();
        let first = |p: &str| {
            changes
                .iter()
                .position(|c| c["pattern"] == p)
                .unwrap_or_else(|| panic!("no {p} in {j}"))
        };
        let (cd, rec, ok) = (first("countdown"), first("recording"), first("ok"));
        assert!(cd < rec && rec < ok, "{j}");
        let start_ms = changes[cd]["start_ms"].as_f64().unwrap();
        // Per second: 3, 2, then 1 countdown LED lit, then the status LED steady.
        let lit: Vec<Value> = changes[cd..rec].iter().map(|c| c["leds"].clone()).collect();
        assert_eq!(
            lit,
            vec![
                serde_json::json!([false, true, true, true]),
                serde_json::json!([false, true, true, false]),
                serde_json::json!([false, true, false, false]),
            ]
        );
        let t = |i: usize| changes[i]["t_ms"].as_f64().unwrap();
        assert!((t(cd + 1) - (start_ms - 2000.0)).abs() <= 1.0, "{j}");
        assert!(
            (t(rec) - start_ms).abs() <= 1.0,
            "recording at {} vs start {start_ms}",
            t(rec)
        );
        assert_eq!(
            changes[rec]["leds"],
            serde_json::json!([true, false, false, false])
        );
        assert_eq!(t(rec + 1), start_ms + 1000.0, "{j}");
        assert_eq!(changes[ok]["leds"][0], true);
    }

    #[tokio::test(start_paused = true)]
    async fn a_press_starts_a_take_whose_countdown_ends_on_its_start_instant() {
        let settings = GpioSettings {
            backend: GpioBackend::Sim,
            ..GpioSettings::default()
        };
        let (lines, edges, handle) = sim::backend(led_names(&settings));
        let armed = CycleStatus {
            phase: Phase::Armed,
            ..CycleStatus::default()
        };
        let (status_tx, status_rx) = watch::channel(armed.clone());
        let (events_tx, _) = broadcast::channel(16);
        let (cycle, mut req_rx) = CycleSender::channel();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let driver = tokio::spawn(
            Driver {
                lines: Box::new(lines),
                edges,
                settings,
                status: status_rx,
                events: events_tx.subscribe(),
                health: Arc::new(Health::new(&[])),
                cycle,
                shutdown: shutdown_rx,
            }
            .run(),
        );

        // A short press: its log line, then Start.
        handle.press(ms(200)).await.unwrap();
        let Some(Request::Log(line)) = req_rx.recv().await else {
            panic!("expected the press's log line first");
        };
        let press = |press: &str, held_ms, phase: &str, action: &str| LogEvent::Button {
            press: press.into(),
            held_ms,
            phase: phase.into(),
            action: action.into(),
        };
        assert_eq!(line, press("short", 200, "armed", "start"));
        let Some(Request::Command(Command::Start, reply)) = req_rx.recv().await else {
            panic!("expected Start");
        };
        reply.send(Ok(())).unwrap();

        // The cycle counts 3 s down to the take's start, records 1 s.
        let start = Instant::now() + ms(3000);
        let end = start + ms(1000);
        status_tx.send_replace(CycleStatus {
            phase: Phase::Countdown,
            start_instant: Some(start),
            end_instant: Some(end),
            ..CycleStatus::default()
        });
        // A press during the countdown is logged and ignored (the default policy).
        tokio::time::sleep(ms(500)).await;
        handle.press(ms(100)).await.unwrap();
        let Some(Request::Log(line)) = req_rx.recv().await else {
            panic!("expected the second press's log line");
        };
        assert_eq!(line, press("short", 100, "countdown", "ignored"));
        tokio::time::sleep_until(end + ms(50)).await;
        status_tx.send_replace(CycleStatus {
            phase: Phase::Waiting,
            start_instant: Some(start),
            end_instant: Some(end),
            ..CycleStatus::default()
        });
        tokio::time::sleep(ms(200)).await;
        events_tx
            .send(Event::Confirmed {
                take_id: "t".into(),
                verdict: crate::control::verdict::Disposition::Ok,
            })
            .unwrap();
        status_tx.send_replace(armed);
        tokio::time::sleep(ms(1000)).await;
        assert!(req_rx.try_recv().is_err(), "an ignored press sends nothing");

        countdown_then_recording_on_time(&handle.leds_json());

        shutdown_tx.send(true).unwrap();
        driver.await.unwrap();
        let j = handle.leds_json();
        let last = j["changes"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["pattern"], "off");
    }
}
