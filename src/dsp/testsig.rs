//! Synthetic test signals with known answers (test builds only).

use std::f64::consts::{PI, TAU};

/// `frames` samples of `amp * cos(2π hz t + phase)`; cos so that frame 0
/// holds the full amplitude when `phase` is 0.
pub fn tone(rate: u32, hz: f64, amp: f64, phase: f64, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|n| (amp * (2.0 * PI * hz * n as f64 / rate as f64 + phase).cos()) as f32)
        .collect()
}

/// Raised-cosine fades over the first and last `n` samples, so a test tone
/// neither starts nor ends with a step.
pub fn fade_edges(mut x: Vec<f32>, n: usize) -> Vec<f32> {
    let len = x.len();
    for i in 0..n.min(len) {
        let g = (0.5 - 0.5 * (PI * i as f64 / n as f64).cos()) as f32;
        x[i] *= g;
        x[len - 1 - i] *= g;
    }
    x
}

/// Sum of harmonics `k * hz` with amplitudes `amps[k-1]`.
pub fn harmonic_tone(rate: u32, hz: f64, amps: &[f64], frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|n| {
            let t = n as f64 / rate as f64;
            amps.iter()
                .enumerate()
                .map(|(k, a)| {
                    let h = (k + 1) as f64;
                    a * (2.0 * PI * h * hz * t + 0.7 * h).sin()
                })
                .sum::<f64>() as f32
        })
        .collect()
}

/// Interleaves equal-length planar channels.
pub fn interleave(planes: &[Vec<f32>]) -> Vec<f32> {
    let frames = planes.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::with_capacity(frames * planes.len());
    for n in 0..frames {
        for p in planes {
            out.push(p.get(n).copied().unwrap_or(0.0));
        }
    }
    out
}

/// Deterministic uniform white noise in `[-amp, amp)`.
pub fn noise(seed: u64, amp: f64, frames: usize) -> Vec<f32> {
    let mut s = seed | 1;
    (0..frames)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            (amp * (2.0 * u - 1.0)) as f32
        })
        .collect()
}

/// The input data every streaming analyzer must survive without panicking.
pub fn hostile_inputs(channels: usize) -> Vec<Vec<f32>> {
    vec![
        vec![],
        vec![0.0; channels * 1000],
        vec![1.0; channels * 1000],
        (0..channels * 1000)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect(),
        vec![0.25; channels * 1000],
        vec![0.5; channels],
        vec![0.5],
        vec![f32::NAN; channels * 100],
        vec![
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            0.5,
            f32::MAX,
            f32::MIN,
        ],
    ]
}

/// A held note, mono, at half scale: a linear `attack`, `hold` seconds, a
/// linear `release` (seconds); `wave(t)` is the tone, about ±1.
pub fn held(
    rate: u32,
    (attack, hold, release): (f64, f64, f64),
    wave: impl Fn(f64) -> f64,
) -> Vec<f32> {
    let total = attack + hold + release;
    let n = (total * f64::from(rate)) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let env = (t / attack).min(1.0) * ((total - t) / release).clamp(0.0, 1.0);
            (0.5 * env * wave(t)) as f32
        })
        .collect()
}

/// A pad: 40 sines detuned at random by up to ±1% around `hz` and its
/// first four harmonics, random phases, as (radians per second, phase). Their
/// sum never repeats within a take, so no raw loop of it is clean.
pub fn pad_partials(hz: f64) -> Vec<(f64, f64)> {
    let mut seed = 0x1234_5678u64;
    let mut rnd = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..40)
        .map(|k| {
            let f = hz * (1 + k % 5) as f64 * (1.0 + 0.02 * (rnd() - 0.5));
            (TAU * f, TAU * rnd())
        })
        .collect()
}

/// The pad of `partials` at `t` seconds, about ±1.
pub fn pad_at(partials: &[(f64, f64)], t: f64) -> f64 {
    partials.iter().map(|(w, p)| (w * t + p).sin()).sum::<f64>() / 8.0
}
