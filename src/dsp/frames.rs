//! Internal plumbing shared by the streaming analyzers: cutting arbitrary
//! interleaved chunks into whole frames, and neutralising non-finite samples.

/// Reassembles whole frames from chunks of any length, so callers may split
/// a stream anywhere (even mid-frame) and analyzers still see whole frames.
#[derive(Debug, Clone)]
pub(crate) struct Framer {
    channels: usize,
    /// A frame split across two chunks; always shorter than `channels`.
    partial: Vec<f32>,
}

impl Framer {
    pub(crate) fn new(channels: usize) -> Self {
        Framer {
            channels,
            partial: Vec::with_capacity(channels),
        }
    }

    /// Calls `f` with runs of whole interleaved frames (length is a multiple
    /// of `channels`, never empty). No allocation after construction.
    #[inline]
    pub(crate) fn feed(&mut self, mut chunk: &[f32], mut f: impl FnMut(&[f32])) {
        if !self.partial.is_empty() {
            let take = (self.channels - self.partial.len()).min(chunk.len());
            self.partial.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.partial.len() < self.channels {
                return;
            }
            f(&self.partial);
            self.partial.clear();
        }
        let whole = chunk.len() - chunk.len() % self.channels;
        if whole > 0 {
            f(&chunk[..whole]);
        }
        self.partial.extend_from_slice(&chunk[whole..]);
    }
}

/// Channel `c` of a run of whole interleaved frames, sanitized. Analyzers
/// walk runs channel by channel: each inner loop then keeps its state in
/// registers instead of indexing per-channel arrays every sample.
#[inline(always)]
pub(crate) fn channel(run: &[f32], channels: usize, c: usize) -> impl Iterator<Item = f32> + '_ {
    run.get(c..)
        .unwrap_or(&[])
        .iter()
        .step_by(channels)
        .map(|&x| finite(x))
}

/// Non-finite samples (NaN, ±inf) count as silence everywhere: one NaN must
/// not poison an IIR filter state or a sum for the rest of the file.
#[inline(always)]
pub(crate) fn finite(x: f32) -> f32 {
    // Bit form of `if x.is_finite() { x } else { 0.0 }`: no branch, so
    // loops over samples vectorize.
    let bits = x.to_bits();
    let keep = u32::from((bits & 0x7FFF_FFFF) < 0x7F80_0000).wrapping_neg();
    f32::from_bits(bits & keep)
}

/// `x` less its mean, non-finite samples as silence: a window as the
/// correlation of a pitch search wants it.
pub(crate) fn without_mean(x: &[f32]) -> Vec<f32> {
    let mean = x.iter().map(|&v| finite(v) as f64).sum::<f64>() / x.len().max(1) as f64;
    x.iter()
        .map(|&v| (finite(v) as f64 - mean) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() {
        let data: Vec<f32> = (0..30).map(|i| i as f32).collect();
        for split in 1..8 {
            let mut framer = Framer::new(3);
            let mut seen = Vec::new();
            for chunk in data.chunks(split) {
                framer.feed(chunk, |frames| {
                    assert_eq!(frames.len() % 3, 0);
                    assert!(!frames.is_empty());
                    seen.extend_from_slice(frames);
                });
            }
            assert_eq!(seen, data, "split {split}");
        }
    }

    #[test]
    fn trailing_partial_frame_is_held_back() {
        let mut framer = Framer::new(2);
        let mut n = 0;
        framer.feed(&[1.0, 2.0, 3.0], |f| n += f.len());
        assert_eq!(n, 2);
        framer.feed(&[], |f| n += f.len());
        assert_eq!(n, 2);
    }

    #[test]
    fn non_finite_becomes_zero() {
        assert_eq!(finite(f32::NAN), 0.0);
        assert_eq!(finite(f32::INFINITY), 0.0);
        assert_eq!(finite(f32::NEG_INFINITY), 0.0);
        assert_eq!(finite(-0.5), -0.5);
    }
}
