//! Instruments from a session: SFZ ([`sfz`]), Decent Sampler ([`dspreset`]) and a
//! CSV sample map ([`csv`]), all from one pure mapping ([`mapping`]) of the
//! session's confirmed, non-superseded takes. Sample paths are relative to the
//! export folder.

pub mod csv;
pub mod dspreset;
pub mod mapping;
pub mod sfz;

use super::CatalogError;
use crate::session_log_format::SessionRecord;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Sfz,
    DsPreset,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "sfz" => Some(Format::Sfz),
            "dspreset" => Some(Format::DsPreset),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Exported {
    pub files: Vec<PathBuf>,
    pub regions: usize,
    /// Regions whose sample carries a sustain loop (in its `smpl` chunk).
    pub looped: usize,
    /// Takes left out, with why (a missing WAV, a frequency that is no note).
    pub skipped: Vec<(String, String)>,
    /// Takes whose pitch reads more than [`mapping::MAX_TUNE_CENTS`] off
    /// their note, left untuned, with the cents read.
    pub untuned: Vec<(String, f64)>,
    /// Each looped sample (as the instrument names it) and its seam figure,
    /// or why it could not be measured, for the export's log.
    pub seams: Vec<(String, Result<crate::seam::FileLoop, String>)>,
}

/// `to` relative to the folder `from` (both absolute, normalized).
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// A file-name-safe form of a name from the log.
pub fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.#".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Write `format` for the session into `out` (created if needed). Samples are
/// looked up under `share`; a take whose WAV is missing is left out and named.
pub fn export(
    rec: &SessionRecord,
    format: Format,
    share: &Path,
    out: &Path,
) -> Result<Exported, CatalogError> {
    export_with(rec, format, share, out, false)
}

/// [`export`]; with `flac`, every sample is encoded as FLAC into `out/samples/`
/// (metadata and loop carried, see [`crate::flac`]) and the instrument points
/// there, so the folder is self-contained.
pub fn export_with(
    rec: &SessionRecord,
    format: Format,
    share: &Path,
    out: &Path,
    flac: bool,
) -> Result<Exported, CatalogError> {
    let written = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CatalogError::Write { path, error }
    };
    std::fs::create_dir_all(out).map_err(written(out))?;
    let out_abs = out.canonicalize().map_err(written(out))?;
    let share_abs = share.canonicalize().map_err(|error| CatalogError::Share {
        path: share.to_path_buf(),
        error,
    })?;
    let a4 = rec.settings["default_frequency"].as_f64().unwrap_or(440.0);
    let mut result = Exported::default();
    let present = on_the_share(rec, &share_abs, &mut result.skipped);
    let (mut layers, skipped) = mapping::map(present, a4);
    result
        .skipped
        .extend(skipped.into_iter().map(|s| (s.take_id, s.reason)));
    if layers.is_empty() {
        return Err(CatalogError::NothingToExport {
            session: rec.session_id.clone(),
        });
    }
    for l in &mut layers {
        for r in &mut l.regions {
            let sample = share_abs.join(&r.filename);
            r.sample_loop = sample_loop(&sample);
            r.filename = if flac {
                flac_sample(&sample, &out_abs)?
            } else {
                sample_path(&out_abs, &sample)
            };
            if r.sample_loop.is_some() {
                let seam = crate::seam::file_loop(&sample)
                    .map_err(|e| e.to_string())
                    .and_then(|l| l.ok_or_else(|| "no loop".to_string()));
                result.seams.push((r.filename.clone(), seam));
            }
        }
    }
    result.untuned = layers
        .iter()
        .flat_map(|l| &l.regions)
        .filter_map(|r| Some((r.take_id.clone(), r.cents?)))
        .filter(|(_, c)| c.abs() > mapping::MAX_TUNE_CENTS)
        .collect();
    result.looped = layers
        .iter()
        .flat_map(|l| &l.regions)
        .filter(|r| r.sample_loop.is_some())
        .count();
    result.regions = layers.iter().map(|l| l.regions.len()).sum();
    let instrument = rec
        .instrument
        .clone()
        .unwrap_or_else(|| "instrument".into());
    let stem = format!("{}_{}", safe_name(&rec.session_id), safe_name(&instrument));
    let mut write = |name: String, text: String| -> Result<(), CatalogError> {
        let path = out.join(name);
        crate::durable::write_atomic(&path, text.as_bytes()).map_err(written(&path))?;
        result.files.push(path);
        Ok(())
    };
    match format {
        Format::Sfz => {
            for l in &layers {
                write(
                    format!("{stem}_{}.sfz", safe_name(&l.name())),
                    sfz::render(rec, &instrument, l),
                )?;
            }
        }
        Format::DsPreset => {
            for l in &layers {
                write(
                    format!("{stem}_{}.dspreset", safe_name(&l.name())),
                    dspreset::render(rec, &instrument, l),
                )?;
            }
        }
        Format::Csv => write(format!("{stem}.csv"), csv::render(&layers))?,
    }
    Ok(result)
}

/// The session's playable takes whose files are on the share (and inside
/// it); the others are listed in `skipped` with why.
fn on_the_share<'a>(
    rec: &'a SessionRecord,
    share_abs: &Path,
    skipped: &mut Vec<(String, String)>,
) -> Vec<&'a crate::session_log_format::TakeLine> {
    rec.playable()
        .filter(|line| {
            let t = &line.confirmed;
            let inside = Path::new(&t.filename)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
            if !inside || !share_abs.join(&t.filename).is_file() {
                skipped.push((
                    t.take_id.to_string(),
                    format!("{} is not on the share", t.filename),
                ));
                return false;
            }
            true
        })
        .collect()
}

/// The first forward loop of a WAV's `smpl` chunk (the header only is read).
/// A header that cannot be read gives no loop: the region is exported as
/// before, and the sampler meets the same file the takes' check did.
fn sample_loop(wav: &Path) -> Option<crate::dsp::SmplLoop> {
    let f = std::fs::File::open(wav).ok()?;
    let reader = crate::wav::WavReader::new(std::io::BufReader::new(f)).ok()?;
    reader
        .info
        .other_chunks
        .iter()
        .filter(|(id, _)| id == b"smpl")
        .find_map(|(_, payload)| crate::dsp::chunks::smpl_loops(payload).first().copied())
}

/// Encodes a share's WAV as `samples/<name>.flac` in the export folder;
/// returns that relative path.
fn flac_sample(wav: &Path, out_abs: &Path) -> Result<String, CatalogError> {
    let dir = out_abs.join("samples");
    std::fs::create_dir_all(&dir).map_err(|error| CatalogError::Write {
        path: dir.clone(),
        error,
    })?;
    let stem = wav.file_stem().unwrap_or_default().to_string_lossy();
    let name = format!("{}.flac", safe_name(&stem));
    crate::flac::wav_to_flac(wav, &dir.join(&name)).map_err(CatalogError::Flac)?;
    Ok(format!("samples/{name}"))
}

/// A sample's path relative to the export folder, `/`-separated for every sampler.
fn sample_path(out_abs: &Path, sample: &Path) -> String {
    relative(out_abs, sample)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/a/out"), Path::new("/a/share/s/x.wav")),
            PathBuf::from("../share/s/x.wav")
        );
        assert_eq!(
            relative(Path::new("/a"), Path::new("/a/s/x.wav")),
            PathBuf::from("s/x.wav")
        );
        assert_eq!(safe_name("my guitar/1"), "my_guitar_1");
    }
}
