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
use std::fmt;
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

/// Encodes the WAV at `wav` as FLAC at `flac` (written atomically); returns
/// the FLAC's size in bytes.
pub fn wav_to_flac(wav: &Path, flac: &Path) -> Result<u64, FlacError> {
    let read = |error| FlacError::Read {
        path: wav.to_path_buf(),
        error,
    };
    let file = std::fs::File::open(wav).map_err(read)?;
    let mut reader = WavReader::new(std::io::BufReader::new(file)).map_err(read)?;
    let info = reader.info.clone();
    if info.float {
        return Err(FlacError::Float {
            path: wav.to_path_buf(),
        });
    }
    let mut all = Vec::new();
    while reader.read_append(&mut all, 65_536).map_err(read)? > 0 {}
    // The reader scales integers by 2^(bits-1): scaling back is exact.
    let scale = f64::from(1u32 << (info.bits - 1));
    let ints: Vec<i32> = all
        .iter()
        .map(|&v| (f64::from(v) * scale).round() as i32)
        .collect();
    let blocks = metadata_blocks(&info.other_chunks);
    let bytes = encode(&ints, &info, &blocks).map_err(|what| FlacError::Encode {
        path: wav.to_path_buf(),
        what,
    })?;
    crate::durable::write_atomic(flac, &bytes).map_err(|error| FlacError::Write {
        path: flac.to_path_buf(),
        error,
    })?;
    Ok(bytes.len() as u64)
}

fn encode(
    ints: &[i32],
    info: &crate::wav::WavInfo,
    blocks: &[(u8, Vec<u8>)],
) -> Result<Vec<u8>, String> {
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|e| format!("{e:?}"))?;
    let source = flacenc::source::MemSource::from_samples(
        ints,
        usize::from(info.channels),
        usize::from(info.bits),
        info.sample_rate as usize,
    );
    let mut stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| format!("{e:?}"))?;
    for (tag, data) in blocks {
        let block = flacenc::component::MetadataBlockData::new_unknown(*tag, data)
            .map_err(|e| format!("{e:?}"))?;
        stream.add_metadata_block(block);
    }
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).map_err(|e| format!("{e:?}"))?;
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
        if id == b"smpl" && payload.len() >= 16 {
            tags.push(format!("MIDI_UNITY_NOTE={}", payload[12]));
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
