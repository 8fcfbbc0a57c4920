//! A streaming WAV writer whose length is known up front, so the header is
//! written first, samples are converted in blocks, and the SHA-256 of the file
//! is computed while writing — no seek back, no second pass over the file.
//!
//! Layout: RIFF/WAVE, `fmt ` (plain PCM for 16-bit mono/stereo, otherwise
//! WAVE_FORMAT_EXTENSIBLE, as the spec asks for more than 16 bits or 2 channels),
//! any extra chunks the caller passes (bext, iXML, smpl...), then `data`.

use crate::protocol::SampleFormat;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;

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

    /// The `fmt ` chunk; an error when the frame size or the byte rate does
    /// not fit its fields (a rate of gigahertz, thousands of channels).
    fn fmt_chunk(&self) -> io::Result<Vec<u8>> {
        let too_large = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} channels at {} Hz do not fit a WAV header",
                    self.channels, self.sample_rate
                ),
            )
        };
        let block_align = self
            .channels
            .checked_mul(self.format.bits() / 8)
            .ok_or_else(too_large)?;
        let byte_rate = self
            .sample_rate
            .checked_mul(u32::from(block_align))
            .ok_or_else(too_large)?;
        let extensible = self.format != SampleFormat::S16 || self.channels > 2;
        let tag: u16 = if extensible { 0xfffe } else { 1 };
        let mut c = Vec::with_capacity(48);
        c.extend_from_slice(b"fmt ");
        c.extend_from_slice(&(if extensible { 40u32 } else { 16 }).to_le_bytes());
        c.extend_from_slice(&tag.to_le_bytes());
        c.extend_from_slice(&self.channels.to_le_bytes());
        c.extend_from_slice(&self.sample_rate.to_le_bytes());
        c.extend_from_slice(&byte_rate.to_le_bytes());
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
        Ok(c)
    }
}

/// Writes exactly `frames` frames; [`WavWriter::finish`] refuses any other count.
pub struct WavWriter<W: Write> {
    out: W,
    spec: WavSpec,
    /// None when the caller will not use the checksum (a file finished later).
    hasher: Option<Sha256>,
    remaining: u64,
    odd_data: bool,
    block: Vec<u8>,
}

fn hash_write<W: Write>(out: &mut W, hasher: &mut Option<Sha256>, bytes: &[u8]) -> io::Result<()> {
    out.write_all(bytes)?;
    if let Some(h) = hasher {
        h.update(bytes);
    }
    Ok(())
}

/// `s * scale` rounded half away from zero (as `f32::round`) and clamped to
/// `-scale..=scale - 1`, NaN to 0: what `(s * scale).round().clamp(..)` gives,
/// without the libm call per sample (x86-64 has no such rounding instruction
/// before SSE4.1) and in a form the compiler vectorizes.
#[inline(always)]
fn quantize(s: f32, scale: f32) -> i32 {
    assert!(scale <= 8_388_608.0);
    // Clamping first gives the same values: the bounds are integers.
    let y = (s * scale).clamp(-scale, scale - 1.0);
    let y = if y.is_nan() { 0.0 } else { y };
    // SAFETY: y is finite and within ±2^23, far inside i32.
    let t: i32 = unsafe { y.to_int_unchecked() };
    // Exact: y and its truncation differ by less than 1.
    let d = y - t as f32;
    t + i32::from(d >= 0.5) - i32::from(d <= -0.5)
}

/// The header [`WavWriter::new`] writes for these arguments.
pub fn header_bytes(spec: WavSpec, frames: u64, extra_chunks: &[u8]) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    WavWriter::new_unhashed(&mut head, spec, frames, extra_chunks)?;
    Ok(head)
}

impl<W: Write> WavWriter<W> {
    /// Write the header for `frames` frames, with `extra_chunks` (complete,
    /// padded chunks) placed between `fmt ` and `data`.
    pub fn new(out: W, spec: WavSpec, frames: u64, extra_chunks: &[u8]) -> io::Result<Self> {
        Self::start(out, spec, frames, extra_chunks, Some(Sha256::new()))
    }

    /// Like [`WavWriter::new`] without the checksum ([`WavWriter::finish`]
    /// returns an empty string): for a file whose header is replaced later.
    pub fn new_unhashed(
        out: W,
        spec: WavSpec,
        frames: u64,
        extra_chunks: &[u8],
    ) -> io::Result<Self> {
        Self::start(out, spec, frames, extra_chunks, None)
    }

    fn start(
        mut out: W,
        spec: WavSpec,
        frames: u64,
        extra_chunks: &[u8],
        mut hasher: Option<Sha256>,
    ) -> io::Result<Self> {
        let data_len = frames * spec.channels as u64 * spec.bytes_per_sample() as u64;
        let fmt = spec.fmt_chunk()?;
        let odd = !data_len.is_multiple_of(2);
        let riff_len =
            4 + fmt.len() as u64 + extra_chunks.len() as u64 + 8 + data_len + u64::from(odd);
        let riff_len = u32::try_from(riff_len).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "take too long for a WAV file (over 4 GiB)",
            )
        })?;
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
        // Every byte is written below: no need to clear (zero) the block first.
        self.block
            .resize(interleaved.len() * self.spec.bytes_per_sample(), 0);
        // (Constant chunk widths: a runtime width costs a memcpy call per sample.)
        match self.spec.format {
            SampleFormat::S16 => {
                for (o, &s) in self.block.chunks_exact_mut(2).zip(interleaved) {
                    o.copy_from_slice(&(quantize(s, 32_768.0) as i16).to_le_bytes());
                }
            }
            SampleFormat::S24 => {
                for (o, &s) in self.block.chunks_exact_mut(3).zip(interleaved) {
                    o.copy_from_slice(&quantize(s, 8_388_608.0).to_le_bytes()[..3]);
                }
            }
            SampleFormat::F32 => {
                for (o, &s) in self.block.chunks_exact_mut(4).zip(interleaved) {
                    o.copy_from_slice(&s.to_le_bytes());
                }
            }
        }
        hash_write(&mut self.out, &mut self.hasher, &self.block)
    }

    /// [`write`](Self::write), then `interleaved` holds what the file holds:
    /// each sample rounded as stored, as [`WavReader`] reads it back. Measuring
    /// the frames afterwards measures the file.
    pub fn write_snapped(&mut self, interleaved: &mut [f32]) -> io::Result<()> {
        self.write(interleaved)?;
        let step = match self.spec.format {
            SampleFormat::S16 => 1.0 / 32_768.0,
            SampleFormat::S24 => 1.0 / 8_388_608.0,
            SampleFormat::F32 => return Ok(()),
        };
        let width = self.spec.bytes_per_sample();
        for (s, b) in interleaved.iter_mut().zip(self.block.chunks_exact(width)) {
            let v = match width {
                2 => i32::from(i16::from_le_bytes([b[0], b[1]])),
                _ => i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8,
            };
            *s = v as f32 * step;
        }
        Ok(())
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
        let digest = self.hasher.map(|h| hex(&h.finalize())).unwrap_or_default();
        Ok((self.out, digest))
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
    fn snapped_samples_are_what_the_file_reads_back() {
        // Off the grid, over full scale, and not a number.
        let mut samples: Vec<f32> = (0..4_000)
            .map(|i| ((i as f32) * 0.000_731).sin() * 1.2 + 1e-7)
            .collect();
        samples.extend([f32::NAN, 1.0, -1.0, -1.5]);
        for format in [SampleFormat::S16, SampleFormat::S24, SampleFormat::F32] {
            let spec = WavSpec {
                channels: 2,
                sample_rate: 48_000,
                format,
            };
            let (bytes, _) = write(spec, &samples, &[]);
            let mut snapped = samples.clone();
            let mut w = WavWriter::new(Vec::new(), spec, samples.len() as u64 / 2, &[]).unwrap();
            w.write_snapped(&mut snapped).unwrap();
            assert_eq!(w.finish().unwrap().0, bytes, "{format:?}");
            assert_eq!(write(spec, &snapped, &[]).0, bytes, "{format:?}");
            let mut r = WavReader::new(Cursor::new(bytes)).unwrap();
            let mut back = vec![0.0f32; samples.len()];
            assert_eq!(r.read(&mut back).unwrap(), samples.len() / 2);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&back), bits(&snapped), "{format:?}");
        }
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
    fn quantizing_matches_round_then_clamp() {
        let mut xs = vec![0.0f32, -0.0, 1.0, -1.0, 2.0, -2.0, f32::NAN, f32::INFINITY];
        xs.push(f32::NEG_INFINITY);
        for k in [16_384.0f32, 4_194_304.0] {
            // Halves and their neighbours, at both scales.
            for v in [0.5f32, 1.5, 2.5, 1000.5, k - 0.5, k - 1.5] {
                for x in [v, -v, v.next_up(), v.next_down()] {
                    xs.push(x / k / 2.0);
                }
            }
        }
        let mut v = 0x1234_5678u32;
        for _ in 0..200_000 {
            v ^= v << 13;
            v ^= v >> 17;
            v ^= v << 5;
            xs.push(f32::from_bits(v));
            xs.push((v % 40_000) as f32 / 16_384.0 - 1.2);
        }
        for x in xs {
            for scale in [32_768.0f32, 8_388_608.0] {
                let want = (x * scale).round().clamp(-scale, scale - 1.0) as i32;
                assert_eq!(quantize(x, scale), want, "{x} at {scale}");
            }
        }
    }

    #[test]
    fn unhashed_writer_writes_the_same_bytes() {
        let spec = WavSpec {
            channels: 2,
            sample_rate: 48_000,
            format: SampleFormat::S24,
        };
        let samples: Vec<f32> = (0..64).map(|i| (i as f32 - 32.0) / 33.0).collect();
        let (hashed, sha) = write(spec, &samples, b"junk\x02\x00\x00\x00ab");
        let mut w =
            WavWriter::new_unhashed(Vec::new(), spec, 32, b"junk\x02\x00\x00\x00ab").unwrap();
        w.write(&samples).unwrap();
        let (bytes, none) = w.finish().unwrap();
        assert_eq!((bytes, none.as_str()), (hashed.clone(), ""));
        assert!(!sha.is_empty());
        let head = header_bytes(spec, 32, b"junk\x02\x00\x00\x00ab").unwrap();
        assert_eq!(head[..], hashed[..hashed.len() - 32 * 6]);
    }

    #[test]
    fn rates_beyond_the_header_are_errors() {
        // Found by fuzzing `takebox process`: a file read at 4 GHz overflowed
        // the byte rate (a panic in debug builds, a wrong header in release).
        let spec = WavSpec {
            channels: 2,
            sample_rate: 0xffff_fff0,
            format: SampleFormat::F32,
        };
        let e = WavWriter::new(Vec::new(), spec, 1, &[])
            .err()
            .expect("refused");
        assert!(e.to_string().contains("do not fit a WAV header"), "{e}");
        let spec = WavSpec {
            channels: 65_535,
            sample_rate: 48_000,
            format: SampleFormat::S24,
        };
        assert!(WavWriter::new(Vec::new(), spec, 1, &[]).is_err());
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

/// What a WAV file holds, as far as takebox reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct WavInfo {
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
    pub float: bool,
    pub frames: u64,
    /// Chunks other than `fmt ` and `data`, kept verbatim (id, payload).
    pub other_chunks: Vec<([u8; 4], Vec<u8>)>,
}

impl WavInfo {
    /// What a file of `spec` with `frames` frames and no other chunks says.
    pub fn of(spec: WavSpec, frames: u64) -> WavInfo {
        WavInfo {
            channels: spec.channels,
            sample_rate: spec.sample_rate,
            bits: spec.format.bits(),
            float: spec.format == SampleFormat::F32,
            frames,
            other_chunks: Vec::new(),
        }
    }

    /// The takebox sample format this file maps onto, if any.
    pub fn format(&self) -> Option<SampleFormat> {
        match (self.float, self.bits) {
            (false, 16) => Some(SampleFormat::S16),
            (false, 24) => Some(SampleFormat::S24),
            (true, 32) => Some(SampleFormat::F32),
            _ => None,
        }
    }
}

/// Streaming reader for PCM (16/24/32-bit integer) and 32-bit float WAVs,
/// converting blocks of bytes to f32 without per-sample calls.
pub struct WavReader<R: io::Read> {
    input: R,
    pub info: WavInfo,
    remaining: u64,
    bytes: Vec<u8>,
    /// Byte offset of the first sample.
    data_start: u64,
}

/// Most bytes of chunks other than `data` a file may hold (each and in
/// all): metadata is kilobytes; more is not a WAV takebox should keep in memory.
const MAX_CHUNK: u64 = 16 << 20;

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl<R: io::Read> WavReader<R> {
    pub fn new(mut input: R) -> io::Result<Self> {
        let mut head = [0u8; 12];
        input
            .read_exact(&mut head)
            .map_err(|_| bad("not a WAV file: shorter than a RIFF header"))?;
        if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
            return Err(bad("not a WAV file: no RIFF/WAVE header"));
        }
        let mut fmt: Option<(u16, u16, u32, u16)> = None;
        let mut other = Vec::new();
        let mut offset = 12u64;
        // Bytes of the chunks before `data`, all of which are kept in memory.
        let mut kept = 0u64;
        loop {
            let mut ch = [0u8; 8];
            input
                .read_exact(&mut ch)
                .map_err(|_| bad("truncated WAV: no data chunk"))?;
            let id: [u8; 4] = ch[0..4].try_into().expect("4 bytes");
            let len = u32::from_le_bytes(ch[4..8].try_into().expect("4 bytes")) as u64;
            offset += 8;
            if &id == b"data" {
                let (tag, channels, rate, bits) =
                    fmt.ok_or_else(|| bad("WAV has data before its fmt chunk"))?;
                let float = match tag {
                    1 => false,
                    3 => true,
                    other => {
                        return Err(bad(format!(
                            "unsupported WAV encoding (format tag {other:#x})"
                        )));
                    }
                };
                if !matches!(
                    (float, bits),
                    (false, 16) | (false, 24) | (false, 32) | (true, 32)
                ) {
                    return Err(bad(format!(
                        "unsupported WAV sample format: {bits}-bit {}",
                        if float { "float" } else { "integer" }
                    )));
                }
                if channels == 0 || rate == 0 {
                    return Err(bad("WAV declares 0 channels or a 0 Hz rate"));
                }
                let frame_bytes = u64::from(channels) * u64::from(bits / 8);
                return Ok(WavReader {
                    input,
                    info: WavInfo {
                        channels,
                        sample_rate: rate,
                        bits,
                        float,
                        frames: len / frame_bytes,
                        other_chunks: other,
                    },
                    remaining: len / frame_bytes,
                    bytes: Vec::new(),
                    data_start: offset,
                });
            }
            if len > MAX_CHUNK {
                return Err(bad(format!(
                    "WAV chunk {:?} claims {len} bytes",
                    String::from_utf8_lossy(&id)
                )));
            }
            kept += len;
            if kept > MAX_CHUNK {
                return Err(bad(format!(
                    "WAV chunks before the data hold more than {MAX_CHUNK} bytes"
                )));
            }
            // Grown by what arrives, not by what the header claims.
            let want = len + len % 2;
            let mut payload = Vec::new();
            (&mut input).take(want).read_to_end(&mut payload)?;
            if payload.len() as u64 != want {
                return Err(bad(format!(
                    "truncated WAV inside chunk {:?}",
                    String::from_utf8_lossy(&id)
                )));
            }
            offset += payload.len() as u64;
            payload.truncate(len as usize);
            if &id == b"fmt " {
                if payload.len() < 16 {
                    return Err(bad("WAV fmt chunk too short"));
                }
                let u16_at = |i: usize| u16::from_le_bytes([payload[i], payload[i + 1]]);
                let mut tag = u16_at(0);
                if tag == 0xfffe {
                    if payload.len() < 26 {
                        return Err(bad("WAV extensible fmt chunk too short"));
                    }
                    tag = u16_at(24);
                }
                let rate = u32::from_le_bytes(payload[4..8].try_into().expect("4 bytes"));
                fmt = Some((tag, u16_at(2), rate, u16_at(14)));
            } else {
                other.push((id, payload));
            }
        }
    }

    /// Continue reading at `frame` (clamped to the end).
    pub fn seek_frame(&mut self, frame: u64) -> io::Result<()>
    where
        R: io::Seek,
    {
        let frame = frame.min(self.info.frames);
        let frame_bytes = u64::from(self.info.channels) * u64::from(self.info.bits / 8);
        self.input
            .seek(io::SeekFrom::Start(self.data_start + frame * frame_bytes))?;
        self.remaining = self.info.frames - frame;
        Ok(())
    }

    /// Fill `out` (interleaved) with up to `out.len() / channels` frames; returns
    /// frames read, 0 at the end. A file cut short is an error, not silence.
    pub fn read(&mut self, out: &mut [f32]) -> io::Result<usize> {
        let frames = self.fill(out.len() / usize::from(self.info.channels))?;
        let samples = frames * usize::from(self.info.channels);
        // SAFETY: `MaybeUninit<f32>` has `f32`'s layout, and `decode` only
        // stores initialized values through it.
        let out = unsafe { &mut *(&mut out[..samples] as *mut [f32] as *mut [MaybeUninit<f32>]) };
        decode(&self.bytes, self.info.float, self.width(), out);
        Ok(frames)
    }

    /// [`read`](Self::read) of up to `max_frames` frames appended to `out`,
    /// which keeps a whole take without zeroing its room first.
    pub fn read_append(&mut self, out: &mut Vec<f32>, max_frames: usize) -> io::Result<usize> {
        let frames = self.fill(max_frames)?;
        let samples = frames * usize::from(self.info.channels);
        out.reserve(samples);
        let width = self.width();
        decode(
            &self.bytes,
            self.info.float,
            width,
            &mut out.spare_capacity_mut()[..samples],
        );
        // SAFETY: `decode` initialized the first `samples` of the spare capacity.
        unsafe { out.set_len(out.len() + samples) };
        Ok(frames)
    }

    /// Bytes per sample.
    fn width(&self) -> usize {
        usize::from(self.info.bits / 8)
    }

    /// Reads the bytes of up to `max_frames` frames into `self.bytes`.
    fn fill(&mut self, max_frames: usize) -> io::Result<usize> {
        let ch = usize::from(self.info.channels);
        let frames = (max_frames as u64).min(self.remaining) as usize;
        self.bytes.resize(frames * ch * self.width(), 0);
        self.input.read_exact(&mut self.bytes).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                bad(format!("truncated WAV: {} frames missing", self.remaining))
            } else {
                e
            }
        })?;
        self.remaining -= frames as u64;
        Ok(frames)
    }
}

/// Samples of `bytes` (little-endian, `width` bytes each) into `out` as
/// floats in [-1, 1). Every element of `out` is written: the callers' SAFETY
/// rests on that, so it is checked here rather than left to the header parser.
fn decode(bytes: &[u8], float: bool, width: usize, out: &mut [MaybeUninit<f32>]) {
    assert!(
        matches!((float, width), (true, 4) | (false, 2..=4)) && bytes.len() == out.len() * width,
        "decode: {} bytes for {} samples of {width} bytes (float {float})",
        bytes.len(),
        out.len()
    );
    match (float, width) {
        (true, _) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                o.write(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
        }
        (false, 2) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                o.write(f32::from(i16::from_le_bytes([b[0], b[1]])) * (1.0 / 32_768.0));
            }
        }
        (false, 3) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(3)) {
                o.write(
                    (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 * (1.0 / 8_388_608.0),
                );
            }
        }
        _ => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                o.write(
                    (i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64 / 2_147_483_648.0) as f32,
                );
            }
        }
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let samples: Vec<f32> = (0..64).map(|i| (i as f32 - 32.0) / 32.0).collect();
        for format in [SampleFormat::S16, SampleFormat::S24, SampleFormat::F32] {
            let spec = WavSpec {
                channels: 2,
                sample_rate: 44_100,
                format,
            };
            let mut w = WavWriter::new(Vec::new(), spec, 32, b"LIST\x02\x00\x00\x00ab").unwrap();
            w.write(&samples).unwrap();
            let (bytes, _) = w.finish().unwrap();
            let mut r = WavReader::new(Cursor::new(bytes)).unwrap();
            assert_eq!(r.info.frames, 32);
            assert_eq!(r.info.format(), Some(format));
            assert_eq!(r.info.other_chunks, vec![(*b"LIST", b"ab".to_vec())]);
            let mut out = vec![0.0; 40];
            let mut back = Vec::new();
            loop {
                let n = r.read(&mut out).unwrap();
                if n == 0 {
                    break;
                }
                back.extend_from_slice(&out[..n * 2]);
            }
            assert_eq!(back, samples);
            r.seek_frame(30).unwrap();
            assert_eq!(r.read(&mut out).unwrap(), 2);
            assert_eq!(out[..4], samples[60..64]);
            // Appending, in blocks that do not divide the take, after what the Vec holds.
            r.seek_frame(0).unwrap();
            let mut all = vec![9.0];
            while r.read_append(&mut all, 7).unwrap() > 0 {}
            assert_eq!(all[0], 9.0);
            assert_eq!(all[1..], samples[..]);
        }
    }

    #[test]
    fn hostile_files_are_errors() {
        // Metadata chunks are kept in memory: at most 16 MiB of them in all,
        // however many chunks (each under the limit) a file has.
        let mut many = b"RIFF\0\0\0\0WAVE".to_vec();
        for _ in 0..3 {
            many.extend_from_slice(b"LIST");
            many.extend_from_slice(&(6u32 << 20).to_le_bytes());
            many.resize(many.len() + (6 << 20), 0);
        }
        let e = WavReader::new(Cursor::new(many)).err().expect("refused");
        assert!(e.to_string().contains("more than"), "{e}");
        // A chunk that claims more than the file has.
        let e = WavReader::new(Cursor::new(b"RIFF\0\0\0\0WAVELIST\0\0\0\x01ab".to_vec()))
            .err()
            .expect("refused");
        assert!(e.to_string().contains("truncated"), "{e}");
        assert!(WavReader::new(Cursor::new(b"hello".to_vec())).is_err());
        assert!(WavReader::new(Cursor::new(b"RIFF\0\0\0\0WAVEdata\x04\0\0\0".to_vec())).is_err());
        let spec = WavSpec {
            channels: 1,
            sample_rate: 48_000,
            format: SampleFormat::S16,
        };
        let mut w = WavWriter::new(Vec::new(), spec, 100, &[]).unwrap();
        w.write(&[0.1; 100]).unwrap();
        let (mut bytes, _) = w.finish().unwrap();
        bytes.truncate(bytes.len() - 10);
        let mut r = WavReader::new(Cursor::new(bytes)).unwrap();
        let mut out = vec![0.0; 200];
        let e = r.read(&mut out).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}
