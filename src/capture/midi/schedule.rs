//! When a MIDI take's messages go out, as arithmetic on nanoseconds since
//! the Unix epoch (the capture timeline's clock): no sequencer, no sleeping.

use crate::dsp::{db_to_gain, gain_to_db};
use std::time::Duration;

/// Least time between deciding a take's start and its note-on: the command
/// is planned, the note-on thread started and woken in that time.
pub const MARGIN: Duration = Duration::from_millis(150);

/// Quietest level the silence wait waits for (dBFS): a digital-silence floor
/// (a software synth) would otherwise wait for the release's last bit.
pub const QUIET_FLOOR_DBFS: f64 = -80.0;
/// Level taken as quiet before any pre-roll has been measured (dBFS).
pub const UNKNOWN_FLOOR_DBFS: f64 = -60.0;
/// How far above the pre-roll's noise peak counts as quiet (dB).
pub const QUIET_MARGIN_DB: f64 = 6.0;

/// When the note-on and note-off go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteTimes {
    pub on_ns: u64,
    pub off_ns: u64,
}

/// The take's start (`start_at`) given what the board asked: never before
/// `asked`, and late enough that a note-on sent `latency_ns` early is still
/// `MARGIN` ahead of `now_ns`. Returns nanoseconds since the epoch.
pub fn start_ns(asked: Option<u64>, now_ns: u64, latency_ns: i64) -> u64 {
    let margin = MARGIN.as_nanos() as u64;
    let earliest = now_ns
        .saturating_add(margin)
        .saturating_add_signed(latency_ns.max(0));
    asked.unwrap_or(0).max(earliest)
}

/// Note-on `latency_ns` before the sound should start, note-off `duration`
/// after the sound started (so the note sounds for the whole duration).
pub fn note_times(start_ns: u64, latency_ns: i64, duration: Duration) -> NoteTimes {
    let on_ns = start_ns.saturating_add_signed(-latency_ns);
    NoteTimes {
        on_ns,
        off_ns: on_ns.saturating_add(duration.as_nanos() as u64),
    }
}

/// Latency in nanoseconds from milliseconds (a stored calibration).
pub fn latency_ns(ms: f64) -> i64 {
    (ms * 1e6).round() as i64
}

/// The latency a calibration take leads to: the one used, plus how late the
/// sound came (`onset_ms` against `start_at`).
pub fn calibrated_ms(used_ms: f64, onset_ms: f64) -> f64 {
    ((used_ms + onset_ms) * 1000.0).round() / 1000.0
}

/// How many of a port's latest takes its latency follows: one take's onset
/// can be a cold synth's first note or a hiccup, a few outvote it.
pub const TRACKED_TAKES: usize = 5;

/// The lower median: of two, the smaller (the calibration's cold first note
/// is the later one).
pub fn lower_median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

/// Longest latency a calibration may store, ms: beyond it the onset found
/// was not this note's (or the capture clock jumped).
pub const MAX_LATENCY_MS: f64 = 2000.0;

/// A measured latency that can be real: the sound never comes before its
/// note-on, and not seconds after it.
pub fn plausible_latency(ms: f64) -> bool {
    (0.0..=MAX_LATENCY_MS).contains(&ms)
}

/// The peak (linear, full scale 1) below which the input counts as quiet,
/// from the last pre-roll's noise peak (`None`: not measured yet).
pub fn quiet_threshold(noise_peak: Option<f32>) -> f32 {
    let db = match noise_peak {
        Some(p) if p > 0.0 => (gain_to_db(f64::from(p)) + QUIET_MARGIN_DB).max(QUIET_FLOOR_DBFS),
        Some(_) => QUIET_FLOOR_DBFS,
        None => UNKNOWN_FLOOR_DBFS,
    };
    db_to_gain(db) as f32
}

/// Seconds kept after the note: the configured tail, or the instrument's
/// release when that is longer.
pub fn tail_seconds(configured: f64, release_seconds: f64) -> f64 {
    configured.max(release_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn the_note_on_leads_the_sound_by_the_latency() {
        let t = note_times(100 * S, 12_500_000, Duration::from_secs(2));
        assert_eq!(t.on_ns, 100 * S - 12_500_000);
        assert_eq!(t.off_ns - t.on_ns, 2 * S);
        // A negative latency (the sound came early) sends the note-on late.
        assert_eq!(
            note_times(100 * S, -1_000_000, Duration::ZERO).on_ns,
            100 * S + 1_000_000
        );
    }

    #[test]
    fn a_start_too_soon_is_moved_just_far_enough() {
        let now = 50 * S;
        let lat = 20_000_000;
        let earliest = now + MARGIN.as_nanos() as u64 + lat as u64;
        // Asked for the past, or nothing: the earliest that leaves the margin.
        assert_eq!(start_ns(Some(now - S), now, lat), earliest);
        assert_eq!(start_ns(None, now, lat), earliest);
        // Asked far enough ahead: kept exactly.
        assert_eq!(start_ns(Some(now + 3 * S), now, lat), now + 3 * S);
        // Whatever the start, the note-on is MARGIN ahead of now.
        let on = note_times(start_ns(Some(now), now, lat), lat, Duration::ZERO).on_ns;
        assert_eq!(on, now + MARGIN.as_nanos() as u64);
    }

    #[test]
    fn calibration_adds_the_measured_lateness() {
        assert_eq!(calibrated_ms(0.0, 11.604), 11.604);
        assert_eq!(calibrated_ms(11.604, -0.2), 11.404);
        assert_eq!(latency_ns(11.404), 11_404_000);
        assert!(plausible_latency(0.0) && plausible_latency(145.9));
        assert!(!plausible_latency(-463.9) && !plausible_latency(5000.0));
    }

    #[test]
    fn quiet_sits_above_the_noise_and_never_below_the_floor() {
        let db = |x: f32| 20.0 * f64::from(x).log10();
        assert!((db(quiet_threshold(Some(0.001))) - (-54.0)).abs() < 0.01);
        assert!((db(quiet_threshold(Some(0.0))) - QUIET_FLOOR_DBFS).abs() < 0.01);
        assert!((db(quiet_threshold(Some(1e-7))) - QUIET_FLOOR_DBFS).abs() < 0.01);
        assert!((db(quiet_threshold(None)) - UNKNOWN_FLOOR_DBFS).abs() < 0.01);
        assert_eq!(tail_seconds(1.0, 2.5), 2.5);
    }
}
