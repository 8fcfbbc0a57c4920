//! An unattended session's second chances (a MIDI instrument's, or one asked
//! for with `unattended`): a take flagged for a reason a second pass can fix
//! is recorded again under a new take id, at most `control.unattended.retakes`
//! times; a take that would come out the same again (clipped, off pitch,
//! noisy, no pitch) is kept flagged, and the session goes on either way.

use crate::config::UnattendedSettings;
use crate::dsp::CheckSettings;
use crate::protocol::{Confirmation, TakeState, Verdict};

/// Why a take is worth recording again.
#[derive(Debug, Clone, PartialEq)]
pub enum Fixable {
    /// Nothing above the silence threshold: the synth (or its audio) was not
    /// there this time.
    Silent,
    /// A MIDI take whose onset did not stand out of the pre-roll's noise.
    NoOnset,
    /// A MIDI take whose sound started this far from `start_at`, ms.
    OnsetOff(f64),
    /// The capture reported overruns (no frames lost, or the take would have
    /// failed and been recorded again anyway).
    Xruns(u64),
}

impl Fixable {
    /// The verdict by name, as the page and the take list show it.
    pub fn name(&self) -> String {
        match self {
            Fixable::Silent => "silent".into(),
            Fixable::NoOnset => "no onset".into(),
            Fixable::OnsetOff(ms) => format!("onset {ms:+.1} ms off"),
            Fixable::Xruns(_) => "xrun".into(),
        }
    }

    /// The judgement's reason: the name with its figures.
    pub fn describe(&self, tolerance_ms: f64) -> String {
        match self {
            Fixable::Silent => "silent: nothing above the threshold".into(),
            Fixable::NoOnset => "no onset: nothing stood out of the pre-roll's noise".into(),
            Fixable::OnsetOff(ms) => {
                format!("onset {ms:+.1} ms off start_at (more than {tolerance_ms} ms)")
            }
            Fixable::Xruns(n) => format!("xrun: the capture overran {n} times"),
        }
    }
}

/// What in `c` a second pass can fix, if anything. A failed take is not
/// asked about: it is always recorded again.
pub fn fixable(
    c: &Confirmation,
    limits: &CheckSettings,
    settings: &UnattendedSettings,
) -> Option<Fixable> {
    if c.state == TakeState::Failed {
        return None;
    }
    let loudest = c
        .peak_dbfs
        .iter()
        .flatten()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let silent_check = c
        .check
        .as_ref()
        .is_some_and(|k| k.verdict == Verdict::Silent);
    if silent_check || loudest < limits.silence_dbfs {
        return Some(Fixable::Silent);
    }
    if c.xruns > 0 {
        return Some(Fixable::Xruns(c.xruns));
    }
    let midi = c.midi.as_ref()?;
    match midi.onset_ms {
        None => Some(Fixable::NoOnset),
        // A calibration take's onset is the chain's whole latency: measured,
        // not judged.
        Some(ms)
            if midi.calibrated_latency_ms.is_none() && ms.abs() > settings.onset_tolerance_ms =>
        {
            Some(Fixable::OnsetOff(ms))
        }
        Some(_) => None,
    }
}

/// Whether a slot that has had `flagged` flagged takes (this one counted) is
/// recorded once more.
pub fn again(flagged: usize, settings: &UnattendedSettings) -> bool {
    flagged <= settings.retakes as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{MidiReport, TakeCheck};

    fn take(onset: Option<f64>) -> Confirmation {
        let mut c = Confirmation::for_tests("t", TakeState::Delivered, vec![Some(-12.0)]);
        c.midi = Some(MidiReport {
            port: "FLUID Synth:0".into(),
            latency_ms: 30.0,
            onset_ms: onset,
            calibrated_latency_ms: None,
            waited_seconds: 0.0,
            wait_timed_out: false,
        });
        c
    }

    fn judged(c: &Confirmation) -> Option<Fixable> {
        fixable(c, &CheckSettings::default(), &UnattendedSettings::default())
    }

    #[test]
    fn what_a_second_pass_can_fix() {
        assert_eq!(judged(&take(Some(3.0))), None);
        assert_eq!(judged(&take(Some(-19.9))), None);
        assert_eq!(judged(&take(None)), Some(Fixable::NoOnset));
        assert_eq!(judged(&take(Some(48.25))), Some(Fixable::OnsetOff(48.25)));
        assert_eq!(Fixable::OnsetOff(48.25).name(), "onset +48.2 ms off");
        let mut calibration = take(Some(48.0));
        calibration.midi.as_mut().unwrap().calibrated_latency_ms = Some(78.0);
        assert_eq!(judged(&calibration), None);
        let mut overran = take(Some(1.0));
        overran.xruns = 2;
        assert_eq!(judged(&overran), Some(Fixable::Xruns(2)));
        let mut silent = take(None);
        silent.peak_dbfs = vec![None, None];
        assert_eq!(judged(&silent), Some(Fixable::Silent));
    }

    #[test]
    fn what_would_come_out_the_same_is_not_recorded_again() {
        let mut clipped = take(Some(0.5));
        clipped.peak_dbfs = vec![Some(0.0)];
        clipped.check = Some(TakeCheck {
            verdict: Verdict::Clipped,
            issues: vec![Verdict::Clipped],
            clipped_samples: 40,
            ..TakeCheck::default()
        });
        assert_eq!(judged(&clipped), None);
        let mut failed = take(None);
        failed.state = TakeState::Failed;
        assert_eq!(judged(&failed), None);
        // A played take without MIDI: only its level and the capture count.
        let mut played = take(None);
        played.midi = None;
        assert_eq!(judged(&played), None);
    }

    #[test]
    fn retakes_count_the_flagged_attempts() {
        let s = UnattendedSettings::default();
        assert!(again(1, &s) && again(2, &s) && !again(3, &s));
        let none = UnattendedSettings { retakes: 0, ..s };
        assert!(!again(1, &none));
    }
}
