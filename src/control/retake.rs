//! An unattended session's second chances (a MIDI instrument's, or one asked
//! for with `unattended`): a take flagged for a reason a second pass can fix
//! is recorded again under a new take id, at most `control.unattended.retakes`
//! times; a take that would come out the same again (clipped, off pitch,
//! noisy, no pitch) is kept flagged, and the session goes on either way.

use crate::config::UnattendedSettings;
use crate::dsp::CheckSettings;
use crate::protocol::{Confirmation, TakeEnvelope, TakeState, Verdict};

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
    /// The sound fell from a note's level to digital silence at once, this
    /// many seconds after the planned start and before the note's end: the
    /// synth (or its audio) stopped mid-note.
    Dropout(f64),
}

/// A column this loud (thousandths of full scale, about -34 dBFS) followed
/// by a digitally silent one (under -66 dBFS) is a dropout, not a release:
/// no instrument falls 32 dB in one column (about 10 ms) by itself.
const DROPOUT_FROM: i16 = 20;

impl Fixable {
    /// The verdict by name, as the page and the take list show it.
    pub fn name(&self) -> String {
        match self {
            Fixable::Silent => "silent".into(),
            Fixable::NoOnset => "no onset".into(),
            Fixable::OnsetOff(ms) => format!("onset {ms:+.1} ms off"),
            Fixable::Xruns(_) => "xrun".into(),
            Fixable::Dropout(_) => "dropout".into(),
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
            Fixable::Dropout(s) => {
                format!("dropout: the sound stopped dead {s:.2} s into the note")
            }
        }
    }
}

/// What in `c` (a take of a note `note_secs` long) a second pass can fix, if
/// anything. A failed take is not asked about: it is always recorded again.
pub fn fixable(
    c: &Confirmation,
    note_secs: f64,
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
    let onset_ms = c.midi.as_ref().and_then(|m| m.onset_ms).unwrap_or(0.0);
    if let Some(at) = c
        .envelope
        .as_ref()
        .and_then(|e| dropout(e, onset_ms, note_secs, c.sample_rate))
    {
        return Some(Fixable::Dropout(at));
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

/// Where in the note (seconds from `start_at`) the waveform drops from a
/// note's level to digital silence from one column to the next, between
/// the onset and the note's planned end.
fn dropout(e: &TakeEnvelope, onset_ms: f64, note_secs: f64, rate: u32) -> Option<f64> {
    let per = e.frames_per_column.max(1) as f64;
    let rate = f64::from(rate.max(1));
    let start = e.planned_start_frame as f64 + onset_ms.max(0.0) / 1000.0 * rate;
    let end = e.planned_start_frame as f64 + note_secs * rate;
    let (first, last) = ((start / per).ceil() as usize, (end / per).floor() as usize);
    let peak = |i: usize| e.max[i].max(-e.min[i]);
    (first..last.min(e.max.len().min(e.min.len())))
        .skip(1)
        .find(|&i| peak(i - 1) >= DROPOUT_FROM && peak(i) == 0)
        .map(|i| (i as f64 * per - e.planned_start_frame as f64) / rate)
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
        fixable(
            c,
            1.0,
            &CheckSettings::default(),
            &UnattendedSettings::default(),
        )
    }

    /// 0.5 s of silence, then a note (columns of 480 frames at 48 kHz:
    /// 10 ms) at `level` thousandths, silent again from `cut` s after the
    /// planned start.
    fn envelope(level: i16, fall: &[i16], cut: f64) -> TakeEnvelope {
        let col = |t: f64| (t * 100.0) as usize;
        let mut max = vec![0i16; col(2.0)];
        for m in max.iter_mut().take(col(0.5 + cut)).skip(col(0.5)) {
            *m = level;
        }
        let at = col(0.5 + cut);
        max.splice(at..at + fall.len(), fall.iter().copied());
        TakeEnvelope {
            frames: 96_000,
            frames_per_column: 480,
            min: max.iter().map(|m| -m).collect(),
            max,
            planned_start_frame: 24_000,
        }
    }

    #[test]
    fn a_note_that_stops_dead_is_a_dropout_and_a_release_is_not() {
        let mut c = take(Some(2.0));
        c.envelope = Some(envelope(300, &[], 0.4));
        assert_eq!(judged(&c), Some(Fixable::Dropout(0.4)));
        // Falling through the levels in 60 ms, as a fast release does.
        c.envelope = Some(envelope(300, &[150, 60, 20, 8, 3, 1], 0.4));
        assert_eq!(judged(&c), None);
        // After the note's end: its release, whatever its shape.
        c.envelope = Some(envelope(300, &[], 1.02));
        assert_eq!(judged(&c), None);
        // A quiet note's end (under -34 dBFS) is not called a dropout.
        c.envelope = Some(envelope(15, &[], 0.4));
        assert_eq!(judged(&c), None);
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
        // An organ's 16' stop: read at its key by the recorder, ok, kept.
        let mut organ = take(Some(0.5));
        organ.check = Some(TakeCheck {
            cents: Some(2.1),
            measured_hz: Some(262.2),
            below_key: Some(2),
            notes: vec!["sounds an octave below its key (a 16' stop): ...".into()],
            ..TakeCheck::default()
        });
        assert_eq!(judged(&organ), None);
        let judgement = crate::control::verdict::judge(&organ, &CheckSettings::default());
        assert_eq!(judgement, crate::control::verdict::Judgement::ok());
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
