//! The board's judgement of a confirmed take, from what the recorder reported
//! and by the check's own limits (the seed's `post_processing`).

use crate::dsp::CheckSettings;
use crate::protocol::{Confirmation, TakeCheck, TakeState, Verdict};
pub use crate::session_log_format::{Disposition, Judgement};

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
            ..CheckSettings::from_post_processing(&pp)
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
}
