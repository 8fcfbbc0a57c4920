//! Levels: dBFS conversions and streaming sample-peak, true-peak and
//! mean/RMS meters.
//!
//! Conventions: full scale is 1.0 = 0 dBFS; RMS in dBFS is `10·log10(mean
//! square)`, so a full-scale sine reads -3.01 dBFS RMS (no AES17 +3 dB
//! offset). Non-finite samples are counted by [`PeakMeter`] and measured as
//! 0.0 everywhere else.

use super::error::{DspError, check_format, check_param};
use super::frames::{Framer, channel, finite};

/// Linear amplitude for a level in dB. `-inf` gives 0.0; NaN gives 0.0 so a
/// bad number can never turn into a gain.
pub fn db_to_gain(db: f64) -> f64 {
    if db.is_nan() {
        0.0
    } else {
        10f64.powf(db / 20.0)
    }
}

/// Level in dB of a linear amplitude. 0.0, negative and NaN give `-inf`.
pub fn gain_to_db(gain: f64) -> f64 {
    if gain > 0.0 {
        20.0 * gain.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// [`gain_to_db`] clamped below at `floor_db`, for displays and reports that
/// cannot hold `-inf`.
pub fn gain_to_db_floor(gain: f64, floor_db: f64) -> f64 {
    gain_to_db(gain).max(floor_db)
}

/// Level in dB of a mean square (power). 0.0 and below give `-inf`.
pub fn power_to_db(mean_square: f64) -> f64 {
    if mean_square > 0.0 {
        10.0 * mean_square.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Streaming sample-peak meter with a per-channel count of samples at or
/// over a ceiling (clipping detection).
#[derive(Debug, Clone)]
pub struct PeakMeter {
    framer: Framer,
    channels: usize,
    ceiling: f32,
    peak: Vec<f32>,
    over: Vec<u64>,
    non_finite: u64,
    frames: u64,
}

/// Result of a [`PeakMeter`].
#[derive(Debug, Clone, PartialEq)]
pub struct PeakStats {
    /// Whole frames seen.
    pub frames: u64,
    /// Largest `|sample|` per channel, linear.
    pub peak: Vec<f32>,
    /// Samples per channel with `|sample| >=` the ceiling.
    pub over_ceiling: Vec<u64>,
    /// NaN/inf samples (all channels); they count neither as peak nor over.
    pub non_finite: u64,
}

impl PeakStats {
    /// Peak per channel in dBFS (`-inf` for digital silence).
    pub fn peak_dbfs(&self) -> Vec<f64> {
        self.peak.iter().map(|&p| gain_to_db(p as f64)).collect()
    }

    /// Highest channel peak in dBFS.
    pub fn max_peak_dbfs(&self) -> f64 {
        gain_to_db(self.peak.iter().fold(0.0f32, |a, &p| a.max(p)) as f64)
    }

    /// Samples at or over the ceiling, all channels.
    pub fn total_over_ceiling(&self) -> u64 {
        self.over_ceiling.iter().sum()
    }
}

/// One lane's (or channel's) findings in [`scan_abs`].
#[derive(Debug, Clone, Copy, Default)]
struct AbsLane {
    max: f32,
    over: u64,
    non_finite: u64,
}

impl AbsLane {
    #[inline(always)]
    fn add(&mut self, x: f32, ceiling: f32) {
        let a = x.abs();
        // False for NaN and inf alike: they count as neither peak nor over.
        let ok = a < f32::INFINITY;
        self.max = self.max.max(if ok { a } else { 0.0 });
        self.over += u64::from(ok & (a >= ceiling));
        self.non_finite += u64::from(!ok);
    }
}

/// Largest finite `|x|`, samples at or over the ceiling and non-finite
/// samples of a run of whole frames, reported per channel through
/// `report(channel, lane)` (possibly several times per channel). With 1, 2,
/// 4 or 8 channels the run is read in eight interleaved lanes, each of one
/// channel, so the loop vectorizes; other counts go channel by channel.
#[inline(always)]
fn scan_abs(run: &[f32], ch: usize, ceiling: f32, mut report: impl FnMut(usize, AbsLane)) {
    const LANES: usize = 8;
    if !LANES.is_multiple_of(ch) {
        for c in 0..ch {
            let mut lane = AbsLane::default();
            for &s in run.get(c..).unwrap_or(&[]).iter().step_by(ch) {
                lane.add(s, ceiling);
            }
            report(c, lane);
        }
        return;
    }
    let (mut max, mut over, mut bad) = ([0.0f32; LANES], [0u32; LANES], [0u32; LANES]);
    // u32 counts: flushed before they could overflow.
    for block in run.chunks(LANES << 20) {
        let mut wide = block.chunks_exact(LANES);
        for w in &mut wide {
            let w: &[f32; LANES] = w.try_into().expect("chunks_exact");
            for k in 0..LANES {
                let a = w[k].abs();
                let ok = a < f32::INFINITY;
                let v = if ok { a } else { 0.0 };
                max[k] = if v > max[k] { v } else { max[k] };
                over[k] += u32::from(ok & (a >= ceiling));
                bad[k] += u32::from(!ok);
            }
        }
        // The remainder starts on a frame boundary (8 is a multiple of ch).
        for (k, &s) in wide.remainder().iter().enumerate() {
            let mut lane = AbsLane::default();
            lane.add(s, ceiling);
            report(k % ch, lane);
        }
        for k in 0..LANES {
            let lane = AbsLane {
                max: max[k],
                over: u64::from(over[k]),
                non_finite: u64::from(bad[k]),
            };
            report(k % ch, lane);
            (over[k], bad[k]) = (0, 0);
        }
    }
}

/// Sum and sum of squares of each channel of a run of whole frames (non-
/// finite samples as 0), reported through `report(channel, sum, sum_sq)`,
/// possibly several times per channel. Eight interleaved f64 lanes when
/// they divide evenly into channels (1, 2, 4, 8), so the adds overlap
/// instead of waiting on one another.
#[inline(always)]
fn sums(run: &[f32], ch: usize, mut report: impl FnMut(usize, f64, f64)) {
    const LANES: usize = 8;
    if !LANES.is_multiple_of(ch) {
        for c in 0..ch {
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for x in channel(run, ch, c) {
                let x = x as f64;
                s1 += x;
                s2 += x * x;
            }
            report(c, s1, s2);
        }
        return;
    }
    let (mut s1, mut s2) = ([0.0f64; LANES], [0.0f64; LANES]);
    let mut wide = run.chunks_exact(LANES);
    for w in &mut wide {
        let w: &[f32; LANES] = w.try_into().expect("chunks_exact");
        for k in 0..LANES {
            let x = f64::from(finite(w[k]));
            s1[k] += x;
            s2[k] += x * x;
        }
    }
    for (k, &x) in wide.remainder().iter().enumerate() {
        let x = f64::from(finite(x));
        s1[k] += x;
        s2[k] += x * x;
    }
    for k in 0..LANES {
        report(k % ch, s1[k], s2[k]);
    }
}

/// Raises `peaks[c]` to the largest finite `|x|` of channel `c` in
/// `samples` (whole interleaved frames of `peaks.len()` channels).
pub fn channel_peaks(samples: &[f32], channels: usize, peaks: &mut [f32]) {
    scan_abs(samples, channels, f32::INFINITY, |c, lane| {
        peaks[c] = peaks[c].max(lane.max);
    });
}

impl PeakMeter {
    /// `ceiling_dbfs`: samples with `|x| >= db_to_gain(ceiling_dbfs)` are
    /// counted as over (e.g. -0.1 for clipping detection).
    pub fn new(channels: usize, ceiling_dbfs: f64) -> Result<Self, DspError> {
        check_format(channels, 1)?;
        let ceiling = db_to_gain(check_param("ceiling_dbfs", ceiling_dbfs, f64::MIN)?) as f32;
        Ok(PeakMeter {
            framer: Framer::new(channels),
            channels,
            ceiling,
            peak: vec![0.0; channels],
            over: vec![0; channels],
            non_finite: 0,
            frames: 0,
        })
    }

    /// Feeds interleaved samples (any length).
    pub fn feed(&mut self, chunk: &[f32]) {
        let (ch, ceiling) = (self.channels, self.ceiling);
        let (peak, over, bad, frames) = (
            &mut self.peak,
            &mut self.over,
            &mut self.non_finite,
            &mut self.frames,
        );
        self.framer.feed(chunk, |run| {
            scan_abs(run, ch, ceiling, |c, lane| {
                peak[c] = peak[c].max(lane.max);
                over[c] += lane.over;
                *bad += lane.non_finite;
            });
            *frames += (run.len() / ch) as u64;
        });
    }

    /// The measurement so far (the meter can keep running).
    pub fn finish(&self) -> PeakStats {
        PeakStats {
            frames: self.frames,
            peak: self.peak.clone(),
            over_ceiling: self.over.clone(),
            non_finite: self.non_finite,
        }
    }
}

/// ITU-R BS.1770-4 Annex 2 interpolation filter: 48 taps, 4 phases of 12.
/// Row `p` holds taps `p, p+4, p+8, ...` of the prototype, applied to the
/// newest input first.
const TRUE_PEAK_PHASES: [[f64; 12]; 4] = [
    [
        0.001_708_984_375,
        0.010_986_328_125,
        -0.019_653_320_312_5,
        0.033_203_125,
        -0.059_448_242_187_5,
        0.137_329_101_562_5,
        0.972_167_968_75,
        -0.102_294_921_875,
        0.047_607_421_875,
        -0.026_611_328_125,
        0.014_892_578_125,
        -0.008_300_781_25,
    ],
    [
        -0.029_174_804_687_5,
        0.029_296_875,
        -0.051_757_812_5,
        0.089_111_328_125,
        -0.166_503_906_25,
        0.465_087_890_625,
        0.779_785_156_25,
        -0.200_317_382_812_5,
        0.101_562_5,
        -0.058_227_539_062_5,
        0.033_081_054_687_5,
        -0.018_920_898_437_5,
    ],
    [
        -0.018_920_898_437_5,
        0.033_081_054_687_5,
        -0.058_227_539_062_5,
        0.101_562_5,
        -0.200_317_382_812_5,
        0.779_785_156_25,
        0.465_087_890_625,
        -0.166_503_906_25,
        0.089_111_328_125,
        -0.051_757_812_5,
        0.029_296_875,
        -0.029_174_804_687_5,
    ],
    [
        -0.008_300_781_25,
        0.014_892_578_125,
        -0.026_611_328_125,
        0.047_607_421_875,
        -0.102_294_921_875,
        0.972_167_968_75,
        0.137_329_101_562_5,
        -0.059_448_242_187_5,
        0.033_203_125,
        -0.019_653_320_312_5,
        0.010_986_328_125,
        0.001_708_984_375,
    ],
];
const TP_TAPS: usize = 12;

/// Streaming true-peak meter: 4x oversampling with the BS.1770-4 Annex 2
/// polyphase FIR, per channel, at every sample rate (at 96 kHz and up 4x is
/// more than needed, never less). Float input needs none of the Annex's
/// fixed-point -12 dB headroom. The reported true peak is never below the
/// sample peak: the interpolator slightly under-reads near its own taps, and
/// normalization must be safe against both.
///
/// Speed: the filter only runs on blocks of 64 samples where it could raise
/// the peak, i.e. where `max |x|` over the block and its 11 predecessors
/// times the filter's L1 norm exceeds the peak so far. The bound is strict,
/// so the result is the same as filtering every sample; quiet passages and
/// decaying tails cost one integer max per sample.
#[derive(Debug, Clone)]
pub struct TruePeakMeter {
    framer: Framer,
    channels: usize,
    /// Per channel, the last 11 samples, oldest first.
    hist: Vec<f32>,
    /// `taps[k][p]`: tap `k` (oldest sample first) of phase `p`, so one
    /// pass over a window computes all four phases side by side.
    taps: [[f32; 4]; TP_TAPS],
    /// Largest sum of |taps| of any phase: `|y| <= l1 · max |x|`.
    l1: f32,
    peak: Vec<f32>,
    /// Scratch: one channel's history followed by its samples of a run.
    buf: Vec<f32>,
}

const TP_HIST: usize = TP_TAPS - 1;
const TP_BLOCK: usize = 64;
const TP_SCRATCH_FRAMES: usize = 1 << 15;

/// Result of a [`TruePeakMeter`].
#[derive(Debug, Clone, PartialEq)]
pub struct TruePeakStats {
    /// True peak per channel, linear (can exceed 1.0).
    pub peak: Vec<f32>,
}

impl TruePeakStats {
    /// True peak per channel in dBTP.
    pub fn peak_dbtp(&self) -> Vec<f64> {
        self.peak.iter().map(|&p| gain_to_db(p as f64)).collect()
    }

    /// Highest channel true peak in dBTP.
    pub fn max_dbtp(&self) -> f64 {
        gain_to_db(self.peak.iter().fold(0.0f32, |a, &p| a.max(p)) as f64)
    }
}

impl TruePeakMeter {
    pub fn new(channels: usize) -> Result<Self, DspError> {
        check_format(channels, 1)?;
        let mut taps = [[0.0f32; 4]; TP_TAPS];
        for (p, phase) in TRUE_PEAK_PHASES.iter().enumerate() {
            // The table applies tap 0 to the newest sample.
            for (k, &h) in phase.iter().enumerate() {
                taps[TP_TAPS - 1 - k][p] = h as f32; // exact: multiples of 2^-14
            }
        }
        let l1 = TRUE_PEAK_PHASES
            .iter()
            .map(|phase| phase.iter().map(|h| h.abs()).sum::<f64>())
            .fold(0.0, f64::max);
        Ok(TruePeakMeter {
            framer: Framer::new(channels),
            channels,
            hist: vec![0.0; channels * TP_HIST],
            taps,
            // Rounded up so float rounding can never make the bound unsafe.
            l1: (l1 * 1.001) as f32,
            peak: vec![0.0; channels],
            buf: Vec::new(),
        })
    }

    pub fn feed(&mut self, chunk: &[f32]) {
        let ch = self.channels;
        let (hist, taps, l1, peak, buf) = (
            &mut self.hist,
            &self.taps,
            self.l1,
            &mut self.peak,
            &mut self.buf,
        );
        self.framer.feed(chunk, |run| {
            // Sub-runs keep the scratch bounded whatever the chunk size.
            for sub in run.chunks(TP_SCRATCH_FRAMES * ch) {
                for (c, (h, pk)) in hist
                    .chunks_exact_mut(TP_HIST)
                    .zip(peak.iter_mut())
                    .enumerate()
                {
                    buf.clear();
                    buf.extend_from_slice(h);
                    buf.extend(channel(sub, ch, c));
                    *pk = scan(buf, taps, l1, *pk);
                    h.copy_from_slice(&buf[buf.len() - TP_HIST..]);
                }
            }
        });
    }

    /// The measurement so far, including the interpolated values after the
    /// last sample (the filter is flushed with zeros on a copy; the meter
    /// keeps running).
    pub fn finish(&self) -> TruePeakStats {
        let peak = self
            .hist
            .chunks_exact(TP_HIST)
            .zip(&self.peak)
            .map(|(h, &pk)| {
                let mut tail = h.to_vec();
                tail.extend_from_slice(&[0.0; TP_TAPS]);
                scan(&tail, &self.taps, self.l1, pk)
            })
            .collect();
        TruePeakStats { peak }
    }
}

/// Peak of `buf[TP_HIST..]` and of the interpolation between its samples;
/// `buf` starts with the channel's 11 previous samples.
fn scan(buf: &[f32], taps: &[[f32; 4]; TP_TAPS], l1: f32, mut peak: f32) -> f32 {
    let mut start = TP_HIST;
    while start < buf.len() {
        let end = (start + TP_BLOCK).min(buf.len());
        // Max |x| as integer bits (exact for finite floats, and vectorizes).
        let bits = buf[start - TP_HIST..end]
            .iter()
            .fold(0u32, |m, v| m.max(v.to_bits() & 0x7FFF_FFFF));
        let local = f32::from_bits(bits);
        if local * l1 > peak {
            // Per-phase maxima: no loop-carried chain through one peak.
            let mut block_max = [0.0f32; 4];
            for i in start..end {
                let w = &buf[i - TP_HIST..=i];
                // Three partial sums keep the add chains short.
                let mut acc = [[0.0f32; 4]; 3];
                for (part, (ws, ts)) in acc
                    .iter_mut()
                    .zip(w.chunks_exact(4).zip(taps.chunks_exact(4)))
                {
                    for (&x, t) in ws.iter().zip(ts) {
                        part[0] += x * t[0];
                        part[1] += x * t[1];
                        part[2] += x * t[2];
                        part[3] += x * t[3];
                    }
                }
                for (p, m) in block_max.iter_mut().enumerate() {
                    *m = m.max((acc[0][p] + acc[1][p] + acc[2][p]).abs());
                }
            }
            peak = block_max.iter().fold(peak.max(local), |m, &v| m.max(v));
        }
        start = end;
    }
    peak
}

/// Streaming per-channel mean (DC offset) and RMS, plus the RMS of the
/// loudest 50 ms window (all channels together) as a signal level for SNR.
#[derive(Debug, Clone)]
pub struct RmsMeter {
    framer: Framer,
    channels: usize,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    frames: u64,
    window_frames: u64,
    window_sq: f64,
    window_fill: u64,
    /// Highest mean square of a complete window.
    max_window_ms: f64,
}

/// Length of the windows of [`RmsStats::max_window_rms_dbfs`].
pub const RMS_WINDOW_MS: f64 = 50.0;

/// Result of an [`RmsMeter`].
#[derive(Debug, Clone, PartialEq)]
pub struct RmsStats {
    pub frames: u64,
    /// Mean per channel (DC offset), linear.
    pub dc: Vec<f64>,
    /// RMS per channel in dBFS, DC included.
    pub rms_dbfs: Vec<f64>,
    /// RMS per channel in dBFS with the channel's mean removed.
    pub ac_rms_dbfs: Vec<f64>,
    /// RMS in dBFS of the loudest non-overlapping 50 ms window, power
    /// averaged over all channels (DC included). If the stream is shorter
    /// than one window, the whole stream.
    pub max_window_rms_dbfs: f64,
}

impl RmsMeter {
    pub fn new(channels: usize, rate: u32) -> Result<Self, DspError> {
        check_format(channels, rate)?;
        Ok(RmsMeter {
            framer: Framer::new(channels),
            channels,
            sum: vec![0.0; channels],
            sum_sq: vec![0.0; channels],
            frames: 0,
            window_frames: ((rate as f64 * RMS_WINDOW_MS / 1000.0).round() as u64).max(1),
            window_sq: 0.0,
            window_fill: 0,
            max_window_ms: 0.0,
        })
    }

    pub fn feed(&mut self, chunk: &[f32]) {
        let ch = self.channels;
        let wlen = self.window_frames;
        let norm = 1.0 / (wlen as f64 * ch as f64);
        let (sum, sum_sq, frames) = (&mut self.sum, &mut self.sum_sq, &mut self.frames);
        let (wsq, wfill, wmax) = (
            &mut self.window_sq,
            &mut self.window_fill,
            &mut self.max_window_ms,
        );
        self.framer.feed(chunk, |mut run| {
            *frames += (run.len() / ch) as u64;
            // Segments end at window boundaries.
            while !run.is_empty() {
                let take = ((wlen - *wfill) as usize).min(run.len() / ch);
                let (seg, rest) = run.split_at(take * ch);
                sums(seg, ch, |c, s1, s2| {
                    sum[c] += s1;
                    sum_sq[c] += s2;
                    *wsq += s2;
                });
                *wfill += take as u64;
                if *wfill == wlen {
                    *wmax = wmax.max(*wsq * norm);
                    *wsq = 0.0;
                    *wfill = 0;
                }
                run = rest;
            }
        });
    }

    pub fn finish(&self) -> RmsStats {
        let n = self.frames.max(1) as f64;
        let dc: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        let rms_dbfs = self.sum_sq.iter().map(|q| power_to_db(q / n)).collect();
        let ac_rms_dbfs = self
            .sum_sq
            .iter()
            .zip(&dc)
            .map(|(q, m)| power_to_db((q / n - m * m).max(0.0)))
            .collect();
        let max_ms = if self.frames < self.window_frames {
            self.window_sq / (n * self.channels as f64)
        } else {
            self.max_window_ms
        };
        RmsStats {
            frames: self.frames,
            dc,
            rms_dbfs,
            ac_rms_dbfs,
            max_window_rms_dbfs: power_to_db(max_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testsig::{fade_edges, hostile_inputs, interleave, tone};
    use super::*;

    const HALF_DB: f64 = -6.020_599_913_279_624; // 20·log10(0.5)

    #[test]
    fn lane_scan_matches_a_plain_loop_for_every_channel_count() {
        let data: Vec<f32> = super::super::testsig::noise(5, 1.0, 8 * 1001)
            .into_iter()
            .enumerate()
            .map(|(i, x)| if i % 97 == 0 { f32::NAN } else { x * 1.2 })
            .collect();
        for ch in 1..=8 {
            let run = &data[..data.len() / ch * ch];
            let mut peaks = vec![0.0f32; ch];
            channel_peaks(run, ch, &mut peaks);
            let mut meter = PeakMeter::new(ch, -1.0).unwrap();
            meter.feed(run);
            let stats = meter.finish();
            let ceiling = db_to_gain(-1.0) as f32;
            for c in 0..ch {
                let finite: Vec<f32> = run[c..]
                    .iter()
                    .step_by(ch)
                    .filter(|x| x.is_finite())
                    .map(|x| x.abs())
                    .collect();
                let want = finite.iter().fold(0.0f32, |m, &x| m.max(x));
                assert_eq!(peaks[c], want, "{ch} channels, channel {c}");
                assert_eq!(stats.peak[c], want, "{ch} channels, channel {c}");
                let over = finite.iter().filter(|&&x| x >= ceiling).count() as u64;
                assert_eq!(stats.over_ceiling[c], over, "{ch} channels, channel {c}");
            }
            let nan = run.iter().filter(|x| x.is_nan()).count() as u64;
            assert_eq!(stats.non_finite, nan, "{ch} channels");
        }
    }

    #[test]
    fn db_conversions() {
        assert!((db_to_gain(0.0) - 1.0).abs() < 1e-12);
        assert!((db_to_gain(HALF_DB) - 0.5).abs() < 1e-12);
        assert_eq!(db_to_gain(f64::NEG_INFINITY), 0.0);
        assert_eq!(db_to_gain(f64::NAN), 0.0);
        assert!((gain_to_db(0.5) - HALF_DB).abs() < 1e-12);
        assert_eq!(gain_to_db(0.0), f64::NEG_INFINITY);
        assert_eq!(gain_to_db(-1.0), f64::NEG_INFINITY);
        assert_eq!(gain_to_db(f64::NAN), f64::NEG_INFINITY);
        assert_eq!(gain_to_db_floor(0.0, -120.0), -120.0);
        assert!((gain_to_db_floor(0.5, -120.0) - HALF_DB).abs() < 1e-12);
        assert!((power_to_db(0.5) + 3.010_299_956_639_812).abs() < 1e-12);
        for db in [-90.0, -20.0, -0.1, 0.0, 6.0] {
            assert!((gain_to_db(db_to_gain(db)) - db).abs() < 1e-9);
        }
    }

    #[test]
    fn sample_peak_per_channel_and_clip_count() {
        let rate = 48_000;
        // cos starts at its amplitude, so the peaks are exact.
        let left = tone(rate, 440.0, 0.5, 0.0, 4800);
        let mut right = tone(rate, 1000.0, 0.25, 0.0, 4800);
        // 7 samples at full scale and 3 at -0.995 (over -0.1 dBFS = 0.98855),
        // plus one just under the ceiling which must not count.
        for i in 0..7 {
            right[100 + i * 10] = 1.0;
        }
        for i in 0..3 {
            right[2000 + i] = -0.995;
        }
        right[3000] = 0.988;
        let data = interleave(&[left, right]);
        for split in [1, 3, 4096, data.len()] {
            let mut m = PeakMeter::new(2, -0.1).unwrap();
            for c in data.chunks(split) {
                m.feed(c);
            }
            let s = m.finish();
            assert_eq!(s.frames, 4800);
            assert_eq!(s.peak, vec![0.5, 1.0]);
            assert_eq!(s.over_ceiling, vec![0, 10]);
            assert_eq!(s.total_over_ceiling(), 10);
            assert!((s.peak_dbfs()[0] - HALF_DB).abs() < 1e-6);
            assert_eq!(s.max_peak_dbfs(), 0.0);
        }
    }

    #[test]
    fn peak_ignores_and_counts_non_finite() {
        let mut m = PeakMeter::new(1, -0.1).unwrap();
        m.feed(&[0.25, f32::NAN, f32::INFINITY, -0.5, f32::NEG_INFINITY]);
        let s = m.finish();
        assert_eq!(s.peak, vec![0.5]);
        assert_eq!(s.non_finite, 3);
        assert_eq!(s.over_ceiling, vec![0]);
    }

    #[test]
    fn true_peak_finds_inter_sample_peak() {
        // fs/4 sine at 45°: every sample is ±0.7071 (-3.01 dBFS) while the
        // waveform reaches 1.0 halfway between samples.
        let rate = 48_000;
        let x = fade_edges(
            tone(rate, 12_000.0, 1.0, std::f64::consts::FRAC_PI_4, 4800),
            480,
        );
        let mut pm = PeakMeter::new(1, -0.1).unwrap();
        pm.feed(&x);
        assert!((pm.finish().max_peak_dbfs() + 3.0103).abs() < 0.01);
        let mut tp = TruePeakMeter::new(1).unwrap();
        tp.feed(&x);
        let dbtp = tp.finish().max_dbtp();
        assert!(dbtp.abs() < 0.2, "true peak {dbtp} dBTP, expected ~0");
    }

    #[test]
    fn true_peak_of_low_tone_equals_sample_peak() {
        let rate = 44_100;
        // Faded in and out: an abrupt start or end is a step, whose
        // band-limited reconstruction really does overshoot.
        let x = fade_edges(tone(rate, 997.0, 0.5, 0.0, 44_100), 441);
        let stereo = interleave(&[x.clone(), x]);
        let mut tp = TruePeakMeter::new(2).unwrap();
        for c in stereo.chunks(333) {
            tp.feed(c);
        }
        for d in tp.finish().peak_dbtp() {
            assert!(d >= HALF_DB - 1e-6, "never below the sample peak");
            assert!(d - HALF_DB < 0.01, "{d}");
        }
    }

    #[test]
    fn true_peak_matches_direct_48_tap_upsampling() {
        // Reference: zero-stuff by 4 and convolve with the 48-tap prototype
        // (tap 4k+p = phase p, entry k), straight from the Annex. Checks the
        // polyphase split and that skipping quiet samples changes nothing.
        let h: Vec<f64> = (0..48).map(|j| TRUE_PEAK_PHASES[j % 4][j / 4]).collect();
        let rate = 48_000;
        let mut x = tone(rate, 9_000.0, 0.3, 0.5, 3000);
        for (n, v) in x.iter_mut().enumerate() {
            *v *= (-(n as f32) / 800.0).exp();
        }
        x[1500] = 0.9;
        x[1501] = -0.9;
        x.extend(tone(rate, 17_000.0, 0.6, 0.1, 200));
        let up_len = 4 * (x.len() + TP_TAPS);
        let mut reference = x.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        for m in 0..up_len {
            let y: f64 = (0..48)
                .filter(|j| m >= *j && (m - j) % 4 == 0 && (m - j) / 4 < x.len())
                .map(|j| h[j] * x[(m - j) / 4] as f64)
                .sum();
            reference = reference.max(y.abs());
        }
        let mut tp = TruePeakMeter::new(1).unwrap();
        for c in x.chunks(97) {
            tp.feed(c);
        }
        let got = tp.finish().peak[0] as f64;
        assert!((got - reference).abs() < 1e-5, "{got} vs {reference}");
    }

    #[test]
    fn true_peak_after_last_sample_is_flushed() {
        // A lone full-scale-ish pair at the very end: the interpolation
        // between and after them must still be seen.
        let mut tp = TruePeakMeter::new(1).unwrap();
        tp.feed(&[0.0, 0.0, 0.0, 0.9, 0.9]);
        assert!(tp.finish().peak[0] > 0.9);
    }

    #[test]
    fn mean_and_rms() {
        let rate = 48_000;
        let n = 48_000;
        // DC 0.25 plus a full-scale/2 sine with whole periods: mean 0.25,
        // AC RMS 0.5/√2, total mean square 0.0625 + 0.125.
        let s: Vec<f32> = tone(rate, 100.0, 0.5, 0.3, n)
            .iter()
            .map(|x| x + 0.25)
            .collect();
        let mut m = RmsMeter::new(1, rate).unwrap();
        m.feed(&s);
        let r = m.finish();
        assert!((r.dc[0] - 0.25).abs() < 1e-6);
        assert!((r.ac_rms_dbfs[0] - power_to_db(0.125)).abs() < 1e-3);
        assert!((r.rms_dbfs[0] - power_to_db(0.1875)).abs() < 1e-3);
    }

    #[test]
    fn loudest_window_rms() {
        // 1 s of a -40 dBFS sine, then 0.5 s at -10 dBFS, then silence.
        let rate = 48_000;
        let mut x = tone(rate, 1000.0, db_to_gain(-40.0), 0.0, 48_000);
        x.extend(tone(rate, 1000.0, db_to_gain(-10.0), 0.0, 24_000));
        x.extend(vec![0.0; 10_000]);
        let mut m = RmsMeter::new(1, rate).unwrap();
        m.feed(&x);
        let want = -10.0 + power_to_db(0.5);
        assert!((m.finish().max_window_rms_dbfs - want).abs() < 0.01);
        // Shorter than one window: the whole stream.
        let mut short = RmsMeter::new(1, rate).unwrap();
        short.feed(&[0.5, -0.5]);
        assert!((short.finish().max_window_rms_dbfs - HALF_DB).abs() < 1e-9);
    }

    #[test]
    fn constructors_reject_bad_format() {
        assert_eq!(PeakMeter::new(0, -0.1).unwrap_err(), DspError::Channels(0));
        assert!(PeakMeter::new(2, f64::NAN).is_err());
        assert_eq!(TruePeakMeter::new(0).unwrap_err(), DspError::Channels(0));
        assert_eq!(RmsMeter::new(2, 0).unwrap_err(), DspError::Rate(0));
        assert_eq!(RmsMeter::new(0, 48_000).unwrap_err(), DspError::Channels(0));
    }

    #[test]
    fn hostile_inputs_never_panic_and_stay_finite() {
        for channels in [1, 2, 8] {
            for data in hostile_inputs(channels) {
                let mut p = PeakMeter::new(channels, -0.1).unwrap();
                let mut t = TruePeakMeter::new(channels).unwrap();
                let mut r = RmsMeter::new(channels, 48_000).unwrap();
                p.feed(&data);
                t.feed(&data);
                r.feed(&data);
                let (ps, ts, rs) = (p.finish(), t.finish(), r.finish());
                // f32::MAX is finite input but may interpolate to +inf.
                assert!(ps.peak.iter().all(|v| v.is_finite()));
                assert!(ts.peak.iter().all(|v| !v.is_nan()));
                assert!(rs.dc.iter().all(|v| v.is_finite()));
                assert!(!rs.max_window_rms_dbfs.is_nan());
            }
        }
        // All full scale: every sample is over the ceiling.
        let mut p = PeakMeter::new(8, -0.1).unwrap();
        p.feed(&vec![1.0; 8 * 10]);
        assert_eq!(p.finish().over_ceiling, vec![10; 8]);
    }
}
