//! Clock offsets of the recorders, estimated from their status replies, so that
//! several recorders can be told one instant each on its own clock.
//!
//! A reply's `clock` is taken to be read halfway between sending the request and
//! receiving the answer, so a sample's error is at most half its round trip; the
//! better half of the recent samples (by round trip) is averaged, which also
//! evens out scheduling noise on either side.

use std::collections::VecDeque;

const SAMPLES: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct OffsetEstimator {
    /// (round trip, offset), seconds.
    samples: VecDeque<(f64, f64)>,
}

impl OffsetEstimator {
    /// `sent` and `received` on the board's clock, `remote` the recorder's clock,
    /// all in Unix seconds.
    pub fn add(&mut self, sent: f64, received: f64, remote: f64) {
        let rtt = (received - sent).max(0.0);
        let offset = remote - (sent + received) / 2.0;
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((rtt, offset));
    }

    /// Recorder clock minus board clock, seconds; None before the first reply.
    pub fn offset(&self) -> Option<f64> {
        let mut by_rtt: Vec<(f64, f64)> = self.samples.iter().copied().collect();
        by_rtt.sort_by(|a, b| a.0.total_cmp(&b.0));
        let best = &by_rtt[..by_rtt.len().div_ceil(2)];
        (!best.is_empty()).then(|| best.iter().map(|s| s.1).sum::<f64>() / best.len() as f64)
    }

    /// The shortest recent round trip: twice the best sample's worst-case error.
    pub fn best_rtt(&self) -> Option<f64> {
        self.samples
            .iter()
            .map(|s| s.0)
            .min_by(|a, b| a.total_cmp(b))
    }
}

/// The start instant on a recorder's clock for an instant on the board's clock.
pub fn to_recorder_clock(board_unix: f64, offset: Option<f64>) -> f64 {
    board_unix + offset.unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_round_trips_win() {
        let mut e = OffsetEstimator::default();
        assert_eq!(e.offset(), None);
        // The recorder runs 2.5 s ahead. Slow replies skew their samples.
        e.add(100.0, 100.4, 102.5 + 100.35 - 100.0);
        e.add(200.0, 200.002, 202.501);
        e.add(250.0, 250.002, 252.5012);
        e.add(300.0, 300.2, 302.5 + 0.15);
        let off = e.offset().unwrap();
        assert!((off - 2.5).abs() < 0.0002, "{off}");
        assert_eq!(e.best_rtt(), Some(200.002 - 200.0));
        assert!((to_recorder_clock(10.0, Some(off)) - 12.5).abs() < 0.001);
        assert_eq!(to_recorder_clock(10.0, None), 10.0);
    }

    #[test]
    fn old_samples_age_out() {
        let mut e = OffsetEstimator::default();
        e.add(0.0, 0.0001, 5.0);
        e.add(0.5, 0.5001, 5.5);
        for i in 1..=SAMPLES {
            e.add(i as f64, i as f64 + 0.01, i as f64 + 0.005 + 1.0);
        }
        assert!((e.offset().unwrap() - 1.0).abs() < 1e-9);
    }
}
