//! The seam figure of the sustain loop a WAV carries in its `smpl` chunk:
//! what `takebox check` and the exports' log show for each loop, measured on
//! the file as it is (any crossfade included) with [`dsp::loops::seam_db`],
//! its window set by the chunk's unity note so every reader agrees.

use crate::dsp::{self, LoopSettings, SmplLoop};
use crate::wav::WavReader;
use std::io;
use std::path::Path;

/// A file's first forward loop and how its seam sounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileLoop {
    pub sample_loop: SmplLoop,
    /// RMS of the difference around the seam, dB relative to the loop's signal.
    pub seam_db: f64,
}

impl FileLoop {
    /// At or under the loop finder's limit for a good seam.
    pub fn good(&self) -> bool {
        self.seam_db <= LoopSettings::default().good_seam_db
    }

    /// "good" or why not, for logs.
    pub fn verdict(&self) -> String {
        if self.good() {
            "good".into()
        } else {
            format!(
                "no good loop: seam over {:.0} dB, it clicks",
                LoopSettings::default().good_seam_db
            )
        }
    }
}

fn bad(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// The loop in `path`'s `smpl` and its seam figure; `None` without a loop.
pub fn file_loop(path: &Path) -> io::Result<Option<FileLoop>> {
    let f = std::fs::File::open(path)?;
    let mut reader = WavReader::new(io::BufReader::new(f))?;
    let Some(payload) = reader
        .info
        .other_chunks
        .iter()
        .find(|(id, _)| id == b"smpl")
        .map(|(_, p)| p.clone())
    else {
        return Ok(None);
    };
    let Some(l) = dsp::chunks::smpl_loops(&payload).first().copied() else {
        return Ok(None);
    };
    let midi = dsp::chunks::smpl_pitch(&payload).map_or(60.0, |p| p.midi());
    let hz = 440.0 * ((midi - 69.0) / 12.0).exp2();
    let (ch, rate) = (usize::from(reader.info.channels), reader.info.sample_rate);
    let end = u64::from(l.last) + 1;
    if end > reader.info.frames {
        return Err(bad(
            path,
            format!(
                "loop ends at frame {end}, past the file's {}",
                reader.info.frames
            ),
        ));
    }
    let mut samples = Vec::new();
    while (samples.len() / ch.max(1)) < end as usize
        && reader.read_append(&mut samples, 65_536)? > 0
    {}
    let seam_db = dsp::loops::seam_db(&samples, ch, rate, Some(hz), l.start as usize, end as usize)
        .map_err(|e| bad(path, e))?;
    Ok(Some(FileLoop {
        sample_loop: l,
        seam_db,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::{SmplPitch, smpl_chunk_looped};
    use crate::wav::{WavSpec, WavWriter};

    /// A mono A4 sine with one loop `start..=last`.
    fn looped(path: &Path, start: u32, last: u32) {
        let spec = WavSpec {
            channels: 1,
            sample_rate: 48_000,
            format: crate::protocol::SampleFormat::F32,
        };
        let smpl = smpl_chunk_looped(
            48_000,
            SmplPitch::from_cents(69, 0.0),
            &[SmplLoop { start, last }],
        )
        .unwrap();
        let x: Vec<f32> = (0..48_000)
            .map(|i| (std::f64::consts::TAU * 440.0 * f64::from(i) / 48_000.0).sin() as f32 * 0.5)
            .collect();
        let f = std::fs::File::create(path).unwrap();
        let mut w = WavWriter::new(f, spec, x.len() as u64, &smpl).unwrap();
        w.write(&x).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn a_loop_of_whole_periods_is_good_and_a_half_period_off_clicks() {
        let dir = tempfile::tempdir().unwrap();
        let (good, bad, none) = (
            dir.path().join("g.wav"),
            dir.path().join("b.wav"),
            dir.path().join("n.wav"),
        );
        // 440 Hz at 48 kHz: 1200 frames are 11 periods exactly.
        looped(&good, 12_000, 12_000 + 12 * 1_200 - 1);
        let g = file_loop(&good).unwrap().unwrap();
        assert!(g.good() && g.seam_db < -60.0, "{g:?}");
        assert_eq!(g.verdict(), "good");
        // Off by half a period (54.5 frames): the seam jumps.
        looped(&bad, 12_000, 12_000 + 12 * 1_200 + 54);
        let b = file_loop(&bad).unwrap().unwrap();
        assert!(!b.good() && b.seam_db > 0.0, "{b:?}");
        assert!(b.verdict().starts_with("no good loop"), "{}", b.verdict());
        // No smpl chunk, no loop.
        crate::wav::WavWriter::new(
            std::fs::File::create(&none).unwrap(),
            WavSpec {
                channels: 1,
                sample_rate: 48_000,
                format: crate::protocol::SampleFormat::S16,
            },
            0,
            &[],
        )
        .unwrap()
        .finish()
        .unwrap();
        assert_eq!(file_loop(&none).unwrap(), None);
    }
}
