//! FLAC copies of WAVs takebox wrote (`takebox process --format flac`): the
//! same samples, losslessly (decoding gives the WAV's samples back bit for
//! bit), with the WAV's metadata chunks (`smpl`, `bext`, `iXML`) carried in
//! APPLICATION `riff` blocks, as `flac --keep-foreign-metadata` stores them,
//! and the note and loop also as VORBIS_COMMENT tags that players read.
//!
//! The encoder is `flacenc` (pure Rust, Apache-2.0); `scripts/bench-loops.sh`
//! measures it against the `flac` command.

use crate::dsp::chunks::{riff_chunk, smpl_loops};
use crate::wav::WavReader;
use flacenc::component::BitRepr;
use flacenc::error::Verify;
use flacenc::source::Fill;
use std::fmt;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Why a FLAC could not be written.
#[derive(Debug)]
pub enum FlacError {
    /// The WAV could not be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Float samples: FLAC holds integers only.
    Float { path: PathBuf },
    /// The encoder refused the stream or a metadata block.
    Encode { path: PathBuf, what: String },
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl fmt::Display for FlacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlacError::Read { path, error } => write!(f, "{}: {error}", path.display()),
            FlacError::Float { path } => write!(
                f,
                "{}: float samples have no lossless FLAC form",
                path.display()
            ),
            FlacError::Encode { path, what } => {
                write!(f, "{}: FLAC encoder: {what}", path.display())
            }
            FlacError::Write { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for FlacError {}

/// FLAC metadata block types used here.
const APPLICATION: u8 = 2;
const VORBIS_COMMENT: u8 = 4;

/// Frames per FLAC block (flacenc's default, as `flac -5`'s).
const BLOCK_FRAMES: usize = 4096;

/// Encodes the WAV at `wav` as FLAC at `flac` (written atomically); returns
/// the FLAC's size in bytes.
///
/// Streamed: one block of samples is read, encoded and written at a time, so
/// memory stays at a few blocks whatever the length (holding the whole take
/// and its encoded frames took 1.8 GB for 10 minutes of noisy stereo). The
/// header goes first with a provisional STREAMINFO and is written again at
/// the end, the same size, with the MD5, the length and the frame sizes.
pub fn wav_to_flac(wav: &Path, flac: &Path) -> Result<u64, FlacError> {
    let read = |error| FlacError::Read {
        path: wav.to_path_buf(),
        error,
    };
    let file = std::fs::File::open(wav).map_err(read)?;
    let mut reader = WavReader::new(std::io::BufReader::new(file)).map_err(read)?;
    if reader.info.float {
        return Err(FlacError::Float {
            path: wav.to_path_buf(),
        });
    }
    let tmp = crate::durable::temp_path_for(flac);
    let written = (|| {
        let out = std::fs::File::create(&tmp).map_err(Failure::Write)?;
        let mut out = std::io::BufWriter::new(out);
        let size = encode_stream(&mut reader, &mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| Failure::Write(e.into_error()))?;
        file.sync_all().map_err(Failure::Write)?;
        crate::durable::publish(&tmp, flac).map_err(Failure::Write)?;
        Ok(size)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(|f| match f {
        Failure::Read(error) => FlacError::Read {
            path: wav.to_path_buf(),
            error,
        },
        Failure::Encode(what) => FlacError::Encode {
            path: wav.to_path_buf(),
            what,
        },
        Failure::Write(error) => FlacError::Write {
            path: flac.to_path_buf(),
            error,
        },
    })
}

/// What went wrong inside [`encode_stream`], before paths are attached.
enum Failure {
    Read(std::io::Error),
    Encode(String),
    Write(std::io::Error),
}

fn encode_err(e: impl fmt::Debug) -> Failure {
    Failure::Encode(format!("{e:?}"))
}

/// Encodes `reader`'s samples, block by block, to `out` (at its start);
/// returns the bytes written.
fn encode_stream<R: std::io::Read, W: Write + Seek>(
    reader: &mut WavReader<R>,
    out: &mut W,
) -> Result<u64, Failure> {
    let info = reader.info.clone();
    let (ch, bits) = (usize::from(info.channels), usize::from(info.bits));
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(encode_err)?;
    let mut stream =
        flacenc::component::Stream::new(info.sample_rate as usize, ch, bits).map_err(encode_err)?;
    for (tag, data) in metadata_blocks(&info.other_chunks) {
        let block =
            flacenc::component::MetadataBlockData::new_unknown(tag, &data).map_err(encode_err)?;
        stream.add_metadata_block(block);
    }
    stream
        .stream_info_mut()
        .set_block_sizes(BLOCK_FRAMES, BLOCK_FRAMES)
        .map_err(encode_err)?;
    let header = header_bytes(&stream)?;
    out.write_all(&header).map_err(Failure::Write)?;
    let mut size = header.len() as u64;
    let mut fill = (
        flacenc::source::FrameBuf::with_size(ch, BLOCK_FRAMES).map_err(encode_err)?,
        flacenc::source::Context::new(bits, ch),
    );
    // The reader scales integers by 2^(bits-1): scaling back is exact.
    let scale = f64::from(1u32 << (info.bits - 1));
    let mut samples = vec![0f32; BLOCK_FRAMES * ch];
    let mut ints = vec![0i32; BLOCK_FRAMES * ch];
    let mut sink = flacenc::bitsink::ByteSink::new();
    let mut frame_no = 0;
    loop {
        let frames = reader.read(&mut samples).map_err(Failure::Read)?;
        if frames == 0 {
            break;
        }
        for (i, &v) in ints.iter_mut().zip(&samples[..frames * ch]) {
            *i = (f64::from(v) * scale).round() as i32;
        }
        fill.fill_interleaved(&ints[..frames * ch])
            .map_err(encode_err)?;
        let coded =
            flacenc::encode_fixed_size_frame(&config, &fill.0, frame_no, stream.stream_info())
                .map_err(encode_err)?;
        let frame = no_larger_than_verbatim(coded, &ints[..frames * ch], ch, &info, frame_no)?;
        stream.stream_info_mut().update_frame_info(&frame);
        sink.clear();
        frame.write(&mut sink).map_err(encode_err)?;
        out.write_all(sink.as_slice()).map_err(Failure::Write)?;
        size += sink.as_slice().len() as u64;
        frame_no += 1;
    }
    let info_mut = stream.stream_info_mut();
    info_mut.set_md5_digest(&fill.1.md5_digest());
    info_mut.set_total_samples(fill.1.total_samples());
    let final_header = header_bytes(&stream)?;
    debug_assert_eq!(final_header.len(), header.len());
    out.seek(SeekFrom::Start(0)).map_err(Failure::Write)?;
    out.write_all(&final_header).map_err(Failure::Write)?;
    out.flush().map_err(Failure::Write)?;
    Ok(size)
}

/// `coded`, or the same samples verbatim when that is smaller. flacenc's
/// Rice parameter stops at 14 (no RICE2 partitions), so a 24-bit block whose
/// residuals are large (pink noise, cymbals, breath) codes at up to five
/// times its raw size, and its mode choice does not fall back by itself: a
/// 2.9 MB pink-noise WAV became a 712 MB FLAC. A verbatim frame is never
/// more than the WAV's own bytes plus a few header bytes.
fn no_larger_than_verbatim(
    coded: flacenc::component::Frame,
    interleaved: &[i32],
    channels: usize,
    info: &crate::wav::WavInfo,
    frame_no: usize,
) -> Result<flacenc::component::Frame, Failure> {
    use flacenc::component::{ChannelAssignment, Frame, FrameHeader, FrameOffset, Verbatim};
    let frames = interleaved.len() / channels;
    let bits = usize::from(info.bits);
    // Subframe header (8 bits) and raw samples per channel, and a frame
    // header and CRC of at most 16 + 2 bytes.
    let verbatim_bits = channels * (8 + frames * bits) + 18 * 8;
    if coded.count_bits() <= verbatim_bits {
        return Ok(coded);
    }
    let header = FrameHeader::new(
        frames,
        ChannelAssignment::Independent(channels as u8),
        bits,
        info.sample_rate as usize,
        FrameOffset::Frame(frame_no as u32),
    )
    .map_err(encode_err)?;
    let subframes = (0..channels)
        .map(|c| {
            let samples: Vec<i32> = interleaved
                .iter()
                .skip(c)
                .step_by(channels)
                .copied()
                .collect();
            Verbatim::new(&samples, bits).map(Into::into)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(encode_err)?;
    Frame::new(header, subframes.into_iter()).map_err(encode_err)
}

/// `fLaC`, STREAMINFO and the metadata blocks: the stream with no frames yet.
fn header_bytes(stream: &flacenc::component::Stream) -> Result<Vec<u8>, Failure> {
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).map_err(encode_err)?;
    Ok(sink.as_slice().to_vec())
}

/// An APPLICATION `riff` block per metadata chunk, and a VORBIS_COMMENT with
/// the unity note and the first loop (LOOPSTART / LOOPLENGTH, in frames).
pub fn metadata_blocks(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut tags = Vec::new();
    for (id, payload) in chunks {
        if let Ok(chunk) = riff_chunk(*id, payload) {
            out.push((APPLICATION, [b"riff".as_slice(), &chunk].concat()));
        }
        if id == b"smpl"
            && payload.len() >= 16
            && let Some(pitch) = crate::dsp::chunks::smpl_pitch(payload)
        {
            tags.push(format!("MIDI_UNITY_NOTE={}", pitch.unity_note));
            if let Some(l) = smpl_loops(payload).first() {
                tags.push(format!("LOOPSTART={}", l.start));
                tags.push(format!("LOOPLENGTH={}", l.last - l.start + 1));
            }
        }
    }
    out.push((VORBIS_COMMENT, vorbis_comment("takebox", &tags)));
    out
}

/// A VORBIS_COMMENT body: little-endian lengths, vendor, then `KEY=value`s.
fn vorbis_comment(vendor: &str, tags: &[String]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    b.extend_from_slice(vendor.as_bytes());
    b.extend_from_slice(&(tags.len() as u32).to_le_bytes());
    for t in tags {
        b.extend_from_slice(&(t.len() as u32).to_le_bytes());
        b.extend_from_slice(t.as_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vorbis_comment_layout_and_loop_tags() {
        let smpl = crate::dsp::smpl_chunk_looped(
            48_000,
            crate::dsp::SmplPitch::from_cents(57, 0.0),
            &[crate::dsp::SmplLoop {
                start: 100,
                last: 1_099,
            }],
        )
        .unwrap();
        let blocks = metadata_blocks(&[(*b"smpl", smpl[8..].to_vec())]);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0, APPLICATION);
        assert_eq!(&blocks[0].1[..8], b"riffsmpl");
        assert_eq!(&blocks[0].1[4..], &smpl[..]);
        let (tag, vc) = &blocks[1];
        assert_eq!(*tag, VORBIS_COMMENT);
        assert_eq!(&vc[..4], &7u32.to_le_bytes());
        assert_eq!(&vc[4..11], b"takebox");
        assert_eq!(&vc[11..15], &3u32.to_le_bytes());
        let text = String::from_utf8_lossy(vc);
        for t in ["MIDI_UNITY_NOTE=57", "LOOPSTART=100", "LOOPLENGTH=1000"] {
            assert!(text.contains(t), "{t} in {text}");
        }
    }
}
