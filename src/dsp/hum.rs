//! Mains hum in the pre-roll: 50 or 60 Hz and its harmonics.
//!
//! A hum is noise for a sample library (it repeats under every note, and a
//! looped sample makes it obvious), and a tonal one is audible further
//! under the note than broadband noise. Goertzel filters on a Hann-windowed
//! stretch of the pre-roll measure the first [`HARMONICS`] harmonics of
//! both mains frequencies; the stronger set is the hum when it carries at
//! least half of the pre-roll's power (the noise floor *is* the hum).

/// Harmonics measured (50 Hz: 50..250; 60 Hz: 60..300).
pub const HARMONICS: usize = 5;
/// Shortest pre-roll judged: 50 and 60 Hz must be resolved (Hann main lobe
/// ±2/T = ±8 Hz at 250 ms).
pub const MIN_SECONDS: f64 = 0.25;
/// At most this much pre-roll is measured (bounds the cost).
const MAX_SECONDS: f64 = 1.0;
/// Share of the pre-roll's power the mains harmonics must carry.
const MIN_SHARE: f64 = 0.5;

/// A mains hum found in the pre-roll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hum {
    /// 50 or 60.
    pub mains_hz: f64,
    /// RMS of the mains harmonics together, dBFS.
    pub dbfs: f64,
    /// Share of the pre-roll's power in them, 0..=1.
    pub share: f64,
}

/// The hum in `preroll` (mono, no note in it), if any.
pub fn detect_hum(preroll: &[f32], rate: u32) -> Option<Hum> {
    let rate_f = rate as f64;
    if rate == 0 || (preroll.len() as f64) < MIN_SECONDS * rate_f {
        return None;
    }
    let n = preroll.len().min((MAX_SECONDS * rate_f) as usize);
    let x = &preroll[preroll.len() - n..];
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let window: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect();
    let xs: Vec<f64> = x
        .iter()
        .zip(&window)
        .map(|(&v, w)| {
            let v = if v.is_finite() { f64::from(v) } else { 0.0 };
            (v - mean) * w
        })
        .collect();
    let total = x
        .iter()
        .map(|&v| {
            let d = if v.is_finite() {
                f64::from(v) - mean
            } else {
                0.0
            };
            d * d
        })
        .sum::<f64>()
        / n as f64;
    if total <= 1e-14 {
        return None;
    }
    let gain: f64 = window.iter().sum();
    let power = |mains: f64| -> f64 {
        (1..=HARMONICS)
            .map(|k| k as f64 * mains)
            .filter(|&f| f < 0.45 * rate_f)
            // A sinusoid of amplitude A reads |X| = A·Σw/2; its power is A²/2.
            .map(|f| 2.0 * goertzel(&xs, f / rate_f) / (gain * gain))
            .sum()
    };
    let (mains_hz, p) = [(50.0, power(50.0)), (60.0, power(60.0))]
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let share = (p / total).min(1.0);
    (share >= MIN_SHARE).then(|| Hum {
        mains_hz,
        dbfs: 10.0 * p.log10(),
        share,
    })
}

/// |X(f)|² of `x` at `f` cycles per sample.
fn goertzel(x: &[f64], f: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * f).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

#[cfg(test)]
mod tests {
    use super::super::testsig::{noise, tone};
    use super::*;

    #[test]
    fn mains_hum_is_found_by_name_and_level() {
        let rate = 48_000;
        let n = rate as usize / 2;
        for mains in [50.0, 60.0] {
            // Fundamental at -50 dBFS RMS, 2nd and 3rd harmonics, faint noise.
            let a = 10f64.powf(-50.0 / 20.0) * 2f64.sqrt();
            let h: Vec<f32> = tone(rate, mains, a, 0.3, n)
                .iter()
                .zip(tone(rate, 2.0 * mains, a / 2.0, 0.1, n))
                .zip(tone(rate, 3.0 * mains, a / 3.0, 0.7, n))
                .zip(noise(4, 1e-4, n))
                .map(|(((a, b), c), d)| a + b + c + d)
                .collect();
            let hum = detect_hum(&h, rate).expect("hum");
            assert_eq!(hum.mains_hz, mains);
            // Total: -50 dB + 1/4 + 1/9 of its power = -48.7 dBFS.
            assert!((hum.dbfs + 48.66).abs() < 0.5, "{hum:?}");
            assert!(hum.share > 0.9);
        }
    }

    #[test]
    fn noise_silence_and_short_prerolls_are_not_hum() {
        let rate = 48_000;
        assert_eq!(detect_hum(&noise(1, 0.01, 24_000), rate), None);
        assert_eq!(detect_hum(&vec![0.0; 24_000], rate), None);
        assert_eq!(detect_hum(&tone(rate, 60.0, 0.1, 0.0, 4_000), rate), None);
        // A tone between the mains frequencies is not hum.
        assert_eq!(detect_hum(&tone(rate, 82.4, 0.01, 0.0, 24_000), rate), None);
    }
}
