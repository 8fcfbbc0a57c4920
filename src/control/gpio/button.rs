//! The button, as pure functions of its edges and their monotonic times: a
//! software debounce (the kernel's where the chip has one makes it a no-op) and
//! the press classifier that turns a press into a [`Command`] for the cycle.

use crate::config::PressDuringTake;
use crate::control::cycle::Command;
use crate::control::status::Phase;
use std::time::Duration;
use tokio::time::Instant;

/// A change of the button's (logical) level: pressed or released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub pressed: bool,
    pub at: Instant,
}

/// A whole press: when it went down and how long it was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Press {
    pub at: Instant,
    pub held: Duration,
}

/// A level change is taken only when the level has kept still for `period`
/// since the last accepted one; a press shorter than `period` is a glitch.
#[derive(Debug)]
pub struct Debouncer {
    period: Duration,
    level: bool,
    changed_at: Option<Instant>,
    down_at: Option<Instant>,
    /// The raw level differs from `level` since this instant (a bounce, or a
    /// change that came too soon after the last one).
    pending: Option<Edge>,
}

impl Debouncer {
    pub fn new(period: Duration) -> Debouncer {
        Debouncer {
            period,
            level: false,
            changed_at: None,
            down_at: None,
            pending: None,
        }
    }

    pub fn edge(&mut self, e: Edge) -> Option<Press> {
        if e.pressed == self.level {
            self.pending = None;
            return None;
        }
        if self
            .changed_at
            .is_some_and(|c| e.at.saturating_duration_since(c) < self.period)
        {
            self.pending = Some(e);
            return None;
        }
        self.accept(e)
    }

    /// When [`Debouncer::settle`] should be called, if a change is pending.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending.and(self.changed_at).map(|c| c + self.period)
    }

    /// Take a pending change once the level has kept still long enough.
    pub fn settle(&mut self, now: Instant) -> Option<Press> {
        match (self.pending, self.deadline()) {
            (Some(e), Some(d)) if now >= d => {
                self.pending = None;
                self.accept(e)
            }
            _ => None,
        }
    }

    fn accept(&mut self, e: Edge) -> Option<Press> {
        self.level = e.pressed;
        self.changed_at = Some(e.at);
        if e.pressed {
            self.down_at = Some(e.at);
            return None;
        }
        let down = self.down_at.take()?;
        let held = e.at.saturating_duration_since(down);
        (held >= self.period).then_some(Press { at: down, held })
    }
}

/// What a press does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Command(Command),
    /// Pressed during a take with the policy `ignore`.
    Ignored,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Command(c) => c.name(),
            Action::Ignored => "ignored",
        }
    }
}

/// Short: start the next take; long: record the last one again; during a
/// countdown, a recording or its confirmation: as `policy` says.
pub fn classify(held: Duration, long: Duration, phase: Phase, policy: PressDuringTake) -> Action {
    if matches!(phase, Phase::Countdown | Phase::Recording | Phase::Waiting) {
        return match policy {
            PressDuringTake::Ignore => Action::Ignored,
            PressDuringTake::Abort => Action::Command(Command::Abort),
        };
    }
    if held >= long {
        Action::Command(Command::Retake)
    } else {
        Action::Command(Command::Start)
    }
}

pub fn kind(held: Duration, long: Duration) -> &'static str {
    if held >= long { "long" } else { "short" }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feed (ms, pressed) edges, settling between them as the driver does.
    fn presses(period: u64, edges: &[(u64, bool)]) -> Vec<(u64, u64)> {
        let t0 = Instant::now();
        let mut d = Debouncer::new(ms(period));
        let mut out = Vec::new();
        let mut push = |p: Option<Press>| {
            if let Some(p) = p {
                out.push(((p.at - t0).as_millis() as u64, p.held.as_millis() as u64));
            }
        };
        for &(t, pressed) in edges {
            let at = t0 + ms(t);
            while let Some(dl) = d.deadline().filter(|dl| *dl <= at) {
                push(d.settle(dl));
            }
            push(d.edge(Edge { pressed, at }));
        }
        while let Some(dl) = d.deadline() {
            push(d.settle(dl));
        }
        out
    }

    #[test]
    fn bounces_within_the_debounce_period_make_one_press() {
        let bouncy = [
            (0, true),
            (2, false),
            (4, true),
            (7, false),
            (9, true),
            (300, false),
            (303, true),
            (305, false),
        ];
        assert_eq!(presses(20, &bouncy), vec![(0, 300)]);
    }

    #[test]
    fn a_press_hidden_in_the_debounce_period_is_taken_when_the_level_settles() {
        // Pressed again 10 ms after a release: too soon to take at once, taken
        // when the period is over, timed from its own edge.
        assert_eq!(
            presses(20, &[(0, true), (100, false), (110, true), (400, false)]),
            vec![(0, 100), (110, 290)]
        );
    }

    #[test]
    fn a_glitch_shorter_than_the_period_is_no_press() {
        assert_eq!(presses(20, &[(0, true), (5, false)]), vec![]);
        assert_eq!(presses(20, &[(0, true), (25, false)]), vec![(0, 25)]);
    }

    #[test]
    fn short_starts_long_retakes_and_a_press_during_a_take_follows_the_policy() {
        let long = ms(1500);
        use PressDuringTake::*;
        assert_eq!(
            classify(ms(200), long, Phase::Armed, Ignore),
            Action::Command(Command::Start)
        );
        assert_eq!(
            classify(ms(1499), long, Phase::Paused, Ignore),
            Action::Command(Command::Start)
        );
        assert_eq!(
            classify(ms(1500), long, Phase::Armed, Ignore),
            Action::Command(Command::Retake)
        );
        for phase in [Phase::Countdown, Phase::Recording, Phase::Waiting] {
            assert_eq!(classify(ms(200), long, phase, Ignore), Action::Ignored);
            assert_eq!(classify(ms(2000), long, phase, Ignore), Action::Ignored);
            assert_eq!(
                classify(ms(200), long, phase, Abort),
                Action::Command(Command::Abort)
            );
        }
        assert_eq!(
            (kind(ms(1499), long), kind(ms(1500), long)),
            ("short", "long")
        );
    }
}
