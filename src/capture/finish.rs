//! A recorded take's final spool file, from its raw recording and its
//! analysis (both made in one pass over the ring, [`super::take::record`]).
//!
//! A take that processing leaves as it is (no trim, no gain, no DC removal,
//! no format change, no loop crossfade) is not copied: it was recorded with
//! room for its final header ([`header_room`]), a `JUNK` chunk as long as the
//! metadata chunks, and [`finish_take`] writes the header that
//! [`process::render_with`] would write over that room. Any other take is
//! rendered from the raw file, once.
//! Both ways build the header with the same [`process::metadata_chunks`] and
//! [`wav::header_bytes`], so the file is byte for byte the render's.

use super::process::{self, Analysis, ProcessError, ProcessOptions, Rendered};
use super::take::sha256_file;
use crate::dsp::{GainDecision, TrimPoints};
use crate::durable;
use crate::protocol::SampleFormat;
use crate::wav::{self, WavInfo, WavSpec};
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

fn err(file: &Path, what: impl std::fmt::Display) -> ProcessError {
    ProcessError {
        file: file.to_path_buf(),
        what: what.to_string(),
    }
}

/// Whether `opts` can leave a take recorded in `format` as it is (if the
/// analysis finds nothing to cut). Float takes are rendered, which maps
/// non-finite samples to 0.
fn keeps_audio(opts: &ProcessOptions, format: SampleFormat) -> bool {
    !opts.trim
        && opts.normalize.is_none()
        && opts.gain_override.is_none()
        && !opts.remove_dc
        && opts.output_format.is_none_or(|f| f == format)
        && format != SampleFormat::F32
}

/// What a take of `spec` has before its audio: a `JUNK` chunk as long as the
/// metadata chunks it will get, when processing may leave its audio as it
/// is; else nothing (it is rendered). `near` names the take in errors.
pub fn header_room(
    near: &Path,
    spec: WavSpec,
    opts: &ProcessOptions,
) -> Result<Vec<u8>, ProcessError> {
    if !keeps_audio(opts, spec.format) {
        return Ok(Vec::new());
    }
    // The chunks' length does not depend on the measured pitch, nor on where
    // the take starts: a take of no frames has chunks as long.
    let info = WavInfo::of(spec, 0);
    let none = TrimPoints {
        start_frame: 0,
        end_frame: 0,
    };
    let len = process::metadata_chunks(&info, None, none, opts, near)?.len();
    if len < 8 || len % 2 == 1 {
        return Ok(Vec::new());
    }
    let mut junk = Vec::with_capacity(len);
    junk.extend_from_slice(b"JUNK");
    junk.extend_from_slice(&((len - 8) as u32).to_le_bytes());
    junk.resize(len, 0);
    Ok(junk)
}

/// Make the take's final file at `wav` (fsynced, renamed into place) from the
/// raw recording at `raw`, recorded with `room` bytes of [`header_room`]:
/// its header written over the front when the audio stays as it is, else
/// rendered. The raw file is left to the caller to remove.
pub fn finish_take(
    raw: &Path,
    wav: &Path,
    analysis: &Analysis,
    gain: GainDecision,
    opts: &ProcessOptions,
    room: usize,
) -> Result<Rendered, ProcessError> {
    let info = &analysis.info;
    let kept = process::kept_range(analysis, opts);
    let as_recorded = info.format().filter(|&format| {
        gain.gain_db == 0.0
            && analysis.loop_fade.is_none()
            && kept.start_frame == 0
            && kept.end_frame == info.frames
            && keeps_audio(opts, format)
    });
    if let Some(format) = as_recorded {
        let chunks = process::metadata_chunks_looped(
            info,
            analysis.pitch,
            analysis.sample_loop,
            kept,
            opts,
            raw,
        )?;
        if room > 0 && chunks.len() == room {
            let spec = WavSpec {
                channels: info.channels,
                sample_rate: info.sample_rate,
                format,
            };
            let sha256 = write_header_over(raw, spec, info.frames, &chunks)?;
            durable::publish(raw, wav).map_err(|e| err(wav, e))?;
            return Ok(Rendered {
                frames: info.frames,
                kept,
                sha256,
                format,
                // The audio is not changed: its peaks are the analysed ones.
                peaks: analysis.peak.peak.clone(),
            });
        }
    }
    let tmp = durable::temp_path_for(wav);
    let rendered = process::render(raw, &tmp, analysis, gain, opts).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    durable::publish(&tmp, wav).map_err(|e| err(wav, e))?;
    Ok(rendered)
}

/// Write the final header over the room at the front of `raw`, then hash and
/// fsync the file; returns its hex SHA-256.
fn write_header_over(
    raw: &Path,
    spec: WavSpec,
    frames: u64,
    chunks: &[u8],
) -> Result<String, ProcessError> {
    let head = wav::header_bytes(spec, frames, chunks).map_err(|e| err(raw, e))?;
    let file = OpenOptions::new()
        .write(true)
        .open(raw)
        .map_err(|e| err(raw, e))?;
    file.write_all_at(&head, 0).map_err(|e| err(raw, e))?;
    // A failed fsync means the data may never reach the disk: not recorded.
    file.sync_all()
        .map_err(|e| err(raw, format!("fsync: {e}")))?;
    sha256_file(raw).map_err(|e| err(raw, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::process::{Analyzer, TakeMetadata};
    use crate::config::PostProcessing;
    use crate::wav::WavWriter;
    use std::fs::{self, File};
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

    /// 0.1 s of near silence, then a 440 Hz note, a little off the format's
    /// grid (as a device of more bits delivers it).
    fn take(channels: usize) -> Vec<f32> {
        (0..48_000 * channels)
            .map(|i| {
                let n = (i / channels) as f64;
                let v = if n < 4_800.0 {
                    ((i * 7919) % 13) as f64 / 1e5
                } else {
                    0.5 * (2.0 * std::f64::consts::PI * 440.0 * n / 48_000.0).sin()
                };
                (v + 1e-9) as f32
            })
            .collect()
    }

    /// What [`super::super::take::record`] does with the ring's frames:
    /// analysed as written, in pieces, with `room` before the audio.
    fn record(
        path: &Path,
        spec: WavSpec,
        samples: &[f32],
        room: &[u8],
        opts: &ProcessOptions,
    ) -> Analysis {
        let ch = usize::from(spec.channels);
        let frames = (samples.len() / ch) as u64;
        let mut analyzer = Analyzer::new(WavInfo::of(spec, 0), opts, path).unwrap();
        let mut w =
            WavWriter::new_unhashed(File::create(path).unwrap(), spec, frames, room).unwrap();
        for piece in samples.chunks(24_000 * ch) {
            let mut piece = piece.to_vec();
            w.write_snapped(&mut piece).unwrap();
            analyzer.feed(&piece);
        }
        w.finish().unwrap();
        analyzer.finish(path).unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_untouched_take_is_finished_in_place_as_render_would_write_it() {
        let opts = untouched_options();
        for format in [SampleFormat::S16, SampleFormat::S24] {
            for channels in [1u16, 2] {
                let dir = tempfile::tempdir().unwrap();
                let spec = WavSpec {
                    channels,
                    sample_rate: 48_000,
                    format,
                };
                let samples = take(usize::from(channels));
                let what = format!("{format:?} x{channels}");
                // The render pass over a plain recording, analysed from its file.
                let plain = dir.path().join("plain.raw.wav");
                record(&plain, spec, &samples, &[], &opts);
                let a = process::analyze(&plain, &opts).unwrap();
                let gain = process::decide_gain(&a, &opts);
                let rendered_path = dir.path().join("rendered.wav");
                let rendered = process::render(&plain, &rendered_path, &a, gain, &opts).unwrap();
                // Recorded with room for the header, analysed as it was written.
                let raw = dir.path().join("t1.raw.wav");
                let room = header_room(&raw, spec, &opts).unwrap();
                assert!(!room.is_empty(), "{what}");
                let b = record(&raw, spec, &samples, &room, &opts);
                assert_eq!(format!("{b:?}"), format!("{a:?}"), "{what}");
                let wav = dir.path().join("t1.wav");
                let finished = finish_take(
                    &raw,
                    &wav,
                    &b,
                    process::decide_gain(&b, &opts),
                    &opts,
                    room.len(),
                )
                .unwrap();
                assert_eq!(
                    fs::read(&wav).unwrap(),
                    fs::read(&rendered_path).unwrap(),
                    "{what}"
                );
                assert_eq!(finished, rendered, "{what}");
                assert_eq!(finished.sha256, sha256_file(&wav).unwrap());
                assert!(b.pitch.is_some(), "the note's pitch goes into smpl: {what}");
                // The raw file became the take: nothing else was written.
                assert_eq!(
                    names(dir.path()),
                    ["plain.raw.wav", "rendered.wav", "t1.wav"],
                    "{what}"
                );
            }
        }
    }

    #[test]
    fn takes_that_change_are_rendered_from_the_raw_file() {
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
        let s24 = WavSpec {
            channels: 1,
            sample_rate: 48_000,
            format: SampleFormat::S24,
        };
        let f32_spec = WavSpec {
            format: SampleFormat::F32,
            ..s24
        };
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("t1.raw.wav");
        for o in [&normalized, &trimmed, &dc, &to_f32] {
            assert_eq!(header_room(&raw, s24, o).unwrap(), Vec::<u8>::new());
        }
        assert_eq!(
            header_room(&raw, f32_spec, &untouched_options()).unwrap(),
            Vec::<u8>::new()
        );

        // A gain decided elsewhere, or a header that no longer fits its room:
        // rendered, byte for byte as from a plain recording.
        let opts = untouched_options();
        let room = header_room(&raw, s24, &opts).unwrap();
        let samples = take(1);
        let plain = dir.path().join("plain.raw.wav");
        let a = record(&plain, s24, &samples, &[], &opts);
        let minus_3 = GainDecision {
            gain_db: -3.0,
            limited_by_peak: false,
        };
        let unity = process::decide_gain(&a, &opts);
        for (gain, room_len) in [(minus_3, room.len()), (unity, room.len() + 2)] {
            let b = record(&raw, s24, &samples, &room, &opts);
            let wav = dir.path().join("t1.wav");
            let rendered = finish_take(&raw, &wav, &b, gain, &opts, room_len).unwrap();
            let expected = dir.path().join("expected.wav");
            let want = process::render(&plain, &expected, &a, gain, &opts).unwrap();
            assert_eq!(rendered, want);
            assert_eq!(fs::read(&wav).unwrap(), fs::read(&expected).unwrap());
            assert!(raw.exists(), "the raw file is the caller's to remove");
        }
    }
}
