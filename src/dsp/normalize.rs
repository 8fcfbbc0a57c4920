//! Gain decisions: peak normalization, loudness normalization limited by
//! the peak target (so normalizing never clips), and one common gain for a
//! group of takes (keeps the relative levels of e.g. velocity layers).
//!
//! All inputs are measurements in dB; a silent or unmeasurable take
//! (peak `-inf`/NaN, loudness `None`) gets 0 dB, never an infinite gain.
//! Any non-finite result (e.g. a NaN target) also falls back to 0 dB.

/// Default peak target (and ceiling in loudness mode), dBFS / dBTP.
pub const DEFAULT_PEAK_TARGET_DBFS: f64 = -1.0;

/// Which peak measurement the target applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeakKind {
    Sample,
    /// True peak (4x oversampled); falls back to the sample peak when no
    /// true peak was measured, and never reads below the sample peak.
    #[default]
    True,
}

/// What the gain aims at.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum NormalizeMode {
    /// Bring the peak to `peak_target_dbfs`.
    #[default]
    Peak,
    /// Bring the integrated loudness to `target_lufs`, but never push the
    /// peak over `peak_target_dbfs`. An unmeasurable loudness (silent, or
    /// shorter than one 400 ms block) leaves the take unchanged (0 dB).
    Loudness { target_lufs: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NormalizeSettings {
    pub mode: NormalizeMode,
    pub peak_target_dbfs: f64,
    pub peak_kind: PeakKind,
}

impl Default for NormalizeSettings {
    fn default() -> Self {
        NormalizeSettings {
            mode: NormalizeMode::default(),
            peak_target_dbfs: DEFAULT_PEAK_TARGET_DBFS,
            peak_kind: PeakKind::default(),
        }
    }
}

/// A take's measurements, as produced by the analysis pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TakeLevels {
    /// Highest channel sample peak, dBFS (`-inf` when silent).
    pub sample_peak_dbfs: f64,
    /// Highest channel true peak, dBTP.
    pub true_peak_dbfs: Option<f64>,
    pub integrated_lufs: Option<f64>,
}

/// The gain to apply, in dB, and whether the peak target cut it short.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GainDecision {
    pub gain_db: f64,
    pub limited_by_peak: bool,
}

const UNCHANGED: GainDecision = GainDecision {
    gain_db: 0.0,
    limited_by_peak: false,
};

impl TakeLevels {
    /// The peak the target applies to; `None` when silent or unmeasured.
    fn peak(&self, kind: PeakKind) -> Option<f64> {
        let p = match (kind, self.true_peak_dbfs) {
            (PeakKind::True, Some(tp)) if !tp.is_nan() => tp.max(self.sample_peak_dbfs),
            _ => self.sample_peak_dbfs,
        };
        p.is_finite().then_some(p)
    }

    fn lufs(&self) -> Option<f64> {
        self.integrated_lufs.filter(|l| l.is_finite())
    }
}

/// Gain for one take.
pub fn take_gain(levels: &TakeLevels, settings: &NormalizeSettings) -> GainDecision {
    decide(levels.peak(settings.peak_kind), levels.lufs(), settings)
}

/// One gain for a group of takes: the gain that brings the loudest member
/// to the target (by peak in Peak mode, by loudness in Loudness mode),
/// limited so the highest peak of any member stays under the peak target.
/// Silent members are ignored; an all-silent group gets 0 dB.
pub fn group_gain(takes: &[TakeLevels], settings: &NormalizeSettings) -> GainDecision {
    let kind = settings.peak_kind;
    let peak = takes.iter().filter_map(|t| t.peak(kind)).reduce(f64::max);
    let lufs = takes.iter().filter_map(TakeLevels::lufs).reduce(f64::max);
    decide(peak, lufs, settings)
}

fn decide(peak: Option<f64>, lufs: Option<f64>, settings: &NormalizeSettings) -> GainDecision {
    let Some(peak) = peak else {
        return UNCHANGED;
    };
    let to_peak = settings.peak_target_dbfs - peak;
    let decision = match settings.mode {
        NormalizeMode::Peak => GainDecision {
            gain_db: to_peak,
            limited_by_peak: false,
        },
        NormalizeMode::Loudness { target_lufs } => {
            let Some(lufs) = lufs.filter(|_| target_lufs.is_finite()) else {
                return UNCHANGED;
            };
            let to_loudness = target_lufs - lufs;
            GainDecision {
                gain_db: to_loudness.min(to_peak),
                limited_by_peak: to_peak < to_loudness,
            }
        }
    };
    if decision.gain_db.is_finite() {
        decision
    } else {
        UNCHANGED
    }
}

#[cfg(test)]
mod tests {
    use super::super::gain::{RenderSettings, Renderer};
    use super::super::level::{PeakMeter, TruePeakMeter};
    use super::super::testsig::{fade_edges, tone};
    use super::super::trim::TrimPoints;
    use super::*;

    fn levels(sample: f64, tp: Option<f64>, lufs: Option<f64>) -> TakeLevels {
        TakeLevels {
            sample_peak_dbfs: sample,
            true_peak_dbfs: tp,
            integrated_lufs: lufs,
        }
    }

    fn loud(target: f64) -> NormalizeSettings {
        NormalizeSettings {
            mode: NormalizeMode::Loudness {
                target_lufs: target,
            },
            ..NormalizeSettings::default()
        }
    }

    #[test]
    fn peak_normalize_to_target() {
        let s = NormalizeSettings::default();
        let g = take_gain(&levels(-7.5, Some(-6.75), None), &s);
        assert_eq!(
            g,
            GainDecision {
                gain_db: 5.75,
                limited_by_peak: false
            }
        );
        let sample = NormalizeSettings {
            peak_kind: PeakKind::Sample,
            ..s
        };
        assert_eq!(
            take_gain(&levels(-7.5, Some(-6.75), None), &sample).gain_db,
            6.5
        );
        // No true peak measured: the sample peak is used.
        assert_eq!(take_gain(&levels(-7.5, None, None), &s).gain_db, 6.5);
        // A true peak below the sample peak is not trusted.
        assert_eq!(take_gain(&levels(-7.5, Some(-9.0), None), &s).gain_db, 6.5);
        // Loud takes are turned down.
        assert_eq!(take_gain(&levels(-0.25, Some(0.5), None), &s).gain_db, -1.5);
    }

    #[test]
    fn silence_gets_zero_gain() {
        for s in [NormalizeSettings::default(), loud(-23.0)] {
            for l in [
                levels(f64::NEG_INFINITY, None, None),
                levels(f64::NEG_INFINITY, Some(f64::NEG_INFINITY), None),
                levels(f64::NAN, Some(f64::NAN), Some(f64::NAN)),
            ] {
                assert_eq!(take_gain(&l, &s), UNCHANGED);
            }
            assert_eq!(group_gain(&[], &s), UNCHANGED);
        }
        // Peak known but loudness unmeasurable: unchanged in loudness mode.
        assert_eq!(
            take_gain(&levels(-10.0, None, None), &loud(-23.0)),
            UNCHANGED
        );
        // Garbage target: unchanged rather than NaN.
        let nan = NormalizeSettings {
            peak_target_dbfs: f64::NAN,
            ..NormalizeSettings::default()
        };
        assert_eq!(take_gain(&levels(-10.0, None, None), &nan), UNCHANGED);
        let nan_lufs = loud(f64::NAN);
        assert_eq!(
            take_gain(&levels(-10.0, None, Some(-20.0)), &nan_lufs),
            UNCHANGED
        );
    }

    #[test]
    fn loudness_normalize_is_limited_by_peak() {
        // -30 LUFS to -23 needs +7 dB; with the true peak at -12 that ends at
        // -5 dBTP: fine.
        let g = take_gain(&levels(-12.5, Some(-12.0), Some(-30.0)), &loud(-23.0));
        assert_eq!(
            g,
            GainDecision {
                gain_db: 7.0,
                limited_by_peak: false
            }
        );
        // With the true peak at -5, +7 dB would reach +2 dBTP: limited to
        // +4 dB (peak at the -1 target) and reported.
        let g = take_gain(&levels(-5.5, Some(-5.0), Some(-30.0)), &loud(-23.0));
        assert_eq!(
            g,
            GainDecision {
                gain_db: 4.0,
                limited_by_peak: true
            }
        );
        // Turning down is never limited.
        let g = take_gain(&levels(-0.5, Some(-0.2), Some(-10.0)), &loud(-23.0));
        assert_eq!(
            g,
            GainDecision {
                gain_db: -13.0,
                limited_by_peak: false
            }
        );
    }

    #[test]
    fn group_gain_follows_the_loudest_member() {
        let takes = [
            levels(-3.0, Some(-2.5), Some(-14.0)),
            levels(-10.0, Some(-9.5), Some(-21.0)),
            levels(f64::NEG_INFINITY, None, None),
        ];
        let g = group_gain(&takes, &NormalizeSettings::default());
        assert_eq!(
            g,
            GainDecision {
                gain_db: 1.5,
                limited_by_peak: false
            }
        );
        // Loudness: loudest is -14 LUFS, +4 dB would reach it to -10 but the
        // loudest peak (-2.5) only allows +1.5.
        let g = group_gain(&takes, &loud(-10.0));
        assert_eq!(
            g,
            GainDecision {
                gain_db: 1.5,
                limited_by_peak: true
            }
        );
        let g = group_gain(&takes, &loud(-16.0));
        assert_eq!(
            g,
            GainDecision {
                gain_db: -2.0,
                limited_by_peak: false
            }
        );
    }

    #[test]
    fn rendered_take_lands_on_the_peak_target() {
        // Measure, decide, render, measure again: the true peak of the
        // result is the target.
        let rate = 48_000;
        let x = fade_edges(tone(rate, 3000.0, 0.3, 0.2, 24_000), 480);
        let mut sp = PeakMeter::new(1, -0.1).unwrap();
        let mut tp = TruePeakMeter::new(1).unwrap();
        sp.feed(&x);
        tp.feed(&x);
        let l = levels(
            sp.finish().max_peak_dbfs(),
            Some(tp.finish().max_dbtp()),
            None,
        );
        let g = take_gain(&l, &NormalizeSettings::default());
        let settings = RenderSettings {
            gain_db: g.gain_db,
            ..RenderSettings::default()
        };
        let points = TrimPoints {
            start_frame: 0,
            end_frame: x.len() as u64,
        };
        let r = Renderer::new(1, rate, points, &settings).unwrap();
        let mut out = Vec::new();
        r.render(0, &x, &mut out);
        let mut after = TruePeakMeter::new(1).unwrap();
        after.feed(&out);
        let got = after.finish().max_dbtp();
        assert!((got - DEFAULT_PEAK_TARGET_DBFS).abs() < 0.01, "{got}");
    }
}
