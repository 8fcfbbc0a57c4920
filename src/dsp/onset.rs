//! Where a note's sound starts in a recording with a pre-roll: the first
//! frame that stands out of the noise measured in the pre-roll's first half.
//! Streaming, fed the take's frames as they are recorded.

use super::level::db_to_gain;

/// Quietest level an onset must reach (dBFS): with a digitally silent
/// pre-roll (a software synth) the first sample above it is the onset.
pub const ONSET_FLOOR_DBFS: f64 = -80.0;
/// How far above the noise peak an onset stands (dB).
pub const ONSET_OVER_NOISE_DB: f64 = 12.0;

#[derive(Debug, Clone)]
pub struct OnsetFinder {
    channels: usize,
    /// Frames from the recording's start that measure the noise.
    noise_frames: u64,
    pos: u64,
    noise_peak: f32,
    onset: Option<u64>,
}

/// What the finder found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Onset {
    /// Frame of the onset from the recording's first frame.
    pub frame: Option<u64>,
    /// Sample peak of the noise window (full scale 1).
    pub noise_peak: f32,
}

impl OnsetFinder {
    /// For a recording whose note is planned `pre_roll` frames in: the noise
    /// is measured on the first half of the pre-roll, the onset looked for
    /// after it (it may come before the planned start).
    pub fn new(channels: u16, pre_roll: u64) -> OnsetFinder {
        OnsetFinder {
            channels: usize::from(channels.max(1)),
            noise_frames: pre_roll / 2,
            pos: 0,
            noise_peak: 0.0,
            onset: None,
        }
    }

    fn threshold(&self) -> f32 {
        let floor = db_to_gain(ONSET_FLOOR_DBFS) as f32;
        let over = db_to_gain(ONSET_OVER_NOISE_DB) as f32;
        (self.noise_peak * over).max(floor)
    }

    /// Interleaved frames, in order.
    pub fn feed(&mut self, samples: &[f32]) {
        for frame in samples.chunks_exact(self.channels) {
            let peak = frame.iter().fold(0.0f32, |m, s| m.max(s.abs()));
            if self.pos < self.noise_frames {
                self.noise_peak = self.noise_peak.max(peak);
            } else if self.onset.is_none() && peak > self.threshold() {
                self.onset = Some(self.pos);
            }
            self.pos += 1;
        }
    }

    pub fn finish(&self) -> Onset {
        Onset {
            frame: self.onset,
            noise_peak: self.noise_peak,
        }
    }
}

/// Milliseconds from the planned start (`pre_roll` frames in) to `frame`.
pub fn ms_from_start(frame: u64, pre_roll: u64, rate: u32) -> f64 {
    let ms = (frame as f64 - pre_roll as f64) * 1000.0 / f64::from(rate);
    (ms * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pre` frames of noise at `noise`, then a sine rising over `attack` frames.
    fn take(pre: usize, start: usize, noise: f32, attack: usize) -> Vec<f32> {
        let mut x: Vec<f32> = (0..pre + 48_000)
            .map(|i| noise * if i % 2 == 0 { 1.0 } else { -1.0 } * ((i * 7919 % 13) as f32 / 13.0))
            .collect();
        for (k, s) in x[start..].iter_mut().enumerate() {
            let env = (k as f32 / attack as f32).min(1.0);
            *s +=
                0.5 * env * (k as f32 * 2.0 * std::f32::consts::PI * 220.0 / 48_000.0 + 0.3).sin();
        }
        x
    }

    fn find(x: &[f32], channels: u16, pre: u64, piece: usize) -> Onset {
        let mut f = OnsetFinder::new(channels, pre);
        for c in x.chunks(piece * usize::from(channels)) {
            f.feed(c);
        }
        f.finish()
    }

    #[test]
    fn a_note_out_of_digital_silence_is_found_to_the_sample() {
        // The note starts 0.5 ms after the planned start, with a slow attack.
        let x = take(96_000, 96_024, 0.0, 4800);
        let o = find(&x, 1, 96_000, 4096);
        let frame = o.frame.unwrap();
        assert!((96_024..=96_029).contains(&frame), "{frame}");
        assert_eq!(o.noise_peak, 0.0);
        assert!((ms_from_start(frame, 96_000, 48_000) - 0.5).abs() < 0.1);
    }

    #[test]
    fn an_early_note_and_a_noisy_floor_are_found_within_a_millisecond() {
        // 2 ms before the planned start, over noise at -60 dBFS, a 20 ms attack.
        let x = take(96_000, 95_904, 0.001, 960);
        let o = find(&x, 1, 96_000, 1000);
        let ms = ms_from_start(o.frame.unwrap(), 96_000, 48_000);
        assert!((-2.0..=-1.0).contains(&ms), "{ms}");
        assert!(o.noise_peak > 0.0005 && o.noise_peak <= 0.001);
    }

    #[test]
    fn channels_are_read_together_and_silence_has_no_onset() {
        let mono = take(9_600, 9_700, 0.0, 10);
        let stereo: Vec<f32> = mono.iter().flat_map(|&s| [0.0, s]).collect();
        assert_eq!(find(&stereo, 2, 9_600, 333).frame, Some(9_701));
        assert_eq!(find(&vec![0.0; 20_000], 1, 9_600, 500).frame, None);
    }
}
