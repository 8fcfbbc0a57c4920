//! Integrated loudness (LUFS) per ITU-R BS.1770-4 / EBU R128, streaming.
//!
//! K-weighting is computed for any sample rate with the analog-prototype
//! formulas used by libebur128 and pyloudnorm (they reproduce the
//! Recommendation's 48 kHz table). Gating: 400 ms blocks every 100 ms,
//! absolute gate -70 LUFS, relative gate -10 LU. The 100 ms step is
//! `round(rate / 10)` frames, so exact for all common rates.
//!
//! Memory is bounded: gated blocks go into a 0.01 LU histogram holding the
//! exact energy sum per bin, so only blocks within 0.01 LU of the relative
//! gate can be misclassified (an error far below 0.01 LU).
//!
//! Channel weights (our choice, no channel map is known for a take): with
//! 1-4 channels every channel weighs 1.0; with 5 or more, the 4th and 5th
//! channels (indices 3 and 4) are surrounds at 1.41 as in a 5.0 L R C Ls Rs
//! layout, and all others weigh 1.0. Nothing is treated as LFE: takebox
//! inputs are microphones. Use [`LoudnessMeter::with_weights`] to override.

use super::error::{DspError, check_format};
use super::frames::{Framer, channel};

const ABS_GATE_LUFS: f64 = -70.0;
const REL_GATE_LU: f64 = -10.0;
const HIST_BIN_LU: f64 = 0.01;
const HIST_TOP_LUFS: f64 = 30.0;
const HIST_BINS: usize = ((HIST_TOP_LUFS - ABS_GATE_LUFS) / HIST_BIN_LU) as usize;
/// Steps (100 ms) per momentary block and per short-term window.
const MOMENTARY_STEPS: usize = 4;
const SHORT_TERM_STEPS: usize = 30;
/// Below this, filter states are flushed to zero: a long digital silence
/// would otherwise decay into denormals, which are very slow on x86.
const DENORMAL_FLUSH: f64 = 1e-30;

/// Lowest rate accepted: the K-weighting shelf at 1.68 kHz must sit well
/// below Nyquist.
pub const MIN_LOUDNESS_RATE: u32 = 8000;

/// Loudness of a block mean square (BS.1770 eq. 2).
fn lufs(z: f64) -> f64 {
    -0.691 + 10.0 * z.log10()
}

fn mean_square_for(lufs: f64) -> f64 {
    10f64.powf((lufs + 0.691) / 10.0)
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

/// The two K-weighting stages (shelf, then RLB high-pass) for `rate`.
fn k_weighting(rate: u32) -> [Biquad; 2] {
    let rate = rate as f64;
    // Stage 1: high shelf, +4 dB above ~1.7 kHz (head effects).
    let f0 = 1_681.974_450_955_533;
    let g = 3.999_843_853_973_347;
    let q = 0.707_175_236_955_419_6;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    // Stage 2: RLB high-pass at ~38 Hz.
    let f0 = 38.135_470_876_024_44;
    let q = 0.500_327_037_323_877_3;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = Biquad {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    [shelf, highpass]
}

/// Direct form I state of both stages for one channel.
#[derive(Debug, Clone, Copy, Default)]
struct KState {
    x: [f64; 2],
    s: [f64; 2],
    y: [f64; 2],
}

impl KState {
    #[inline(always)]
    fn process(&mut self, k: &[Biquad; 2], x: f64) -> f64 {
        let [f1, f2] = k;
        let s = f1.b[0] * x + f1.b[1] * self.x[0] + f1.b[2] * self.x[1]
            - f1.a[0] * self.s[0]
            - f1.a[1] * self.s[1];
        let y = f2.b[0] * s + f2.b[1] * self.s[0] + f2.b[2] * self.s[1]
            - f2.a[0] * self.y[0]
            - f2.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        self.s = [s, self.s[0]];
        self.y = [y, self.y[0]];
        y
    }

    /// Zeroes states that have decayed below -600 dB. Called at least every
    /// `FLUSH_FRAMES`: the fastest pole (~0.86 at 48 kHz) needs over 4000
    /// samples to fall from there into the denormal range.
    fn flush(&mut self) {
        for v in self.x.iter_mut().chain(&mut self.s).chain(&mut self.y) {
            if v.abs() < DENORMAL_FLUSH {
                *v = 0.0;
            }
        }
    }
}

/// Longest stretch filtered between two [`KState::flush`] calls.
const FLUSH_FRAMES: usize = 1024;

/// K-weights one segment of whole frames and returns its channel-weighted
/// energy. Channels go two at a time so the two recursive filter chains
/// overlap in the pipeline.
fn filter_segment(
    seg: &[f32],
    ch: usize,
    k: &[Biquad; 2],
    states: &mut [KState],
    weights: &[f64],
) -> f64 {
    let mut total = 0.0;
    let mut c = 0;
    while c < ch {
        if c + 1 < ch {
            let (mut a, mut b) = (states[c], states[c + 1]);
            let (mut ea, mut eb) = (0.0, 0.0);
            for (xa, xb) in channel(seg, ch, c).zip(channel(seg, ch, c + 1)) {
                let ya = a.process(k, xa as f64);
                let yb = b.process(k, xb as f64);
                ea += ya * ya;
                eb += yb * yb;
            }
            a.flush();
            b.flush();
            (states[c], states[c + 1]) = (a, b);
            total += weights[c] * ea + weights[c + 1] * eb;
            c += 2;
        } else {
            let mut a = states[c];
            let mut ea = 0.0;
            for x in channel(seg, ch, c) {
                let y = a.process(k, x as f64);
                ea += y * y;
            }
            a.flush();
            states[c] = a;
            total += weights[c] * ea;
            c += 1;
        }
    }
    total
}

/// Streaming BS.1770-4 loudness meter.
#[derive(Debug, Clone)]
pub struct LoudnessMeter {
    framer: Framer,
    channels: usize,
    weights: Vec<f64>,
    filters: [Biquad; 2],
    states: Vec<KState>,
    step_frames: u64,
    step_fill: u64,
    /// Weighted sum of squared K-weighted samples in the current step.
    step_acc: f64,
    /// The last `SHORT_TERM_STEPS` step sums, newest at `ring_pos - 1`.
    ring: [f64; SHORT_TERM_STEPS],
    ring_pos: usize,
    steps: u64,
    blocks: u64,
    gated_sum: f64,
    gated_count: u64,
    hist_sum: Vec<f64>,
    hist_count: Vec<u64>,
    max_momentary: f64,
    max_short_term: f64,
}

/// Result of a [`LoudnessMeter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoudnessStats {
    /// Gated integrated loudness; `None` when no 400 ms block passes the
    /// absolute gate (silence, or shorter than 400 ms).
    pub integrated_lufs: Option<f64>,
    /// Highest momentary (400 ms) loudness, ungated; `None` under 400 ms.
    pub max_momentary_lufs: Option<f64>,
    /// Highest short-term (3 s, 100 ms steps) loudness; `None` under 3 s.
    pub max_short_term_lufs: Option<f64>,
    /// Number of 400 ms blocks measured.
    pub blocks: u64,
}

/// Default BS.1770 weights for `channels` (see the module docs).
pub fn default_weights(channels: usize) -> Vec<f64> {
    (0..channels)
        .map(|c| {
            if channels >= 5 && (c == 3 || c == 4) {
                1.41
            } else {
                1.0
            }
        })
        .collect()
}

impl LoudnessMeter {
    /// Meter with the default channel weights. `rate` must be at least
    /// [`MIN_LOUDNESS_RATE`].
    pub fn new(channels: usize, rate: u32) -> Result<Self, DspError> {
        check_format(channels, rate)?;
        Self::with_weights(channels, rate, &default_weights(channels))
    }

    /// Meter with explicit per-channel weights (finite, >= 0; 0 ignores a
    /// channel).
    pub fn with_weights(channels: usize, rate: u32, weights: &[f64]) -> Result<Self, DspError> {
        check_format(channels, rate)?;
        if rate < MIN_LOUDNESS_RATE {
            return Err(DspError::Rate(rate));
        }
        if weights.len() != channels {
            return Err(DspError::Length {
                name: "weights",
                expected: channels,
                got: weights.len(),
            });
        }
        if let Some(&w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(DspError::Parameter {
                name: "weights",
                value: w,
            });
        }
        Ok(LoudnessMeter {
            framer: Framer::new(channels),
            channels,
            weights: weights.to_vec(),
            filters: k_weighting(rate),
            states: vec![KState::default(); channels],
            step_frames: ((rate as f64 / 10.0).round() as u64).max(1),
            step_fill: 0,
            step_acc: 0.0,
            ring: [0.0; SHORT_TERM_STEPS],
            ring_pos: 0,
            steps: 0,
            blocks: 0,
            gated_sum: 0.0,
            gated_count: 0,
            hist_sum: vec![0.0; HIST_BINS],
            hist_count: vec![0; HIST_BINS],
            max_momentary: 0.0,
            max_short_term: 0.0,
        })
    }

    pub fn feed(&mut self, chunk: &[f32]) {
        let ch = self.channels;
        let mut framer = std::mem::replace(&mut self.framer, Framer::new(0));
        framer.feed(chunk, |mut run| {
            // Segments end at 100 ms step boundaries; within one, each
            // channel is filtered in a tight loop with its state in locals.
            while !run.is_empty() {
                let take = ((self.step_frames - self.step_fill) as usize)
                    .min(run.len() / ch)
                    .min(FLUSH_FRAMES);
                let (seg, rest) = run.split_at(take * ch);
                self.step_acc +=
                    filter_segment(seg, ch, &self.filters, &mut self.states, &self.weights);
                self.step_fill += take as u64;
                if self.step_fill == self.step_frames {
                    self.end_step();
                }
                run = rest;
            }
        });
        self.framer = framer;
    }

    /// Closes a 100 ms step; every step completes a 400 ms block once four
    /// have been seen, and a 3 s window once thirty have.
    fn end_step(&mut self) {
        self.ring[self.ring_pos] = self.step_acc;
        self.ring_pos = (self.ring_pos + 1) % SHORT_TERM_STEPS;
        self.step_acc = 0.0;
        self.step_fill = 0;
        self.steps += 1;
        let recent = |n: usize| -> f64 {
            (1..=n)
                .map(|i| self.ring[(self.ring_pos + SHORT_TERM_STEPS - i) % SHORT_TERM_STEPS])
                .sum()
        };
        if self.steps >= SHORT_TERM_STEPS as u64 {
            let z = recent(SHORT_TERM_STEPS) / (SHORT_TERM_STEPS as u64 * self.step_frames) as f64;
            self.max_short_term = self.max_short_term.max(z);
        }
        if self.steps < MOMENTARY_STEPS as u64 {
            return;
        }
        let z = recent(MOMENTARY_STEPS) / (MOMENTARY_STEPS as u64 * self.step_frames) as f64;
        self.blocks += 1;
        self.max_momentary = self.max_momentary.max(z);
        if z <= 0.0 {
            return;
        }
        let l = lufs(z);
        if l > ABS_GATE_LUFS {
            self.gated_sum += z;
            self.gated_count += 1;
            let bin = (((l - ABS_GATE_LUFS) / HIST_BIN_LU) as usize).min(HIST_BINS - 1);
            self.hist_sum[bin] += z;
            self.hist_count[bin] += 1;
        }
    }

    /// The measurement so far (the meter can keep running). Incomplete
    /// blocks at the end are not counted, as in BS.1770.
    pub fn finish(&self) -> LoudnessStats {
        let to_lufs = |z: f64| (z > 0.0).then(|| lufs(z));
        let integrated_lufs = (self.gated_count > 0).then(|| {
            let gate = lufs(self.gated_sum / self.gated_count as f64) + REL_GATE_LU;
            let (mut sum, mut count) = (0.0, 0u64);
            for (bin, (&s, &n)) in self.hist_sum.iter().zip(&self.hist_count).enumerate() {
                if n == 0 {
                    continue;
                }
                let low = ABS_GATE_LUFS + bin as f64 * HIST_BIN_LU;
                // A bin straddling the gate goes by the loudness of its mean.
                let keep = if low > gate {
                    true
                } else if low + HIST_BIN_LU <= gate {
                    false
                } else {
                    s / n as f64 > mean_square_for(gate)
                };
                if keep {
                    sum += s;
                    count += n;
                }
            }
            // Blocks louder than the mean always pass, so count > 0.
            lufs(sum / count.max(1) as f64)
        });
        LoudnessStats {
            integrated_lufs,
            max_momentary_lufs: if self.blocks > 0 {
                to_lufs(self.max_momentary)
            } else {
                None
            },
            max_short_term_lufs: if self.steps >= SHORT_TERM_STEPS as u64 {
                to_lufs(self.max_short_term)
            } else {
                None
            },
            blocks: self.blocks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::level::db_to_gain;
    use super::super::testsig::{hostile_inputs, interleave, tone};
    use super::*;

    fn measure(channels: usize, rate: u32, data: &[f32]) -> LoudnessStats {
        let mut m = LoudnessMeter::new(channels, rate).unwrap();
        m.feed(data);
        m.finish()
    }

    fn integrated(channels: usize, rate: u32, data: &[f32]) -> f64 {
        measure(channels, rate, data).integrated_lufs.unwrap()
    }

    #[test]
    fn coefficients_match_the_bs1770_table_at_48k() {
        let [shelf, hp] = k_weighting(48_000);
        let table_shelf = [
            1.535_124_859_586_97,
            -2.691_696_189_406_38,
            1.198_392_810_852_85,
            -1.690_659_293_182_41,
            0.732_480_774_215_85,
        ];
        let table_hp = [1.0, -2.0, 1.0, -1.990_047_454_833_98, 0.990_072_250_366_21];
        let got_shelf = [shelf.b[0], shelf.b[1], shelf.b[2], shelf.a[0], shelf.a[1]];
        let got_hp = [hp.b[0], hp.b[1], hp.b[2], hp.a[0], hp.a[1]];
        for (g, t) in got_shelf.iter().zip(&table_shelf) {
            assert!((g - t).abs() < 1e-8, "{g} vs {t}");
        }
        for (g, t) in got_hp.iter().zip(&table_hp) {
            assert!((g - t).abs() < 1e-8, "{g} vs {t}");
        }
    }

    #[test]
    fn full_scale_997hz_in_one_channel_of_stereo_is_minus_3_01() {
        // BS.1770 calibration: 0 dBFS 997 Hz in one channel = -3.01 LKFS.
        let rate = 48_000;
        let left = tone(rate, 997.0, 1.0, 0.0, rate as usize * 3);
        let right = vec![0.0; left.len()];
        let l = integrated(2, rate, &interleave(&[left, right]));
        assert!((l + 3.01).abs() < 0.02, "{l}");
    }

    #[test]
    fn ebu_stereo_1k_at_minus_23_reads_minus_23() {
        // EBU Tech 3341 case 1: stereo 1 kHz at -23 dBFS per channel.
        for rate in [44_100, 48_000] {
            let x = tone(rate, 1000.0, db_to_gain(-23.0), 0.0, rate as usize * 5);
            let l = integrated(2, rate, &interleave(&[x.clone(), x]));
            assert!((l + 23.0).abs() < 0.05, "{rate}: {l}");
        }
    }

    #[test]
    fn mono_1k_at_minus_20_reads_minus_23_at_any_rate() {
        // Mean square of a sine is A²/2: -20 dBFS peak = -23.01 LUFS mono.
        for rate in [32_000, 44_100, 48_000, 96_000] {
            let x = tone(rate, 1000.0, db_to_gain(-20.0), 0.0, rate as usize * 2);
            let l = integrated(1, rate, &x);
            assert!((l + 23.01).abs() < 0.05, "{rate}: {l}");
        }
    }

    #[test]
    fn k_weighting_is_rate_independent() {
        // The shelf lifts 8 kHz by about 4 dB and the high-pass cuts 30 Hz;
        // either way the reading must not depend on the sample rate.
        for hz in [30.0, 8000.0] {
            let read = |rate: u32| integrated(1, rate, &tone(rate, hz, 0.5, 0.0, rate as usize));
            let (a, b) = (read(44_100), read(96_000));
            assert!((a - b).abs() < 0.05, "{hz} Hz: {a} vs {b}");
        }
        let read = |hz: f64| integrated(1, 48_000, &tone(48_000, hz, 0.5, 0.0, 48_000));
        // The shelf gives +4.0 dB at high frequencies and 0.691 dB of it
        // already at 997 Hz (the calibration constant).
        let lift = read(8000.0) - read(997.0);
        assert!((lift - (3.999_8 - 0.691)).abs() < 0.1, "shelf lift {lift}");
    }

    #[test]
    fn relative_gate_drops_quiet_passages() {
        // Tech 3341 case 3 shape: -36 / -23 / -36 dBFS stereo 1 kHz. The
        // quiet parts fall under the relative gate (-23 - 10 LU); only the
        // six blocks straddling the edges pull the result down, by
        // 10·log10(200/203) = -0.065 LU with a 20 s loud part.
        let rate = 48_000;
        let part =
            |db: f64, secs: usize| tone(rate, 1000.0, db_to_gain(db), 0.0, rate as usize * secs);
        let mut x = part(-36.0, 10);
        x.extend(part(-23.0, 20));
        x.extend(part(-36.0, 10));
        let l = integrated(2, rate, &interleave(&[x.clone(), x]));
        assert!(
            (l - (-23.0 + 10.0 * (200.0f64 / 203.0).log10())).abs() < 0.02,
            "{l}"
        );
        assert!((l + 23.0).abs() < 0.1);
    }

    #[test]
    fn absolute_gate_makes_silence_unmeasurable() {
        let rate = 48_000;
        assert_eq!(measure(1, rate, &vec![0.0; 96_000]).integrated_lufs, None);
        // -80 dBFS sine: blocks at -83 LUFS, all under -70.
        let x = tone(rate, 1000.0, db_to_gain(-80.0), 0.0, 96_000);
        let s = measure(1, rate, &x);
        assert_eq!(s.integrated_lufs, None);
        assert!((s.max_momentary_lufs.unwrap() + 83.01).abs() < 0.05);
        // Shorter than one block.
        let short = measure(1, rate, &tone(rate, 1000.0, 0.5, 0.0, 19_000));
        assert_eq!(
            short,
            LoudnessStats {
                integrated_lufs: None,
                max_momentary_lufs: None,
                max_short_term_lufs: None,
                blocks: 0
            }
        );
    }

    #[test]
    fn momentary_and_short_term_maxima() {
        // 4 s at -30 dBFS then 1 s at -10 dBFS, mono 1 kHz: max momentary is
        // the loud second (-13.01); the best 3 s window holds 1 s loud and
        // 2 s quiet: 10·log10((1·z_loud + 2·z_quiet)/3).
        let rate = 48_000;
        let mut x = tone(rate, 1000.0, db_to_gain(-30.0), 0.0, rate as usize * 4);
        x.extend(tone(rate, 1000.0, db_to_gain(-10.0), 0.0, rate as usize));
        let s = measure(1, rate, &x);
        assert!((s.max_momentary_lufs.unwrap() + 13.01).abs() < 0.05);
        let z = |db: f64| 10f64.powf((db - 3.0103) / 10.0);
        let want = 10.0 * ((z(-10.0) + 2.0 * z(-30.0)) / 3.0).log10();
        assert!((s.max_short_term_lufs.unwrap() - want).abs() < 0.05);
        assert_eq!(s.blocks, 47);
    }

    #[test]
    fn surround_weights_with_five_or_more_channels() {
        let rate = 48_000;
        let x = tone(rate, 997.0, 0.5, 0.0, rate as usize);
        let silent = vec![0.0; x.len()];
        let in_channel = |channels: usize, c: usize| {
            let mut planes = vec![silent.clone(); channels];
            planes[c] = x.clone();
            integrated(channels, rate, &interleave(&planes))
        };
        let front = in_channel(5, 0);
        assert!((in_channel(5, 3) - front - 10.0 * 1.41f64.log10()).abs() < 1e-6);
        assert!((in_channel(5, 4) - front - 10.0 * 1.41f64.log10()).abs() < 1e-6);
        assert!((in_channel(4, 3) - front).abs() < 1e-6);
        assert!((in_channel(8, 7) - front).abs() < 1e-6);
        assert_eq!(default_weights(6), vec![1.0, 1.0, 1.0, 1.41, 1.41, 1.0]);
    }

    #[test]
    fn chunking_does_not_change_the_result() {
        let rate = 44_100;
        let x = tone(rate, 440.0, 0.3, 0.0, 3 * rate as usize);
        let data = interleave(&[x.clone(), x]);
        let whole = measure(2, rate, &data);
        let mut m = LoudnessMeter::new(2, rate).unwrap();
        for c in data.chunks(1001) {
            m.feed(c);
        }
        // Equal up to float summation order.
        let split = m.finish();
        assert_eq!(split.blocks, whole.blocks);
        let close = |a: Option<f64>, b: Option<f64>| (a.unwrap() - b.unwrap()).abs() < 1e-9;
        assert!(close(split.integrated_lufs, whole.integrated_lufs));
        assert!(close(split.max_momentary_lufs, whole.max_momentary_lufs));
        assert!(close(split.max_short_term_lufs, whole.max_short_term_lufs));
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert_eq!(
            LoudnessMeter::new(0, 48_000).unwrap_err(),
            DspError::Channels(0)
        );
        assert_eq!(LoudnessMeter::new(2, 0).unwrap_err(), DspError::Rate(0));
        assert_eq!(
            LoudnessMeter::new(2, 4000).unwrap_err(),
            DspError::Rate(4000)
        );
        assert!(LoudnessMeter::with_weights(2, 48_000, &[1.0]).is_err());
        assert!(LoudnessMeter::with_weights(2, 48_000, &[1.0, f64::NAN]).is_err());
    }

    #[test]
    fn hostile_inputs_never_panic() {
        for channels in [1, 2, 8] {
            for data in hostile_inputs(channels) {
                let s = measure(channels, 48_000, &data);
                assert!(s.integrated_lufs.is_none_or(|l| l.is_finite()));
            }
        }
        // NaN must not poison the filters: a tone after a NaN burst reads
        // like the tone alone.
        let rate = 48_000;
        let x = tone(rate, 1000.0, db_to_gain(-20.0), 0.0, rate as usize * 2);
        let mut with_nan = vec![f32::NAN; 10];
        with_nan.extend(&x);
        let l = integrated(1, rate, &with_nan);
        assert!((l + 23.01).abs() < 0.05, "{l}");
        // Full-scale DC is removed by the high-pass: only the click of its
        // start registers, far below a full-scale sine's -3 LUFS.
        let dc = measure(1, rate, &vec![1.0; 96_000]).integrated_lufs;
        assert!(dc.is_none_or(|l| l < -20.0), "{dc:?}");
    }
}
