//! `takebox process` and `takebox check` over many files: all cores, bounded
//! memory per file, one bad file reported and skipped, never an input
//! overwritten unless asked (and then atomically).

use super::process::{self, Analysis, LoopReport, ProcessError, ProcessOptions};
use crate::dsp::{self, GainDecision, NormalizeMode, NormalizeSettings};
use crate::durable;
use crate::protocol::TakeCheck;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where processed files go.
#[derive(Debug, Clone)]
pub enum Output {
    Folder(PathBuf),
    InPlace,
}

/// One file's outcome.
#[derive(Debug)]
pub struct FileReport {
    pub input: PathBuf,
    pub output: Option<PathBuf>,
    pub result: Result<Done, ProcessError>,
}

#[derive(Debug, Clone)]
pub struct Done {
    pub seconds_in: f64,
    pub seconds_out: f64,
    pub gain_db: f64,
    pub limited_by_peak: bool,
    pub check: TakeCheck,
    /// With `--loop`: the loop written into `smpl`, or why there is none.
    pub sample_loop: Option<LoopReport>,
}

/// Run `work` over `items` on `jobs` threads; `progress(done, total, item)` after each.
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    progress: impl Fn(usize, usize, &T) + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = work(item);
                    results.lock().expect("results lock")[i] = Some(r);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, items.len(), item);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

fn output_path(input: &Path, output: &Output) -> Result<PathBuf, ProcessError> {
    let err = |what: &str| ProcessError {
        file: input.to_path_buf(),
        what: what.to_string(),
    };
    match output {
        Output::InPlace => Ok(input.to_path_buf()),
        Output::Folder(dir) => {
            let name = input.file_name().ok_or_else(|| err("not a file name"))?;
            let out = dir.join(name);
            let same = match (input.canonicalize(), dir.canonicalize()) {
                (Ok(i), Ok(d)) => d.join(name) == i,
                _ => false,
            };
            if same {
                return Err(err(
                    "output would overwrite the input; use another --out folder or --in-place",
                ));
            }
            Ok(out)
        }
    }
}

/// A file rendered under its temp name, waiting for [`publish`].
struct Pending {
    tmp: PathBuf,
    dest: PathBuf,
    done: Done,
}

fn render_one(
    input: &Path,
    samples: Option<&[f32]>,
    output: &Output,
    analysis: &Analysis,
    gain: GainDecision,
    opts: &ProcessOptions,
) -> Result<Pending, ProcessError> {
    let dest = output_path(input, output)?;
    let (sample_loop, faded) = match &opts.loops {
        Some(settings) => {
            let (report, faded) = process::find_loop(input, samples, analysis, opts, settings)?;
            (Some(report), faded)
        }
        None => (None, None),
    };
    let looped;
    let analysis = match sample_loop.as_ref().map(|r| &r.found) {
        Some(Ok(l)) => {
            looped = Analysis {
                sample_loop: Some(*l),
                ..analysis.clone()
            };
            &looped
        }
        _ => analysis,
    };
    let samples = faded.as_deref().or(samples);
    let tmp = durable::temp_path_for(&dest);
    // Made durable with the whole batch; no checksum is reported.
    let to = process::RenderTo {
        path: &tmp,
        durability: process::Durability::Deferred,
        checksum: false,
    };
    let rendered =
        process::render_with(input, samples, &to, analysis, gain, opts).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    let rate = f64::from(analysis.info.sample_rate);
    Ok(Pending {
        tmp,
        dest,
        done: Done {
            seconds_in: analysis.info.frames as f64 / rate,
            seconds_out: rendered.frames as f64 / rate,
            gain_db: gain.gain_db,
            limited_by_peak: gain.limited_by_peak,
            check: process::to_protocol(&process::check(analysis, opts)),
            sample_loop,
        },
    })
}

/// Moves every rendered file into place, durably (one flush for the batch).
fn publish(inputs: &[PathBuf], rendered: Vec<Result<Pending, ProcessError>>) -> Vec<FileReport> {
    let moves: Vec<_> = rendered
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|p| (p.tmp.clone(), p.dest.clone()))
        .collect();
    let mut published = durable::publish_all(&moves).into_iter();
    inputs
        .iter()
        .zip(rendered)
        .map(|(input, r)| {
            let result = r.and_then(|p| match published.next() {
                Some(Ok(())) => Ok((p.dest, p.done)),
                Some(Err(e)) => {
                    let _ = std::fs::remove_file(&p.tmp);
                    Err(ProcessError {
                        file: p.dest,
                        what: e.to_string(),
                    })
                }
                None => Err(ProcessError {
                    file: p.dest,
                    what: "not published".into(),
                }),
            });
            match result {
                Ok((dest, done)) => FileReport {
                    input: input.clone(),
                    output: Some(dest),
                    result: Ok(done),
                },
                Err(e) => FileReport {
                    input: input.clone(),
                    output: None,
                    result: Err(e),
                },
            }
        })
        .collect()
}

/// Process `inputs`. With `group`, one gain for all (the loudest reaches the
/// target) so relative levels, such as velocity layers, are kept.
pub fn process_files(
    inputs: &[PathBuf],
    output: &Output,
    opts: &ProcessOptions,
    group: Option<NormalizeSettings>,
    jobs: usize,
    progress: impl Fn(usize, usize, &PathBuf) + Sync,
) -> Vec<FileReport> {
    let Some(group) = group else {
        // One file at a time from start to end: its samples are read once.
        let rendered = parallel(
            inputs,
            jobs,
            |input| {
                let (a, samples) = process::analyze_keeping(input, opts, true)?;
                let gain = process::decide_gain(&a, opts);
                render_one(input, samples.as_deref(), output, &a, gain, opts)
            },
            progress,
        );
        return publish(inputs, rendered);
    };
    // Group mode: analyse everything first, then one gain for every file.
    let analyses = parallel(
        inputs,
        jobs,
        |input| process::analyze(input, opts),
        |_, _, _| {},
    );
    let levels: Vec<_> = analyses
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .map(Analysis::levels)
        .collect();
    let gain = dsp::group_gain(&levels, &group);
    let pairs: Vec<_> = inputs.iter().zip(analyses).collect();
    let rendered = parallel(
        &pairs,
        jobs,
        |(input, analysis)| match analysis {
            Ok(a) => render_one(input, None, output, a, gain, opts),
            Err(e) => Err(ProcessError {
                file: e.file.clone(),
                what: e.what.clone(),
            }),
        },
        |done, total, (input, _)| progress(done, total, input),
    );
    publish(inputs, rendered)
}

/// A file's analysis and verdict, or why it could not be read.
pub type CheckResult = Result<(Analysis, TakeCheck), ProcessError>;

/// Check files without writing anything.
pub fn check_files(
    inputs: &[PathBuf],
    opts: &ProcessOptions,
    jobs: usize,
    progress: impl Fn(usize, usize, &PathBuf) + Sync,
) -> Vec<(PathBuf, CheckResult)> {
    parallel(
        inputs,
        jobs,
        |input| {
            let r = process::analyze(input, opts).map(|a| {
                let c = process::to_protocol(&process::check(&a, opts));
                (a, c)
            });
            (input.clone(), r)
        },
        progress,
    )
}

/// A `--normalize` mode that is none of takebox's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownNormalizeMode(pub String);

impl std::fmt::Display for UnknownNormalizeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--normalize {:?}: expected peak, true-peak, loudness or group",
            self.0
        )
    }
}

impl std::error::Error for UnknownNormalizeMode {}

/// The command line's usage errors are text shown to the user.
impl From<UnknownNormalizeMode> for String {
    fn from(e: UnknownNormalizeMode) -> String {
        e.to_string()
    }
}

/// Normalize settings from a mode name and an optional target.
pub fn normalize_settings(
    mode: &str,
    target: Option<f64>,
) -> Result<NormalizeSettings, UnknownNormalizeMode> {
    let peak = |kind| NormalizeSettings {
        mode: NormalizeMode::Peak,
        peak_target_dbfs: target.unwrap_or(-1.0),
        peak_kind: kind,
    };
    match mode {
        "peak" | "group" => Ok(peak(dsp::PeakKind::Sample)),
        "true-peak" => Ok(peak(dsp::PeakKind::True)),
        "loudness" => Ok(NormalizeSettings {
            mode: NormalizeMode::Loudness {
                target_lufs: target.unwrap_or(-23.0),
            },
            peak_target_dbfs: -1.0,
            peak_kind: dsp::PeakKind::True,
        }),
        other => Err(UnknownNormalizeMode(other.to_string())),
    }
}
