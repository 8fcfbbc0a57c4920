//! A log line that a flood would repeat thousands of times a second (refused
//! connections, failed accepts) is written once per window, with the count of
//! the ones held back.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LogThrottle {
    window: Duration,
    opened: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    pub const fn new(window: Duration) -> LogThrottle {
        LogThrottle {
            window,
            opened: None,
            suppressed: 0,
        }
    }

    /// Whether to write the line now; `Some(n)`: write it, saying that `n`
    /// like it were held back since the last one written.
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        match self.opened {
            Some(t) if now.duration_since(t) < self.window => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.opened = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_window_with_the_count_held_back() {
        let mut t = LogThrottle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.admit(t0), Some(0));
        for i in 1..=1000 {
            assert_eq!(t.admit(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(t.admit(t0 + Duration::from_secs(10)), Some(1000));
        assert_eq!(t.admit(t0 + Duration::from_secs(11)), None);
        assert_eq!(t.admit(t0 + Duration::from_secs(30)), Some(1));
    }
}
