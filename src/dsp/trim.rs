//! Finding where the sound of a take starts and ends.
//!
//! The envelope is the per-frame maximum over channels of `|x|` after a
//! 5 Hz DC blocker (see [`DcTracker`]), so onset and end have a resolution of one
//! frame (a "hop" of one frame: comparing each sample costs no more than
//! taking a hop maximum, and gives exact positions). The DC blocker keeps
//! an interface's DC offset from reading as sound; it starts from the mean
//! of the first 10 ms (held back in a small buffer), so a constant offset
//! produces no start-up transient and one noisy sample does not either.
//!
//! * sound = a 10 ms window (four 2.5 ms blocks) whose envelope RMS is
//!   above the threshold. A single sample over it is not enough: noise
//!   whose RMS is 10 dB under a fixed threshold still peaks over it every
//!   few hundred samples, and would read as the note's onset;
//! * onset = first frame above the threshold within the first loud window
//!   (so a clean attack is still found to the frame);
//! * last frame above = the last frame above the threshold within the last
//!   loud window;
//! * `start_frame = onset - pad` (clamped at 0);
//! * `end_frame = last frame above the threshold + 1 + hold` (clamped at
//!   the stream length), end exclusive: the release tail stays until it
//!   falls under the threshold, and the hold (default 20 ms, longer than
//!   the default 10 ms fade-out) leaves room to fade where it is already
//!   below the threshold.
//!
//! Threshold: a fixed dBFS level, searched from frame 0; or the noise floor
//! of the pre-roll plus a margin, searched after the pre-roll. The noise
//! floor used for the threshold is the envelope's own peak over the
//! pre-roll (like compared with like: an RMS floor + 12 dB is crossed by
//! ordinary noise peaks, whose crest factor over 2 s is about 12 dB). The
//! pre-roll RMS is reported as well, for the SNR check.

use super::error::{DspError, check_format, check_param};
use super::frames::{Framer, channel, finite};
use super::level::{db_to_gain, gain_to_db, power_to_db};

/// Default fixed threshold.
pub const DEFAULT_THRESHOLD_DBFS: f64 = -60.0;
/// Default margin over the pre-roll noise floor.
pub const DEFAULT_MARGIN_DB: f64 = 12.0;
/// Default pre-onset pad.
pub const DEFAULT_PAD_MS: f64 = 10.0;
/// Default hold after the last frame above the threshold.
pub const DEFAULT_HOLD_MS: f64 = 20.0;
/// The pre-roll floor is taken as at least this, so a digitally silent
/// pre-roll does not make every nonzero sample an onset.
pub const NOISE_FLOOR_MIN_DBFS: f64 = -100.0;
/// Corner of the envelope's DC blocker (-0.06 dB at 41 Hz, E1).
const DC_BLOCK_HZ: f64 = 5.0;
/// Most frames processed in one go (bounds the envelope scratch).
const SCRATCH_FRAMES: usize = 1 << 15;
/// Length of the head whose mean primes the DC blocker.
const DC_PRIME_MS: f64 = 10.0;
/// Length of one detection block; [`WINDOW_BLOCKS`] of them make the
/// window whose RMS decides what is sound.
const BLOCK_MS: f64 = 2.5;
const WINDOW_BLOCKS: usize = 4;

/// One detection block's envelope energy and its frames over the threshold.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    sum_sq: f64,
    frames: u64,
    first_above: Option<u64>,
    last_above: Option<u64>,
}

/// Largest value and sum of squares of a non-negative envelope, in eight
/// independent lanes so the loop vectorizes (blocks are short enough for
/// f32 sums).
fn max_and_sum_sq(env: &[f32]) -> (f32, f64) {
    let (mut max, mut sq) = ([0.0f32; 8], [0.0f32; 8]);
    let mut lanes = env.chunks_exact(8);
    for c in &mut lanes {
        let c: &[f32; 8] = c.try_into().expect("chunks_exact");
        for k in 0..8 {
            max[k] = if c[k] > max[k] { c[k] } else { max[k] };
            sq[k] += c[k] * c[k];
        }
    }
    for (k, &e) in lanes.remainder().iter().enumerate() {
        max[k] = max[k].max(e);
        sq[k] += e * e;
    }
    (
        max.iter().fold(0.0, |m, &v| m.max(v)),
        sq.iter().map(|&v| f64::from(v)).sum(),
    )
}

/// Sliding window of [`WINDOW_BLOCKS`] blocks; the newest may be partial.
#[derive(Debug, Clone)]
struct Detector {
    block_frames: u64,
    /// Finished blocks, newest last (at most `WINDOW_BLOCKS - 1` kept).
    done: Vec<Block>,
    current: Block,
}

impl Detector {
    fn new(rate: u32) -> Self {
        Detector {
            block_frames: ((BLOCK_MS * rate as f64 / 1000.0).round() as u64).max(1),
            done: Vec::with_capacity(WINDOW_BLOCKS),
            current: Block::default(),
        }
    }

    /// The window ending with the current block, if its RMS is over `t`:
    /// (first, last) frame over `t` in it.
    fn loud(&self, t: f32) -> Option<(u64, u64)> {
        let blocks = self.done.iter().chain(std::iter::once(&self.current));
        let (mut sum, mut frames) = (0.0, 0);
        let (mut first, mut last) = (None::<u64>, None::<u64>);
        for b in blocks {
            sum += b.sum_sq;
            frames += b.frames;
            first = first.or(b.first_above);
            last = b.last_above.or(last);
        }
        let t2 = f64::from(t) * f64::from(t);
        if frames == 0 || sum <= t2 * frames as f64 {
            return None;
        }
        first.zip(last)
    }

    /// Feeds envelope values of consecutive frames from `first_frame`;
    /// `on_loud(first, last)` for every loud window completed.
    fn feed(&mut self, first_frame: u64, env: &[f32], t: f32, mut on_loud: impl FnMut(u64, u64)) {
        let mut i = 0;
        while i < env.len() {
            let room = (self.block_frames - self.current.frames) as usize;
            let part = &env[i..env.len().min(i + room)];
            let base = first_frame + i as u64;
            let b = &mut self.current;
            let (max, sum_sq) = max_and_sum_sq(part);
            b.sum_sq += sum_sq;
            b.frames += part.len() as u64;
            if max > t {
                let k = part.iter().position(|&e| e > t).unwrap_or(0);
                b.first_above = b.first_above.or(Some(base + k as u64));
                let k_last = part.iter().rposition(|&e| e > t).unwrap_or(k);
                b.last_above = Some(base + k_last as u64);
            }
            i += part.len();
            if self.current.frames == self.block_frames {
                if let Some((first, last)) = self.loud(t) {
                    on_loud(first, last);
                }
                if self.done.len() == WINDOW_BLOCKS - 1 {
                    self.done.remove(0);
                }
                self.done.push(std::mem::take(&mut self.current));
            }
        }
    }
}

/// How the trim threshold is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrimThreshold {
    /// A fixed level in dBFS (sample peak scale).
    Fixed { dbfs: f64 },
    /// The peak of the pre-roll plus `margin_db`; needs `preroll_frames > 0`.
    NoiseFloor { margin_db: f64 },
}

impl Default for TrimThreshold {
    fn default() -> Self {
        TrimThreshold::Fixed {
            dbfs: DEFAULT_THRESHOLD_DBFS,
        }
    }
}

/// Trim parameters. Times are in milliseconds, rounded to whole frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrimSettings {
    pub threshold: TrimThreshold,
    /// Length of the pre-roll (frames from the start of the take that hold
    /// no note). Used for the noise floor in both modes; 0 = none.
    pub preroll_frames: u64,
    pub pad_ms: f64,
    pub hold_ms: f64,
}

impl Default for TrimSettings {
    fn default() -> Self {
        TrimSettings {
            threshold: TrimThreshold::default(),
            preroll_frames: 0,
            pad_ms: DEFAULT_PAD_MS,
            hold_ms: DEFAULT_HOLD_MS,
        }
    }
}

/// Frames to keep: `start_frame..end_frame` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimPoints {
    pub start_frame: u64,
    pub end_frame: u64,
}

impl TrimPoints {
    /// Number of frames kept.
    pub fn frames(&self) -> u64 {
        self.end_frame.saturating_sub(self.start_frame)
    }
}

/// Result of a [`Trimmer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrimResult {
    /// `None` when nothing rose above the threshold: the take is silent.
    pub points: Option<TrimPoints>,
    /// First frame above the threshold.
    pub onset_frame: Option<u64>,
    /// Last frame above the threshold.
    pub last_above_frame: Option<u64>,
    /// The threshold used, dBFS. In NoiseFloor mode it exists once the
    /// pre-roll is complete; a take shorter than its pre-roll reports
    /// `NOISE_FLOOR_MIN_DBFS + margin` and is silent.
    pub threshold_dbfs: f64,
    /// Envelope peak over the pre-roll, dBFS (`None` without a pre-roll).
    pub preroll_peak_dbfs: Option<f64>,
    /// RMS over the pre-roll (all channels, DC blocked), dBFS: the noise
    /// floor for SNR. `None` without a pre-roll.
    pub noise_floor_dbfs: Option<f64>,
    /// Whole frames seen.
    pub frames: u64,
}

/// Streaming onset/end detector.
#[derive(Debug, Clone)]
pub struct Trimmer {
    framer: Framer,
    channels: usize,
    settings: TrimSettings,
    pad_frames: u64,
    hold_frames: u64,
    /// Linear threshold and its dB value; `None` while a NoiseFloor
    /// pre-roll is running.
    threshold: Option<(f32, f64)>,
    /// One channel's samples, then its DC-blocked output (scratch).
    y: Vec<f32>,
    /// Per channel: previous input and output of the DC blocker.
    dc: Vec<DcTracker>,
    /// Step of every channel's [`DcTracker`] toward its block mean.
    dc_step: f32,
    /// The first frames, held until their mean primes the DC blocker;
    /// `None` once primed.
    head: Option<Vec<f32>>,
    /// Envelope scratch for one run, reused (at most `SCRATCH_FRAMES`).
    env: Vec<f32>,
    head_frames: usize,
    frames: u64,
    preroll_peak: f32,
    preroll_sq: f64,
    preroll_seen: u64,
    /// Sum of squares per 10 ms block of the pre-roll, so the noise floor can
    /// leave out a note that began before the pre-roll ended.
    preroll_blocks: Vec<f64>,
    block_frames: u64,
    /// Per-frame squares of the current pre-roll run (scratch).
    pre_sq: Vec<f64>,
    detector: Detector,
    onset: Option<u64>,
    last_above: Option<u64>,
}

impl Trimmer {
    pub fn new(channels: usize, rate: u32, settings: TrimSettings) -> Result<Self, DspError> {
        check_format(channels, rate)?;
        let ms =
            |name, v| check_param(name, v, 0.0).map(|v| (v * rate as f64 / 1000.0).round() as u64);
        let pad_frames = ms("pad_ms", settings.pad_ms)?;
        let hold_frames = ms("hold_ms", settings.hold_ms)?;
        let threshold = match settings.threshold {
            TrimThreshold::Fixed { dbfs } => {
                let db = check_param("threshold dbfs", dbfs, f64::MIN)?;
                Some((db_to_gain(db) as f32, db))
            }
            TrimThreshold::NoiseFloor { margin_db } => {
                check_param("margin_db", margin_db, 0.0)?;
                if settings.preroll_frames == 0 {
                    return Err(DspError::Parameter {
                        name: "preroll_frames",
                        value: 0.0,
                    });
                }
                None
            }
        };
        Ok(Trimmer {
            framer: Framer::new(channels),
            channels,
            settings,
            pad_frames,
            hold_frames,
            threshold,
            dc_step: {
                let a = (-2.0 * std::f64::consts::PI * DC_BLOCK_HZ / rate as f64).exp();
                (1.0 - a.powi(DC_BLOCK_FRAMES as i32)) as f32
            },
            y: Vec::new(),
            dc: vec![DcTracker::default(); channels],
            head: Some(Vec::new()),
            env: Vec::new(),
            head_frames: ((DC_PRIME_MS * rate as f64 / 1000.0).round() as usize).max(1),
            frames: 0,
            preroll_peak: 0.0,
            preroll_sq: 0.0,
            preroll_seen: 0,
            preroll_blocks: Vec::new(),
            block_frames: u64::from(rate / 100).max(1),
            pre_sq: Vec::new(),
            detector: Detector::new(rate),
            onset: None,
            last_above: None,
        })
    }

    pub fn feed(&mut self, chunk: &[f32]) {
        let ch = self.channels;
        let mut framer = std::mem::replace(&mut self.framer, Framer::new(0));
        framer.feed(chunk, |mut run| {
            if let Some(head) = &mut self.head {
                let take = run.len().min(self.head_frames * ch - head.len());
                head.extend_from_slice(&run[..take]);
                run = &run[take..];
                if head.len() < self.head_frames * ch {
                    return;
                }
                self.prime();
            }
            // Bounded scratch.
            for sub in run.chunks(SCRATCH_FRAMES * ch) {
                self.process(sub);
            }
        });
        self.framer = framer;
    }

    /// Starts the DC blocker from the mean of the held head, then runs the
    /// head through the detector.
    fn prime(&mut self) {
        let Some(head) = self.head.take() else {
            return;
        };
        let frames = (head.len() / self.channels).max(1) as f64;
        for (c, dc) in self.dc.iter_mut().enumerate() {
            let sum: f64 = channel(&head, self.channels, c).map(|x| x as f64).sum();
            dc.level = (sum / frames) as f32;
        }
        self.process(&head);
    }

    /// Runs whole frames through the DC blocker into the envelope scratch,
    /// takes the pre-roll statistics, then searches the envelope.
    fn process(&mut self, run: &[f32]) {
        let ch = self.channels;
        let frames = run.len() / ch;
        let first = self.frames;
        let preroll = self.settings.preroll_frames;
        // Frames of this run that belong to the pre-roll.
        let in_preroll = (preroll.saturating_sub(first) as usize).min(frames);
        let phase = (first % DC_BLOCK_FRAMES as u64) as usize;
        self.env.clear();
        self.pre_sq.clear();
        self.pre_sq.resize(in_preroll, 0.0);
        if ch == 1 {
            // Mono, the common take, in place: the envelope is the DC-free
            // signal's magnitude (no scratch copy, no zeroed envelope to max into).
            self.env.extend(run.iter().map(|&x| finite(x)));
            self.dc[0].remove(&mut self.env, phase, self.dc_step);
            for (sq, &v) in self.pre_sq.iter_mut().zip(&self.env[..in_preroll]) {
                *sq = f64::from(v) * f64::from(v);
            }
            for e in self.env.iter_mut() {
                *e = e.abs();
            }
        } else {
            self.env.resize(frames, 0.0);
            let (pre_env, post_env) = self.env.split_at_mut(in_preroll);
            for c in 0..ch {
                let y = &mut self.y;
                y.clear();
                y.extend(channel(run, ch, c));
                self.dc[c].remove(y, phase, self.dc_step);
                let (pre_y, post_y) = y.split_at(in_preroll);
                for ((e, sq), &v) in pre_env.iter_mut().zip(self.pre_sq.iter_mut()).zip(pre_y) {
                    *e = e.max(v.abs());
                    *sq += f64::from(v) * f64::from(v);
                }
                for (e, &v) in post_env.iter_mut().zip(post_y) {
                    *e = e.max(v.abs());
                }
            }
        }
        self.preroll_sq += self.pre_sq.iter().sum::<f64>();
        self.frames += frames as u64;
        for (i, sq) in self.pre_sq.iter().enumerate() {
            let block = ((first + i as u64) / self.block_frames) as usize;
            if block >= self.preroll_blocks.len() {
                self.preroll_blocks.resize(block + 1, 0.0);
            }
            self.preroll_blocks[block] += sq;
        }
        let (pre, rest) = self.env.split_at(in_preroll);
        if !pre.is_empty() {
            self.preroll_peak = pre.iter().fold(self.preroll_peak, |m, &e| m.max(e));
            self.preroll_seen += pre.len() as u64;
            let preroll_done = first + in_preroll as u64 == preroll;
            if let (true, TrimThreshold::NoiseFloor { margin_db }) =
                (preroll_done, self.settings.threshold)
            {
                let db = gain_to_db(self.preroll_peak as f64).max(NOISE_FLOOR_MIN_DBFS) + margin_db;
                self.threshold = Some((db_to_gain(db) as f32, db));
            }
        }
        // In Fixed mode the pre-roll is searched too.
        let (searched, offset) = match self.settings.threshold {
            TrimThreshold::Fixed { .. } => (&self.env[..], 0),
            TrimThreshold::NoiseFloor { .. } => (rest, in_preroll),
        };
        // No threshold yet (pre-roll running): nothing is above infinity.
        let t = self.threshold.map_or(f32::INFINITY, |(t, _)| t);
        if t.is_finite() {
            let (onset, last_above) = (&mut self.onset, &mut self.last_above);
            self.detector
                .feed(first + offset as u64, searched, t, |on, last| {
                    onset.get_or_insert(on);
                    *last_above = Some(last);
                });
        }
    }

    /// The onset as far as the frames fed so far show it: what [`finish`]
    /// would say now (a later frame can still move it, while the first loud
    /// window is open).
    ///
    /// [`finish`]: Trimmer::finish
    pub fn onset_frame(&self) -> Option<u64> {
        self.detected().0
    }

    /// Onset and last frame above, counting a loud partial window at the end.
    fn detected(&self) -> (Option<u64>, Option<u64>) {
        let t = self.threshold.map_or(f32::INFINITY, |(t, _)| t);
        match (t.is_finite() && self.detector.current.frames > 0)
            .then(|| self.detector.loud(t))
            .flatten()
        {
            Some((on, last)) => (self.onset.or(Some(on)), Some(last)),
            None => (self.onset, self.last_above),
        }
    }

    /// RMS of the pre-roll before the sound: when the note began inside the
    /// pre-roll (a player a little early), the blocks from 10 ms before its
    /// onset on are left out.
    fn noise_floor_dbfs(&self) -> f64 {
        let per_frame =
            |sq: f64, frames: u64| power_to_db(sq / (frames as f64 * self.channels as f64));
        let whole = per_frame(self.preroll_sq, self.preroll_seen);
        let Some(onset) = self.detected().0.filter(|&on| on < self.preroll_seen) else {
            return whole;
        };
        let quiet_blocks = (onset.saturating_sub(self.pad_frames + self.block_frames)
            / self.block_frames) as usize;
        if quiet_blocks == 0 {
            return whole;
        }
        let sq: f64 = self.preroll_blocks[..quiet_blocks.min(self.preroll_blocks.len())]
            .iter()
            .sum();
        per_frame(sq, quiet_blocks as u64 * self.block_frames)
    }

    /// The result so far (the trimmer can keep running).
    pub fn finish(&self) -> TrimResult {
        if self.head.is_some() {
            // Shorter than the priming head: prime a copy with what there is.
            let mut t = self.clone();
            t.prime();
            return t.finish();
        }
        let threshold_dbfs = match (self.settings.threshold, self.threshold) {
            (_, Some((_, db))) => db,
            (TrimThreshold::Fixed { dbfs }, None) => dbfs,
            (TrimThreshold::NoiseFloor { margin_db }, None) => NOISE_FLOOR_MIN_DBFS + margin_db,
        };
        let (onset, last_above) = self.detected();
        let points = match (onset, last_above) {
            (Some(on), Some(last)) => Some(TrimPoints {
                start_frame: on.saturating_sub(self.pad_frames),
                end_frame: last
                    .saturating_add(1)
                    .saturating_add(self.hold_frames)
                    .min(self.frames),
            }),
            _ => None,
        };
        let has_preroll = self.preroll_seen > 0;
        TrimResult {
            points,
            onset_frame: onset,
            last_above_frame: last_above,
            threshold_dbfs,
            preroll_peak_dbfs: has_preroll.then(|| gain_to_db(self.preroll_peak as f64)),
            noise_floor_dbfs: has_preroll.then(|| self.noise_floor_dbfs()),
            frames: self.frames,
        }
    }
}

/// A 5 Hz DC blocker, `y = x - m`, where `m` is a one-pole low-pass of the
/// input. That is exactly the usual one-pole high-pass `y = a·(y' + x -
/// x')`, but `m` moves so slowly that it is updated once per block of
/// [`DC_BLOCK_FRAMES`] from the block's mean (held within the block; at 48
/// kHz a block moves it by 1 % of the way). The per-sample work is then one
/// subtraction that vectorizes, instead of a recursion whose every sample
/// waits on the one before. Blocks count from the start of the stream, so
/// any chunking gives the same result (up to the order of the additions
/// within a block).
#[derive(Debug, Clone, Copy, Default)]
struct DcTracker {
    /// The low-pass `m`: the DC level being removed.
    level: f32,
    /// Sum of the current block's input so far.
    block_sum: f32,
}

/// Frames per update of a [`DcTracker`].
const DC_BLOCK_FRAMES: usize = 16;

impl DcTracker {
    /// Replaces one channel's samples `xs` by `x - m`; `phase` is the
    /// position of `xs[0]` within its block, `step` is `1 - a^B`.
    fn remove(&mut self, xs: &mut [f32], phase: usize, step: f32) {
        let b = DC_BLOCK_FRAMES;
        let head = ((b - phase) % b).min(xs.len());
        let (first, rest) = xs.split_at_mut(head);
        let mut blocks = rest.chunks_exact_mut(b);
        // The end of a block begun in an earlier run.
        if !first.is_empty() {
            self.take(first);
            if phase + first.len() == b {
                self.step(step);
            }
        }
        for block in &mut blocks {
            self.take(block);
            self.step(step);
        }
        self.take(blocks.into_remainder());
    }

    #[inline(always)]
    fn take(&mut self, xs: &mut [f32]) {
        let m = self.level;
        // Four partial sums: one running sum would make every add wait
        // on the one before.
        let mut sums = [0.0f32; 4];
        let mut quads = xs.chunks_exact_mut(4);
        for q in &mut quads {
            for (s, x) in sums.iter_mut().zip(q.iter_mut()) {
                *s += *x;
                *x -= m;
            }
        }
        for (s, x) in sums.iter_mut().zip(quads.into_remainder()) {
            *s += *x;
            *x -= m;
        }
        self.block_sum += (sums[0] + sums[1]) + (sums[2] + sums[3]);
    }

    fn step(&mut self, step: f32) {
        let mean = self.block_sum / DC_BLOCK_FRAMES as f32;
        self.level += step * (mean - self.level);
        // Through a long digital silence the level decays geometrically
        // into denormals (very slow on x86); -400 dBFS is zero enough.
        if self.level.abs() < 1e-20 {
            self.level = 0.0;
        }
        self.block_sum = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testsig::{hostile_inputs, interleave, noise, tone};
    use super::*;

    const RATE: u32 = 48_000;

    fn run(channels: usize, settings: TrimSettings, data: &[f32], split: usize) -> TrimResult {
        let mut t = Trimmer::new(channels, RATE, settings).unwrap();
        for c in data.chunks(split.max(1)) {
            t.feed(c);
        }
        t.finish()
    }

    #[test]
    fn an_early_note_does_not_raise_the_noise_floor() {
        // 1 s pre-roll of -60 dBFS noise; the note starts 100 ms before it ends.
        let preroll = 48_000u64;
        let start = 43_200usize;
        let mut x = noise(7, 0.0005, 96_000);
        for (i, s) in tone(RATE, 440.0, 0.3, 0.0, 96_000 - start)
            .iter()
            .enumerate()
        {
            x[start + i] += s;
        }
        let settings = TrimSettings {
            preroll_frames: preroll,
            ..TrimSettings::default()
        };
        for split in [777, 48_000, 96_000] {
            let r = run(1, settings, &x, split);
            assert_eq!(r.onset_frame, Some(start as u64));
            let floor = r.noise_floor_dbfs.unwrap();
            assert!(
                (floor - (-66.02 - 4.771)).abs() < 0.3,
                "floor {floor} (split {split})"
            );
        }
    }

    #[test]
    fn noise_peaks_over_a_fixed_threshold_are_not_an_onset() {
        // Uniform noise peaking at -58.4 dBFS (over the -60 dBFS default)
        // with an RMS of -63.2 dBFS (under it); a note from frame 30000.
        let start = 30_000usize;
        let quiet = noise(11, 0.0012, 72_000);
        let r = run(1, TrimSettings::default(), &quiet, 4096);
        assert_eq!(r.points, None, "noise alone is silence");
        let mut x = quiet;
        for (i, s) in tone(RATE, 440.0, 0.3, 0.0, 72_000 - start)
            .iter()
            .enumerate()
        {
            x[start + i] += s;
        }
        for split in [1, 1000, 72_000] {
            let on = run(1, TrimSettings::default(), &x, split)
                .onset_frame
                .unwrap();
            // A noise peak within the first loud 10 ms window may come
            // first: never later than the note, never more than 10 ms early.
            assert!(
                (start as u64 - 480..=start as u64 + 1).contains(&on),
                "onset {on} (split {split})"
            );
        }
    }

    #[test]
    fn dc_tracker_removes_offset_keeps_bass_whatever_the_chunking() {
        // 40 Hz (under E1; 40 whole periods a second) at 0.5 on a 0.1 DC offset, 2 s.
        let a = (-2.0 * std::f64::consts::PI * DC_BLOCK_HZ / RATE as f64).exp();
        let step = (1.0 - a.powi(DC_BLOCK_FRAMES as i32)) as f32;
        let x: Vec<f32> = tone(RATE, 40.0, 0.5, 0.0, 96_000)
            .into_iter()
            .map(|v| v + 0.1)
            .collect();
        let whole = {
            let mut y = x.clone();
            DcTracker::default().remove(&mut y, 0, step);
            y
        };
        for split in [1, 5, 16, 1000] {
            let mut dc = DcTracker::default();
            let mut y = Vec::new();
            for (i, c) in x.chunks(split).enumerate() {
                let mut c = c.to_vec();
                dc.remove(&mut c, (i * split) % DC_BLOCK_FRAMES, step);
                y.extend(c);
            }
            // The same up to the order of a block's additions.
            let worst = y
                .iter()
                .zip(&whole)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                y.len() == whole.len() && worst < 1e-6,
                "split {split}: {worst}"
            );
        }
        // The last second: the offset gone, the tone's peak kept (a one-pole
        // high-pass at 5 Hz passes 40 Hz at -0.07 dB).
        let tail = &whole[48_000..];
        let mean = tail.iter().map(|&v| v as f64).sum::<f64>() / tail.len() as f64;
        let peak = tail.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        assert!(mean.abs() < 1e-3, "mean {mean}");
        assert!((peak / 0.5 - 1.0).abs() < 0.02, "peak {peak}");
    }

    #[test]
    fn step_onset_is_exact() {
        // Zeros, then a DC step to 0.5 at frame 12345.
        let onset = 12_345u64;
        let mut x = vec![0.0f32; onset as usize];
        x.extend(vec![0.5f32; 10_000]);
        let r = run(1, TrimSettings::default(), &x, 4096);
        assert_eq!(r.onset_frame, Some(onset));
        let pad = (DEFAULT_PAD_MS * RATE as f64 / 1000.0).round() as u64;
        assert_eq!(r.points.unwrap().start_frame, onset - pad);
        assert_eq!(r.points.unwrap().start_frame, 11_865);
    }

    #[test]
    fn tone_onset_and_end_are_exact_with_dc_offset() {
        // Right channel: 1 kHz at -20 dBFS from frame 12345 for 576 whole
        // periods, starting at its crest (cos). Both channels carry a -40
        // dBFS DC offset, which alone is far over the -60 dBFS threshold.
        let onset = 12_345usize;
        let len = 576 * 48;
        let total = 60_000;
        let dc = 0.01f32;
        let left = vec![dc; total];
        let mut right = vec![dc; total];
        for (i, s) in tone(RATE, 1000.0, 0.1, 0.0, len).iter().enumerate() {
            right[onset + i] += s;
        }
        let data = interleave(&[left, right]);
        for split in [1, 7, 4096, data.len()] {
            let r = run(2, TrimSettings::default(), &data, split);
            let last = (onset + len - 1) as u64;
            assert_eq!(r.onset_frame, Some(onset as u64), "split {split}");
            assert_eq!(r.last_above_frame, Some(last), "split {split}");
            let hold = (DEFAULT_HOLD_MS * RATE as f64 / 1000.0).round() as u64;
            let pad = (DEFAULT_PAD_MS * RATE as f64 / 1000.0).round() as u64;
            assert_eq!(
                r.points,
                Some(TrimPoints {
                    start_frame: onset as u64 - pad,
                    end_frame: last + 1 + hold
                })
            );
            assert_eq!(r.frames, total as u64);
        }
    }

    #[test]
    fn odd_channel_counts_detect_every_channel() {
        // Three channels: the tone in the last one (processed without a
        // partner), the others silent; then in the middle one.
        let onset = 5_000usize;
        let tone_part = tone(RATE, 440.0, 0.2, 0.0, 4_800);
        for c in [2, 1] {
            let mut planes = vec![vec![0.0f32; 20_000]; 3];
            planes[c][onset..onset + 4_800].copy_from_slice(&tone_part);
            let r = run(3, TrimSettings::default(), &interleave(&planes), 1000);
            assert_eq!(r.onset_frame, Some(onset as u64), "channel {c}");
        }
    }

    #[test]
    fn noise_floor_threshold_from_preroll() {
        // 2 s of uniform noise peaking at -60 dBFS, a -20 dBFS tone from
        // frame 100000 to 130000 (625 whole periods), noise throughout.
        let preroll = 96_000u64;
        let total = 150_000;
        let (start, len) = (100_000usize, 625 * 48);
        let mut x = noise(7, 0.001, total);
        for (i, s) in tone(RATE, 1000.0, 0.1, 0.0, len).iter().enumerate() {
            x[start + i] += s;
        }
        let settings = TrimSettings {
            threshold: TrimThreshold::NoiseFloor {
                margin_db: DEFAULT_MARGIN_DB,
            },
            preroll_frames: preroll,
            ..TrimSettings::default()
        };
        let r = run(1, settings, &x, 1000);
        assert_eq!(r.onset_frame, Some(start as u64));
        assert_eq!(r.last_above_frame, Some((start + len - 1) as u64));
        let peak = r.preroll_peak_dbfs.unwrap();
        assert!((peak + 60.0).abs() < 0.5, "pre-roll peak {peak}");
        assert!((r.threshold_dbfs - (peak + DEFAULT_MARGIN_DB)).abs() < 1e-4);
        // Uniform noise: RMS = peak / √3 (-4.77 dB).
        let floor = r.noise_floor_dbfs.unwrap();
        assert!((floor - (-60.0 - 4.771)).abs() < 0.2, "floor {floor}");
        // The same noise with no tone is silent.
        let quiet = run(1, settings, &noise(7, 0.001, total), 1000);
        assert_eq!(quiet.points, None);
    }

    #[test]
    fn silence_and_sub_threshold_noise_are_silent() {
        let r = run(2, TrimSettings::default(), &vec![0.0; 20_000], 333);
        assert_eq!(r.points, None);
        assert_eq!(r.onset_frame, None);
        // Noise peaking at -66 dBFS under the -60 dBFS fixed threshold.
        let r = run(1, TrimSettings::default(), &noise(3, 0.0005, 48_000), 4096);
        assert_eq!(r.points, None);
    }

    #[test]
    fn pad_and_hold_are_clamped_to_the_stream() {
        // Sound from frame 100 to the very end.
        let mut x = vec![0.0f32; 100];
        x.extend(tone(RATE, 500.0, 0.5, 0.0, 1000));
        let r = run(1, TrimSettings::default(), &x, 64);
        let p = r.points.unwrap();
        assert_eq!(p.start_frame, 0);
        assert_eq!(p.end_frame, 1100);
        assert_eq!(p.frames(), 1100);
    }

    #[test]
    fn preroll_longer_than_take() {
        let settings = TrimSettings {
            threshold: TrimThreshold::NoiseFloor { margin_db: 12.0 },
            preroll_frames: 1_000_000,
            ..TrimSettings::default()
        };
        let r = run(1, settings, &tone(RATE, 440.0, 0.5, 0.0, 10_000), 999);
        assert_eq!(r.points, None);
        assert_eq!(r.threshold_dbfs, NOISE_FLOOR_MIN_DBFS + 12.0);
        assert!(r.noise_floor_dbfs.is_some());
    }

    #[test]
    fn digital_silence_preroll_uses_the_floor_minimum() {
        let settings = TrimSettings {
            threshold: TrimThreshold::NoiseFloor { margin_db: 12.0 },
            preroll_frames: 1000,
            ..TrimSettings::default()
        };
        // A -95 dBFS step after a silent pre-roll is above -100 + 12 dB.
        let mut x = vec![0.0f32; 2000];
        x.extend(vec![db_to_gain(-80.0) as f32; 100]);
        let r = run(1, settings, &x, 100);
        assert_eq!(r.onset_frame, Some(2000));
        assert_eq!(r.threshold_dbfs, -88.0);
        assert_eq!(r.noise_floor_dbfs, Some(f64::NEG_INFINITY));
    }

    #[test]
    fn bad_settings_are_errors() {
        let bad = |s: TrimSettings| Trimmer::new(1, RATE, s).unwrap_err();
        let d = TrimSettings::default();
        assert!(matches!(
            bad(TrimSettings {
                pad_ms: f64::NAN,
                ..d
            }),
            DspError::Parameter { name: "pad_ms", .. }
        ));
        assert!(matches!(
            bad(TrimSettings { hold_ms: -1.0, ..d }),
            DspError::Parameter {
                name: "hold_ms",
                ..
            }
        ));
        let nf = TrimSettings {
            threshold: TrimThreshold::NoiseFloor { margin_db: 12.0 },
            ..d
        };
        assert!(matches!(
            bad(nf),
            DspError::Parameter {
                name: "preroll_frames",
                ..
            }
        ));
        let fixed_nan = TrimSettings {
            threshold: TrimThreshold::Fixed { dbfs: f64::NAN },
            ..d
        };
        assert!(Trimmer::new(1, RATE, fixed_nan).is_err());
        assert_eq!(Trimmer::new(0, RATE, d).unwrap_err(), DspError::Channels(0));
        assert_eq!(Trimmer::new(1, 0, d).unwrap_err(), DspError::Rate(0));
    }

    #[test]
    fn hostile_inputs_never_panic() {
        for channels in [1, 2, 8] {
            for data in hostile_inputs(channels) {
                let r = run(channels, TrimSettings::default(), &data, 100);
                if let Some(p) = r.points {
                    assert!(p.start_frame < p.end_frame && p.end_frame <= r.frames);
                }
            }
        }
        // Constant full scale is DC, not sound.
        let r = run(8, TrimSettings::default(), &vec![1.0; 8 * 1000], 100);
        assert_eq!(r.points, None);
        // NaN bursts inside a tone do not move its onset.
        let mut x = vec![0.0f32; 500];
        x.extend(tone(RATE, 1000.0, 0.5, 0.0, 2000));
        for s in x.iter_mut().skip(800).step_by(50) {
            *s = f32::NAN;
        }
        assert_eq!(
            run(1, TrimSettings::default(), &x, 77).onset_frame,
            Some(500)
        );
    }
}
