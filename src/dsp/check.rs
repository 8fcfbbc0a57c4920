//! The verdict for a take, from the measurements of the analysis pass.
//!
//! Priority when several apply: `silent > clipped > off_pitch > noisy >
//! no_pitch`. Silent first because nothing else means anything without a
//! sound (pitch and noise are not judged then); clipping next because it
//! cannot be repaired; a wrong pitch makes the sample unusable where it is
//! mapped; noise (a low SNR, or mains hum) is a quality issue the user may
//! accept, and it is what is wrong when it also hides the pitch; `no_pitch`
//! last: no measurable pitch with nothing else to blame (a chord, an
//! unpitched sound). Every issue found is listed in [`Check::issues`], in
//! that order.
//!
//! The pitch is judged against the planned note moved by the instrument's
//! tuning (`target_cents`: a stretched piano's top octave sits 20-40 cents
//! sharp by design). Mains hum is noisy when it is less than
//! [`HUM_EXTRA_DB`] further under the sound than `min_snr_db`: a tone is
//! heard further down than broadband noise.
//!
//! Defaults: clip ceiling -0.1 dBFS with no sample allowed over it;
//! 15 cents maximum pitch deviation (audible against a reference, yet
//! wider than good intonation, and the exact deviation goes into the
//! `smpl` chunk for the sampler to correct, so only retakes are flagged);
//! minimum SNR 40 dB (signal = RMS of the loudest 50 ms, noise = RMS of
//! the pre-roll); silence under -60 dBFS peak, the trim default.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::hum::Hum;
use super::pitch::{PitchEstimate, cents_between};
use super::pitch_track::PitchTrack;
use super::trim::TrimPoints;

/// The verdict on a take; the recorder sends it to the board as it is
/// (`crate::protocol::TakeCheck`), by the names [`Verdict::as_str`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[default]
    Ok,
    OffPitch,
    Clipped,
    Silent,
    Noisy,
    /// No measurable pitch (the reason is in the notes).
    NoPitch,
    /// A verdict a newer recorder gave that this build does not know: read
    /// as a problem (the take is flagged), never as a lost confirmation.
    #[serde(other)]
    Unrecognised,
}

impl Verdict {
    /// Lowercase name: `ok`, `off_pitch`, `clipped`, `silent`, `noisy`,
    /// `no_pitch` (and `unrecognised`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::OffPitch => "off_pitch",
            Verdict::Clipped => "clipped",
            Verdict::Silent => "silent",
            Verdict::Noisy => "noisy",
            Verdict::NoPitch => "no_pitch",
            Verdict::Unrecognised => "unrecognised",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hum is noisy this much further under the sound than `min_snr_db`.
pub const HUM_EXTRA_DB: f64 = 10.0;

/// Thresholds of the check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckSettings {
    /// Peak at or over this is clipping; also give it to the `PeakMeter`
    /// that counts `clipped_samples`.
    pub clip_ceiling_dbfs: f64,
    /// Samples at or over the ceiling tolerated before `clipped`.
    pub max_clipped_samples: u64,
    /// Largest |deviation| from the planned pitch, in cents.
    pub max_cents: f64,
    /// Where the instrument's tuning puts this note, cents from equal
    /// temperament (0: equal).
    pub target_cents: f64,
    /// Smallest acceptable signal-to-noise ratio, dB.
    pub min_snr_db: f64,
    /// A take whose highest peak is under this is silent.
    pub silence_dbfs: f64,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            clip_ceiling_dbfs: -0.1,
            max_clipped_samples: 0,
            max_cents: 15.0,
            target_cents: 0.0,
            min_snr_db: 40.0,
            silence_dbfs: -60.0,
        }
    }
}

/// What the check looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckInput<'a> {
    /// Sample peak per channel, dBFS.
    pub peak_dbfs: &'a [f64],
    /// Samples at or over the clip ceiling, all channels.
    pub clipped_samples: u64,
    /// RMS of the pre-roll, dBFS; `None` without a pre-roll (no SNR check).
    pub noise_floor_dbfs: Option<f64>,
    /// Level of the sound, dBFS; use `RmsStats::max_window_rms_dbfs`.
    pub signal_dbfs: f64,
    /// The trim result; `None` = nothing above the threshold.
    pub trim: Option<TrimPoints>,
    pub pitch: Option<PitchEstimate>,
    /// The note's planned frequency; `None` switches the pitch check off.
    pub planned_hz: Option<f64>,
    /// How the pitch moved (attack, vibrato), and why there is none.
    pub track: Option<PitchTrack>,
    /// Mains hum in the pre-roll.
    pub hum: Option<Hum>,
}

/// The outcome of [`check_take`].
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The highest-priority issue, or `Ok`.
    pub verdict: Verdict,
    /// Every issue found, highest priority first; empty when ok.
    pub issues: Vec<Verdict>,
    /// Deviation of the measured pitch from the planned one.
    pub cents: Option<f64>,
    pub measured_hz: Option<f64>,
    /// Highest channel peak, dBFS.
    pub peak_dbfs: f64,
    pub noise_floor_dbfs: Option<f64>,
    pub snr_db: Option<f64>,
    pub clipped_samples: u64,
    /// The tuning's offset the pitch was judged against (cents).
    pub target_cents: f64,
    pub track: Option<PitchTrack>,
    pub hum: Option<Hum>,
    /// One human-readable line per issue or skipped check.
    pub notes: Vec<String>,
}

/// Judges a take.
pub fn check_take(input: &CheckInput, settings: &CheckSettings) -> Check {
    let peak = input
        .peak_dbfs
        .iter()
        .copied()
        .filter(|p| !p.is_nan())
        .fold(f64::NEG_INFINITY, f64::max);
    let mut issues = Vec::new();
    let mut notes = Vec::new();

    // A NaN silence setting makes everything silent rather than nothing.
    let silent =
        input.trim.is_none() || peak < settings.silence_dbfs || settings.silence_dbfs.is_nan();
    if silent {
        issues.push(Verdict::Silent);
        notes.push(if input.trim.is_none() {
            "no sound above the trim threshold".to_string()
        } else {
            format!(
                "peak {peak:.1} dBFS is under {:.1} dBFS",
                settings.silence_dbfs
            )
        });
    }

    if input.clipped_samples > settings.max_clipped_samples || peak >= settings.clip_ceiling_dbfs {
        issues.push(Verdict::Clipped);
        notes.push(format!(
            "{} samples at or over {:.1} dBFS (peak {peak:.2} dBFS)",
            input.clipped_samples, settings.clip_ceiling_dbfs
        ));
    }

    let measured_hz = input.pitch.map(|p| p.hz);
    let planned = input.planned_hz.filter(|hz| *hz > 0.0 && hz.is_finite());
    let cents = planned
        .zip(measured_hz)
        .map(|(want, got)| cents_between(got, want));
    if input.planned_hz.is_some() && planned.is_none() {
        notes.push("planned pitch is not a positive frequency: pitch not checked".to_string());
    }
    let mut no_pitch = None;
    if let (false, Some(want)) = (silent, planned) {
        let target = settings.target_cents;
        match cents {
            Some(c) if (c - target).abs() <= settings.max_cents => {}
            Some(c) => {
                issues.push(Verdict::OffPitch);
                notes.push(format!(
                    "pitch {c:+.1} cents from {want:.2} Hz (tuning {target:+.1}, limit {:.0})",
                    settings.max_cents
                ));
            }
            None => {
                let reason = input
                    .track
                    .and_then(|t| t.no_pitch)
                    .map_or_else(|| "no stable pitch found".to_string(), |r| r.reason());
                no_pitch = Some(format!("no pitch: {reason} (planned {want:.2} Hz)"));
            }
        }
    }

    let noise = input.noise_floor_dbfs.filter(|n| n.is_finite());
    let snr_db = noise.map(|n| input.signal_dbfs - n).filter(|s| !s.is_nan());
    if let Some(snr) = snr_db.filter(|&snr| !silent && snr < settings.min_snr_db) {
        issues.push(Verdict::Noisy);
        notes.push(format!(
            "SNR {snr:.1} dB is under {:.1} dB",
            settings.min_snr_db
        ));
    }
    if let Some(hum) = input.hum.filter(|_| !silent) {
        let under = input.signal_dbfs - hum.dbfs;
        let limit = settings.min_snr_db + HUM_EXTRA_DB;
        if under < limit || under.is_nan() {
            if !issues.contains(&Verdict::Noisy) {
                issues.push(Verdict::Noisy);
            }
            notes.push(format!(
                "mains hum at {:.0} Hz and harmonics: {:.1} dBFS, {under:.1} dB under the sound (limit {limit:.0})",
                hum.mains_hz, hum.dbfs
            ));
        }
    }
    if let Some(note) = no_pitch {
        issues.push(Verdict::NoPitch);
        notes.push(note);
    }
    // A 16' stop: say what the pitch was read on, whatever the verdict
    // (after the issues, so the first note is still the worst issue's).
    if let (Some(sub), Some(_)) = (input.track.and_then(|t| t.below_key), measured_hz) {
        notes.push(format!(
            "{}: its waveform repeats at {:.2} Hz, every {} periods of the key; the pitch is read on its harmonic at the key, {:+.0} dB from the strongest partial",
            super::subharmonic::sounds_below(sub.k),
            sub.hz,
            sub.k,
            sub.key_db
        ));
    }

    Check {
        verdict: issues.first().copied().unwrap_or(Verdict::Ok),
        issues,
        cents,
        measured_hz,
        peak_dbfs: peak,
        noise_floor_dbfs: input.noise_floor_dbfs,
        snr_db,
        clipped_samples: input.clipped_samples,
        target_cents: settings.target_cents,
        track: input.track,
        hum: input.hum,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEAKS: [f64; 2] = [-6.0, -8.0];

    fn good() -> CheckInput<'static> {
        CheckInput {
            peak_dbfs: &PEAKS,
            clipped_samples: 0,
            noise_floor_dbfs: Some(-80.0),
            signal_dbfs: -12.0,
            trim: Some(TrimPoints {
                start_frame: 100,
                end_frame: 50_000,
            }),
            pitch: Some(PitchEstimate {
                hz: 440.0 * 2f64.powf(-5.0 / 1200.0),
                clarity: 0.99,
            }),
            planned_hz: Some(440.0),
            track: None,
            hum: None,
        }
    }

    fn verdict(input: &CheckInput) -> Check {
        check_take(input, &CheckSettings::default())
    }

    #[test]
    fn names() {
        let all = [
            (Verdict::Ok, "ok"),
            (Verdict::OffPitch, "off_pitch"),
            (Verdict::Clipped, "clipped"),
            (Verdict::Silent, "silent"),
            (Verdict::Noisy, "noisy"),
            (Verdict::NoPitch, "no_pitch"),
        ];
        for (v, name) in all {
            assert_eq!(v.as_str(), name);
            assert_eq!(v.to_string(), name);
            assert_eq!(serde_json::to_value(v).unwrap(), name);
            assert_eq!(serde_json::from_value::<Verdict>(name.into()).unwrap(), v);
        }
    }

    #[test]
    fn a_good_take_is_ok() {
        let c = verdict(&good());
        assert_eq!(c.verdict, Verdict::Ok);
        assert!(c.issues.is_empty() && c.notes.is_empty());
        assert!((c.cents.unwrap() + 5.0).abs() < 1e-9);
        assert_eq!(c.peak_dbfs, -6.0);
        assert_eq!(c.snr_db, Some(68.0));
    }

    #[test]
    fn each_issue_alone() {
        let silent = CheckInput {
            trim: None,
            ..good()
        };
        assert_eq!(verdict(&silent).verdict, Verdict::Silent);
        let quiet_peaks = [-70.0, f64::NEG_INFINITY];
        let quiet = CheckInput {
            peak_dbfs: &quiet_peaks,
            ..good()
        };
        assert_eq!(verdict(&quiet).verdict, Verdict::Silent);

        let clipped = CheckInput {
            clipped_samples: 3,
            ..good()
        };
        assert_eq!(verdict(&clipped).verdict, Verdict::Clipped);
        let hot = [-0.05, -3.0];
        let at_ceiling = CheckInput {
            peak_dbfs: &hot,
            ..good()
        };
        assert_eq!(verdict(&at_ceiling).verdict, Verdict::Clipped);

        let sharp = CheckInput {
            pitch: Some(PitchEstimate {
                hz: 440.0 * 2f64.powf(16.0 / 1200.0),
                clarity: 0.99,
            }),
            ..good()
        };
        let c = verdict(&sharp);
        assert_eq!(c.verdict, Verdict::OffPitch);
        assert!((c.cents.unwrap() - 16.0).abs() < 1e-9);
        let unpitched = CheckInput {
            pitch: None,
            ..good()
        };
        // No pitch is its own verdict, with the reason.
        let c = verdict(&unpitched);
        assert_eq!(c.verdict, Verdict::NoPitch);
        assert!(
            c.notes[0].starts_with("no pitch: no stable pitch"),
            "{:?}",
            c.notes
        );
        let chord = CheckInput {
            pitch: None,
            track: Some(crate::dsp::PitchTrack {
                pitch: None,
                no_pitch: Some(crate::dsp::NoPitch::Unclear { clarity: 0.4 }),
                method: crate::dsp::PitchMethod::Window,
                attack_cents: None,
                vibrato: None,
                settled_ms: 0.0,
                frames: 0,
                below_key: None,
            }),
            ..good()
        };
        assert!(verdict(&chord).notes[0].contains("a chord"));
        // Under noise, the noise is what is wrong; no pitch comes after.
        let drowned = CheckInput {
            pitch: None,
            noise_floor_dbfs: Some(-30.0),
            ..good()
        };
        assert_eq!(
            verdict(&drowned).issues,
            vec![Verdict::Noisy, Verdict::NoPitch]
        );

        let noisy = CheckInput {
            noise_floor_dbfs: Some(-45.0),
            ..good()
        };
        let c = verdict(&noisy);
        assert_eq!(c.verdict, Verdict::Noisy);
        assert_eq!(c.snr_db, Some(33.0));
    }

    #[test]
    fn priority_silent_clipped_off_pitch_noisy() {
        let hot = [0.0, -1.0];
        let everything = CheckInput {
            peak_dbfs: &hot,
            clipped_samples: 10,
            noise_floor_dbfs: Some(-30.0),
            pitch: Some(PitchEstimate {
                hz: 466.16,
                clarity: 0.9,
            }),
            ..good()
        };
        let c = verdict(&everything);
        assert_eq!(
            c.issues,
            vec![Verdict::Clipped, Verdict::OffPitch, Verdict::Noisy]
        );
        assert_eq!(c.verdict, Verdict::Clipped);
        assert_eq!(c.notes.len(), 3);
        let no_clip = CheckInput {
            clipped_samples: 0,
            peak_dbfs: &PEAKS,
            ..everything
        };
        assert_eq!(verdict(&no_clip).verdict, Verdict::OffPitch);
        // Silent beats clipping; pitch and noise are not judged on silence.
        let dead = CheckInput {
            trim: None,
            ..everything
        };
        let c = verdict(&dead);
        assert_eq!(c.issues, vec![Verdict::Silent, Verdict::Clipped]);
    }

    #[test]
    fn hum_is_noisy_by_name_when_too_close_to_the_sound() {
        let hum = |dbfs| Hum {
            mains_hz: 60.0,
            dbfs,
            share: 0.9,
        };
        // -12 dBFS sound: hum at -55 is 43 dB under, within 50: noisy.
        let c = verdict(&CheckInput {
            hum: Some(hum(-55.0)),
            ..good()
        });
        assert_eq!(c.verdict, Verdict::Noisy);
        assert!(c.notes[0].contains("mains hum at 60 Hz"), "{:?}", c.notes);
        // 58 dB under: kept, but reported in the check.
        let c = verdict(&CheckInput {
            hum: Some(hum(-70.0)),
            ..good()
        });
        assert_eq!(c.verdict, Verdict::Ok);
        assert_eq!(c.hum.unwrap().mains_hz, 60.0);
        // Hum and a low SNR together: one noisy issue, two notes.
        let c = verdict(&CheckInput {
            hum: Some(hum(-40.0)),
            noise_floor_dbfs: Some(-40.0),
            ..good()
        });
        assert_eq!(c.issues, vec![Verdict::Noisy]);
        assert_eq!(c.notes.len(), 2);
    }

    #[test]
    fn pitch_is_judged_against_the_tuning() {
        // +30 cents: off in equal temperament, in tune on a stretched top octave.
        let sharp = CheckInput {
            pitch: Some(PitchEstimate {
                hz: 440.0 * 2f64.powf(30.0 / 1200.0),
                clarity: 0.99,
            }),
            ..good()
        };
        assert_eq!(verdict(&sharp).verdict, Verdict::OffPitch);
        let stretched = CheckSettings {
            target_cents: 25.0,
            ..CheckSettings::default()
        };
        let c = check_take(&sharp, &stretched);
        assert_eq!(c.verdict, Verdict::Ok);
        assert!((c.cents.unwrap() - 30.0).abs() < 1e-9);
        assert_eq!(c.target_cents, 25.0);
        assert_eq!(check_take(&good(), &stretched).verdict, Verdict::OffPitch);
    }

    #[test]
    fn pitch_check_can_be_off_and_limits_are_settings() {
        let off = CheckInput {
            planned_hz: None,
            pitch: None,
            ..good()
        };
        let c = verdict(&off);
        assert_eq!(c.verdict, Verdict::Ok);
        assert_eq!(c.cents, None);
        let strict = CheckSettings {
            max_cents: 3.0,
            min_snr_db: 70.0,
            ..CheckSettings::default()
        };
        let c = check_take(&good(), &strict);
        assert_eq!(c.issues, vec![Verdict::OffPitch, Verdict::Noisy]);
        let lenient = CheckSettings {
            max_clipped_samples: 5,
            ..CheckSettings::default()
        };
        let few = CheckInput {
            clipped_samples: 5,
            ..good()
        };
        assert_eq!(check_take(&few, &lenient).verdict, Verdict::Ok);
    }

    #[test]
    fn garbage_measurements_do_not_panic() {
        let nan = [f64::NAN, f64::NAN];
        let c = verdict(&CheckInput {
            peak_dbfs: &nan,
            noise_floor_dbfs: Some(f64::NAN),
            signal_dbfs: f64::NAN,
            planned_hz: Some(-1.0),
            ..good()
        });
        assert_eq!(c.verdict, Verdict::Silent);
        assert_eq!(c.snr_db, None);
        let c = verdict(&CheckInput {
            peak_dbfs: &[],
            noise_floor_dbfs: Some(f64::NEG_INFINITY),
            ..good()
        });
        assert_eq!(c.verdict, Verdict::Silent);
        assert_eq!(c.peak_dbfs, f64::NEG_INFINITY);
        // Bad planned pitch: not checked, and said so.
        let c = verdict(&CheckInput {
            planned_hz: Some(f64::NAN),
            ..good()
        });
        assert_eq!(c.verdict, Verdict::Ok);
        assert_eq!(c.notes.len(), 1);
    }
}
