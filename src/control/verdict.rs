//! The board's verdict on a confirmed take, from what the recorder reported:
//! its check of the take when it sent one, else the peaks in the confirmation.

use crate::protocol::{self, Confirmation, TakeCheck, TakeState};
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

fn check_name(v: protocol::Verdict) -> &'static str {
    match v {
        protocol::Verdict::Ok => "ok",
        protocol::Verdict::OffPitch => "off pitch",
        protocol::Verdict::Clipped => "clipped",
        protocol::Verdict::Silent => "silent",
        protocol::Verdict::Noisy => "noisy",
    }
}

/// The recorder's check in words: its issues, worst first, with the figures.
fn describe(check: &TakeCheck) -> String {
    let mut parts: Vec<String> = check
        .issues
        .iter()
        .map(|v| check_name(*v).to_string())
        .collect();
    if parts.is_empty() {
        parts.push(check_name(check.verdict).to_string());
    }
    if let Some(c) = check.cents
        && check.issues.contains(&protocol::Verdict::OffPitch)
    {
        parts.push(format!("{c:+.0} cents"));
    }
    if check.clipped_samples > 0 {
        parts.push(format!("{} clipped samples", check.clipped_samples));
    }
    let mut text = parts.join(", ");
    if !check.notes.is_empty() {
        text.push_str(&format!(" ({})", check.notes.join("; ")));
    }
    text
}

pub fn judge(c: &Confirmation) -> Verdict {
    if c.state == TakeState::Failed || c.frames_lost > 0 {
        return Verdict::Failed(
            c.error
                .clone()
                .unwrap_or_else(|| format!("{} frames lost", c.frames_lost)),
        );
    }
    let heard = match &c.check {
        Some(check) if check.verdict != protocol::Verdict::Ok => Verdict::Warn(describe(check)),
        Some(_) => Verdict::Ok,
        None => judge_peaks(c),
    };
    if heard == Verdict::Ok && c.state == TakeState::Spooled {
        return Verdict::Warn(format!(
            "kept in the recorder's spool, not on the share yet{}",
            c.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
    }
    heard
}

/// Without the recorder's check: clipped or silent by the peaks alone.
fn judge_peaks(c: &Confirmation) -> Verdict {
    let loudest = c
        .peak_dbfs
        .iter()
        .map(|p| p.unwrap_or(f64::NEG_INFINITY))
        .fold(f64::NEG_INFINITY, f64::max);
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
    Verdict::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{SampleFormat, Timestamp};

    fn conf(state: TakeState, peaks: Vec<Option<f64>>) -> Confirmation {
        Confirmation {
            take_id: "t".into(),
            session_id: "s".into(),
            state,
            path: "s/x.wav".into(),
            frames: 1,
            sample_rate: 48_000,
            channels: peaks.len() as u16,
            format: SampleFormat::S24,
            peak_dbfs: peaks,
            sha256: String::new(),
            recorded_at: Timestamp::now(),
            pre_roll_frames: 0,
            frames_lost: 0,
            xruns: 0,
            error: None,
            check: None,
            processing: None,
        }
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
        // The recorder's check, when there is one, decides.
        let mut checked = conf(TakeState::Delivered, vec![Some(-12.0)]);
        checked.check = Some(TakeCheck {
            verdict: protocol::Verdict::OffPitch,
            issues: vec![protocol::Verdict::OffPitch],
            measured_hz: Some(449.0),
            cents: Some(35.4),
            noise_floor_dbfs: None,
            snr_db: None,
            clipped_samples: 0,
            notes: vec![],
        });
        assert_eq!(
            judge(&checked),
            Verdict::Warn("off pitch, +35 cents".into())
        );
        let mut quiet_but_ok = conf(TakeState::Delivered, vec![Some(-70.0)]);
        quiet_but_ok.check = checked.check.clone().map(|mut c| {
            c.verdict = protocol::Verdict::Ok;
            c.issues.clear();
            c
        });
        assert_eq!(judge(&quiet_but_ok), Verdict::Ok);
        assert_eq!(
            Verdict::Failed("x".into()).worst(Verdict::Ok).label(),
            "failed"
        );
    }
}
