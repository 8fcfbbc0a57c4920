//! The settled pitch of a note: pitch frames over the sustained part, the
//! stable segment chosen among them, and the attack and vibrato beside it.
//!
//! Real notes move after the onset (a piano G5 reads +54 cents at 100 ms
//! and settles near +30; a bass G2 -13 then +1), so one window after the
//! onset measures the attack. Here:
//! 1. a first estimate from one long window ([`estimate_pitch`], the YIN
//!    search that guards against octave errors), after the onset, then
//!    later in the note when the attack is unpitched (a slow organ); a note
//!    not clearly periodic at its key may repeat every 2-4 key periods (a
//!    16' stop: [`super::subharmonic`]), and is then tracked over that
//!    period, its pitch k times it, when the player makes it the key;
//! 2. pitch frames every 15 ms (up to 30 ms) over the first 2 s from where
//!    the note is loud, each searching only ±100 cents around that estimate
//!    (no octave can be reached), by the normalized correlation refined to a
//!    fraction of a lag, as in [`super::pitch`]. The frames see the note
//!    through a high-pass under its fundamental (rumble and hum slope the
//!    correlation of a high note) and, from 100 Hz, a low-pass over it (a
//!    stiff string's sharp partials pull a period sharp of the fundamental
//!    a tuner reads); neither moves a true period. The frame count is
//!    capped by a budget of multiply-adds, so a low note is tracked with
//!    fewer, longer frames;
//! 3. the stable segment: the longest run of frames whose smoothed pitch
//!    (averaged over ~200 ms, a vibrato cycle) stays within a band of
//!    [`STABLE_BAND_CENTS`] (frames counted by amplitude, the first 30 ms
//!    never: the hammer); the settled pitch is the amplitude-weighted median
//!    of that run. A run shorter than [`MIN_SETTLED_MS`] (staccato, plucks,
//!    marimba) falls back to the best window.
//!
//! The attack deviation is the pitch of the frames starting in the first
//! 60 ms against the settled one; the vibrato depth (± cents) and rate come
//! from the frames after the attack minus their pitch averaged over ±250 ms.
//!
//! Measured: synthetic tones E1..C8 within 0.5 cent (a test); the Salamander
//! piano C6..C8 within 3 cents of the fundamental partial on 7 of 9 notes;
//! ~7 ms of CPU per 3 s take for the whole `takebox check` (make bench).

use super::pitch::{Lags, default_window_frames};
use super::pitch::{PitchEstimate, PitchSettings, cents_between, estimate_pitch};
use super::subharmonic::{Player, Subharmonic, find_subharmonic};

/// Hop between pitch frames.
const HOP_MS: f64 = 15.0;
/// Shortest frame summation window (a high note gets many periods).
const MIN_FRAME_MS: f64 = 40.0;
/// Periods per frame summation window (low notes).
const FRAME_PERIODS: f64 = 2.5;
/// Frames search ±this around the first estimate.
const SEARCH_CENTS: f64 = 100.0;
/// Multiply-adds allowed for all frames of one take (~2 ms).
const BUDGET_MACS: f64 = 10e6;
/// Frames quieter than this under the loudest frame are not tracked.
const FRAME_FLOOR_DB: f64 = 40.0;
/// Frames whose correlation at the period is under this are unpitched.
const MIN_FRAME_CLARITY: f64 = 0.5;
/// Full width of the band the smoothed pitch of a stable run stays in.
pub const STABLE_BAND_CENTS: f64 = 6.0;
/// A stable run shorter than this is not a settled pitch.
pub const MIN_SETTLED_MS: f64 = 80.0;
/// Frames starting this soon after the onset are never settled.
const ONSET_SKIP_MS: f64 = 30.0;
/// The attack: frames within this after the onset.
const ATTACK_MS: f64 = 60.0;
/// Half-length of the smoothing span without vibrato.
const SMOOTH_MS: f64 = 100.0;
/// Below this clarity the note is not one clear tone (a chord, noise).
pub const MIN_CLARITY: f64 = 0.6;
/// Cutoff of the high-pass the frames see, times the first estimate.
const HIGHPASS_RATIO: f64 = 0.6;
/// Notes from here up are seen through a low-pass too (a bass note's
/// fundamental can be too weak to track alone) ...
const LOWPASS_FROM_HZ: f64 = 100.0;
/// ... with its cutoff this many times the first estimate.
const LOWPASS_RATIO: f64 = 1.25;
/// Seconds after the onset that are tracked (and collected by the caller).
pub const TRACK_SECONDS: f64 = 2.0;

/// How the reported pitch was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PitchMethod {
    /// The amplitude-weighted median of the stable segment.
    Settled,
    /// The note never settled long enough: the best window.
    Window,
}

impl PitchMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            PitchMethod::Settled => "settled",
            PitchMethod::Window => "window",
        }
    }
}

/// Periodic pitch modulation of the settled part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vibrato {
    /// Half the peak-to-peak swing, cents.
    pub depth_cents: f64,
    pub rate_hz: f64,
}

/// Why a note has no pitch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoPitch {
    /// Nothing after the onset to measure.
    TooShort,
    /// No window is periodic near the planned note.
    Unpitched,
    /// A pitch, but not one clear tone: a chord, or noise over the note.
    Unclear { clarity: f64 },
    /// A live take that repeats below its key where an instrument played an
    /// octave (or more) too low would: not read as the key.
    Below(Subharmonic),
}

impl NoPitch {
    /// Plain-language reason, for the check's notes.
    pub fn reason(&self) -> String {
        match self {
            NoPitch::TooShort => "too little sound after the onset to measure".into(),
            NoPitch::Unpitched => "no periodic sound near the planned note".into(),
            NoPitch::Unclear { clarity } => format!(
                "not one clear tone (clarity {clarity:.2} < {MIN_CLARITY}): a chord or noise"
            ),
            NoPitch::Below(s) => format!(
                "no periodic sound at the planned note: it repeats {} it ({:.1} Hz), its harmonic at the key {:+.0} dB from the strongest partial and the series below reaching {:+.0} dB from that harmonic above the key, as the wrong octave does ({} played by MIDI, or by an instrument marked sounds_below_key, reads at its key)",
                s.interval(),
                s.hz,
                s.key_db,
                s.upper_sub_db,
                s.stop()
            ),
        }
    }
}

/// The pitch of a note and how it moved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchTrack {
    /// The settled pitch (or the best window's); `None` with a reason.
    pub pitch: Option<PitchEstimate>,
    pub no_pitch: Option<NoPitch>,
    pub method: PitchMethod,
    /// Pitch of the attack minus the settled pitch, cents.
    pub attack_cents: Option<f64>,
    pub vibrato: Option<Vibrato>,
    /// Length of the stable segment, ms (0 for [`PitchMethod::Window`]).
    pub settled_ms: f64,
    /// Pitch frames measured.
    pub frames: usize,
    /// The note repeats below its key (a 16' stop): `pitch` is the key's
    /// harmonic, `k` times the waveform's fundamental.
    pub below_key: Option<Subharmonic>,
}

impl PitchTrack {
    fn none(reason: NoPitch) -> PitchTrack {
        PitchTrack {
            pitch: None,
            no_pitch: Some(reason),
            method: PitchMethod::Window,
            attack_cents: None,
            vibrato: None,
            settled_ms: 0.0,
            frames: 0,
            below_key: None,
        }
    }
}

/// The search range: around the planned note when there is one (fewer
/// octave traps), else A0 bent down to over C8.
pub fn track_settings(planned_hz: Option<f64>) -> PitchSettings {
    let mut s = PitchSettings {
        min_hz: 24.0,
        ..PitchSettings::default()
    };
    if let Some(hz) = planned_hz.filter(|h| *h > 0.0 && h.is_finite()) {
        s.min_hz = hz / 1.5;
        s.max_hz = (hz * 1.5).max(s.min_hz * 2.0);
    }
    s
}

/// Length of the first estimate's window: 24 periods of the lowest pitch
/// searched (a high note decays fast), at least 2048 frames at 48 kHz, at
/// most the default window, but never under 6 periods (A0 at 48 kHz:
/// ~10,000 frames).
pub fn first_window_frames(rate: u32, settings: &PitchSettings) -> usize {
    let period = rate as f64 / settings.min_hz.max(1.0);
    let floor = 2048.0 * rate as f64 / 48_000.0;
    // max then min, not clamp: at absurd rates (a hostile header) the floor
    // passes the default window, and clamp would panic.
    let len = (24.0 * period)
        .max(floor)
        .min(default_window_frames(rate) as f64)
        .max(6.0 * period);
    (len.ceil() as usize).min(super::pitch::MAX_WINDOW_FRAMES)
}

/// One pitch frame.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Seconds after the onset (frame start).
    t: f64,
    cents: f64,
    clarity: f64,
    energy: f64,
}

/// Tracks the pitch of `note`, mono samples starting at the onset, played
/// live (see [`track_note`]).
pub fn track_pitch(note: &[f32], rate: u32, planned_hz: Option<f64>) -> PitchTrack {
    track_note(note, rate, planned_hz, Player::Live)
}

/// Near the planned note, a note this clear is not looked at below its key.
const CLEAR_AT_KEY: f64 = 0.9;

/// Tracks the pitch of `note`, mono samples starting at the onset, which
/// `player` played. A note that is not clearly periodic at its key but
/// repeats every 2-4 key periods ([`super::subharmonic`]: a 16' stop) is
/// tracked over that period, and its pitch is the key's harmonic when
/// [`Subharmonic::is_the_key`] says so for `player`.
pub fn track_note(note: &[f32], rate: u32, planned_hz: Option<f64>, player: Player) -> PitchTrack {
    let settings = track_settings(planned_hz);
    if rate == 0 || note.len() < 64 {
        return PitchTrack::none(NoPitch::TooShort);
    }
    // A hum or noise floor over the trim threshold puts the onset at the
    // start of the pre-roll: the note starts where it is loud.
    let note = &note[loud_start(note, rate)..];
    let note = &note[..note.len().min((TRACK_SECONDS * rate as f64) as usize)];
    // Below the key only where the window after the onset is not clearly
    // periodic at it; the other first windows only if that finds nothing (a
    // note without a clear period near its key tries them all).
    let at_100 = estimate_at(note, rate, &settings, 100.0);
    let mut below = match (planned_hz, at_100) {
        (_, Some(p)) if p.clarity >= CLEAR_AT_KEY => None,
        (Some(key), _) => below_key(note, rate, key),
        (None, _) => None,
    };
    let near = match below.filter(|s| s.is_the_key(player)) {
        Some(_) => None,
        None => first_estimate(note, rate, &settings, at_100),
    };
    if near.is_some_and(|p| p.clarity >= CLEAR_AT_KEY) {
        below = None;
    }
    if let Some(sub) = below.filter(|s| s.is_the_key(player)) {
        let first = PitchEstimate {
            hz: sub.hz,
            clarity: sub.clarity,
        };
        let mut track = track_from(note, rate, first, sub.key_hz());
        let k = f64::from(sub.k);
        if let Some(p) = track.pitch.as_mut() {
            p.hz *= k;
            track.below_key = Some(sub);
        }
        return track;
    }
    let Some(first) = near else {
        return PitchTrack::none(below.map_or(NoPitch::Unpitched, NoPitch::Below));
    };
    let mut track = track_from(note, rate, first, first.hz);
    if let (None, Some(sub)) = (track.pitch, below) {
        track.no_pitch = Some(NoPitch::Below(sub));
    }
    track
}

/// The first windows [`find_subharmonic`] is tried on: where the first
/// estimate looks, the slow attack's later ones too.
fn below_key(note: &[f32], rate: u32, key_hz: f64) -> Option<Subharmonic> {
    [100.0, 200.0, 400.0].into_iter().find_map(|ms| {
        let from = ((ms * rate as f64 / 1000.0) as usize).min(note.len());
        find_subharmonic(&note[from..], rate, key_hz)
    })
}

/// The track of `note` from a first estimate `first` (the period the frames
/// follow), whose harmonic at `top_hz` is the highest the frames must keep.
fn track_from(note: &[f32], rate: u32, first: PitchEstimate, top_hz: f64) -> PitchTrack {
    // Rumble and hum under the note correlate strongly at a high note's
    // short lag and slope its correlation peak (C8 read 13 cents sharp): the
    // frames see the note through a high-pass under its fundamental, which
    // keeps any period.
    let mut sections = butterworth4(rate, first.hz * HIGHPASS_RATIO, true).to_vec();
    // A stiff string's partials run sharp of the harmonics (a piano's third
    // partial of C6 by ~10 cents), which pulls a period sharp of what a tuner
    // reads on the fundamental: above the bass, a low-pass over it too.
    if top_hz >= LOWPASS_FROM_HZ && top_hz * LOWPASS_RATIO < 0.45 * rate as f64 {
        sections.extend(butterworth4(rate, top_hz * LOWPASS_RATIO, false));
    }
    let filtered = filter(note, &sections);
    let note = &filtered[..];
    let frames = pitch_frames(note, rate, first.hz);
    let mut track = settle(&frames, rate, first);
    if let Some(p) = track.pitch.filter(|p| p.clarity < MIN_CLARITY) {
        track.no_pitch = Some(NoPitch::Unclear { clarity: p.clarity });
        track.pitch = None;
    }
    track
}

/// Blocks of this length find where the note is loud ...
const LOUD_BLOCK_MS: f64 = 5.0;
/// ... within this of its loudest block.
const LOUD_DB: f64 = 12.0;

/// Start of the first block within [`LOUD_DB`] of the loudest one.
fn loud_start(note: &[f32], rate: u32) -> usize {
    let block = ((LOUD_BLOCK_MS * rate as f64 / 1000.0) as usize).max(1);
    let power: Vec<f64> = note
        .chunks(block)
        .map(|b| b.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / b.len() as f64)
        .collect();
    let loudest = power
        .iter()
        .copied()
        .filter(|p| p.is_finite())
        .fold(0.0, f64::max);
    let floor = loudest * 10f64.powf(-LOUD_DB / 10.0);
    power.iter().position(|&p| p >= floor).unwrap_or(0) * block
}

/// The first estimate: the window 100 ms after the onset (`at_100`, already
/// estimated), else earlier (a fast decay) or later (a slow attack), the
/// first clear one.
fn first_estimate(
    note: &[f32],
    rate: u32,
    s: &PitchSettings,
    at_100: Option<PitchEstimate>,
) -> Option<PitchEstimate> {
    at_100
        .filter(|p| p.clarity >= MIN_CLARITY)
        .or_else(|| {
            [50.0, 200.0, 400.0, 0.0]
                .into_iter()
                .filter_map(|ms| estimate_at(note, rate, s, ms))
                .find(|p| p.clarity >= MIN_CLARITY)
        })
        .or(at_100)
}

/// [`estimate_pitch`] on the first window `ms` after the onset.
fn estimate_at(note: &[f32], rate: u32, s: &PitchSettings, ms: f64) -> Option<PitchEstimate> {
    let len = first_window_frames(rate, s);
    let from = ((ms * rate as f64 / 1000.0) as usize).min(note.len());
    estimate_pitch(&note[from..(from + len).min(note.len())], rate, s)
}

/// Pitch frames over the note, each searching ±[`SEARCH_CENTS`] around
/// `hz`, in cents from `hz`.
fn pitch_frames(note: &[f32], rate: u32, hz: f64) -> Vec<Frame> {
    let rate_f = rate as f64;
    let tau = rate_f / hz;
    let span = 2f64.powf(SEARCH_CENTS / 1200.0);
    let tau_lo = ((tau / span).floor() as usize).max(2);
    let tau_hi = (tau * span).ceil() as usize + 1;
    let w = ((FRAME_PERIODS * tau).max(MIN_FRAME_MS * rate_f / 1000.0)).ceil() as usize;
    let len = w + tau_hi + 4 + 2 * super::pitch::HALF;
    if note.len() < len {
        return Vec::new();
    }
    let lags = (tau_hi - tau_lo + 2 * super::pitch::HALF + 8) as f64;
    let room = (note.len() - len) as f64;
    let max_frames = (BUDGET_MACS / (lags * w as f64)).max(4.0);
    let hop = (HOP_MS * rate_f / 1000.0).max(room / max_frames).max(1.0);
    let mut frames = Vec::new();
    let mut pos = 0.0f64;
    while pos as usize + len <= note.len() {
        let x = &note[pos as usize..pos as usize + len];
        if let Some((t, clarity, energy)) = frame_period(x, tau_lo, tau_hi) {
            frames.push(Frame {
                t: pos / rate_f,
                cents: cents_between(rate_f / t, hz),
                clarity,
                energy,
            });
        }
        pos += hop;
    }
    let loudest = frames.iter().map(|f| f.energy).fold(0.0, f64::max);
    let floor = loudest * 10f64.powf(-FRAME_FLOOR_DB / 10.0);
    frames.retain(|f| f.energy >= floor && f.energy > 0.0 && f.clarity >= MIN_FRAME_CLARITY);
    frames
}

/// The period of one frame in `tau_lo..=tau_hi` (fractional), its
/// correlation and the frame's energy; `None` when the best lag is at the
/// edge of the range (the pitch left it) or the frame is silent.
fn frame_period(x: &[f32], tau_lo: usize, tau_hi: usize) -> Option<(f64, f64, f64)> {
    let tau_max = tau_hi + 3;
    let mut lags = Lags::new(x, tau_max);
    lags.compute(tau_lo.saturating_sub(3), tau_max + 2 * super::pitch::HALF);
    if lags.e1 <= 0.0 {
        return None;
    }
    let best =
        (tau_lo..=tau_hi).max_by(|&a, &b| lags.rho(a as f64).total_cmp(&lags.rho(b as f64)))?;
    if best == tau_lo || best == tau_hi {
        return None;
    }
    let (tau, rho) = lags.golden_max(best, tau_max, 30);
    Some((tau, rho.clamp(0.0, 1.0), lags.e1 / lags.w as f64))
}

/// The settled pitch from the frames (cents from `first`), or the first
/// estimate when the note never settles.
fn settle(frames: &[Frame], rate: u32, first: PitchEstimate) -> PitchTrack {
    let at = |cents: f64| first.hz * 2f64.powf(cents / 1200.0);
    let attack: Vec<f64> = frames
        .iter()
        .filter(|f| f.t <= ATTACK_MS / 1000.0)
        .map(|f| f.cents)
        .collect();
    let hop = match frames {
        [a, b, ..] => (b.t - a.t).max(1.0 / rate as f64),
        _ => HOP_MS / 1000.0,
    };
    // Smoothing over one vibrato cycle nulls the vibrato; without one, over
    // ~200 ms (frame noise).
    let vib = vibrato(frames, hop);
    let span = match vib {
        Some(v) => 1.0 / v.rate_hz,
        None => 2.0 * SMOOTH_MS / 1000.0,
    };
    let smoothed = smooth(frames, (span / hop).round().max(1.0) as usize);
    // The hammer, pluck or tongue is not part of the settled note.
    let skip = frames
        .iter()
        .take_while(|f| f.t < ONSET_SKIP_MS / 1000.0)
        .count();
    let (from, to) = longest_stable_run(&frames[skip..], &smoothed[skip..], hop);
    let (from, to) = (from + skip, to + skip);
    let run = &frames[from..to];
    let settled_s = run.len() as f64 * hop;
    let mut track = PitchTrack {
        pitch: Some(first),
        no_pitch: None,
        method: PitchMethod::Window,
        attack_cents: None,
        vibrato: vib,
        settled_ms: 0.0,
        frames: frames.len(),
        below_key: None,
    };
    let enough = run.len() >= 3 && settled_s * 1000.0 >= MIN_SETTLED_MS;
    let settled_cents = if enough {
        // With vibrato the raw frames swing around the pitch: their median
        // weighted by a decaying energy is not the centre, one cycle's mean is.
        let values = match vib {
            Some(_) => &smoothed[from..to],
            None => &run.iter().map(|f| f.cents).collect::<Vec<_>>()[..],
        };
        let c = weighted_median(values.iter().zip(run).map(|(&c, f)| (c, f.energy.sqrt())));
        let clarity = median(run.iter().map(|f| f.clarity));
        track.pitch = Some(PitchEstimate { hz: at(c), clarity });
        track.method = PitchMethod::Settled;
        track.settled_ms = settled_s * 1000.0;
        c
    } else {
        0.0
    };
    if !attack.is_empty() {
        track.attack_cents = Some(median(attack.into_iter()) - settled_cents);
    }
    track
}

/// One biquad: `b0 b1 b2 a1 a2` over `a0`.
type Biquad = [f64; 5];

/// A fourth-order Butterworth high- or low-pass: two RBJ biquads (Q 0.54
/// and 1.31). Any such filter keeps a period exactly; only the weighting of
/// the partials changes.
fn butterworth4(rate: u32, cutoff_hz: f64, high: bool) -> [Biquad; 2] {
    let w0 = 2.0 * std::f64::consts::PI * cutoff_hz / rate as f64;
    let cos = w0.cos();
    [0.541_196_1, 1.306_563].map(|q| {
        let alpha = w0.sin() / (2.0 * q);
        let a0 = 1.0 + alpha;
        let (b0, b1) = match high {
            true => ((1.0 + cos) / 2.0, -(1.0 + cos)),
            false => ((1.0 - cos) / 2.0, 1.0 - cos),
        };
        [
            b0 / a0,
            b1 / a0,
            b0 / a0,
            -2.0 * cos / a0,
            (1.0 - alpha) / a0,
        ]
    })
}

/// `x` through the biquads in cascade, in one pass: each section's
/// recursion is serial, but one section's next sample overlaps the next
/// section's current one.
fn filter(x: &[f32], sections: &[Biquad]) -> Vec<f32> {
    let mut state = vec![[0.0f64; 4]; sections.len()];
    x.iter()
        .map(|&v| {
            let mut v = if v.is_finite() { f64::from(v) } else { 0.0 };
            for (c, z) in sections.iter().zip(state.iter_mut()) {
                let out = c[0] * v + c[1] * z[0] + c[2] * z[1] - c[3] * z[2] - c[4] * z[3];
                *z = [v, z[0], out, z[2]];
                v = out;
            }
            v as f32
        })
        .collect()
}

/// Moving average of the frames' cents over `len` frames centred on each.
fn smooth(frames: &[Frame], len: usize) -> Vec<f64> {
    (0..frames.len())
        .map(|i| {
            let lo = i.saturating_sub(len / 2);
            let hi = (lo + len).min(frames.len());
            let lo = hi.saturating_sub(len);
            frames[lo..hi].iter().map(|f| f.cents).sum::<f64>() / (hi - lo) as f64
        })
        .collect()
}

/// The strongest run of consecutive frames (no gap over 1.5 hops) whose
/// smoothed pitch stays within [`STABLE_BAND_CENTS`]: the most frames,
/// each counted by its amplitude, so a long run deep in a noisy decay does
/// not beat a shorter loud one. O(n²) over at most a few hundred frames.
fn longest_stable_run(frames: &[Frame], smoothed: &[f64], hop: f64) -> (usize, usize) {
    let mut best = (0, 0, 0.0);
    for from in 0..frames.len() {
        let (mut lo, mut hi) = (smoothed[from], smoothed[from]);
        let mut score = frames[from].energy.sqrt();
        let mut to = from + 1;
        while to < frames.len() {
            let gap = frames[to].t - frames[to - 1].t > 1.5 * hop;
            lo = lo.min(smoothed[to]);
            hi = hi.max(smoothed[to]);
            if gap || hi - lo > STABLE_BAND_CENTS {
                break;
            }
            score += frames[to].energy.sqrt();
            to += 1;
        }
        if score > best.2 {
            best = (from, to, score);
        }
    }
    (best.0, best.1)
}

/// Vibrato after the attack: depth √2·RMS of the frames around their
/// pitch averaged over ±250 ms, rate from the zero crossings of that
/// difference; reported from 3 cents and 3-10 Hz, when smooth.
fn vibrato(frames: &[Frame], hop: f64) -> Option<Vibrato> {
    let after: Vec<Frame> = frames
        .iter()
        .copied()
        .filter(|f| f.t > 2.0 * ATTACK_MS / 1000.0)
        .collect();
    let len = (0.5 / hop).round() as usize;
    if after.len() < 8 || after.len() < len {
        return None;
    }
    let smoothed = smooth(&after, len);
    let resid: Vec<f64> = after
        .iter()
        .zip(&smoothed)
        .map(|(f, s)| f.cents - s)
        .collect();
    let rms = (resid.iter().map(|r| r * r).sum::<f64>() / resid.len() as f64).sqrt();
    let crossings = resid
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    // A vibrato moves smoothly from frame to frame; frame noise does not
    // (its successive differences are √2 times its RMS, a 5.5 Hz swing's
    // 0.5 times at a 15 ms hop, 1.0 at 30 ms).
    let steps = resid.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>();
    if (steps / (resid.len() - 1) as f64).sqrt() > 1.2 * rms {
        return None;
    }
    let secs = after[after.len() - 1].t - after[0].t;
    let v = Vibrato {
        depth_cents: rms * std::f64::consts::SQRT_2,
        rate_hz: crossings as f64 / 2.0 / secs,
    };
    (v.depth_cents >= 3.0 && (3.0..=10.0).contains(&v.rate_hz)).then_some(v)
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    weighted_median(values.map(|v| (v, 1.0)))
}

/// The value at half the total weight (values sorted).
fn weighted_median(values: impl Iterator<Item = (f64, f64)>) -> f64 {
    let mut v: Vec<(f64, f64)> = values.filter(|(x, _)| x.is_finite()).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|x| x.1).sum();
    let mut acc = 0.0;
    for &(x, w) in &v {
        acc += w;
        if acc >= total / 2.0 {
            return x;
        }
    }
    v.last().map_or(f64::NAN, |x| x.0)
}

#[cfg(test)]
mod tests {
    use super::super::testsig::{harmonic_tone, noise, tone};
    use super::*;

    #[test]
    fn an_absurd_rate_from_a_hostile_header_gives_a_bounded_window() {
        // Found by the fuzz driver: 4,294,967,280 Hz made the floor pass the
        // default window, and f64::clamp panicked.
        for rate in [1, 8_000, 48_000, 384_000, u32::MAX - 15, u32::MAX] {
            let n = first_window_frames(rate, &PitchSettings::default());
            assert!(
                (1..=super::super::pitch::MAX_WINDOW_FRAMES).contains(&n),
                "{rate}: {n}"
            );
        }
    }
    use std::f64::consts::PI;

    fn note(midi: i32) -> f64 {
        440.0 * 2f64.powf((midi - 69) as f64 / 12.0)
    }

    /// A tone whose pitch in cents from `hz` is `cents(t)`, with `amps`
    /// harmonics and a slow decay.
    fn moving_tone(rate: u32, hz: f64, secs: f64, cents: impl Fn(f64) -> f64) -> Vec<f32> {
        let n = (secs * rate as f64) as usize;
        let mut phase = 0.0f64;
        (0..n)
            .map(|i| {
                let t = i as f64 / rate as f64;
                let f = hz * 2f64.powf(cents(t) / 1200.0);
                phase += 2.0 * PI * f / rate as f64;
                let v = phase.sin() + 0.5 * (2.0 * phase).sin() + 0.3 * (3.0 * phase).sin();
                (0.4 * v * (-t * 1.5).exp()) as f32
            })
            .collect()
    }

    #[test]
    fn clean_tones_e1_to_c8_within_half_a_cent() {
        let mut worst = 0.0f64;
        for rate in [44_100, 48_000, 96_000] {
            for (i, midi) in (28..=108).step_by(5).chain([108]).enumerate() {
                let hz = note(midi) * 2f64.powf((6.1 - 1.3 * i as f64) / 1200.0);
                let x = tone(rate, hz, 0.5, 0.37 * i as f64, rate as usize);
                let t = track_pitch(&x, rate, Some(note(midi)));
                let got = t.pitch.unwrap_or_else(|| panic!("{hz} at {rate}: {t:?}"));
                let err = cents_between(got.hz, hz);
                assert!(
                    err.abs() < 0.5,
                    "{hz:.3} Hz at {rate}: {err:.3} cents {t:?}"
                );
                assert_eq!(t.method, PitchMethod::Settled, "{hz}");
                worst = worst.max(err.abs());
            }
        }
        eprintln!("worst {worst:.3} cents");
    }

    #[test]
    fn a0_bent_down_is_found() {
        let rate = 48_000;
        for hz in [27.0, 27.5, 28.0] {
            let x = harmonic_tone(rate, hz, &[0.3, 1.0, 0.8, 0.6, 0.4], 2 * rate as usize);
            let t = track_pitch(&x, rate, Some(27.5));
            let err = cents_between(t.pitch.expect("A0").hz, hz);
            assert!(err.abs() < 1.0, "{hz}: {err}");
            let t = track_pitch(&x, rate, None);
            let err = cents_between(t.pitch.expect("A0 unplanned").hz, hz);
            assert!(err.abs() < 1.0, "{hz} unplanned: {err}");
        }
    }

    #[test]
    fn attack_drift_is_measured_and_not_the_pitch() {
        // +50 cents at the onset settling to +20 within 250 ms.
        let rate = 48_000;
        let hz = 783.99;
        let x = moving_tone(rate, hz, 2.0, |t| 20.0 + 30.0 * (-t / 0.06).exp());
        let t = track_pitch(&x, rate, Some(hz));
        let c = cents_between(t.pitch.unwrap().hz, hz);
        assert!((c - 20.0).abs() < 1.0, "settled {c} {t:?}");
        let a = t.attack_cents.unwrap();
        // The first frames (40 ms long) average the fast part of the drift.
        assert!(a > 10.0 && a < 30.0, "attack {a}");
        assert_eq!(t.method, PitchMethod::Settled);
    }

    #[test]
    fn vibrato_depth_and_rate() {
        let rate = 48_000;
        let hz = 440.0;
        let x = moving_tone(rate, hz, 2.5, |t| -8.0 + 25.0 * (2.0 * PI * 5.5 * t).sin());
        let t = track_pitch(&x, rate, Some(hz));
        let c = cents_between(t.pitch.unwrap().hz, hz);
        assert!((c + 8.0).abs() < 3.0, "centre {c} {t:?}");
        let v = t.vibrato.expect("vibrato");
        assert!((v.depth_cents - 25.0).abs() < 6.0, "{v:?}");
        assert!((v.rate_hz - 5.5).abs() < 0.6, "{v:?}");
        let still = moving_tone(rate, hz, 2.0, |_| 0.0);
        assert_eq!(track_pitch(&still, rate, Some(hz)).vibrato, None);
    }

    #[test]
    fn short_note_falls_back_to_the_window() {
        // A 150 ms marimba-like note: decays 60 dB in 100 ms.
        let rate = 48_000;
        let hz = 523.25;
        let x: Vec<f32> = tone(rate, hz, 0.8, 0.0, 7_200)
            .iter()
            .enumerate()
            .map(|(i, v)| v * (-(i as f32) / 700.0).exp())
            .collect();
        let t = track_pitch(&x, rate, Some(hz));
        let c = cents_between(t.pitch.expect("short").hz, hz);
        assert!(c.abs() < 3.0, "{c} {t:?}");
    }

    #[test]
    fn chord_and_noise_have_no_pitch_with_a_reason() {
        let rate = 48_000;
        let n = rate as usize;
        let (c, e, g) = (note(60), note(64), note(67));
        let chord: Vec<f32> = tone(rate, c, 0.3, 0.0, n)
            .iter()
            .zip(tone(rate, e, 0.3, 1.0, n))
            .zip(tone(rate, g, 0.3, 2.0, n))
            .map(|((a, b), c)| a + b + c)
            .collect();
        let t = track_pitch(&chord, rate, Some(c));
        assert_eq!(t.pitch, None, "{t:?}");
        assert!(t.no_pitch.is_some());
        let t = track_pitch(&noise(3, 0.5, n), rate, Some(440.0));
        assert_eq!(t.pitch, None);
        assert_eq!(t.no_pitch, Some(NoPitch::Unpitched));
        assert_eq!(
            track_pitch(&[0.1; 10], rate, None).no_pitch,
            Some(NoPitch::TooShort)
        );
    }
}

#[cfg(test)]
mod organ_tests {
    use super::*;
    use std::f64::consts::PI;

    fn note(midi: i32) -> f64 {
        440.0 * 2f64.powf((midi - 69) as f64 / 12.0)
    }

    /// An organ note: drawbars (ratio to the key, amplitude) as sines, with
    /// a 20 ms attack and 2 s long, `cents` off its key.
    fn organ(rate: u32, key_hz: f64, cents: f64, bars: &[(f64, f64)]) -> Vec<f32> {
        let hz = key_hz * 2f64.powf(cents / 1200.0);
        let n = 2 * rate as usize;
        let peak: f64 = bars.iter().map(|b| b.1).sum();
        (0..n)
            .map(|i| {
                let t = i as f64 / rate as f64;
                let v: f64 = bars
                    .iter()
                    .map(|&(r, a)| a * (2.0 * PI * r * hz * t + 0.9 * r).sin())
                    .sum();
                (0.5 * v / peak * (t / 0.02).min(1.0)) as f32
            })
            .collect()
    }

    /// Registrations that repeat below the key, how far below, and whether
    /// the key leads (its harmonic the strongest, nothing of the lower series
    /// above it), which a live take needs.
    type Registration = (&'static str, &'static [(f64, f64)], u8, bool);
    const BELOW: [Registration; 5] = [
        ("16'+8'+4'", &[(0.5, 1.0), (1.0, 1.0), (2.0, 1.0)], 2, true),
        (
            "16' under 8'+4'+2'",
            &[(0.5, 0.4), (1.0, 1.0), (2.0, 0.7), (4.0, 0.5)],
            2,
            true,
        ),
        (
            "16' dominant",
            &[(0.5, 1.0), (1.0, 0.3), (2.0, 0.2)],
            2,
            false,
        ),
        (
            "10 2/3' + 8'",
            &[(2.0 / 3.0, 0.6), (1.0, 1.0), (2.0, 0.5)],
            3,
            true,
        ),
        (
            "32'+16'+8'+5 1/3'+4' (FluidR3's drawbar organ)",
            &[(0.25, 1.0), (0.5, 0.8), (1.0, 0.5), (1.5, 0.15), (2.0, 0.3)],
            4,
            false,
        ),
    ];

    #[test]
    fn midi_organ_registrations_read_at_their_key_to_a_fraction_of_a_cent() {
        let rate = 48_000;
        let mut worst = 0.0f64;
        for (i, midi) in [36, 43, 48, 55, 60, 67, 72, 79, 84, 96]
            .into_iter()
            .enumerate()
        {
            let key = note(midi);
            for (name, bars, k, _) in BELOW {
                let cents = 7.3 - 1.7 * i as f64;
                let x = organ(rate, key, cents, bars);
                let t = track_note(&x, rate, Some(key), Player::Midi);
                let p = t.pitch.unwrap_or_else(|| panic!("{name} at {midi}: {t:?}"));
                let err = cents_between(p.hz, key) - cents;
                assert!(err.abs() < 0.5, "{name} at {midi}: {err:+.3} cents {t:?}");
                assert_eq!(t.below_key.map(|s| s.k), Some(k), "{name} at {midi}");
                assert_eq!(t.method, PitchMethod::Settled, "{name} at {midi}");
                worst = worst.max(err.abs());
            }
        }
        eprintln!("worst {worst:.3} cents");
    }

    #[test]
    fn a_live_organ_reads_at_its_key_only_where_the_key_leads() {
        let rate = 48_000;
        for midi in [36, 48, 60, 72, 84] {
            let key = note(midi);
            for (name, bars, _, leads) in BELOW {
                let t = track_note(&organ(rate, key, 3.0, bars), rate, Some(key), Player::Live);
                match t.pitch {
                    Some(p) => {
                        assert!(leads, "{name} at {midi} read live: {t:?}");
                        assert!((cents_between(p.hz, key) - 3.0).abs() < 0.5, "{t:?}");
                    }
                    None => {
                        assert!(!leads, "{name} at {midi}: {t:?}");
                        assert!(matches!(t.no_pitch, Some(NoPitch::Below(_))), "{t:?}");
                        let why = t.no_pitch.unwrap().reason();
                        assert!(why.contains("wrong octave"), "{why}");
                    }
                }
            }
        }
    }

    #[test]
    fn registrations_at_the_key_are_read_as_before() {
        // 8'+4'+2 2/3' and 8'+4': every partial a harmonic of the key.
        let rate = 48_000;
        for midi in [36, 60, 84] {
            let key = note(midi);
            for bars in [
                &[(1.0, 1.0), (2.0, 0.8), (3.0, 0.6)][..],
                &[(1.0, 0.5), (2.0, 1.0)],
            ] {
                for player in [Player::Live, Player::Midi] {
                    let t = track_note(&organ(rate, key, -4.0, bars), rate, Some(key), player);
                    let c = cents_between(t.pitch.expect("pitch").hz, key);
                    assert!((c + 4.0).abs() < 0.5, "{midi} {bars:?}: {c}");
                    assert_eq!(t.below_key, None);
                }
            }
        }
    }

    #[test]
    fn the_wrong_octave_played_live_is_not_read_at_the_key() {
        // An instrument with a full harmonic series an octave (and two)
        // under the planned note: a bowed string, a piano-like spectrum
        // whose second harmonic leads, a clarinet (odd harmonics).
        let rate = 48_000;
        let spectra: [&[f64]; 3] = [
            &[1.0, 0.6, 0.45, 0.35, 0.3, 0.25, 0.2, 0.18],
            &[0.5, 1.0, 0.6, 0.5, 0.3, 0.3, 0.2],
            &[1.0, 0.05, 0.5, 0.04, 0.3, 0.03, 0.2],
        ];
        for midi in [48, 60, 72] {
            let key = note(midi);
            for amps in spectra {
                for below in [2.0, 4.0] {
                    let bars: Vec<(f64, f64)> = amps
                        .iter()
                        .enumerate()
                        .map(|(i, &a)| ((i + 1) as f64 / below, a))
                        .filter(|b| b.0 * key < 20_000.0)
                        .collect();
                    let t =
                        track_note(&organ(rate, key, 0.0, &bars), rate, Some(key), Player::Live);
                    assert_eq!(t.pitch, None, "{midi} {amps:?} /{below}: {t:?}");
                    assert!(t.no_pitch.is_some());
                }
            }
        }
    }

    #[test]
    fn a_sharp_or_flat_16_foot_note_is_flagged_by_its_cents() {
        // The check judges the cents read on the key's harmonic: +30 stays
        // +30, so an off note played by MIDI is still off pitch.
        let rate = 48_000;
        let key = note(57);
        let t = track_note(
            &organ(rate, key, 30.0, BELOW[0].1),
            rate,
            Some(key),
            Player::Midi,
        );
        let c = cents_between(t.pitch.unwrap().hz, key);
        assert!((c - 30.0).abs() < 0.5, "{c}");
    }
}
