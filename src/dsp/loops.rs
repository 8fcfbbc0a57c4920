//! Sustain loops: where a sampler may jump back so a held note sounds on
//! past the end of its sample.
//!
//! The search works on a whole take in memory (interleaved `f32`): it finds
//! the stable part (after the attack, before the release, from a 10 ms
//! envelope), takes the rising zero crossings of the channel sum near its
//! start and near its end (so both loop points share phase and slope), and
//! scores every start/end pair by the *seam*: the RMS difference between the
//! last window played before each jump back and the window that leads into
//! the loop start in the recording, relative to the loop's own level, in dB.
//! The window spans at least two periods of the pitch when it is known, so a
//! mismatch in timbre (the spectrum) counts, not only the sample values at
//! the joint. -60 dB is inaudible, -30 dB a faint tick, above -20 dB a click.

use super::error::{DspError, check_format, check_param};

/// How [`find_loop`] searches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopSettings {
    /// Shortest loop accepted, in seconds.
    pub min_seconds: f64,
    /// A seam at or under this (dB) is good; above, the best one found is
    /// reported as [`NoLoop::Rough`].
    pub good_seam_db: f64,
    /// Crossfade to be rendered with [`crossfade_loop`] (0 for none): the
    /// loop start then needs this much audio before it.
    pub crossfade_seconds: f64,
    /// Level under the envelope's peak (dB, positive) that still counts as
    /// the sustained part.
    pub sustain_range_db: f64,
}

impl Default for LoopSettings {
    fn default() -> Self {
        LoopSettings {
            min_seconds: 0.2,
            good_seam_db: -30.0,
            crossfade_seconds: 0.0,
            sustain_range_db: 6.0,
        }
    }
}

/// A forward loop over frames `start..end` (`end` exclusive: playback goes
/// from `end - 1` back to `start`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleLoop {
    pub start: u64,
    pub end: u64,
    /// The seam figure (dB relative to the loop's RMS; lower is smoother).
    pub seam_db: f64,
}

impl SampleLoop {
    /// The last frame played before the jump (what `smpl` and SFZ store).
    pub fn last_frame(&self) -> u64 {
        self.end - 1
    }
}

/// Why no good loop was found.
#[derive(Debug, Clone, PartialEq)]
pub enum NoLoop {
    /// The level never holds within the sustain range long enough.
    NotSustained { sustained_seconds: f64 },
    /// Too little sign change in the sustained part (silence or DC).
    NoCrossings,
    /// Loops exist but the best seam is above the limit.
    Rough { best: SampleLoop, limit_db: f64 },
}

impl std::fmt::Display for NoLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoLoop::NotSustained { sustained_seconds } => write!(
                f,
                "no sustained part long enough to loop ({sustained_seconds:.2} s held)"
            ),
            NoLoop::NoCrossings => write!(f, "no zero crossings in the sustained part"),
            NoLoop::Rough { best, limit_db } => write!(
                f,
                "no good loop: the best seam is {:.1} dB (limit {limit_db:.1} dB)",
                best.seam_db
            ),
        }
    }
}

/// Envelope block for finding the sustained part.
const ENVELOPE_SECONDS: f64 = 0.010;
/// Skipped after the attack reaches the sustain level (it still settles),
/// and before the level leaves it (the release has begun).
const ATTACK_SETTLE_SECONDS: f64 = 0.05;
/// Shortest seam window; with a pitch, at least two periods.
const MIN_WINDOW_SECONDS: f64 = 0.005;
const MAX_WINDOW_SECONDS: f64 = 0.025;
/// Loop points are looked for in this share of the sustained part at each end.
const ZONE_SHARE: f64 = 0.25;
const MAX_ZONE_SECONDS: f64 = 1.0;
/// Candidates per zone (spread evenly when a noisy sound has more crossings).
const MAX_CANDIDATES: usize = 400;

/// Frames per block of the envelope the sustained part is found in.
pub fn envelope_block(rate: u32) -> usize {
    ((f64::from(rate) * ENVELOPE_SECONDS) as usize).max(1)
}

/// The mean square of every `block` frames (the last block may be
/// shorter), fed in pieces of whole frames: a long take's envelope without
/// holding the take.
#[derive(Debug, Clone)]
pub struct BlockEnergy {
    samples_per_block: usize,
    sum: f64,
    count: usize,
    blocks: Vec<f64>,
}

impl BlockEnergy {
    pub fn new(channels: usize, block: usize) -> Self {
        BlockEnergy {
            samples_per_block: (block * channels).max(1),
            sum: 0.0,
            count: 0,
            blocks: Vec::new(),
        }
    }

    pub fn feed(&mut self, x: &[f32]) {
        for &v in x {
            self.sum += f64::from(v) * f64::from(v);
            self.count += 1;
            if self.count == self.samples_per_block {
                self.blocks.push(self.sum / self.count as f64);
                (self.sum, self.count) = (0.0, 0);
            }
        }
    }

    pub fn finish(mut self) -> Vec<f64> {
        if self.count > 0 {
            self.blocks.push(self.sum / self.count as f64);
        }
        self.blocks
    }
}

/// The frames `start..end` of the sustained part of a take of `frames`
/// frames whose envelope is `env` (blocks of [`envelope_block`]), or why
/// there is none long enough for a loop of `min_frames`.
pub fn sustained_span(
    env: &[f64],
    frames: usize,
    rate: u32,
    range_db: f64,
    min_frames: usize,
) -> Result<(usize, usize), NoLoop> {
    let block = envelope_block(rate);
    let peak = env.iter().cloned().fold(0.0, f64::max);
    let floor = peak * 10f64.powf(-range_db / 10.0);
    let first = env.iter().position(|&e| e >= floor && e > 0.0);
    let last = env.iter().rposition(|&e| e >= floor && e > 0.0);
    let (Some(first), Some(last)) = (first, last) else {
        return Err(NoLoop::NotSustained {
            sustained_seconds: 0.0,
        });
    };
    let start = (first + 1) * block + (f64::from(rate) * ATTACK_SETTLE_SECONDS) as usize;
    // The release starts before the level falls out of the range.
    let end = ((last + 1) * block)
        .min(frames)
        .saturating_sub((f64::from(rate) * ATTACK_SETTLE_SECONDS) as usize);
    if end < start + min_frames {
        return Err(NoLoop::NotSustained {
            sustained_seconds: end.saturating_sub(start) as f64 / f64::from(rate),
        });
    }
    Ok((start, end))
}

/// [`sustained_span`] of samples in memory.
fn sustained_part(
    x: &[f32],
    ch: usize,
    rate: u32,
    range_db: f64,
    min_frames: usize,
) -> Result<(usize, usize), NoLoop> {
    let mut env = BlockEnergy::new(ch, envelope_block(rate));
    env.feed(x);
    sustained_span(&env.finish(), x.len() / ch, rate, range_db, min_frames)
}

/// Rising zero crossings of the channel sum in frames `from..to`: the frame
/// where the sum becomes non-negative after a negative one.
fn rising_crossings(x: &[f32], ch: usize, from: usize, to: usize) -> Vec<usize> {
    let sum = |i: usize| x[i * ch..(i + 1) * ch].iter().sum::<f32>();
    let mut out: Vec<usize> = (from.max(1)..to)
        .filter(|&i| sum(i - 1) < 0.0 && sum(i) >= 0.0)
        .collect();
    if out.len() > MAX_CANDIDATES {
        let step = out.len() as f64 / MAX_CANDIDATES as f64;
        out = (0..MAX_CANDIDATES)
            .map(|k| out[(k as f64 * step) as usize])
            .collect();
    }
    out
}

/// The seam window in frames: two periods of `hz` when known, within limits.
fn seam_window(rate: u32, hz: Option<f64>) -> usize {
    let r = f64::from(rate);
    let two_periods = hz
        .filter(|h| h.is_finite() && *h > 0.0)
        .map_or(0.0, |h| 2.0 * r / h);
    (two_periods.clamp(MIN_WINDOW_SECONDS * r, MAX_WINDOW_SECONDS * r)) as usize
}

/// Per-frame prefix sums of the squared samples, for any span's mean square.
fn energy_prefix(x: &[f32], ch: usize) -> Vec<f64> {
    let mut acc = 0.0;
    let mut out = Vec::with_capacity(x.len() / ch + 1);
    out.push(0.0);
    for f in x.chunks_exact(ch) {
        acc += f.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
        out.push(acc);
    }
    out
}

/// Sum of squared differences over the `w` frames before `e` and before `s`,
/// stopping once it exceeds `limit` (most pairs are far off).
fn seam_error(x: &[f32], ch: usize, s: usize, e: usize, w: usize, limit: f64) -> f64 {
    let mut err = 0.0;
    for k in 1..=w {
        let (a, b) = ((e - k) * ch, (s - k) * ch);
        for c in 0..ch {
            let d = f64::from(x[a + c]) - f64::from(x[b + c]);
            err += d * d;
        }
        if err > limit {
            return f64::INFINITY;
        }
    }
    err
}

fn to_db(err: f64, w: usize, ch: usize, loop_energy: f64, loop_frames: usize) -> f64 {
    let ms_diff = err / (w * ch) as f64;
    let ms_loop = loop_energy / (loop_frames * ch) as f64;
    if ms_loop <= 0.0 {
        return f64::INFINITY;
    }
    10.0 * (ms_diff.max(1e-20) / ms_loop).log10()
}

/// The seam figure of the loop `start..end` in `samples` as they are (after
/// a crossfade, say). `hz` sets the window as in [`find_loop`].
pub fn seam_db(
    samples: &[f32],
    channels: usize,
    rate: u32,
    hz: Option<f64>,
    start: usize,
    end: usize,
) -> Result<f64, DspError> {
    check_format(channels, rate)?;
    let frames = samples.len() / channels;
    let w = seam_window(rate, hz);
    if start < w || end <= start || end > frames {
        return Err(DspError::Parameter {
            name: "loop",
            value: start as f64,
        });
    }
    let energy = energy_prefix(&samples[start * channels..end * channels], channels);
    let err = seam_error(samples, channels, start, end, w, f64::INFINITY);
    Ok(to_db(err, w, channels, energy[end - start], end - start))
}

/// The best loop of a sustained take (interleaved samples), or why there is
/// no good one. `hz` is the measured or planned pitch when known.
pub fn find_loop(
    samples: &[f32],
    channels: usize,
    rate: u32,
    hz: Option<f64>,
    settings: &LoopSettings,
) -> Result<Result<SampleLoop, NoLoop>, DspError> {
    check_format(channels, rate)?;
    let r = f64::from(rate);
    let min_frames = (check_param("min_seconds", settings.min_seconds, 0.0)? * r) as usize;
    let fade = (check_param("crossfade_seconds", settings.crossfade_seconds, 0.0)? * r) as usize;
    check_param("sustain_range_db", settings.sustain_range_db, 0.0)?;
    let ch = channels;
    let (a, b) = match sustained_part(samples, ch, rate, settings.sustain_range_db, min_frames) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let w = seam_window(rate, hz);
    let zone = (((b - a) as f64 * ZONE_SHARE) as usize).min((MAX_ZONE_SECONDS * r) as usize);
    let starts = rising_crossings(samples, ch, a.max(w).max(fade), a + zone);
    let ends = rising_crossings(samples, ch, b - zone, b);
    let energy = energy_prefix(samples, ch);
    let mut best: Option<(f64, usize, usize)> = None; // (dB, s, e)
    for &e in &ends {
        for &s in starts.iter().filter(|&&s| e >= s + min_frames.max(fade)) {
            let loop_energy = energy[e] - energy[s];
            // The error at which this pair would tie the best so far.
            let limit = best.map_or(f64::INFINITY, |(db, _, _)| {
                10f64.powf(db / 10.0) * loop_energy / (e - s) as f64 * w as f64
            });
            let err = seam_error(samples, ch, s, e, w, limit);
            if err.is_finite() {
                best = Some((to_db(err, w, ch, loop_energy, e - s), s, e));
            }
        }
    }
    let Some((seam_db, s, e)) = best else {
        return Ok(Err(NoLoop::NoCrossings));
    };
    let found = SampleLoop {
        start: s as u64,
        end: e as u64,
        seam_db,
    };
    Ok(if seam_db <= settings.good_seam_db {
        Ok(found)
    } else {
        Err(NoLoop::Rough {
            best: found,
            limit_db: settings.good_seam_db,
        })
    })
}

/// The loop a naive tool picks, for comparison: the first rising zero
/// crossing of the sustained part to the last one, with its seam figure.
pub fn naive_loop(
    samples: &[f32],
    channels: usize,
    rate: u32,
    hz: Option<f64>,
    settings: &LoopSettings,
) -> Result<Option<SampleLoop>, DspError> {
    check_format(channels, rate)?;
    let min_frames =
        (check_param("min_seconds", settings.min_seconds, 0.0)? * f64::from(rate)) as usize;
    let Ok((a, b)) = sustained_part(
        samples,
        channels,
        rate,
        settings.sustain_range_db,
        min_frames,
    ) else {
        return Ok(None);
    };
    let w = seam_window(rate, hz);
    let first = rising_crossings(samples, channels, a.max(w), b)
        .first()
        .copied();
    let last = rising_crossings(samples, channels, b.saturating_sub(w * 4).max(a), b)
        .last()
        .copied();
    let (Some(s), Some(e)) = (first, last) else {
        return Ok(None);
    };
    if e <= s {
        return Ok(None);
    }
    Ok(Some(SampleLoop {
        start: s as u64,
        end: e as u64,
        seam_db: seam_db(samples, channels, rate, hz, s, e)?,
    }))
}

/// Renders a linear crossfade of `fade_frames` into the end of the loop: the
/// frames before `end` fade from themselves into the frames before `start`, so
/// the jump back continues the audio that leads into the start. Linear (equal
/// gain) rather than equal power: where the two stretches are alike, as on a
/// steady tone, the sum stays the signal itself and a clean seam stays clean;
/// where they are unrelated (a pad), the level dips by at most 3 dB mid-fade,
/// away from the seam.
pub fn crossfade_loop(
    samples: &mut [f32],
    channels: usize,
    lp: &SampleLoop,
    fade_frames: usize,
) -> Result<(), DspError> {
    check_format(channels, 1)?;
    let (s, e) = (lp.start as usize, lp.end as usize);
    if fade_frames > s || e < s + fade_frames || e * channels > samples.len() {
        return Err(DspError::Parameter {
            name: "crossfade_frames",
            value: fade_frames as f64,
        });
    }
    for i in 0..fade_frames {
        let take = ((i as f64 + 0.5) / fade_frames as f64) as f32;
        let (dst, src) = (
            (e - fade_frames + i) * channels,
            (s - fade_frames + i) * channels,
        );
        for c in 0..channels {
            samples[dst + c] = (1.0 - take) * samples[dst + c] + take * samples[src + c];
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    const RATE: u32 = 48_000;

    /// A held note: 50 ms attack, `hold` seconds, 300 ms release, mono.
    fn held(hold: f64, wave: impl Fn(f64) -> f64) -> Vec<f32> {
        crate::dsp::testsig::held(RATE, (0.05, hold, 0.3), wave)
    }

    fn found(
        x: &[f32],
        ch: usize,
        hz: Option<f64>,
        s: &LoopSettings,
    ) -> Result<SampleLoop, NoLoop> {
        find_loop(x, ch, RATE, hz, s).unwrap()
    }

    #[test]
    fn sine_loops_on_whole_periods_far_better_than_naive() {
        // C4: 183.47 samples a period at 48 kHz, so no short whole-sample loop.
        let hz = 261.6256;
        let x = held(2.0, |t| (TAU * hz * t).sin());
        let lp = found(&x, 1, Some(hz), &LoopSettings::default()).expect("a loop");
        let periods = (lp.end - lp.start) as f64 * hz / f64::from(RATE);
        assert!(
            (periods - periods.round()).abs() < 0.01,
            "{periods} periods"
        );
        assert!(lp.seam_db < -50.0, "{lp:?}");
        let naive = naive_loop(&x, 1, RATE, Some(hz), &LoopSettings::default())
            .unwrap()
            .unwrap();
        assert!(naive.seam_db > lp.seam_db + 15.0, "{naive:?} vs {lp:?}");
        // Inside the held part, at least the minimum length.
        assert!(lp.start as f64 >= 0.05 * f64::from(RATE));
        assert!((lp.end as usize) < x.len() - (0.25 * f64::from(RATE)) as usize);
        assert!(lp.end - lp.start >= (0.2 * f64::from(RATE)) as u64);
        // The figure measured afresh agrees with the search's.
        let again = seam_db(&x, 1, RATE, Some(hz), lp.start as usize, lp.end as usize).unwrap();
        assert!((again - lp.seam_db).abs() < 1e-9);
        // A crossfade over a clean loop of a steady tone keeps it clean.
        let mut faded = x.clone();
        crossfade_loop(&mut faded, 1, &lp, 4_800).unwrap();
        let after = seam_db(
            &faded,
            1,
            RATE,
            Some(hz),
            lp.start as usize,
            lp.end as usize,
        )
        .unwrap();
        assert!(after < -50.0, "{after}");
    }

    #[test]
    fn harmonic_tone_with_vibrato_loops_on_the_vibrato_cycle() {
        // Near A3 with 4 harmonics, vibrato 5.3 Hz of ±15 cents: a seam must match
        // both the waveform's phase and the vibrato's.
        let (hz, rate_v, depth) = (221.0, 5.3, 2f64.powf(15.0 / 1200.0) - 1.0);
        let phase =
            |t: f64| TAU * hz * (t - depth / (TAU * rate_v) * ((TAU * rate_v * t).cos() - 1.0));
        let x = held(2.0, |t| {
            let p = phase(t);
            0.6 * p.sin() + 0.25 * (2.0 * p).sin() + 0.1 * (3.0 * p).sin() + 0.05 * (4.0 * p).sin()
        });
        let lp = found(&x, 1, Some(hz), &LoopSettings::default()).expect("a loop");
        let cycles = (lp.end - lp.start) as f64 * rate_v / f64::from(RATE);
        assert!(
            (cycles - cycles.round()).abs() < 0.05,
            "{cycles} vibrato cycles"
        );
        assert!(lp.seam_db < -30.0, "{lp:?}");
        let naive = naive_loop(&x, 1, RATE, Some(hz), &LoopSettings::default())
            .unwrap()
            .unwrap();
        assert!(naive.seam_db > lp.seam_db + 10.0, "{naive:?} vs {lp:?}");
    }

    /// A pad around 220 Hz: it never repeats within the take.
    fn pad() -> Vec<f32> {
        let partials = crate::dsp::testsig::pad_partials(220.0);
        held(2.0, |t| crate::dsp::testsig::pad_at(&partials, t))
    }

    #[test]
    fn pad_has_no_good_raw_loop_but_a_crossfade_smooths_the_seam() {
        let x = pad();
        let s = LoopSettings {
            crossfade_seconds: 0.25,
            ..LoopSettings::default()
        };
        let Err(NoLoop::Rough { best, limit_db }) = found(&x, 1, Some(220.0), &s) else {
            panic!("a pad has no clean raw loop");
        };
        assert_eq!(limit_db, -30.0);
        assert!(best.seam_db > -30.0);
        assert!(best.start as usize >= (0.25 * f64::from(RATE)) as usize);
        let mut faded = x.clone();
        crossfade_loop(&mut faded, 1, &best, (0.25 * f64::from(RATE)) as usize).unwrap();
        let after = seam_db(
            &faded,
            1,
            RATE,
            Some(220.0),
            best.start as usize,
            best.end as usize,
        )
        .unwrap();
        assert!(after < best.seam_db - 15.0, "{after} vs {}", best.seam_db);
        // Only the fade changed.
        let fade_from = best.end as usize - (0.25 * f64::from(RATE)) as usize;
        assert_eq!(&faded[..fade_from], &x[..fade_from]);
        assert_eq!(&faded[best.end as usize..], &x[best.end as usize..]);
    }

    #[test]
    fn stereo_loops_use_every_channel() {
        let hz = 329.6276;
        let mono = held(1.5, |t| (TAU * hz * t).sin());
        let x: Vec<f32> = mono.iter().flat_map(|&v| [v, 0.5 * v]).collect();
        let lp = found(&x, 2, None, &LoopSettings::default()).expect("a loop");
        let m = found(&mono, 1, None, &LoopSettings::default()).expect("a loop");
        assert_eq!((lp.start, lp.end), (m.start, m.end));
    }

    #[test]
    fn decays_silence_and_bad_parameters() {
        // A plucked note decays through the sustain range at once.
        let pluck: Vec<f32> = (0..48_000)
            .map(|i| {
                let t = i as f64 / 48_000.0;
                ((-t * 8.0).exp() * (TAU * 220.0 * t).sin()) as f32
            })
            .collect();
        let r = found(&pluck, 1, Some(220.0), &LoopSettings::default());
        assert!(matches!(r, Err(NoLoop::NotSustained { .. })), "{r:?}");
        let silence = vec![0.0f32; 48_000];
        assert!(matches!(
            found(&silence, 1, None, &LoopSettings::default()),
            Err(NoLoop::NotSustained { .. })
        ));
        let dc = vec![0.3f32; 96_000];
        assert_eq!(
            found(&dc, 1, None, &LoopSettings::default()),
            Err(NoLoop::NoCrossings)
        );
        assert!(find_loop(&dc, 0, RATE, None, &LoopSettings::default()).is_err());
        let bad = LoopSettings {
            min_seconds: f64::NAN,
            ..LoopSettings::default()
        };
        assert!(find_loop(&dc, 1, RATE, None, &bad).is_err());
        assert!(NoLoop::NoCrossings.to_string().contains("zero crossings"));
    }
}
