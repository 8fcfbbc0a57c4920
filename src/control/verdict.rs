//! The board's judgement of a confirmed take, from what the recorder reported
//! and by the check's own limits (the seed's `post_processing`).

use crate::dsp::CheckSettings;
use crate::protocol::{Confirmation, TakeCheck, TakeState, Verdict};
pub use crate::session_log_format::{Disposition, Judgement};
use serde::{Deserialize, Serialize};

/// Failed when no usable audio came back; a warning when the recorder's check
/// found an issue, the file's peak is over the clip ceiling or under the
/// silence threshold, or the file is still in the recorder's spool.
pub fn judge(c: &Confirmation, limits: &CheckSettings) -> Judgement {
    if c.state == TakeState::Failed || c.frames_lost > 0 {
        return Judgement::failed(
            c.error
                .clone()
                .unwrap_or_else(|| format!("{} frames lost", c.frames_lost)),
        );
    }
    // The recorder's own check (pitch, clipping before gain, noise) comes first.
    if let Some(check) = &c.check
        && check.verdict != Verdict::Ok
    {
        return Judgement::warn(describe(check));
    }
    let loudest = c
        .peak_dbfs
        .iter()
        .map(|p| p.unwrap_or(f64::NEG_INFINITY))
        .fold(f64::NEG_INFINITY, f64::max);
    if loudest >= limits.clip_ceiling_dbfs {
        return Judgement::warn(format!("clipped (peak {loudest:.1} dBFS)"));
    }
    if loudest < limits.silence_dbfs {
        return Judgement::warn(if loudest.is_finite() {
            format!("nearly silent (peak {loudest:.1} dBFS)")
        } else {
            "silent".into()
        });
    }
    if c.state == TakeState::Spooled {
        return Judgement::warn(format!(
            "kept in the recorder's spool, not on the share yet{}",
            c.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
    }
    Judgement::ok()
}

/// What the take list says beside an ok take whose recorder read it below
/// its key ("sounds an octave below its key (a 16' stop)"): the first of
/// `checks` that was.
pub fn below_key_detail<'a>(checks: impl IntoIterator<Item = &'a TakeCheck>) -> Option<String> {
    let k = checks.into_iter().find_map(|c| c.below_key)?;
    Some(format!(
        "{}: pitch read at the key",
        crate::dsp::subharmonic::sounds_below(k)
    ))
}

/// What the page, the status and the take list show of a take: the verdict
/// by name (`ok`, `silent`, `off pitch +50.5 cents`, `clipped`, `noisy`, `not
/// on the share yet`, `no usable audio`) and its figures, whatever the verdict.
/// The same object in the session file's takes and the status's `last.figures`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Figures {
    pub verdict_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cents: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_hz: Option<f64>,
    /// The loudest channel's peak, dBFS (`None`: digital silence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_dbfs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snr_db: Option<f64>,
    /// The recorder checked the take (an SNR may still be absent: nothing in
    /// the pre-roll, or no signal).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checked: bool,
}

/// The loudest of a file's channel peaks, dBFS (`None`: all silent).
fn loudest(peaks: &[Option<f64>]) -> Option<f64> {
    peaks
        .iter()
        .flatten()
        .copied()
        .filter(|p| p.is_finite())
        .reduce(f64::max)
}

/// The figures of one recorder's file, named by `judgement` (which [`judge`] gave it).
pub fn figures(
    judgement: &Judgement,
    check: Option<&TakeCheck>,
    peaks: &[Option<f64>],
    limits: &CheckSettings,
) -> Figures {
    let peak = loudest(peaks);
    let check_issue = check.filter(|c| c.verdict != Verdict::Ok);
    let verdict_name = match judgement.disposition {
        Disposition::Ok => "ok".to_string(),
        Disposition::Failed => "no usable audio".to_string(),
        Disposition::Warn => match check_issue {
            Some(c) => short_name(c),
            None => match peak {
                Some(p) if p >= limits.clip_ceiling_dbfs => "clipped".into(),
                Some(p) if p >= limits.silence_dbfs => "not on the share yet".into(),
                _ => "silent".into(),
            },
        },
    };
    Figures {
        verdict_name,
        cents: check.and_then(|c| c.cents).filter(|c| c.is_finite()),
        measured_hz: check.and_then(|c| c.measured_hz).filter(|h| h.is_finite()),
        peak_dbfs: peak,
        snr_db: check.and_then(|c| c.snr_db).filter(|s| s.is_finite()),
        checked: check.is_some(),
    }
}

/// `off pitch +50.5 cents`, `clipped`, `silent`, `noisy`.
fn short_name(check: &TakeCheck) -> String {
    match (check.verdict, check.cents) {
        (Verdict::OffPitch, Some(c)) => format!("off pitch {c:+.1} cents"),
        (Verdict::OffPitch, None) => "off pitch".into(),
        (Verdict::Clipped, _) => "clipped".into(),
        (Verdict::Silent, _) => "silent".into(),
        (Verdict::Noisy, _) => "noisy".into(),
        (Verdict::NoPitch, _) => "no pitch".into(),
        (Verdict::Unrecognised, _) => "unknown problem".into(),
        (Verdict::Ok, _) => "ok".into(),
    }
}

/// "off pitch: +46.6 cents (452.0 Hz)", "noisy: SNR 18.6 dB", ...
fn describe(check: &TakeCheck) -> String {
    match check.verdict {
        Verdict::OffPitch => match (check.cents, check.measured_hz) {
            (Some(c), Some(hz)) => format!("off pitch: {c:+.1} cents ({hz:.1} Hz)"),
            _ => "off pitch: no stable pitch found".into(),
        },
        Verdict::Clipped => format!("clipped: {} samples at full scale", check.clipped_samples),
        Verdict::Silent => "silent: nothing above the threshold".into(),
        Verdict::Noisy => match (check.hum_hz, check.snr_db) {
            (Some(hz), _) if check.notes.iter().any(|n| n.starts_with("mains hum")) => {
                format!("noisy: mains hum at {hz:.0} Hz")
            }
            (_, Some(snr)) => format!("noisy: SNR {snr:.1} dB"),
            _ => "noisy".into(),
        },
        Verdict::NoPitch => match &check.no_pitch {
            Some(reason) => format!("no pitch: {reason}"),
            None => "no pitch found".into(),
        },
        Verdict::Unrecognised => {
            "a problem a newer recorder found that this board cannot name: update the board".into()
        }
        Verdict::Ok => "ok".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(state: TakeState, peaks: Vec<Option<f64>>) -> Confirmation {
        Confirmation::for_tests("t", state, peaks)
    }

    fn judged(c: &Confirmation) -> Judgement {
        judge(c, &CheckSettings::default())
    }

    #[test]
    fn the_recorders_check_comes_first() {
        let mut c = conf(TakeState::Delivered, vec![Some(-1.0)]);
        c.check = Some(TakeCheck {
            verdict: Verdict::OffPitch,
            issues: vec![Verdict::OffPitch],
            measured_hz: Some(452.0),
            cents: Some(46.6),
            noise_floor_dbfs: None,
            snr_db: None,
            clipped_samples: 0,
            notes: vec![],
            ..Default::default()
        });
        assert_eq!(
            judged(&c),
            Judgement::warn("off pitch: +46.6 cents (452.0 Hz)")
        );
    }

    #[test]
    fn judgements() {
        let disposition = |c: &Confirmation| judged(c).disposition;
        assert_eq!(
            judged(&conf(TakeState::Delivered, vec![Some(-12.0)])),
            Judgement::ok()
        );
        assert_eq!(
            disposition(&conf(TakeState::Delivered, vec![Some(-40.0), Some(0.0)])),
            Disposition::Warn
        );
        assert_eq!(
            judged(&conf(TakeState::Delivered, vec![None])),
            Judgement::warn("silent")
        );
        assert_eq!(
            disposition(&conf(TakeState::Spooled, vec![Some(-6.0)])),
            Disposition::Warn
        );
        let mut lost = conf(TakeState::Delivered, vec![Some(-6.0)]);
        lost.frames_lost = 10;
        assert_eq!(judged(&lost), Judgement::failed("10 frames lost"));
    }

    #[test]
    fn verdicts_by_name_with_their_figures() {
        let limits = CheckSettings::default();
        let named = |c: &Confirmation| {
            let j = judge(c, &limits);
            figures(&j, c.check.as_ref(), &c.peak_dbfs, &limits)
        };
        let ok = named(&conf(TakeState::Delivered, vec![Some(-12.0), Some(-9.5)]));
        assert_eq!((ok.verdict_name.as_str(), ok.peak_dbfs), ("ok", Some(-9.5)));
        assert_eq!(
            named(&conf(TakeState::Delivered, vec![None])).verdict_name,
            "silent"
        );
        let mut sharp = conf(TakeState::Delivered, vec![Some(-6.0)]);
        sharp.check = Some(TakeCheck {
            verdict: Verdict::OffPitch,
            issues: vec![Verdict::OffPitch],
            measured_hz: Some(453.0),
            cents: Some(50.46),
            noise_floor_dbfs: None,
            snr_db: Some(40.0),
            clipped_samples: 0,
            notes: vec![],
            ..TakeCheck::default()
        });
        let f = named(&sharp);
        assert_eq!(f.verdict_name, "off pitch +50.5 cents");
        assert_eq!((f.cents, f.snr_db), (Some(50.46), Some(40.0)));
        let spooled = named(&conf(TakeState::Spooled, vec![Some(-6.0)]));
        assert_eq!(spooled.verdict_name, "not on the share yet");
        let mut lost = conf(TakeState::Delivered, vec![Some(-6.0)]);
        lost.frames_lost = 3;
        assert_eq!(named(&lost).verdict_name, "no usable audio");
    }

    #[test]
    fn the_limits_are_the_checks() {
        let hot = conf(TakeState::Delivered, vec![Some(-0.5)]);
        let quiet = conf(TakeState::Delivered, vec![Some(-55.0)]);
        assert_eq!(judged(&hot), Judgement::ok());
        assert_eq!(judged(&quiet), Judgement::ok());
        let pp = crate::config::PostProcessing {
            clip_ceiling_dbfs: -1.0,
            ..Default::default()
        };
        let strict = CheckSettings {
            silence_dbfs: -50.0,
            ..pp.check_settings()
        };
        assert_eq!(
            judge(&hot, &strict),
            Judgement::warn("clipped (peak -0.5 dBFS)")
        );
        assert_eq!(
            judge(&quiet, &strict),
            Judgement::warn("nearly silent (peak -55.0 dBFS)")
        );
    }

    #[test]
    fn an_ok_take_read_below_its_key_says_so_in_the_take_list() {
        let plain = TakeCheck::default();
        let organ = TakeCheck {
            below_key: Some(4),
            ..TakeCheck::default()
        };
        assert_eq!(below_key_detail([&plain]), None);
        assert_eq!(
            below_key_detail([&plain, &organ]).as_deref(),
            Some("sounds two octaves below its key (a 32' stop): pitch read at the key")
        );
    }
}
