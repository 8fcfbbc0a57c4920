//! `GET /v1/levels`: the live input for the board's meter and tuner. The
//! peaks come from the capture thread's meter windows; the pitch is measured
//! here, on request, from the newest frames of the ring (never on the capture
//! thread), and only when the input is loud enough to measure.

use super::engine::CaptureShared;
use crate::dsp::{PitchSettings, estimate_pitch, gain_to_db};
use crate::protocol::{FieldError, InputLevels, LivePitch, peak_to_dbfs};
use std::sync::Mutex;

/// Quieter than this (RMS of the measured frames) the tuner shows nothing:
/// room noise has no pitch worth showing.
pub const TUNER_MIN_RMS_DBFS: f64 = -50.0;
/// Under this periodicity the estimate is not shown either.
const TUNER_MIN_CLARITY: f64 = 0.8;

/// One pitch measurement at a time, however many boards poll: a second
/// request while one runs gets the levels without a pitch.
pub struct Tuner {
    busy: Mutex<()>,
}

impl Default for Tuner {
    fn default() -> Self {
        Tuner {
            busy: Mutex::new(()),
        }
    }
}

/// `near_hz` from the query (`near_hz=440`): the note the player tunes to.
pub fn near_hz(query: Option<&str>) -> Result<Option<f64>, FieldError> {
    let Some(v) = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("near_hz="))
    else {
        return Ok(None);
    };
    match v.parse::<f64>() {
        Ok(hz) if hz.is_finite() && (20.0..=20_000.0).contains(&hz) => Ok(Some(hz)),
        _ => Err(FieldError::new(
            "near_hz",
            format!("expected a frequency from 20 to 20000 Hz, got {v:?}"),
        )),
    }
}

impl Tuner {
    pub fn levels(&self, shared: &CaptureShared, near_hz: Option<f64>) -> InputLevels {
        let pitch = near_hz.and_then(|hz| {
            let _one = self.busy.try_lock().ok()?;
            live_pitch(shared, hz)
        });
        InputLevels {
            peak_dbfs: shared.peaks().into_iter().map(peak_to_dbfs).collect(),
            frames_captured: shared.ring.written(),
            pitch,
        }
    }
}

/// The pitch of the newest frames, searched within a fifth of `near_hz`
/// (as the take's own check), over three periods of the lowest pitch searched.
fn live_pitch(shared: &CaptureShared, near_hz: f64) -> Option<LivePitch> {
    let ring = &shared.ring;
    let rate = shared.rate;
    let settings = PitchSettings {
        min_hz: near_hz / 1.5,
        max_hz: near_hz * 1.5,
        ..PitchSettings::default()
    };
    let frames = ((3.0 * f64::from(rate) / settings.min_hz) as usize).clamp(2048, 16_384);
    let newest = ring.written();
    let start = newest.checked_sub(frames as u64)?;
    let ch = ring.channels();
    let mut buf = vec![0.0f32; frames * ch];
    ring.read(start, &mut buf).ok()?;
    let mono: Vec<f32> = buf
        .chunks_exact(ch)
        .map(|f| f.iter().sum::<f32>() / ch as f32)
        .collect();
    let mean_square = mono.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / frames as f64;
    let rms_dbfs = gain_to_db(mean_square.sqrt());
    if rms_dbfs.is_nan() || rms_dbfs < TUNER_MIN_RMS_DBFS {
        return None;
    }
    let p = estimate_pitch(&mono, rate, &settings)?;
    (p.clarity >= TUNER_MIN_CLARITY).then(|| LivePitch {
        hz: (p.hz * 1000.0).round() / 1000.0,
        clarity: (p.clarity * 1000.0).round() / 1000.0,
        rms_dbfs: (rms_dbfs * 10.0).round() / 10.0,
    })
}

#[cfg(test)]
mod tests {
    use super::near_hz;

    #[test]
    fn near_hz_is_a_frequency_or_absent() {
        assert_eq!(near_hz(None), Ok(None));
        assert_eq!(near_hz(Some("x=1")), Ok(None));
        assert_eq!(near_hz(Some("a=b&near_hz=440.5")), Ok(Some(440.5)));
        for bad in ["near_hz=", "near_hz=nan", "near_hz=5", "near_hz=1e9"] {
            assert_eq!(near_hz(Some(bad)).unwrap_err().field, "near_hz", "{bad}");
        }
    }
}
