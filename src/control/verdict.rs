//! The board's verdict on a confirmed take, from what the recorder reported.

use crate::protocol::{Confirmation, TakeState};
use serde::Serialize;

/// A peak at or above this is taken as clipped.
pub const CLIP_DBFS: f64 = -0.1;
/// A peak below this on every channel is taken as nothing played.
pub const QUIET_DBFS: f64 = -60.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    /// Usable but worth a listen (clipped, silent, not on the share yet).
    Warn(String),
    /// No usable audio: the slot is recorded again.
    Failed(String),
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn(_) => "warn",
            Verdict::Failed(_) => "failed",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Ok => None,
            Verdict::Warn(r) | Verdict::Failed(r) => Some(r),
        }
    }

    /// The worse of two verdicts (several recorders, one take).
    pub fn worst(self, other: Verdict) -> Verdict {
        let rank = |v: &Verdict| match v {
            Verdict::Ok => 0,
            Verdict::Warn(_) => 1,
            Verdict::Failed(_) => 2,
        };
        if rank(&other) > rank(&self) {
            other
        } else {
            self
        }
    }
}

pub fn judge(c: &Confirmation) -> Verdict {
    if c.state == TakeState::Failed || c.frames_lost > 0 {
        return Verdict::Failed(
            c.error
                .clone()
                .unwrap_or_else(|| format!("{} frames lost", c.frames_lost)),
        );
    }
    // The recorder's own check (pitch, clipping before gain, noise) comes first.
    if let Some(check) = &c.check
        && check.verdict != crate::protocol::Verdict::Ok
    {
        return Verdict::Warn(describe(check));
    }
    let peaks: Vec<f64> = c
        .peak_dbfs
        .iter()
        .map(|p| p.unwrap_or(f64::NEG_INFINITY))
        .collect();
    let loudest = peaks.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if loudest >= CLIP_DBFS {
        return Verdict::Warn(format!("clipped (peak {loudest:.1} dBFS)"));
    }
    if loudest < QUIET_DBFS {
        return Verdict::Warn(if loudest.is_finite() {
            format!("nearly silent (peak {loudest:.1} dBFS)")
        } else {
            "silent".into()
        });
    }
    if c.state == TakeState::Spooled {
        return Verdict::Warn(format!(
            "kept in the recorder's spool, not on the share yet{}",
            c.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
    }
    Verdict::Ok
}

/// "off pitch: +46.6 cents (452.0 Hz)", "noisy: SNR 18.6 dB", ...
fn describe(check: &crate::protocol::TakeCheck) -> String {
    use crate::protocol::Verdict as V;
    match check.verdict {
        V::OffPitch => match (check.cents, check.measured_hz) {
            (Some(c), Some(hz)) => format!("off pitch: {c:+.1} cents ({hz:.1} Hz)"),
            _ => "off pitch: no stable pitch found".into(),
        },
        V::Clipped => format!("clipped: {} samples at full scale", check.clipped_samples),
        V::Silent => "silent: nothing above the threshold".into(),
        V::Noisy => match check.snr_db {
            Some(snr) => format!("noisy: SNR {snr:.1} dB"),
            None => "noisy".into(),
        },
        V::Ok => "ok".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(state: TakeState, peaks: Vec<Option<f64>>) -> Confirmation {
        Confirmation::for_tests("t", state, peaks)
    }

    #[test]
    fn the_recorders_check_comes_first() {
        let mut c = conf(TakeState::Delivered, vec![Some(-1.0)]);
        c.check = Some(crate::protocol::TakeCheck {
            verdict: crate::protocol::Verdict::OffPitch,
            issues: vec![crate::protocol::Verdict::OffPitch],
            measured_hz: Some(452.0),
            cents: Some(46.6),
            noise_floor_dbfs: None,
            snr_db: None,
            clipped_samples: 0,
            notes: vec![],
        });
        assert_eq!(
            judge(&c),
            Verdict::Warn("off pitch: +46.6 cents (452.0 Hz)".into())
        );
    }

    #[test]
    fn verdicts() {
        assert_eq!(
            judge(&conf(TakeState::Delivered, vec![Some(-12.0)])),
            Verdict::Ok
        );
        assert_eq!(
            judge(&conf(TakeState::Delivered, vec![Some(-40.0), Some(0.0)])).label(),
            "warn"
        );
        assert_eq!(
            judge(&conf(TakeState::Delivered, vec![None])),
            Verdict::Warn("silent".into())
        );
        assert_eq!(
            judge(&conf(TakeState::Spooled, vec![Some(-6.0)])).label(),
            "warn"
        );
        let mut lost = conf(TakeState::Delivered, vec![Some(-6.0)]);
        lost.frames_lost = 10;
        assert_eq!(judge(&lost).label(), "failed");
        assert_eq!(Verdict::Ok.worst(Verdict::Warn("x".into())).label(), "warn");
        assert_eq!(
            Verdict::Failed("x".into()).worst(Verdict::Ok).label(),
            "failed"
        );
    }
}
