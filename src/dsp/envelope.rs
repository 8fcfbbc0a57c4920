//! A take's waveform for a screen: the lowest and highest sample (over all
//! channels) per column of equal length, computed in one streaming pass
//! whose length need not be known in advance.
//!
//! Columns start one frame wide; whenever there are `2 * target` of them,
//! neighbours are merged in pairs and the width doubles. The result has
//! between `target` and `2 * target` columns (fewer only for a take shorter
//! than `target` frames), each exactly `frames_per_column` frames wide but
//! the last, so a frame position maps onto a column by one division.

use super::error::{DspError, check_format};
use super::frames::{Framer, finite};

#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Frames fed.
    pub frames: u64,
    pub frames_per_column: u64,
    /// Per column, full scale = 1.0.
    pub min: Vec<f32>,
    pub max: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct EnvelopeMeter {
    framer: Framer,
    columns: Columns,
}

/// The columns so far and the one being filled.
#[derive(Debug, Clone)]
struct Columns {
    channels: usize,
    target: usize,
    width: u64,
    min: Vec<f32>,
    max: Vec<f32>,
    lo: f32,
    hi: f32,
    /// Frames in the column being filled.
    filled: u64,
    frames: u64,
}

impl EnvelopeMeter {
    /// `target` columns at the least (1..=65536) once the take is long enough.
    pub fn new(channels: usize, target: usize) -> Result<Self, DspError> {
        check_format(channels, 1)?;
        if !(1..=65_536).contains(&target) {
            return Err(DspError::Parameter {
                name: "target",
                value: target as f64,
            });
        }
        Ok(EnvelopeMeter {
            framer: Framer::new(channels),
            columns: Columns {
                channels,
                target,
                width: 1,
                min: Vec::with_capacity(2 * target),
                max: Vec::with_capacity(2 * target),
                lo: f32::INFINITY,
                hi: f32::NEG_INFINITY,
                filled: 0,
                frames: 0,
            },
        })
    }

    /// Interleaved samples, any chunk length.
    pub fn feed(&mut self, chunk: &[f32]) {
        let columns = &mut self.columns;
        self.framer.feed(chunk, |run| {
            for frame in run.chunks_exact(columns.channels) {
                columns.frame(frame);
            }
        });
    }

    pub fn finish(self) -> Envelope {
        let mut c = self.columns;
        if c.filled > 0 {
            c.close_column();
        }
        Envelope {
            frames: c.frames,
            frames_per_column: c.width,
            min: c.min,
            max: c.max,
        }
    }
}

impl Columns {
    fn frame(&mut self, frame: &[f32]) {
        for &x in frame {
            let x = finite(x);
            self.lo = self.lo.min(x);
            self.hi = self.hi.max(x);
        }
        self.frames += 1;
        self.filled += 1;
        if self.filled == self.width {
            self.close_column();
            if self.min.len() == 2 * self.target {
                self.halve();
            }
        }
    }

    fn close_column(&mut self) {
        self.min.push(self.lo);
        self.max.push(self.hi);
        self.lo = f32::INFINITY;
        self.hi = f32::NEG_INFINITY;
        self.filled = 0;
    }

    /// Merge neighbouring columns: half as many, twice as wide.
    fn halve(&mut self) {
        let merge = |v: &mut Vec<f32>, f: fn(f32, f32) -> f32| {
            let n = v.len() / 2;
            for i in 0..n {
                v[i] = f(v[2 * i], v[2 * i + 1]);
            }
            v.truncate(n);
        };
        merge(&mut self.min, f32::min);
        merge(&mut self.max, f32::max);
        self.width *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_hold_each_stretch_extremes_whatever_the_chunking() {
        // A stereo ramp: channel 0 rises, channel 1 is its negative.
        let frames = 10_000usize;
        let samples: Vec<f32> = (0..frames)
            .flat_map(|i| {
                let x = i as f32 / frames as f32;
                [x, -x]
            })
            .collect();
        let mut whole = EnvelopeMeter::new(2, 100).unwrap();
        whole.feed(&samples);
        let whole = whole.finish();
        let mut pieces = EnvelopeMeter::new(2, 100).unwrap();
        for c in samples.chunks(333) {
            pieces.feed(c);
        }
        assert_eq!(pieces.finish(), whole, "split mid-frame or not, the same");
        assert_eq!(whole.frames, frames as u64);
        assert!((100..200).contains(&whole.min.len()), "{}", whole.min.len());
        assert_eq!(whole.frames_per_column, 64);
        assert_eq!(whole.min.len(), frames.div_ceil(64));
        for (i, (&lo, &hi)) in whole.min.iter().zip(&whole.max).enumerate() {
            let last = ((i + 1) * 64).min(frames) - 1;
            assert_eq!(hi, last as f32 / frames as f32, "column {i}");
            assert_eq!(lo, -hi);
        }
    }

    #[test]
    fn short_takes_keep_a_column_per_frame_and_bad_samples_are_silence() {
        let mut m = EnvelopeMeter::new(1, 400).unwrap();
        m.feed(&[0.5, f32::NAN, -0.25]);
        let e = m.finish();
        assert_eq!(e.frames_per_column, 1);
        assert_eq!(e.max, vec![0.5, 0.0, -0.25]);
        assert!(EnvelopeMeter::new(1, 0).is_err());
        assert!(EnvelopeMeter::new(0, 10).is_err());
    }
}
