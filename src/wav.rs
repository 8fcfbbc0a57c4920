//! A streaming WAV writer whose length is known up front, so the header is
//! written first, samples are converted in blocks, and the SHA-256 of the file
//! is computed while writing — no seek back, no second pass over the file.
//!
//! Layout: RIFF/WAVE, `fmt ` (plain PCM for 16-bit mono/stereo, otherwise
//! WAVE_FORMAT_EXTENSIBLE, as the spec asks for more than 16 bits or 2 channels),
//! any extra chunks the caller passes (bext, iXML, smpl...), then `data`.

use crate::protocol::SampleFormat;
use sha2::{Digest, Sha256};
use std::io::{self, Write};

const PCM_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavSpec {
    pub channels: u16,
    pub sample_rate: u32,
    pub format: SampleFormat,
}

impl WavSpec {
    pub fn bytes_per_sample(&self) -> usize {
        usize::from(self.format.bits() / 8)
    }

    fn fmt_chunk(&self) -> Vec<u8> {
        let block_align = self.channels * self.format.bits() / 8;
        let extensible = self.format != SampleFormat::S16 || self.channels > 2;
        let tag: u16 = if extensible { 0xfffe } else { 1 };
        let mut c = Vec::with_capacity(48);
        c.extend_from_slice(b"fmt ");
        c.extend_from_slice(&(if extensible { 40u32 } else { 16 }).to_le_bytes());
        c.extend_from_slice(&tag.to_le_bytes());
        c.extend_from_slice(&self.channels.to_le_bytes());
        c.extend_from_slice(&self.sample_rate.to_le_bytes());
        c.extend_from_slice(&(self.sample_rate * u32::from(block_align)).to_le_bytes());
        c.extend_from_slice(&block_align.to_le_bytes());
        c.extend_from_slice(&self.format.bits().to_le_bytes());
        if extensible {
            let mask: u32 = match self.channels {
                1 => 0x4,
                2 => 0x3,
                _ => 0,
            };
            let sub: u16 = if self.format == SampleFormat::F32 {
                3
            } else {
                1
            };
            c.extend_from_slice(&22u16.to_le_bytes());
            c.extend_from_slice(&self.format.bits().to_le_bytes());
            c.extend_from_slice(&mask.to_le_bytes());
            c.extend_from_slice(&sub.to_le_bytes());
            c.extend_from_slice(&PCM_GUID_TAIL);
        }
        c
    }
}

/// Writes exactly `frames` frames; [`WavWriter::finish`] refuses any other count.
pub struct WavWriter<W: Write> {
    out: W,
    spec: WavSpec,
    hasher: Sha256,
    remaining: u64,
    odd_data: bool,
    block: Vec<u8>,
}

fn hash_write<W: Write>(out: &mut W, hasher: &mut Sha256, bytes: &[u8]) -> io::Result<()> {
    out.write_all(bytes)?;
    hasher.update(bytes);
    Ok(())
}

impl<W: Write> WavWriter<W> {
    /// Write the header for `frames` frames, with `extra_chunks` (complete,
    /// padded chunks) placed between `fmt ` and `data`.
    pub fn new(mut out: W, spec: WavSpec, frames: u64, extra_chunks: &[u8]) -> io::Result<Self> {
        let data_len = frames * spec.channels as u64 * spec.bytes_per_sample() as u64;
        let fmt = spec.fmt_chunk();
        let odd = !data_len.is_multiple_of(2);
        let riff_len =
            4 + fmt.len() as u64 + extra_chunks.len() as u64 + 8 + data_len + u64::from(odd);
        let riff_len = u32::try_from(riff_len).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "take too long for a WAV file (over 4 GiB)",
            )
        })?;
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(12 + fmt.len() + extra_chunks.len() + 8);
        head.extend_from_slice(b"RIFF");
        head.extend_from_slice(&riff_len.to_le_bytes());
        head.extend_from_slice(b"WAVE");
        head.extend_from_slice(&fmt);
        head.extend_from_slice(extra_chunks);
        head.extend_from_slice(b"data");
        head.extend_from_slice(&(data_len as u32).to_le_bytes());
        hash_write(&mut out, &mut hasher, &head)?;
        Ok(WavWriter {
            out,
            spec,
            hasher,
            remaining: frames,
            odd_data: odd,
            block: Vec::new(),
        })
    }

    /// Append interleaved frames (full scale 1.0). Integer formats round and clamp.
    pub fn write(&mut self, interleaved: &[f32]) -> io::Result<()> {
        let frames = (interleaved.len() / usize::from(self.spec.channels)) as u64;
        if frames > self.remaining {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "more frames than the header announced",
            ));
        }
        self.remaining -= frames;
        self.block.clear();
        self.block
            .reserve(interleaved.len() * self.spec.bytes_per_sample());
        match self.spec.format {
            SampleFormat::S16 => {
                for &s in interleaved {
                    let v = (s * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16;
                    self.block.extend_from_slice(&v.to_le_bytes());
                }
            }
            SampleFormat::S24 => {
                for &s in interleaved {
                    let v = (s * 8_388_608.0).round().clamp(-8_388_608.0, 8_388_607.0) as i32;
                    self.block.extend_from_slice(&v.to_le_bytes()[..3]);
                }
            }
            SampleFormat::F32 => {
                for &s in interleaved {
                    self.block.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
        hash_write(&mut self.out, &mut self.hasher, &self.block)
    }

    /// Append already-encoded sample bytes (e.g. dithered integers from the DSP).
    pub fn write_encoded(&mut self, bytes: &[u8]) -> io::Result<()> {
        let frame_bytes = usize::from(self.spec.channels) * self.spec.bytes_per_sample();
        let frames = (bytes.len() / frame_bytes) as u64;
        if !bytes.len().is_multiple_of(frame_bytes) || frames > self.remaining {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "encoded block does not fit the header",
            ));
        }
        self.remaining -= frames;
        hash_write(&mut self.out, &mut self.hasher, bytes)
    }

    /// Finish the file; returns the writer and the hex SHA-256 of everything written.
    pub fn finish(mut self) -> io::Result<(W, String)> {
        if self.remaining != 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} frames missing from the announced length",
                    self.remaining
                ),
            ));
        }
        if self.odd_data {
            hash_write(&mut self.out, &mut self.hasher, &[0])?;
        }
        self.out.flush()?;
        let digest = self.hasher.finalize();
        Ok((self.out, hex(&digest)))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn write(spec: WavSpec, samples: &[f32], extra: &[u8]) -> (Vec<u8>, String) {
        let frames = (samples.len() / usize::from(spec.channels)) as u64;
        let mut w = WavWriter::new(Vec::new(), spec, frames, extra).unwrap();
        w.write(samples).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn hound_reads_every_format_back() {
        let samples: Vec<f32> = (0..30).map(|i| (i as f32 - 15.0) / 16.0).collect();
        for (format, channels) in [
            (SampleFormat::S16, 1),
            (SampleFormat::S16, 3),
            (SampleFormat::S24, 1),
            (SampleFormat::S24, 2),
            (SampleFormat::F32, 5),
        ] {
            let spec = WavSpec {
                channels,
                sample_rate: 96_000,
                format,
            };
            let n = samples.len() / usize::from(channels) * usize::from(channels);
            let (bytes, sha) = write(spec, &samples[..n], &[]);
            assert_eq!(sha, hex(&Sha256::digest(&bytes)));
            let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
            assert_eq!(r.spec().channels, channels);
            assert_eq!(r.spec().sample_rate, 96_000);
            assert_eq!(r.spec().bits_per_sample, format.bits());
            let back: Vec<f32> = match format {
                SampleFormat::F32 => r.samples::<f32>().map(Result::unwrap).collect(),
                _ => {
                    let scale = (1i64 << (format.bits() - 1)) as f32;
                    r.samples::<i32>()
                        .map(|s| s.unwrap() as f32 / scale)
                        .collect()
                }
            };
            assert_eq!(back, samples[..n], "{format:?} x{channels}");
        }
    }

    #[test]
    fn odd_data_is_padded_and_extra_chunks_kept() {
        let spec = WavSpec {
            channels: 1,
            sample_rate: 48_000,
            format: SampleFormat::S24,
        };
        let extra = b"junk\x04\x00\x00\x00abcd";
        let (bytes, _) = write(spec, &[0.5], extra);
        assert_eq!(bytes.len() % 2, 0);
        let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff + 8, bytes.len());
        assert!(bytes.windows(4).any(|w| w == b"junk"));
        let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(r.samples::<i32>().next().unwrap().unwrap(), 4_194_304);
    }

    #[test]
    fn wrong_frame_counts_are_refused() {
        let spec = WavSpec {
            channels: 2,
            sample_rate: 48_000,
            format: SampleFormat::S16,
        };
        let mut w = WavWriter::new(Vec::new(), spec, 2, &[]).unwrap();
        w.write(&[0.0; 2]).unwrap();
        assert!(w.write(&[0.0; 4]).is_err());
        assert!(w.finish().is_err());
    }

    #[test]
    fn full_scale_clamps_instead_of_wrapping() {
        let spec = WavSpec {
            channels: 1,
            sample_rate: 48_000,
            format: SampleFormat::S16,
        };
        let (bytes, _) = write(spec, &[1.5, -1.5], &[]);
        let mut r = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        let v: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(v, [32_767, -32_768]);
    }
}
