//! The GPIO driver: one tokio task that shows the cycle on the LEDs and turns
//! button presses into commands. Its LED path reads only memory (the watched
//! status, the events) and the monotonic clock; the commands and the session
//! log lines for presses go through a second task, so an LED never waits on the
//! cycle, the network or the disk.

use super::button::{self, Action, Debouncer, Edge, Press};
use super::patterns::{self, Flash, Inputs, Layout};
use super::{GpioLines, LedChange};
use crate::config::GpioSettings;
use crate::control::cycle::{CycleStatus, Event, Request};
use crate::control::health::Health;
use crate::control::status::Phase;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

pub struct Driver {
    pub lines: Box<dyn GpioLines>,
    pub edges: mpsc::Receiver<Edge>,
    pub settings: GpioSettings,
    pub status: watch::Receiver<CycleStatus>,
    pub events: broadcast::Receiver<Event>,
    pub health: Arc<Health>,
    pub requests: mpsc::Sender<Request>,
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
async fn presses(mut rx: mpsc::Receiver<Pressed>, requests: mpsc::Sender<Request>) {
    while let Some(p) = rx.recv().await {
        let held_ms = p.press.held.as_millis() as u64;
        log::info!(target: "takebox::gpio", "button: {} press ({held_ms} ms) during {}: {}", p.kind, p.phase.label(), p.action.name());
        let line = json!({"press": p.kind, "held_ms": held_ms, "phase": p.phase, "action": p.action.name()});
        if requests.send(Request::Log("button", line)).await.is_err() {
            return;
        }
        if let Action::Command(cmd) = p.action {
            let (tx, reply) = oneshot::channel();
            if requests.send(Request::Command(cmd, tx)).await.is_err() {
                return;
            }
            if let Ok(Err(refused)) = reply.await {
                log::info!(target: "takebox::gpio", "button: {} refused: {}", cmd.name(), refused.0);
            }
        }
    }
}

impl Driver {
    pub async fn run(mut self) {
        let layout = Layout {
            countdown_leds: self.settings.countdown_leds.len(),
            style: self.settings.countdown_style,
        };
        let long = Duration::from_millis(self.settings.long_press_ms.into());
        let mut debounce = Debouncer::new(Duration::from_millis(self.settings.debounce_ms.into()));
        let (press_tx, press_rx) = mpsc::channel(8);
        let press_task = tokio::spawn(presses(press_rx, self.requests.clone()));
        let epoch = Instant::now();
        let mut inp = inputs_from(&self.status.borrow_and_update(), Inputs::default());
        inp.recorders_down = recorders_down(&self.health);
        let mut shown: Option<(Vec<bool>, &'static str)> = None;
        let mut failing = false;
        let mut edges_open = true;
        loop {
            let now = Instant::now();
            let f = patterns::frame(&inp, &layout, epoch, now);
            if shown.as_ref() != Some(&(f.leds.clone(), f.pattern)) {
                let change = LedChange {
                    at: now,
                    leds: f.leds.clone(),
                    pattern: f.pattern,
                    start: inp.start,
                };
                match self.lines.set_leds(&change) {
                    Ok(()) => failing = false,
                    Err(e) if !failing => {
                        failing = true;
                        log::error!(target: "takebox::gpio", "LEDs: {e}");
                    }
                    Err(_) => {}
                }
                shown = Some((f.leds, f.pattern));
            }
            let wake = debounce.deadline().map_or(f.next, |d| d.min(f.next));
            let mut pressed = None;
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {
                    pressed = debounce.settle(Instant::now());
                }
                r = self.status.changed() => {
                    if r.is_err() { break; }
                    inp = inputs_from(&self.status.borrow_and_update(), inp);
                }
                r = self.events.recv() => match r {
                    Ok(Event::Confirmed { verdict, .. }) => {
                        inp.flash = Some((Flash::from_verdict(&verdict), Instant::now()));
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
            if let Some(press) = pressed {
                let phase = self.status.borrow().phase;
                let action =
                    button::classify(press.held, long, phase, self.settings.press_during_take);
                let p = Pressed {
                    press,
                    kind: button::kind(press.held, long),
                    action,
                    phase,
                };
                if press_tx.try_send(p).is_err() {
                    log::warn!(target: "takebox::gpio", "button: presses come faster than the cycle takes them; one dropped");
                }
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
