//! One ALSA capture PCM: opened with the configured format, read one period at
//! a time into f32 samples (full scale 1.0), with xrun recovery written out.

use super::{BUFFER_PERIODS, Pacer, Read, Source, SourceError, Stream};
use crate::config::CaptureSettings;
use crate::protocol::SampleFormat;
use alsa::pcm::{Access, Format, HwParams, PCM};
use alsa::{Direction, ValueOr};

/// An ALSA PCM by name, e.g. `hw:CARD=US16x08` or `pulse`.
pub struct AlsaSource {
    pub name: String,
}

/// The native sample layout the device agreed to, and a buffer for it.
enum Raw {
    S16(Vec<i16>),
    /// S32_LE, or S24_LE in the low bytes of 32 (`shift` = 8 to sign-extend).
    S32 {
        buf: Vec<i32>,
        shift: u32,
    },
    /// Packed 3-byte little-endian.
    S24Packed(Vec<u8>),
    F32(Vec<f32>),
}

pub struct AlsaStream {
    name: String,
    pcm: PCM,
    raw: Raw,
    channels: usize,
    period: usize,
    /// What the device actually delivers, e.g. "S24_3LE".
    native_format: &'static str,
    /// Real-time pace by the wall clock for PCMs that keep none (`capture.pace`).
    pacer: Option<Pacer>,
}

/// Formats to try for each configured sample format, best first.
fn candidates(format: SampleFormat) -> &'static [(Format, &'static str)] {
    match format {
        SampleFormat::S16 => &[(Format::S16LE, "S16_LE")],
        SampleFormat::S24 => &[
            (Format::S243LE, "S24_3LE"),
            (Format::S32LE, "S32_LE"),
            (Format::S24LE, "S24_LE"),
        ],
        SampleFormat::F32 => &[(Format::FloatLE, "FLOAT_LE")],
    }
}

impl Source for AlsaSource {
    type Stream = AlsaStream;

    fn open(&mut self, settings: &CaptureSettings) -> Result<AlsaStream, SourceError> {
        let name = self.name.as_str();
        let channels = usize::from(settings.channels);
        let mut last_err = String::new();
        for &(format, label) in candidates(settings.sample_format) {
            // A fresh handle per attempt: a refused hw_params can leave it unusable.
            let pcm = PCM::new(name, Direction::Capture, false)
                .map_err(|e| SourceError::open(name, e))?;
            match configure(&pcm, settings, format) {
                Ok(period) => {
                    let len = period * channels;
                    let raw = match format {
                        Format::S16LE => Raw::S16(vec![0; len]),
                        Format::S32LE => Raw::S32 {
                            buf: vec![0; len],
                            shift: 0,
                        },
                        Format::S24LE => Raw::S32 {
                            buf: vec![0; len],
                            shift: 8,
                        },
                        Format::S243LE => Raw::S24Packed(vec![0; len * 3]),
                        _ => Raw::F32(vec![0.0; len]),
                    };
                    pcm.start()
                        .or_else(|e| pcm.try_recover(e, true).and_then(|_| pcm.start()))
                        .map_err(|e| SourceError::open(name, format!("start: {e}")))?;
                    return Ok(AlsaStream {
                        name: name.to_string(),
                        pcm,
                        raw,
                        channels,
                        period,
                        native_format: label,
                        pacer: settings.pace.then(|| Pacer::new(settings.sample_rate)),
                    });
                }
                Err(e) => last_err = format!("{label}: {e}"),
            }
        }
        Err(SourceError::open(
            name,
            format!(
                "no usable {} format at {} Hz, {} channels ({last_err})",
                settings.sample_format.as_str(),
                settings.sample_rate,
                settings.channels
            ),
        ))
    }
}

impl Stream for AlsaStream {
    /// A card is behind hw, plughw, dsnoop...; a sound server's plugin
    /// (pulse, pipewire) has none.
    fn has_card(&self) -> bool {
        self.pcm.info().map(|i| i.get_card() >= 0).unwrap_or(true)
    }

    fn period(&self) -> usize {
        self.period
    }

    fn pending(&self) -> u64 {
        self.pcm.avail().map(|f| f.max(0) as u64).unwrap_or(0)
    }

    fn native_format(&self) -> &'static str {
        self.native_format
    }

    fn read(&mut self, out: &mut [f32], timeout_ms: u32) -> Result<Read, SourceError> {
        if let Some(pacer) = &self.pacer {
            // An unclocked PCM hands out frames as fast as they are read.
            pacer.wait();
        }
        match self.pcm.wait(Some(timeout_ms)) {
            Ok(true) => {}
            Ok(false) => {
                return Err(SourceError::lost(
                    &self.name,
                    format!("no audio for {timeout_ms} ms"),
                ));
            }
            Err(e) => return self.recover(e),
        }
        let result = {
            let pcm = &self.pcm;
            match &mut self.raw {
                Raw::S16(buf) => pcm.io_i16().and_then(|io| io.readi(buf)),
                Raw::S32 { buf, .. } => pcm.io_i32().and_then(|io| io.readi(buf)),
                Raw::S24Packed(buf) => pcm.io_bytes().readi(buf),
                Raw::F32(buf) => pcm.io_f32().and_then(|io| io.readi(buf)),
            }
        };
        match result {
            Ok(frames) => {
                convert(&self.raw, frames * self.channels, out);
                if let Some(pacer) = &mut self.pacer {
                    pacer.count(frames as u64);
                }
                Ok(Read::Frames(frames))
            }
            Err(e) => self.recover(e),
        }
    }
}

impl AlsaStream {
    fn recover(&mut self, e: alsa::Error) -> Result<Read, SourceError> {
        let errno = e.errno().abs();
        if errno == libc::EPIPE || errno == libc::ESTRPIPE {
            // Overrun or suspend: prepare (or resume) and go on; the caller marks a gap.
            self.pcm
                .try_recover(e, true)
                .and_then(|_| self.pcm.start().or(Ok(())))
                .map_err(|e2| {
                    SourceError::lost(&self.name, format!("recovery after {e} failed: {e2}"))
                })?;
            return Ok(Read::Xrun);
        }
        if errno == libc::EAGAIN || errno == libc::EINTR {
            return Ok(Read::Frames(0));
        }
        Err(SourceError::lost(&self.name, e))
    }
}

fn configure(pcm: &PCM, s: &CaptureSettings, format: Format) -> Result<usize, alsa::Error> {
    let hwp = HwParams::any(pcm)?;
    hwp.set_access(Access::RWInterleaved)?;
    hwp.set_format(format)?;
    hwp.set_channels(u32::from(s.channels))?;
    hwp.set_rate(s.sample_rate, ValueOr::Nearest)?;
    let period =
        hwp.set_period_size_near(s.period_frames as alsa::pcm::Frames, ValueOr::Nearest)?;
    hwp.set_buffer_size_near(period * BUFFER_PERIODS as alsa::pcm::Frames)?;
    pcm.hw_params(&hwp)?;
    let got = pcm.hw_params_current()?;
    if got.get_rate()? != s.sample_rate {
        return Err(alsa::Error::unsupported(
            "snd_pcm_hw_params_set_rate (exact rate)",
        ));
    }
    Ok(got.get_period_size()?.max(1) as usize)
}

/// Convert `n` native samples to f32. 16- and 24-bit values map exactly.
fn convert(raw: &Raw, n: usize, out: &mut [f32]) {
    const S16: f32 = 1.0 / 32_768.0;
    const S24: f32 = 1.0 / 8_388_608.0;
    let out = &mut out[..n];
    match raw {
        Raw::S16(buf) => {
            for (o, &v) in out.iter_mut().zip(buf) {
                *o = f32::from(v) * S16;
            }
        }
        Raw::S32 { buf, shift: 0 } => {
            for (o, &v) in out.iter_mut().zip(buf) {
                // Keep the top 24 bits so the value stays exact in f32.
                *o = ((v >> 8) as f32) * S24;
            }
        }
        Raw::S32 { buf, shift } => {
            for (o, &v) in out.iter_mut().zip(buf) {
                *o = (((v << shift) >> shift) as f32) * S24;
            }
        }
        Raw::S24Packed(buf) => {
            for (o, b) in out.iter_mut().zip(buf.chunks_exact(3)) {
                let v = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                *o = (v as f32) * S24;
            }
        }
        Raw::F32(buf) => out.copy_from_slice(&buf[..n]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact_for_integer_formats() {
        let mut out = vec![0.0; 3];
        convert(&Raw::S16(vec![i16::MIN, -1, i16::MAX]), 3, &mut out);
        assert_eq!(out, [-1.0, -1.0 / 32768.0, 32767.0 / 32768.0]);

        let packed = vec![0x00, 0x00, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        convert(&Raw::S24Packed(packed), 3, &mut out);
        assert_eq!(out, [-1.0, -1.0 / 8_388_608.0, 8_388_607.0 / 8_388_608.0]);

        let low24 = vec![0x0080_0000, 0x00ff_ffff, 0x007f_ffff];
        convert(
            &Raw::S32 {
                buf: low24,
                shift: 8,
            },
            3,
            &mut out,
        );
        assert_eq!(out, [-1.0, -1.0 / 8_388_608.0, 8_388_607.0 / 8_388_608.0]);

        convert(
            &Raw::S32 {
                buf: vec![i32::MIN, 256, i32::MAX],
                shift: 0,
            },
            3,
            &mut out,
        );
        assert_eq!(out, [-1.0, 1.0 / 8_388_608.0, 8_388_607.0 / 8_388_608.0]);
    }
}
