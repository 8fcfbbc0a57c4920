//! Real-time pace for sources without a clock of their own (the generator,
//! alsa-lib's `file` plugin). The position is derived from the clock
//! (frames due = elapsed time × rate), never from counting sleeps, so a late
//! wake-up adds jitter but no drift.

use std::time::{Duration, Instant};

pub struct Pacer {
    start: Instant,
    rate: u64,
    /// Frames handed out so far.
    counted: u64,
}

impl Pacer {
    pub fn new(rate: u32) -> Pacer {
        Pacer {
            start: Instant::now(),
            rate: u64::from(rate.max(1)),
            counted: 0,
        }
    }

    /// Frames the clock says have been captured since the start.
    pub fn due(&self) -> u64 {
        (self.start.elapsed().as_nanos() * u128::from(self.rate) / 1_000_000_000) as u64
    }

    /// Frames due but not handed out yet: a device's buffer fill.
    pub fn behind(&self) -> u64 {
        self.due().saturating_sub(self.counted)
    }

    /// Count `frames` as handed out.
    pub fn count(&mut self, frames: u64) {
        self.counted += frames;
    }

    /// Sleep until every frame counted so far is due.
    pub fn wait(&self) {
        let at = self.start
            + Duration::from_nanos(
                (u128::from(self.counted) * 1_000_000_000 / u128::from(self.rate)) as u64,
            );
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
    }

    /// Forget the frames due but not handed out, as a device's overrun loses
    /// them; returns how many that was.
    pub fn drop_backlog(&mut self) -> u64 {
        let lost = self.behind();
        self.counted += lost;
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::Pacer;

    #[test]
    fn waiting_reaches_what_was_counted_and_a_backlog_can_be_dropped() {
        let mut p = Pacer::new(48_000);
        p.count(480);
        p.wait();
        assert!(p.due() >= 480, "{}", p.due());
        assert_eq!(p.behind(), p.due() - 480);
        // The clock runs on past what was counted; that backlog is let go.
        let due = p.due();
        let lost = p.drop_backlog();
        assert!(lost + 480 >= due, "lost {lost} of {due}");
        assert!(p.behind() < 48, "{}", p.behind());
    }
}
