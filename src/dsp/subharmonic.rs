//! A note whose waveform repeats every 2, 3 or 4 periods of its key: an
//! organ registration with a 16' (or 32', or 10 2/3' quint) stop, a synth
//! patch with a sub oscillator. Its strongest period is below the key, so the
//! search around the planned note finds nothing periodic; yet its harmonic at
//! the key is exact (a harmonic of a periodic waveform), and a sampler maps it
//! by that key.
//!
//! [`find_subharmonic`] measures the normalized correlation at 1, 2, 3 and 4
//! key periods (each ±100 cents, refined to a fraction of a lag as in
//! [`super::pitch`]) and takes the shortest multiple clearly more periodic
//! than the key period itself; then the amplitudes of the waveform's
//! harmonics (Hann-windowed, at the exact multiples of the period found).
//!
//! Whether that reading stands for the key depends on who played it
//! ([`Player`]): a synth driven by MIDI played exactly the planned key, so a
//! key harmonic within [`MIDI_MIN_KEY_DB`] of the strongest partial is
//! enough. A live player may have played the wrong octave, whose harmonic
//! series also holds the key's frequency: a live take reads at its key only
//! when the key's harmonic is the strongest partial and the partials of the
//! lower series above it are weak ([`LIVE_MAX_UPPER_SUB_DB`]), as in a 16'
//! flue stop under an 8' (an instrument an octave low has its 3rd, 5th...
//! harmonics there).

use super::frames::without_mean;
use super::pitch::{HALF, Lags};

/// Multiples of the key period tried: 2 (an octave below: 16'), 3 (an octave
/// and a fifth: a 10 2/3' quint), 4 (two octaves: 32').
pub const MAX_SUBHARMONIC: u8 = 4;
/// Each multiple is searched within ±this.
const SEARCH_CENTS: f64 = 100.0;
/// The waveform must correlate at least this well over its period ...
const MIN_CLARITY: f64 = 0.6;
/// ... and this much better than over one key period.
const CLEARER_BY: f64 = 0.1;
/// A waveform that repeats every 2 key periods also repeats every 4: the
/// shortest multiple within this of the clearest is taken.
const TIE: f64 = 0.05;
/// A MIDI take's key harmonic may be this far under the strongest partial
/// (the GM drawbar organ of FluidR3 has its key harmonic 2 to 18 dB under
/// a 16' or 32' component).
pub const MIDI_MIN_KEY_DB: f64 = -24.0;
/// A live take's key harmonic must be the strongest partial (within this) ...
pub const LIVE_MIN_KEY_DB: f64 = -1.0;
/// ... and every partial of the lower series above it this far under it.
pub const LIVE_MAX_UPPER_SUB_DB: f64 = -12.0;
/// No waveform fundamental under this is looked for: C0, the lowest pipe of
/// a 32' stop (16.35 Hz). It also bounds the cost: an A0 take would
/// otherwise correlate over lags of 0.3 s.
const LOWEST_HZ: f64 = 16.0;
/// Shortest summation window, at 48 kHz.
const MIN_WINDOW_48K: f64 = 4096.0;

/// Who played the note: how far the check may trust that a sound repeating
/// below the key is the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Player {
    /// A person, who can play the wrong octave.
    #[default]
    Live,
    /// A synth driven by MIDI with exactly the planned key, or an instrument
    /// whose registration sounds below its key by design (instruments.json
    /// `sounds_below_key`): a sound below the key is not the wrong octave.
    Midi,
}

/// A waveform that repeats every `k` key periods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Subharmonic {
    /// Key periods per waveform period (2, 3 or 4).
    pub k: u8,
    /// The waveform's own fundamental, Hz (`k` times it is the key's harmonic).
    pub hz: f64,
    /// Normalized correlation over the waveform period.
    pub clarity: f64,
    /// The key's harmonic against the strongest partial, dB (0: it is the
    /// strongest).
    pub key_db: f64,
    /// The strongest partial of the lower series above the key's harmonic,
    /// against the key's harmonic, dB (`-inf`: none).
    pub upper_sub_db: f64,
}

impl Subharmonic {
    /// The key's harmonic, Hz.
    pub fn key_hz(&self) -> f64 {
        self.hz * f64::from(self.k)
    }

    /// Does this reading stand for the key, for a note `player` played?
    pub fn is_the_key(&self, player: Player) -> bool {
        match player {
            Player::Midi => self.key_db >= MIDI_MIN_KEY_DB,
            Player::Live => {
                self.key_db >= LIVE_MIN_KEY_DB && self.upper_sub_db <= LIVE_MAX_UPPER_SUB_DB
            }
        }
    }

    /// "an octave below": where the waveform's fundamental is.
    pub fn interval(&self) -> &'static str {
        interval(self.k)
    }

    /// The organ stop that sounds there under an 8'.
    pub fn stop(&self) -> &'static str {
        stop(self.k)
    }
}

/// "sounds an octave below its key (a 16' stop)": what the check's notes and
/// the take list say of a note read at its key from `k` key periods.
pub fn sounds_below(k: u8) -> String {
    format!("sounds {} its key ({})", interval(k), stop(k))
}

/// Where a waveform repeating every `k` key periods has its fundamental.
pub fn interval(k: u8) -> &'static str {
    match k {
        2 => "an octave below",
        3 => "an octave and a fifth below",
        _ => "two octaves below",
    }
}

/// The organ stop that sounds `k` key periods long under an 8'.
pub fn stop(k: u8) -> &'static str {
    match k {
        2 => "a 16' stop",
        3 => "a 10 2/3' quint",
        _ => "a 32' stop",
    }
}

/// The multiple of the key period `mono` repeats at, if it repeats at 2..=4
/// of them and clearly not at one; `None` when it does not, or `mono` is too
/// short (about 8 key periods and 4096 frames at 48 kHz).
pub fn find_subharmonic(mono: &[f32], rate: u32, key_hz: f64) -> Option<Subharmonic> {
    if rate == 0 || !(key_hz > 0.0 && key_hz.is_finite()) {
        return None;
    }
    let rate_f = f64::from(rate);
    let tau = rate_f / key_hz;
    let span = 2f64.powf(SEARCH_CENTS / 1200.0);
    let most = MAX_SUBHARMONIC.min((key_hz / LOWEST_HZ).floor().min(255.0) as u8);
    if most < 2 {
        return None;
    }
    let top = f64::from(most);
    let tau_max = (top * tau * span).ceil() as usize + 3;
    let w = (2.0 * top * tau)
        .max(MIN_WINDOW_48K * rate_f / 48_000.0)
        .ceil() as usize;
    let len = w + tau_max + 2 * HALF + 4;
    if tau < 2.0 || mono.len() < len || len > super::pitch::MAX_SPAN_FRAMES {
        return None;
    }
    let x = without_mean(&mono[..len]);
    let mut lags = Lags::new(&x, tau_max);
    if lags.e1 <= 0.0 {
        return None;
    }
    // (k, fractional period, correlation) for each multiple.
    let mut found = Vec::with_capacity(usize::from(MAX_SUBHARMONIC));
    for k in 1..=most {
        let centre = f64::from(k) * tau;
        let lo = ((centre / span).floor() as usize).max(2);
        let hi = ((centre * span).ceil() as usize).min(tau_max - 1);
        lags.compute(lo.saturating_sub(3), hi + 3 + 2 * HALF);
        let best = (lo..=hi).max_by(|&a, &b| lags.rho(a as f64).total_cmp(&lags.rho(b as f64)))?;
        let (period, rho) = lags.golden_max(best, tau_max, 30);
        // The best lag at the edge of the range: the period is not there.
        let rho = if k > 1 && (best == lo || best == hi) {
            0.0
        } else {
            rho
        };
        found.push((k, period, rho));
        // Clear at one key period: no multiple can be clearer by enough.
        if k == 1 && rho + CLEARER_BY > 1.0 {
            return None;
        }
    }
    let one = found[0].2;
    let clear: Vec<_> = found[1..]
        .iter()
        .filter(|f| f.2 >= MIN_CLARITY && f.2 >= one + CLEARER_BY)
        .collect();
    let clearest = clear.iter().map(|f| f.2).fold(f64::NEG_INFINITY, f64::max);
    let &&(k, period, clarity) = clear.iter().find(|f| f.2 >= clearest - TIE)?;
    let hz = rate_f / period;
    // Six waveform periods (where the note is that long) resolve harmonics
    // spaced by its fundamental through a Hann window.
    let n = ((6.0 * period).ceil() as usize).clamp(len, mono.len());
    let partials = harmonic_power(&without_mean(&mono[..n]), rate_f, hz, 4 * usize::from(k));
    let ku = usize::from(k);
    let key = *partials.get(ku - 1)?;
    let loudest = partials.iter().copied().fold(0.0, f64::max);
    if key <= 0.0 || loudest <= 0.0 {
        return None;
    }
    let upper_sub = partials
        .iter()
        .enumerate()
        .filter(|(i, _)| *i + 1 > ku && (*i + 1) % ku != 0)
        .map(|(_, &p)| p)
        .fold(0.0, f64::max);
    Some(Subharmonic {
        k,
        hz,
        clarity: clarity.clamp(0.0, 1.0),
        key_db: 10.0 * (key / loudest).log10(),
        upper_sub_db: 10.0 * (upper_sub / key).log10(),
    })
}

/// Power of the harmonics `1..=count` of `hz` in `x` (those under 0.45 of
/// the rate), through a Hann window, by a rotating phasor per harmonic.
fn harmonic_power(x: &[f32], rate: f64, hz: f64, count: usize) -> Vec<f64> {
    use std::f64::consts::PI;
    let n = x.len();
    let count = count.min((0.45 * rate / hz).floor() as usize);
    let windowed: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| f64::from(v) * (0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos()))
        .collect();
    (1..=count)
        .map(|h| {
            let (s, c) = (2.0 * PI * h as f64 * hz / rate).sin_cos();
            let (mut re, mut im) = (1.0f64, 0.0f64);
            let (mut acc_re, mut acc_im) = (0.0, 0.0);
            for (i, &v) in windowed.iter().enumerate() {
                acc_re += v * re;
                acc_im += v * im;
                (re, im) = (re * c - im * s, re * s + im * c);
                // Renormalize now and then: the rotation drifts in f64.
                if i % 4096 == 4095 {
                    let m = (re * re + im * im).sqrt();
                    (re, im) = (re / m, im / m);
                }
            }
            acc_re * acc_re + acc_im * acc_im
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Drawbars: (footage ratio to the key, amplitude); 16' = 0.5, 8' = 1,
    /// 5 1/3' = 1.5, 4' = 2, 2 2/3' = 3, 2' = 4; sines, as a tonewheel's.
    fn drawbars(rate: u32, key_hz: f64, bars: &[(f64, f64)], secs: f64) -> Vec<f32> {
        let n = (secs * f64::from(rate)) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let v: f64 = bars
                    .iter()
                    .map(|&(r, a)| a * (2.0 * PI * r * key_hz * t + 1.3 * r).sin())
                    .sum();
                (0.2 * v) as f32
            })
            .collect()
    }

    fn note(midi: i32) -> f64 {
        440.0 * 2f64.powf((midi - 69) as f64 / 12.0)
    }

    #[test]
    fn sixteen_foot_registrations_repeat_an_octave_below() {
        let rate = 48_000;
        for midi in [36, 48, 60, 72, 84] {
            let f = note(midi);
            // 16'+8'+4' equal: the key's harmonic is as strong as the 16'.
            let s = find_subharmonic(
                &drawbars(rate, f, &[(0.5, 1.0), (1.0, 1.0), (2.0, 1.0)], 0.5),
                rate,
                f,
            )
            .unwrap_or_else(|| panic!("{midi}"));
            assert_eq!(s.k, 2, "{midi} {s:?}");
            assert!(
                super::super::cents_between(s.key_hz(), f).abs() < 0.1,
                "{s:?}"
            );
            assert!(s.key_db > -0.5 && s.upper_sub_db < -40.0, "{midi} {s:?}");
            assert!(s.is_the_key(Player::Live) && s.is_the_key(Player::Midi));
            // 16' dominant: the key 12 dB under it, for MIDI only.
            let s = find_subharmonic(&drawbars(rate, f, &[(0.5, 1.0), (1.0, 0.25)], 0.5), rate, f)
                .unwrap();
            assert_eq!(s.k, 2);
            assert!((s.key_db + 12.0).abs() < 0.5, "{midi} {s:?}");
            assert!(s.is_the_key(Player::Midi) && !s.is_the_key(Player::Live));
        }
    }

    #[test]
    fn a_quint_and_a_32_foot_are_found() {
        let rate = 48_000;
        let f = note(57);
        // 10 2/3' (2/3 of the key) under an 8': repeats every 3 key periods.
        let s = find_subharmonic(
            &drawbars(rate, f, &[(2.0 / 3.0, 0.7), (1.0, 1.0)], 0.5),
            rate,
            f,
        )
        .unwrap();
        assert_eq!(s.k, 3, "{s:?}");
        // 32' + 16' + 8': every 4 (not 2, which the 32' breaks).
        let s = find_subharmonic(
            &drawbars(rate, f, &[(0.25, 1.0), (0.5, 1.0), (1.0, 0.6)], 0.6),
            rate,
            f,
        )
        .unwrap();
        assert_eq!(s.k, 4, "{s:?}");
    }

    #[test]
    fn a_note_at_its_key_has_none() {
        let rate = 48_000;
        let f = note(60);
        // 8'+4'+2 2/3': every partial a harmonic of the key.
        let x = drawbars(rate, f, &[(1.0, 1.0), (2.0, 0.8), (3.0, 0.6)], 0.5);
        assert_eq!(find_subharmonic(&x, rate, f), None);
        assert_eq!(find_subharmonic(&x[..1000], rate, f), None);
        assert_eq!(find_subharmonic(&x, 0, f), None);
        assert_eq!(find_subharmonic(&x, rate, f64::NAN), None);
        // Nothing is looked for under C0: A0 with a 16' (13.75 Hz) is not
        // searched; C1's (16.35 Hz) is.
        let a0 = drawbars(rate, 27.5, &[(0.5, 1.0), (1.0, 1.0)], 1.0);
        assert_eq!(find_subharmonic(&a0, rate, 27.5), None);
        let c1 = drawbars(rate, note(24), &[(0.5, 1.0), (1.0, 1.0)], 1.0);
        assert_eq!(find_subharmonic(&c1, rate, note(24)).map(|s| s.k), Some(2));
    }

    #[test]
    fn the_wrong_octave_played_live_is_not_the_key() {
        // C3 played for C4: a sawtooth-like series, and a piano-like one
        // whose second harmonic is the strongest.
        let rate = 48_000;
        let f = note(60);
        for amps in [
            &[1.0, 0.5, 0.33, 0.25, 0.2, 0.17][..],
            &[0.5, 1.0, 0.6, 0.5, 0.3, 0.3, 0.2, 0.2][..],
        ] {
            let bars: Vec<(f64, f64)> = amps
                .iter()
                .enumerate()
                .map(|(i, &a)| ((i + 1) as f64 / 2.0, a))
                .collect();
            let s = find_subharmonic(&drawbars(rate, f, &bars, 0.5), rate, f).unwrap();
            assert_eq!(s.k, 2);
            assert!(!s.is_the_key(Player::Live), "{amps:?} {s:?}");
        }
    }
}
