//! The render pass: gain, DC removal, fades and cut, then quantization to
//! integer PCM with optional TPDF dither.
//!
//! DC removal subtracts the per-channel mean measured in the analysis pass
//! ([`super::level::RmsStats::dc`]). Chosen over a high-pass because it is
//! exact, has no settling time at the cut point, and leaves the low end of
//! low notes (E1 = 41 Hz) and their phase untouched.
//!
//! Fades: a raised-cosine (default) or linear fade-in of `fade_in_ms`
//! starting at `start_frame`, and a fade-out of `fade_out_ms` ending at
//! `end_frame`. The first kept frame and the last kept frame are exactly
//! 0.0, so the file starts and ends on silence. Frame `start + i` of the
//! fade-in is multiplied by `shape(i / fade_in_frames)`, frame `end - 1 - j`
//! of the fade-out by `shape(j / fade_out_frames)`; when the take is shorter
//! than both fades they overlap and multiply.

use super::error::{DspError, check_format, check_param};
use super::frames::finite;
use super::level::db_to_gain;
use super::trim::TrimPoints;

/// Default fade-in, starting at the start frame.
pub const DEFAULT_FADE_IN_MS: f64 = 1.0;
/// Default fade-out, ending at the end frame.
pub const DEFAULT_FADE_OUT_MS: f64 = 10.0;

/// Fade curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FadeShape {
    /// `t`
    Linear,
    /// `0.5 - 0.5·cos(π t)`: no slope discontinuity at either end.
    #[default]
    RaisedCosine,
}

impl FadeShape {
    #[inline]
    fn gain(self, t: f64) -> f32 {
        match self {
            FadeShape::Linear => t as f32,
            FadeShape::RaisedCosine => (0.5 - 0.5 * (std::f64::consts::PI * t).cos()) as f32,
        }
    }
}

/// What the render pass does to the kept frames.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    /// Gain in dB (from [`super::normalize`]); 0.0 = unchanged.
    pub gain_db: f64,
    /// Per-channel DC to subtract before the gain; `None` = keep DC.
    pub dc_offset: Option<Vec<f64>>,
    pub fade_in_ms: f64,
    pub fade_out_ms: f64,
    pub fade_shape: FadeShape,
}

impl Default for RenderSettings {
    fn default() -> Self {
        RenderSettings {
            gain_db: 0.0,
            dc_offset: None,
            fade_in_ms: DEFAULT_FADE_IN_MS,
            fade_out_ms: DEFAULT_FADE_OUT_MS,
            fade_shape: FadeShape::default(),
        }
    }
}

/// Applies gain, DC removal and fades to the frames in `[start, end)` and
/// drops the rest. Stateless per chunk: every chunk carries its absolute
/// frame position, so chunks may come in any order or size.
#[derive(Debug, Clone)]
pub struct Renderer {
    channels: usize,
    start: u64,
    end: u64,
    gain: f32,
    dc: Vec<f32>,
    fade_in: u64,
    fade_out: u64,
    shape: FadeShape,
}

impl Renderer {
    pub fn new(
        channels: usize,
        rate: u32,
        points: TrimPoints,
        settings: &RenderSettings,
    ) -> Result<Self, DspError> {
        check_format(channels, rate)?;
        if points.end_frame < points.start_frame {
            return Err(DspError::Parameter {
                name: "end_frame",
                value: points.end_frame as f64,
            });
        }
        let gain = db_to_gain(check_param("gain_db", settings.gain_db, f64::MIN)?) as f32;
        let dc = match &settings.dc_offset {
            None => vec![0.0; channels],
            Some(d) if d.len() != channels => {
                return Err(DspError::Length {
                    name: "dc_offset",
                    expected: channels,
                    got: d.len(),
                });
            }
            Some(d) => d.iter().map(|&v| finite(v as f32)).collect(),
        };
        let frames = |name, ms| {
            check_param(name, ms, 0.0).map(|ms| (ms * rate as f64 / 1000.0).round() as u64)
        };
        Ok(Renderer {
            channels,
            start: points.start_frame,
            end: points.end_frame,
            gain,
            dc,
            fade_in: frames("fade_in_ms", settings.fade_in_ms)?,
            fade_out: frames("fade_out_ms", settings.fade_out_ms)?,
            shape: settings.fade_shape,
        })
    }

    /// Frames the whole render will output.
    pub fn output_frames(&self) -> u64 {
        self.end - self.start
    }

    /// Renders the whole frames of `input`, whose first frame is absolute
    /// frame `first_frame`, appending the kept ones to `out` (reuse `out`
    /// across calls to avoid allocation). A trailing partial frame is
    /// ignored. Returns the number of frames appended.
    pub fn render(&self, first_frame: u64, input: &[f32], out: &mut Vec<f32>) -> usize {
        let ch = self.channels;
        let frames = (input.len() / ch) as u64;
        let from = self.start.max(first_frame);
        let to = self.end.min(first_frame.saturating_add(frames));
        if from >= to {
            return 0;
        }
        let kept = &input[((from - first_frame) as usize) * ch..((to - first_frame) as usize) * ch];
        let at = out.len();
        // The constant gain everywhere first (branch-free, vectorizes), then
        // the few frames inside a fade are scaled again.
        let g = self.gain;
        if self.dc.iter().all(|&d| d == 0.0) {
            out.extend(kept.iter().map(|&x| finite(x) * g));
        } else {
            let dc = self.dc.iter().cycle();
            out.extend(kept.iter().zip(dc).map(|(&x, &d)| (finite(x) - d) * g));
        }
        let dst = &mut out[at..];
        let fade_in_end = self.start.saturating_add(self.fade_in).min(to);
        let fade_out_start = self.end.saturating_sub(self.fade_out).max(from);
        let faded = (from..fade_in_end).chain(fade_out_start.max(fade_in_end)..to);
        for pos in faded {
            let i = ((pos - from) as usize) * ch;
            let f = self.fade(pos);
            for o in &mut dst[i..i + ch] {
                *o *= f;
            }
        }
        (to - from) as usize
    }

    #[inline(always)]
    fn fade(&self, pos: u64) -> f32 {
        let mut g = 1.0;
        let i = pos - self.start;
        if i < self.fade_in {
            g *= self.shape.gain(i as f64 / self.fade_in as f64);
        }
        let j = self.end - 1 - pos;
        if j < self.fade_out {
            g *= self.shape.gain(j as f64 / self.fade_out as f64);
        }
        g
    }
}

/// Deterministic TPDF dither source: xorshift64, two 24-bit uniforms per
/// draw, their difference triangular on (-1, +1) LSB (variance 1/6 LSB²).
#[derive(Debug, Clone)]
pub struct Tpdf {
    state: u64,
}

impl Tpdf {
    /// Any seed works; 0 (a fixed point of xorshift) is replaced.
    pub fn new(seed: u64) -> Self {
        Tpdf {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// Next dither value in LSB, in (-1, +1).
    #[inline(always)]
    pub fn next_lsb(&mut self) -> f32 {
        let mut s = self.state;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        self.state = s;
        const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
        let a = (s >> 40) as f32 * SCALE;
        let b = ((s >> 16) & 0xFF_FFFF) as f32 * SCALE;
        a - b
    }
}

/// One sample to 16 bits with TPDF dither: full scale 1.0 = 32768, so -1.0
/// maps to -32768 and +1.0 clamps to 32767. Clamps, never wraps; NaN/inf
/// give 0.
#[inline(always)]
pub fn quantize_sample_i16(x: f32, dither: &mut Tpdf) -> i16 {
    let v = (finite(x) * 32768.0 + dither.next_lsb()).clamp(-32768.0, 32767.0);
    // v + 32768.5 is >= 0.5, so the truncating cast rounds to nearest.
    ((v + 32768.5) as i32 - 32768) as i16
}

/// A buffer to 16 bits with TPDF dither, appended to `out`.
pub fn quantize_i16(input: &[f32], dither: &mut Tpdf, out: &mut Vec<i16>) {
    out.reserve(input.len());
    out.extend(input.iter().map(|&x| quantize_sample_i16(x, dither)));
}

#[cfg(test)]
mod tests {
    use super::super::testsig::{hostile_inputs, interleave};
    use super::*;

    const RATE: u32 = 48_000;

    fn points(start: u64, end: u64) -> TrimPoints {
        TrimPoints {
            start_frame: start,
            end_frame: end,
        }
    }

    fn render_all(r: &Renderer, channels: usize, data: &[f32], chunk_frames: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for (i, c) in data.chunks(chunk_frames * channels).enumerate() {
            r.render((i * chunk_frames) as u64, c, &mut out);
        }
        out
    }

    #[test]
    fn keeps_only_the_trimmed_frames_with_gain() {
        // Frame n holds n/10000 on the left and -n/10000 on the right, so
        // every output sample says where it came from.
        let n = 10_000;
        let left: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
        let right: Vec<f32> = left.iter().map(|x| -x).collect();
        let data = interleave(&[left, right]);
        let settings = RenderSettings {
            gain_db: -6.020_599_913_279_624,
            fade_in_ms: 0.0,
            fade_out_ms: 0.0,
            ..RenderSettings::default()
        };
        let r = Renderer::new(2, RATE, points(1234, 5678), &settings).unwrap();
        assert_eq!(r.output_frames(), 4444);
        for chunk in [1, 100, 1234, 4096, n] {
            let out = render_all(&r, 2, &data, chunk);
            assert_eq!(out.len(), 2 * 4444, "chunk {chunk}");
            for (k, f) in out.chunks_exact(2).enumerate() {
                let want = (1234 + k) as f32 / n as f32 * 0.5;
                assert!((f[0] - want).abs() < 1e-6 && (f[1] + want).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn fades_start_and_end_on_silence() {
        let data = vec![1.0f32; 20_000];
        let r = Renderer::new(1, RATE, points(1000, 11_000), &RenderSettings::default()).unwrap();
        let out = render_all(&r, 1, &data, 777);
        let fin = (DEFAULT_FADE_IN_MS * RATE as f64 / 1000.0) as usize; // 48
        let fout = (DEFAULT_FADE_OUT_MS * RATE as f64 / 1000.0) as usize; // 480
        assert_eq!(out.len(), 10_000);
        assert_eq!(out[0], 0.0);
        assert!((out[fin / 2] - 0.5).abs() < 1e-6, "raised cosine midpoint");
        assert!(out[fin - 1] < 1.0 && out[fin - 1] > 0.99);
        assert_eq!(out[fin], 1.0);
        assert_eq!(out[9_999], 0.0);
        assert!((out[9_999 - fout / 2] - 0.5).abs() < 1e-6);
        assert_eq!(out[9_999 - fout], 1.0);
        // Monotonic through both fades.
        assert!(out[..=fin].windows(2).all(|w| w[0] < w[1]));
        assert!(out[9_999 - fout..].windows(2).all(|w| w[0] > w[1]));
        // Linear: the quarter point is 0.25.
        let lin = RenderSettings {
            fade_shape: FadeShape::Linear,
            ..RenderSettings::default()
        };
        let r = Renderer::new(1, RATE, points(0, 10_000), &lin).unwrap();
        let out = render_all(&r, 1, &data, 10_000);
        assert!((out[fin / 4] - 0.25).abs() < 1e-6);
    }

    #[test]
    fn subtracts_measured_dc() {
        let data: Vec<f32> = (0..2000)
            .map(|i| 0.25 + if i % 2 == 0 { 0.1 } else { -0.1 })
            .collect();
        let settings = RenderSettings {
            dc_offset: Some(vec![0.25]),
            fade_in_ms: 0.0,
            fade_out_ms: 0.0,
            ..RenderSettings::default()
        };
        let r = Renderer::new(1, RATE, points(0, 2000), &settings).unwrap();
        let out = render_all(&r, 1, &data, 500);
        assert!(out.iter().all(|x| (x.abs() - 0.1).abs() < 1e-6));
    }

    #[test]
    fn short_take_overlapping_fades_and_empty_range() {
        let data = vec![1.0f32; 100];
        let r = Renderer::new(1, RATE, points(10, 30), &RenderSettings::default()).unwrap();
        let out = render_all(&r, 1, &data, 100);
        assert_eq!(out.len(), 20);
        assert!(out.iter().all(|x| (0.0..1.0).contains(x)));
        let r = Renderer::new(1, RATE, points(50, 50), &RenderSettings::default()).unwrap();
        assert!(render_all(&r, 1, &data, 7).is_empty());
        // Chunks entirely outside the range.
        let r = Renderer::new(1, RATE, points(200, 300), &RenderSettings::default()).unwrap();
        assert!(render_all(&r, 1, &data, 10).is_empty());
    }

    #[test]
    fn bad_settings_are_errors() {
        let d = RenderSettings::default();
        assert!(Renderer::new(1, RATE, points(10, 5), &d).is_err());
        assert!(Renderer::new(0, RATE, points(0, 5), &d).is_err());
        assert!(Renderer::new(1, 0, points(0, 5), &d).is_err());
        let nan_gain = RenderSettings {
            gain_db: f64::NAN,
            ..d.clone()
        };
        assert!(Renderer::new(1, RATE, points(0, 5), &nan_gain).is_err());
        let wrong_dc = RenderSettings {
            dc_offset: Some(vec![0.0; 3]),
            ..d.clone()
        };
        assert_eq!(
            Renderer::new(2, RATE, points(0, 5), &wrong_dc).unwrap_err(),
            DspError::Length {
                name: "dc_offset",
                expected: 2,
                got: 3
            }
        );
        let neg_fade = RenderSettings {
            fade_out_ms: -1.0,
            ..d
        };
        assert!(Renderer::new(1, RATE, points(0, 5), &neg_fade).is_err());
    }

    #[test]
    fn render_hostile_inputs() {
        for channels in [1, 2, 8] {
            let r =
                Renderer::new(channels, RATE, points(0, 500), &RenderSettings::default()).unwrap();
            for data in hostile_inputs(channels) {
                let mut out = Vec::new();
                let n = r.render(0, &data, &mut out);
                assert_eq!(out.len(), n * channels);
                assert!(out.iter().all(|x| x.is_finite()));
            }
        }
    }

    #[test]
    fn i16_dither_stays_within_one_lsb_and_never_wraps() {
        let mut t = Tpdf::new(1);
        for &x in &[0.0f32, 0.25, -0.25, 0.999, -0.999] {
            let exact = x as f64 * 32768.0;
            for _ in 0..1000 {
                let q = quantize_sample_i16(x, &mut t) as f64;
                assert!((q - exact).abs() <= 1.5, "{x}: {q} vs {exact}");
            }
        }
        let mut out = Vec::new();
        quantize_i16(&vec![1.0; 1000], &mut t, &mut out);
        assert!(out.iter().all(|&q| q >= 32_766));
        out.clear();
        quantize_i16(&vec![-1.0; 1000], &mut t, &mut out);
        assert!(out.iter().all(|&q| q <= -32_767));
        out.clear();
        quantize_i16(&[5.0, -5.0, f32::NAN, f32::NEG_INFINITY], &mut t, &mut out);
        assert_eq!(out, vec![32_767, -32_768, out[2], out[3]]);
        assert!(
            out[2].abs() <= 1 && out[3].abs() <= 1,
            "non-finite is silence + dither"
        );
    }

    #[test]
    fn tpdf_is_triangular_and_unbiases_the_quantizer() {
        let mut t = Tpdf::new(0);
        let n = 200_000;
        let v: Vec<f64> = (0..n).map(|_| t.next_lsb() as f64).collect();
        assert!(v.iter().all(|x| x.abs() < 1.0));
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0 / 6.0).abs() < 0.005, "variance {var}");
        // A DC of 0.3 LSB: undithered it always rounds to 0; dithered, the
        // average output is 0.3 LSB.
        let x = 0.3 / 32768.0;
        let mut out = Vec::new();
        quantize_i16(&vec![x; n], &mut t, &mut out);
        let avg = out.iter().map(|&q| q as f64).sum::<f64>() / n as f64;
        assert!((avg - 0.3).abs() < 0.01, "average {avg}");
        // Same seed, same sequence.
        let (mut a, mut b) = (Tpdf::new(42), Tpdf::new(42));
        assert!((0..100).all(|_| a.next_lsb() == b.next_lsb()));
    }
}
