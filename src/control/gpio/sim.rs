//! The simulated backend: LED changes kept in memory with their monotonic
//! times, presses injected as edges (over `POST /api/v1/gpio/press`, or by
//! `takebox button press`).

use super::button::Edge;
use super::{GpioError, GpioLines, LedChange};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Changes kept; older ones are dropped (the idle heartbeat runs for days under `make run`).
pub const KEEP: usize = 10_000;

pub struct SimLines {
    log: Arc<Mutex<VecDeque<LedChange>>>,
}

impl GpioLines for SimLines {
    fn set_leds(&mut self, change: &LedChange) -> io::Result<()> {
        let mut log = self
            .log
            .lock()
            .map_err(|_| io::Error::other("LED log lock poisoned"))?;
        if log.len() == KEEP {
            log.pop_front();
        }
        log.push_back(change.clone());
        Ok(())
    }
}

/// What the web layer holds: press the button, read the LEDs back.
#[derive(Clone)]
pub struct SimHandle {
    epoch: Instant,
    names: Vec<String>,
    log: Arc<Mutex<VecDeque<LedChange>>>,
    edges: mpsc::Sender<Edge>,
}

pub fn backend(names: Vec<String>) -> (SimLines, mpsc::Receiver<Edge>, SimHandle) {
    let log = Arc::new(Mutex::new(VecDeque::new()));
    let (tx, rx) = mpsc::channel(64);
    let handle = SimHandle {
        epoch: Instant::now(),
        names,
        log: log.clone(),
        edges: tx,
    };
    (SimLines { log }, rx, handle)
}

impl SimHandle {
    /// Press for `held`, then release; returns once released.
    pub async fn press(&self, held: Duration) -> Result<(), GpioError> {
        let gone = |_| GpioError::DriverStopped;
        let at = Instant::now();
        self.edges
            .send(Edge { pressed: true, at })
            .await
            .map_err(gone)?;
        tokio::time::sleep_until(at + held).await;
        self.edges
            .send(Edge {
                pressed: false,
                at: at + held,
            })
            .await
            .map_err(gone)
    }

    fn ms(&self, t: Instant) -> f64 {
        let d = t.saturating_duration_since(self.epoch).as_secs_f64()
            - self.epoch.saturating_duration_since(t).as_secs_f64();
        (d * 1e6).round() / 1e3
    }

    /// `{"names": [...], "now_ms": .., "changes": [{"t_ms", "leds", "pattern", "start_ms"}]}`,
    /// times in milliseconds on the monotonic clock since the backend opened.
    pub fn leds_json(&self) -> Value {
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        let changes: Vec<Value> = log
            .iter()
            .map(|c| {
                json!({"t_ms": self.ms(c.at), "leds": c.leds, "pattern": c.pattern,
                       "start_ms": c.start.map(|s| self.ms(s))})
            })
            .collect();
        json!({"names": self.names, "now_ms": self.ms(Instant::now()), "changes": changes})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_press_is_two_edges_and_leds_read_back_with_their_times() {
        let (mut lines, mut edges, handle) = backend(vec!["status".into(), "countdown1".into()]);
        let t0 = handle.epoch;
        let h = handle.clone();
        let press = tokio::spawn(async move { h.press(Duration::from_millis(200)).await });
        let down = edges.recv().await.unwrap();
        let up = edges.recv().await.unwrap();
        press.await.unwrap().unwrap();
        assert!(down.pressed && !up.pressed);
        assert_eq!(up.at - down.at, Duration::from_millis(200));
        lines
            .set_leds(&LedChange {
                at: t0 + Duration::from_micros(1500),
                leds: vec![true, false],
                pattern: "recording",
                start: Some(t0 + Duration::from_millis(1)),
            })
            .unwrap();
        let j = handle.leds_json();
        assert_eq!(j["names"], json!(["status", "countdown1"]));
        assert_eq!(
            j["changes"],
            json!([{"t_ms": 1.5, "leds": [true, false], "pattern": "recording", "start_ms": 1.0}])
        );
    }
}
