//! Takes that processing leaves as they are: no trim, no gain, no DC removal,
//! no format change. Their data is final as it comes out of the ring, so the
//! file written while recording becomes the delivered one: it is written with
//! room for the final header (a `JUNK` chunk the size of the metadata chunks),
//! and once the analysis is done the header is written over the front, the
//! file hashed and fsynced. No second copy of the audio is rendered.
//!
//! The header holds the chunks [`process::render`] writes
//! ([`process::metadata_chunks`]), so the file is byte for byte what the
//! render pass would have produced.

use super::process::{self, Analysis, ProcessError, ProcessOptions, Rendered};
use crate::dsp::GainDecision;
use crate::durable;
use crate::protocol::SampleFormat;
use crate::wav::{self, WavSpec};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

fn err(file: &Path, what: impl std::fmt::Display) -> ProcessError {
    ProcessError {
        file: file.to_path_buf(),
        what: what.to_string(),
    }
}

/// Whether `opts` can leave a take recorded in `format` as it is (if the
/// analysis agrees: see [`finish`]). Float takes are rendered, which maps
/// non-finite samples to 0.
pub fn applies(opts: &ProcessOptions, format: SampleFormat) -> bool {
    !opts.trim
        && opts.normalize.is_none()
        && opts.gain_override.is_none()
        && !opts.remove_dc
        && opts.output_format.is_none_or(|f| f == format)
        && format != SampleFormat::F32
}

/// A sibling of `path` for a short-lived file; its name is one the spool
/// removes at start, should the daemon die meanwhile.
fn scratch_path(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    durable::temp_path_for(&path.with_file_name(format!("{name}.{what}")))
}

/// A `JUNK` chunk as long as the metadata chunks the take will get, to be
/// written in their place: found by processing an empty file of `spec` with
/// `opts` (at a scratch name beside `near`). `None` when there are none.
pub fn reserve(
    near: &Path,
    spec: WavSpec,
    opts: &ProcessOptions,
) -> Result<Option<Vec<u8>>, ProcessError> {
    let stub = scratch_path(near, "empty");
    let result = (|| {
        let head = wav::header_bytes(spec, 0, &[]).map_err(|e| err(&stub, e))?;
        fs::write(&stub, head).map_err(|e| err(&stub, e))?;
        let analysis = process::analyze(&stub, opts)?;
        let kept = process::kept_range(&analysis, opts);
        process::metadata_chunks(&analysis, kept, opts, &stub)
    })();
    let _ = fs::remove_file(&stub);
    let len = result?.len();
    if len < 8 || len % 2 == 1 {
        return Ok(None);
    }
    let mut junk = Vec::with_capacity(len);
    junk.extend_from_slice(b"JUNK");
    junk.extend_from_slice(&((len - 8) as u32).to_le_bytes());
    junk.resize(len, 0);
    Ok(Some(junk))
}

/// Finish `raw` (recorded with [`reserve`]'s chunk of `reserved` bytes) in
/// place: the final header over the front, then hashed and fsynced. `None` when the
/// analysis asks for a change after all, or the header no longer fits: then
/// render as usual.
pub fn finish(
    raw: &Path,
    analysis: &Analysis,
    gain: GainDecision,
    opts: &ProcessOptions,
    reserved: usize,
) -> Result<Option<Rendered>, ProcessError> {
    let info = &analysis.info;
    let Some(format) = info.format() else {
        return Ok(None);
    };
    let kept = process::kept_range(analysis, opts);
    let unchanged = gain.gain_db == 0.0
        && kept.start_frame == 0
        && kept.end_frame == info.frames
        && applies(opts, format);
    if !unchanged {
        return Ok(None);
    }
    let chunks = process::metadata_chunks(analysis, kept, opts, raw)?;
    if chunks.len() != reserved {
        return Ok(None);
    }
    let spec = WavSpec {
        channels: info.channels,
        sample_rate: info.sample_rate,
        format,
    };
    let head = wav::header_bytes(spec, info.frames, &chunks).map_err(|e| err(raw, e))?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(raw)
        .map_err(|e| err(raw, e))?;
    file.write_all_at(&head, 0).map_err(|e| err(raw, e))?;
    let sha256 = hash(&file).map_err(|e| err(raw, e))?;
    file.sync_all()
        .map_err(|e| err(raw, format!("fsync: {e}")))?;
    Ok(Some(Rendered {
        frames: info.frames,
        kept,
        sha256,
        format,
        // The audio is not changed: its peaks are the analysed ones.
        peaks: analysis.peak.peak.clone(),
    }))
}

/// Hex SHA-256 of an open file from its start.
fn hash(file: &File) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = file.read_at(&mut buf, at)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(wav::hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::process::TakeMetadata;
    use crate::config::PostProcessing;
    use crate::wav::WavWriter;
    use std::time::{Duration, UNIX_EPOCH};

    fn options(pp: &PostProcessing) -> ProcessOptions {
        let mut o = ProcessOptions::from_config(pp, 4_800);
        o.planned_hz = Some(440.0);
        o.planned_midi = Some(69);
        o.metadata = Some(TakeMetadata {
            session: "s1".into(),
            instrument: "guitar".into(),
            note_name: "A4".into(),
            articulation: "long".into(),
            dynamic: "mf".into(),
            round_robin: 2,
            take_id: "t1".into(),
            recorded_at: Some(UNIX_EPOCH + Duration::from_millis(1_764_000_000_123)),
        });
        o
    }

    fn untouched_options() -> ProcessOptions {
        options(&PostProcessing {
            trim_silence: false,
            normalize_audio: false,
            ..PostProcessing::default()
        })
    }

    /// 0.1 s of near silence, then a 440 Hz note, on the format's grid (as
    /// captured samples are).
    fn take(format: SampleFormat, channels: usize) -> Vec<f32> {
        let scale = match format {
            SampleFormat::S16 => 32_768.0,
            _ => 8_388_608.0,
        };
        (0..48_000 * channels)
            .map(|i| {
                let n = (i / channels) as f64;
                let v = if n < 4_800.0 {
                    ((i * 7919) % 13) as f64 / 1e5
                } else {
                    0.5 * (2.0 * std::f64::consts::PI * 440.0 * n / 48_000.0).sin()
                };
                ((v * scale).round() / scale) as f32
            })
            .collect()
    }

    fn write(path: &Path, spec: WavSpec, samples: &[f32], extra: &[u8]) {
        let frames = (samples.len() / usize::from(spec.channels)) as u64;
        let mut w =
            WavWriter::new_unhashed(File::create(path).unwrap(), spec, frames, extra).unwrap();
        w.write(samples).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn an_untouched_take_is_finished_in_place_as_render_would_write_it() {
        let dir = tempfile::tempdir().unwrap();
        let opts = untouched_options();
        for format in [SampleFormat::S16, SampleFormat::S24] {
            for channels in [1u16, 2] {
                assert!(applies(&opts, format));
                let spec = WavSpec {
                    channels,
                    sample_rate: 48_000,
                    format,
                };
                let samples = take(format, usize::from(channels));
                // The render pass over a plain recording, as before.
                let plain = dir.path().join("plain.raw.wav");
                write(&plain, spec, &samples, &[]);
                let a = process::analyze(&plain, &opts).unwrap();
                let gain = process::decide_gain(&a, &opts);
                let rendered_path = dir.path().join("rendered.wav");
                let rendered = process::render(&plain, &rendered_path, &a, gain, &opts).unwrap();
                // Recorded with room for the header, finished in place.
                let raw = dir.path().join("t1.raw.wav");
                let junk = reserve(&raw, spec, &opts)
                    .unwrap()
                    .expect("metadata chunks");
                write(&raw, spec, &samples, &junk);
                let b = process::analyze(&raw, &opts).unwrap();
                let gain_b = process::decide_gain(&b, &opts);
                let finished = finish(&raw, &b, gain_b, &opts, junk.len())
                    .unwrap()
                    .expect("finished in place");
                let what = format!("{format:?} x{channels}");
                assert_eq!(
                    fs::read(&raw).unwrap(),
                    fs::read(&rendered_path).unwrap(),
                    "{what}"
                );
                assert_eq!(finished, rendered, "{what}");
                assert_eq!(
                    finished.sha256,
                    crate::capture::take::sha256_file(&raw).unwrap()
                );
                let (ca, cb) = (process::check(&a, &opts), process::check(&b, &opts));
                assert_eq!(
                    process::to_protocol(&ca),
                    process::to_protocol(&cb),
                    "{what}"
                );
                assert!(b.pitch.is_some(), "the note's pitch goes into smpl: {what}");
                // No scratch file is left behind.
                let mut names: Vec<_> = fs::read_dir(dir.path())
                    .unwrap()
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect();
                names.sort();
                assert_eq!(
                    names,
                    ["plain.raw.wav", "rendered.wav", "t1.raw.wav"],
                    "{what}"
                );
            }
        }
    }

    #[test]
    fn takes_that_change_are_left_to_the_render_pass() {
        let normalized = options(&PostProcessing {
            trim_silence: false,
            ..PostProcessing::default()
        });
        let trimmed = options(&PostProcessing {
            normalize_audio: false,
            ..PostProcessing::default()
        });
        let dc = options(&PostProcessing {
            trim_silence: false,
            normalize_audio: false,
            remove_dc: true,
            ..PostProcessing::default()
        });
        let mut to_f32 = untouched_options();
        to_f32.output_format = Some(SampleFormat::F32);
        for o in [&normalized, &trimmed, &dc, &to_f32] {
            assert!(!applies(o, SampleFormat::S24));
        }
        assert!(!applies(&untouched_options(), SampleFormat::F32));

        // A gain decided elsewhere shows only in the analysis' decision.
        let dir = tempfile::tempdir().unwrap();
        let spec = WavSpec {
            channels: 1,
            sample_rate: 48_000,
            format: SampleFormat::S24,
        };
        let opts = untouched_options();
        let raw = dir.path().join("t1.raw.wav");
        let junk = reserve(&raw, spec, &opts).unwrap().unwrap();
        let samples = take(SampleFormat::S24, 1);
        write(&raw, spec, &samples, &junk);
        let before = fs::read(&raw).unwrap();
        let a = process::analyze(&raw, &opts).unwrap();
        let gain = GainDecision {
            gain_db: -3.0,
            limited_by_peak: false,
        };
        assert_eq!(finish(&raw, &a, gain, &opts, junk.len()).unwrap(), None);
        // A header that no longer fits the room kept for it.
        let gain = process::decide_gain(&a, &opts);
        assert_eq!(finish(&raw, &a, gain, &opts, junk.len() + 2).unwrap(), None);
        assert_eq!(fs::read(&raw).unwrap(), before, "left as it was");
    }
}
