//! Processing a take with the pure DSP of [`crate::dsp`]: an analysis pass
//! ([`Analyzer`]: levels, loudness, trim points, noise floor, and the pitch of
//! the sustained part), the check, the gain, then a render pass that writes
//! the trimmed, normalized WAV with `bext`, `iXML` and `smpl`.
//!
//! takebox-capture analyses a take while recording it ([`super::take::record`])
//! and renders it from its raw file ([`super::finish`]); `takebox process|check`
//! analyse and render whole folders of files. Memory stays bounded whatever the
//! file length.

use crate::config::{NormalizeTo, PostProcessing};
use crate::dsp::{
    self, BextInfo, Check, CheckInput, CheckSettings, Envelope, EnvelopeMeter, FadeShape,
    GainDecision, Hum, IxmlInfo, LoopSettings, LoudnessMeter, LoudnessStats, NoLoop, NormalizeMode,
    NormalizeSettings, PeakKind, PeakMeter, PeakStats, PitchEstimate, PitchTrack, PitchWindow,
    Player, RenderSettings, Renderer, RmsMeter, RmsStats, SampleLoop, SmplLoop, SmplPitch,
    TakeLevels, Tpdf, TrimPoints, TrimResult, TrimSettings, TrimThreshold, Trimmer, TruePeakMeter,
    pitch_track,
};
use crate::protocol::{SampleFormat, TakeCheck};
use crate::wav::{WavInfo, WavReader, WavSpec, WavWriter};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Frames per block in both passes (bounded memory).
const BLOCK_FRAMES: usize = 16_384;
/// The waveform carried in a take's confirmation has 400 to 800 columns:
/// a phone's width to a desktop's, min and max each.
pub const ENVELOPE_COLUMNS: usize = 400;
/// Takes up to this many samples (4 MB as f32, 20 s of mono at 48 kHz) may
/// be kept in memory between the two passes ([`analyze_keeping`]), so they
/// are read and decoded once; longer ones are read again, block by block,
/// which keeps memory bounded per worker thread whatever the file length.
const KEEP_MAX_SAMPLES: u64 = 1 << 20;

#[derive(Debug)]
pub struct ProcessError {
    pub file: PathBuf,
    pub what: String,
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.what)
    }
}

impl std::error::Error for ProcessError {}

fn err(file: &Path, what: impl fmt::Display) -> ProcessError {
    ProcessError {
        file: file.to_path_buf(),
        what: what.to_string(),
    }
}

/// Which metadata to write into the processed file.
#[derive(Debug, Clone, Default)]
pub struct TakeMetadata {
    pub session: String,
    pub instrument: String,
    pub note_name: String,
    pub articulation: String,
    pub dynamic: String,
    pub round_robin: u32,
    pub take_id: String,
    /// Wall-clock time of the file's first frame (before trimming).
    pub recorded_at: Option<SystemTime>,
}

/// What to do to a take.
#[derive(Debug, Clone)]
pub struct ProcessOptions {
    /// Cut silence; the trim settings are used for analysis either way.
    pub trim: bool,
    pub trim_settings: TrimSettings,
    /// `None`: keep the level.
    pub normalize: Option<NormalizeSettings>,
    /// A gain decided elsewhere (group mode); wins over `normalize`.
    pub gain_override: Option<GainDecision>,
    pub remove_dc: bool,
    pub fade_in_ms: f64,
    pub fade_out_ms: f64,
    pub check: CheckSettings,
    /// The planned fundamental; `None` switches the pitch check off.
    pub planned_hz: Option<f64>,
    /// MIDI note for `smpl` when no pitch is measured.
    pub planned_midi: Option<u8>,
    /// Who played the note: a MIDI take that repeats below its key (a 16'
    /// stop) reads at its key more readily than a live one.
    pub player: Player,
    /// Output sample format; `None` keeps the input's.
    pub output_format: Option<SampleFormat>,
    pub metadata: Option<TakeMetadata>,
    /// Keep the input's other chunks (bext, iXML, LIST...) unless replaced.
    pub carry_chunks: bool,
    /// Pre-roll in seconds, for files of different rates; wins over
    /// `trim_settings.preroll_frames`.
    pub preroll_seconds: Option<f64>,
    /// Look for a sustain loop and write it into `smpl` (`takebox process --loop`).
    pub loops: Option<LoopSettings>,
}

impl ProcessOptions {
    /// The recorder's options from config.json's `post_processing`.
    pub fn from_config(pp: &PostProcessing, preroll_frames: u64) -> ProcessOptions {
        let threshold = if pp.trim_from_noise_floor && preroll_frames > 0 {
            TrimThreshold::NoiseFloor {
                margin_db: pp.trim_noise_margin_db,
            }
        } else {
            TrimThreshold::Fixed {
                dbfs: pp.trim_threshold_dbfs,
            }
        };
        let normalize = pp.normalize_audio.then_some(NormalizeSettings {
            mode: match pp.normalize_to {
                NormalizeTo::Loudness => NormalizeMode::Loudness {
                    target_lufs: pp.loudness_target_lufs,
                },
                _ => NormalizeMode::Peak,
            },
            peak_target_dbfs: pp.peak_target_dbfs,
            peak_kind: match pp.normalize_to {
                NormalizeTo::Peak => PeakKind::Sample,
                _ => PeakKind::True,
            },
        });
        ProcessOptions {
            trim: pp.trim_silence,
            trim_settings: TrimSettings {
                threshold,
                preroll_frames,
                pad_ms: pp.trim_pad_ms,
                ..TrimSettings::default()
            },
            normalize,
            gain_override: None,
            remove_dc: pp.remove_dc,
            fade_in_ms: pp.fade_in_ms,
            fade_out_ms: pp.fade_out_ms,
            check: pp.check_settings(),
            planned_hz: None,
            planned_midi: None,
            player: Player::Live,
            output_format: None,
            metadata: None,
            carry_chunks: false,
            preroll_seconds: None,
            loops: None,
        }
    }

    fn wants_true_peak(&self) -> bool {
        self.normalize
            .is_some_and(|n| n.peak_kind == PeakKind::True)
    }

    fn wants_loudness(&self) -> bool {
        self.normalize
            .is_some_and(|n| matches!(n.mode, NormalizeMode::Loudness { .. }))
    }
}

/// What the analysis pass found.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub info: WavInfo,
    pub peak: PeakStats,
    pub true_peak_dbtp: Option<f64>,
    pub loudness: Option<LoudnessStats>,
    pub rms: RmsStats,
    pub trim: TrimResult,
    /// The settled pitch (what `smpl` and the check use).
    pub pitch: Option<PitchEstimate>,
    /// How the pitch moved, or why there is none; `None` without an onset.
    pub track: Option<PitchTrack>,
    /// Mains hum in the pre-roll.
    pub hum: Option<Hum>,
    /// The waveform of the frames analysed.
    pub envelope: Option<Envelope>,
    /// The sustain loop, in the input's frames; set by [`find_loop`]'s caller.
    pub sample_loop: Option<SampleLoop>,
    /// The loop's crossfade, rendered in place of the input's frames it
    /// covers; set with `sample_loop` by takebox-capture's live search.
    pub loop_fade: Option<FadedFrames>,
}

/// Frames that replace the input's from `start_frame` on when a take is
/// rendered (interleaved): a crossfade rendered into a loop's end, kept
/// apart so a long take is never held whole.
#[derive(Debug, Clone, PartialEq)]
pub struct FadedFrames {
    pub start_frame: u64,
    pub samples: Vec<f32>,
}

impl FadedFrames {
    /// The frames of `pos..pos + frames` that are faded.
    fn within(&self, pos: u64, frames: u64, ch: usize) -> std::ops::Range<u64> {
        let own = (self.samples.len() / ch) as u64;
        self.start_frame.max(pos)..(self.start_frame + own).min(pos + frames)
    }

    /// Write the faded frames over `block`, the input's frames from `pos` on.
    fn overlay(&self, pos: u64, ch: usize, block: &mut [f32]) {
        let (from, to) = match self.within(pos, (block.len() / ch) as u64, ch) {
            r if r.is_empty() => return,
            r => (r.start, r.end),
        };
        let (dst, src) = (
            (from - pos) as usize * ch,
            (from - self.start_frame) as usize * ch,
        );
        let n = (to - from) as usize * ch;
        block[dst..dst + n].copy_from_slice(&self.samples[src..src + n]);
    }
}

impl Analysis {
    pub fn levels(&self) -> TakeLevels {
        TakeLevels {
            sample_peak_dbfs: self.peak.max_peak_dbfs(),
            true_peak_dbfs: self.true_peak_dbtp,
            integrated_lufs: self.loudness.as_ref().and_then(|l| l.integrated_lufs),
        }
    }
}

/// The buffers of reader and writer are smaller than a block of samples
/// (`BLOCK_FRAMES` frames, 32 KiB at the least), so blocks pass straight
/// between the file and the sample buffers; a buffer only gathers the header.
/// A larger one would copy every block twice.
const IO_BUFFER: usize = 8 << 10;

fn open(path: &Path) -> Result<WavReader<BufReader<File>>, ProcessError> {
    let f = File::open(path).map_err(|e| err(path, e))?;
    WavReader::new(BufReader::with_capacity(IO_BUFFER, f)).map_err(|e| err(path, e))
}

pub(super) fn dsp_err(path: &Path, e: dsp::DspError) -> ProcessError {
    err(path, e)
}

/// Pass 1: levels, loudness, trim points; then the pitch of the sustained part.
pub fn analyze(path: &Path, opts: &ProcessOptions) -> Result<Analysis, ProcessError> {
    analyze_keeping(path, opts, false).map(|(a, _)| a)
}

/// [`analyze`], also returning the decoded samples when `keep` is asked and
/// the take is short enough ([`KEEP_MAX_SAMPLES`]), for [`render_with`].
pub fn analyze_keeping(
    path: &Path,
    opts: &ProcessOptions,
    keep: bool,
) -> Result<(Analysis, Option<Vec<f32>>), ProcessError> {
    let mut reader = open(path)?;
    let info = reader.info.clone();
    if info.format().is_none() && opts.output_format.is_none() {
        return Err(err(
            path,
            format!(
                "{}-bit {} is not a format takebox writes",
                info.bits,
                if info.float { "float" } else { "integer" }
            ),
        ));
    }
    let ch = usize::from(info.channels);
    let total = info.frames.saturating_mul(ch as u64);
    let mut analyzer = Analyzer::new(info, opts, path)?;
    let mut kept: Option<Vec<f32>> =
        (keep && total <= KEEP_MAX_SAMPLES).then(|| Vec::with_capacity(total as usize));
    let mut buf = vec![0.0f32; BLOCK_FRAMES * ch];
    loop {
        let block = match kept.as_mut() {
            Some(all) => {
                let at = all.len();
                reader
                    .read_append(all, BLOCK_FRAMES)
                    .map_err(|x| err(path, x))?;
                &all[at..]
            }
            None => {
                let n = reader.read(&mut buf).map_err(|x| err(path, x))?;
                &buf[..n * ch]
            }
        };
        if block.is_empty() {
            break;
        }
        analyzer.feed(block);
    }
    Ok((analyzer.finish(path)?, kept))
}

/// What the loop search found for one take.
#[derive(Debug, Clone)]
pub struct LoopReport {
    /// The loop written (its seam measured after the crossfade, if any), or why none.
    pub found: Result<SampleLoop, NoLoop>,
    /// The naive zero-crossing loop of the same sustained part, for comparison.
    pub naive: Option<SampleLoop>,
    /// Frames of crossfade rendered into the loop's end (0: none).
    pub crossfade_frames: usize,
}

/// The sustain loop of a take, searched in its samples (`samples` if the
/// analysis kept them, else read whole). With a crossfade, the best loop is
/// faded, measured again and judged after, and the faded samples returned to
/// be rendered instead of the input's.
pub fn find_loop(
    input: &Path,
    samples: Option<&[f32]>,
    analysis: &Analysis,
    opts: &ProcessOptions,
    settings: &LoopSettings,
) -> Result<(LoopReport, Option<Vec<f32>>), ProcessError> {
    let read;
    let x = match samples {
        Some(x) => x,
        None => {
            read = read_all(input)?;
            &read
        }
    };
    let (ch, rate) = (
        usize::from(analysis.info.channels),
        analysis.info.sample_rate,
    );
    let hz = analysis.pitch.map(|p| p.hz).or(opts.planned_hz);
    let found = dsp::find_loop(x, ch, rate, hz, settings).map_err(|e| dsp_err(input, e))?;
    let naive = dsp::loops::naive_loop(x, ch, rate, hz, settings).map_err(|e| dsp_err(input, e))?;
    let fade = (settings.crossfade_seconds * f64::from(rate)) as usize;
    let best = match &found {
        Ok(l) | Err(NoLoop::Rough { best: l, .. }) if fade > 0 => *l,
        _ => {
            let report = LoopReport {
                found,
                naive,
                crossfade_frames: 0,
            };
            return Ok((report, None));
        }
    };
    let mut faded = x.to_vec();
    dsp::loops::crossfade_loop(&mut faded, ch, &best, fade).map_err(|e| dsp_err(input, e))?;
    let (s, e) = (best.start as usize, best.end as usize);
    let seam_db = dsp::loops::seam_db(&faded, ch, rate, hz, s, e).map_err(|e| dsp_err(input, e))?;
    let after = SampleLoop { seam_db, ..best };
    let found = if seam_db <= settings.good_seam_db {
        Ok(after)
    } else {
        Err(NoLoop::Rough {
            best: after,
            limit_db: settings.good_seam_db,
        })
    };
    let report = LoopReport {
        found,
        naive,
        crossfade_frames: fade,
    };
    Ok((report, Some(faded)))
}

/// The format and length of a WAV file, from its header.
pub fn wav_info(path: &Path) -> Result<WavInfo, ProcessError> {
    open(path).map(|r| r.info)
}

/// Every block of a WAV file in turn (bounded memory); returns its format.
pub fn for_each_block(path: &Path, mut f: impl FnMut(&[f32])) -> Result<WavInfo, ProcessError> {
    let mut reader = open(path)?;
    let mut buf = vec![0.0f32; BLOCK_FRAMES * usize::from(reader.info.channels)];
    loop {
        let n = reader.read(&mut buf).map_err(|e| err(path, e))?;
        if n == 0 {
            return Ok(reader.info);
        }
        f(&buf[..n * usize::from(reader.info.channels)]);
    }
}

/// Up to `count` frames of a WAV file from `from` on, interleaved.
pub fn read_frames(path: &Path, from: u64, count: u64) -> Result<Vec<f32>, ProcessError> {
    let mut reader = open(path)?;
    reader.seek_frame(from).map_err(|e| err(path, e))?;
    let count = count.min(reader.info.frames.saturating_sub(from));
    let mut out = Vec::with_capacity(count as usize * usize::from(reader.info.channels));
    let mut left = count as usize;
    while left > 0 {
        let n = reader
            .read_append(&mut out, left.min(BLOCK_FRAMES))
            .map_err(|e| err(path, e))?;
        if n == 0 {
            break;
        }
        left -= n;
    }
    Ok(out)
}

/// Every sample of a file, interleaved.
fn read_all(path: &Path) -> Result<Vec<f32>, ProcessError> {
    let mut reader = open(path)?;
    let mut all = Vec::new();
    while reader
        .read_append(&mut all, BLOCK_FRAMES)
        .map_err(|e| err(path, e))?
        > 0
    {}
    Ok(all)
}

/// The analysis pass as a stream: blocks of interleaved frames in order,
/// read from a file ([`analyze`]) or copied out of the capture ring while a
/// take is written, so a take is never read back to be measured.
pub struct Analyzer {
    info: WavInfo,
    peak: PeakMeter,
    rms: RmsMeter,
    trimmer: Trimmer,
    true_peak: Option<TruePeakMeter>,
    loudness: Option<LoudnessMeter>,
    envelope: EnvelopeMeter,
    /// The take's first frames mixed to mono, pre-roll and the tracked
    /// seconds of the note, for the pitch tracker and the hum detector.
    span: PitchWindow,
    preroll_frames: u64,
    planned_hz: Option<f64>,
    player: Player,
    /// The note tracked while the take goes on (its release still being
    /// recorded), as soon as its tracked seconds passed by: (the onset it
    /// was tracked from, the track, the hum). Used when the trimmer keeps
    /// that onset, so the confirmation does not wait for it.
    early: Option<(u64, PitchTrack, Option<Hum>)>,
    /// Frames measured so far.
    frames: u64,
    /// Frames fed but not measured yet: the meters take whole blocks of
    /// [`BLOCK_FRAMES`] (the last may be shorter), however the frames come,
    /// so a take measures the same read from a file or copied out of the
    /// ring in pieces of any size.
    pending: Vec<f32>,
}

impl Analyzer {
    /// `info` describes the frames to come (its `frames` is replaced by the
    /// count fed); `path` names them in errors.
    pub fn new(info: WavInfo, opts: &ProcessOptions, path: &Path) -> Result<Self, ProcessError> {
        let ch = usize::from(info.channels);
        let rate = info.sample_rate;
        let e = |x| dsp_err(path, x);
        let mut trim_settings = opts.trim_settings;
        if let Some(secs) = opts.preroll_seconds {
            trim_settings.preroll_frames = (secs * f64::from(rate)).round() as u64;
        }
        let span_frames = trim_settings.preroll_frames as f64
            + (pitch_track::TRACK_SECONDS + SPAN_SLACK_SECONDS) * f64::from(rate);
        let span_frames = (span_frames as usize).min(dsp::pitch::MAX_SPAN_FRAMES);
        Ok(Analyzer {
            span: PitchWindow::span(ch, 0, span_frames).map_err(e)?,
            preroll_frames: trim_settings.preroll_frames,
            early: None,
            peak: PeakMeter::new(ch, opts.check.clip_ceiling_dbfs).map_err(e)?,
            rms: RmsMeter::new(ch, rate).map_err(e)?,
            trimmer: Trimmer::new(ch, rate, trim_settings).map_err(e)?,
            true_peak: match opts.wants_true_peak() {
                true => Some(TruePeakMeter::new(ch).map_err(e)?),
                false => None,
            },
            loudness: match opts.wants_loudness() && rate >= 8_000 {
                true => Some(LoudnessMeter::new(ch, rate).map_err(e)?),
                false => None,
            },
            envelope: EnvelopeMeter::new(ch, ENVELOPE_COLUMNS).map_err(e)?,
            planned_hz: opts.planned_hz,
            player: opts.player,
            frames: 0,
            pending: Vec::new(),
            info,
        })
    }

    /// The next frames (interleaved, whole frames).
    pub fn feed(&mut self, mut frames: &[f32]) {
        let block = BLOCK_FRAMES * usize::from(self.info.channels);
        while !frames.is_empty() {
            // Whole blocks are measured where they lie; only a block split
            // between two pieces is gathered first.
            if self.pending.is_empty() && frames.len() >= block {
                self.measure(&frames[..block]);
                frames = &frames[block..];
                continue;
            }
            let n = (block - self.pending.len()).min(frames.len());
            self.pending.extend_from_slice(&frames[..n]);
            frames = &frames[n..];
            if self.pending.len() == block {
                let pending = std::mem::take(&mut self.pending);
                self.measure(&pending);
                self.pending = pending;
                self.pending.clear();
            }
        }
    }

    /// One block through every meter.
    fn measure(&mut self, block: &[f32]) {
        let ch = usize::from(self.info.channels);
        let first = self.frames;
        self.peak.feed(block);
        self.rms.feed(block);
        self.trimmer.feed(block);
        self.envelope.feed(block);
        if let Some(m) = self.true_peak.as_mut() {
            m.feed(block);
        }
        if let Some(m) = self.loudness.as_mut() {
            m.feed(block);
        }
        self.span.feed(first, block);
        self.frames += (block.len() / ch) as u64;
        let rate = self.info.sample_rate;
        if self.early.is_none()
            && let Some(onset) = self.trimmer.onset_frame()
            && onset + tracked_frames(rate) <= self.frames.min(self.span.samples().len() as u64)
        {
            let (track, hum) = self.gathered().track(onset, None);
            self.early = Some((onset, track, hum));
        }
    }

    fn gathered(&self) -> Gathered<'_> {
        Gathered {
            span: self.span.samples(),
            preroll_frames: self.preroll_frames,
            planned_hz: self.planned_hz,
            player: self.player,
            rate: self.info.sample_rate,
        }
    }

    /// The analysis. The note is tracked from the frames gathered while
    /// they streamed by; only an onset too late for them (a long silence
    /// first) is read from `path`, a file holding the frames fed.
    pub fn finish(mut self, path: &Path) -> Result<Analysis, ProcessError> {
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() {
            self.measure(&pending);
        }
        let mut info = self.info.clone();
        info.frames = self.frames;
        let trim = self.trimmer.finish();
        // Measured even with the pitch check off: the figure goes into smpl and the report.
        let (track, hum) = match (trim.onset_frame, self.early) {
            (Some(onset), Some((seen, track, hum))) if seen == onset => (Some(track), hum),
            (Some(onset), _) => {
                let end = (onset + tracked_frames(info.sample_rate)).min(info.frames);
                let gathered = self.gathered();
                let (track, hum) = if end <= self.span.samples().len() as u64 {
                    gathered.track(onset, None)
                } else {
                    let note = read_span(path, &info, onset, (end - onset) as usize)?;
                    gathered.track(onset, Some(note.samples()))
                };
                (Some(track), hum)
            }
            (None, _) => (None, None),
        };
        Ok(Analysis {
            info,
            peak: self.peak.finish(),
            true_peak_dbtp: self.true_peak.map(|m| m.finish().max_dbtp()),
            loudness: self.loudness.map(|m| m.finish()),
            rms: self.rms.finish(),
            trim,
            pitch: track.and_then(|t| t.pitch),
            track,
            hum,
            envelope: Some(self.envelope.finish()),
            sample_loop: None,
            loop_fade: None,
        })
    }
}

/// What the pitch tracker and the hum detector look at.
struct Gathered<'a> {
    /// The take's first frames in mono.
    span: &'a [f32],
    preroll_frames: u64,
    planned_hz: Option<f64>,
    player: Player,
    rate: u32,
}

impl Gathered<'_> {
    /// The track from `onset` and the hum before it, from the frames
    /// gathered (or `note`, read back from the file when they fell short).
    fn track(&self, onset: u64, note: Option<&[f32]>) -> (PitchTrack, Option<Hum>) {
        let end = (onset + tracked_frames(self.rate)).min(self.span.len() as u64);
        let note = note.unwrap_or(&self.span[(onset.min(end)) as usize..end as usize]);
        (
            pitch_track::track_note(note, self.rate, self.planned_hz, self.player),
            dsp::detect_hum(
                preroll(self.span, onset, self.preroll_frames, self.rate),
                self.rate,
            ),
        )
    }
}

/// Frames of the note the tracker looks at.
fn tracked_frames(rate: u32) -> u64 {
    (pitch_track::TRACK_SECONDS * f64::from(rate)) as u64
}

/// Seconds gathered beyond the pre-roll and the tracked part (the onset
/// comes a little after the pre-roll).
const SPAN_SLACK_SECONDS: f64 = 0.5;
/// Without a pre-roll, the stretch before the onset ends this long before
/// it (a slow attack starts under the trim threshold).
const PREROLL_GUARD_SECONDS: f64 = 0.05;

/// The stretch before the note for the hum detector: the configured
/// pre-roll (a hum over the trim threshold puts the onset in it), or
/// without one everything up to shortly before the onset.
fn preroll(spanned: &[f32], onset: u64, preroll_frames: u64, rate: u32) -> &[f32] {
    let guard = (PREROLL_GUARD_SECONDS * f64::from(rate)) as u64;
    let end = match preroll_frames {
        0 => onset.saturating_sub(guard),
        n => n,
    };
    &spanned[..(end as usize).min(spanned.len())]
}

/// `len` frames from `start`, mixed to mono, read from the file at `path`.
fn read_span(
    path: &Path,
    info: &WavInfo,
    start: u64,
    len: usize,
) -> Result<PitchWindow, ProcessError> {
    let ch = usize::from(info.channels);
    let mut window = PitchWindow::span(ch, start, len.max(1)).map_err(|e| dsp_err(path, e))?;
    let mut reader = open(path)?;
    reader.seek_frame(start).map_err(|x| err(path, x))?;
    let mut got = 0;
    let mut pos = start;
    let mut wbuf = vec![0.0f32; len.clamp(1, BLOCK_FRAMES) * ch];
    while got < len {
        let n = reader.read(&mut wbuf).map_err(|x| err(path, x))?;
        if n == 0 {
            break;
        }
        window.feed(pos, &wbuf[..n * ch]);
        pos += n as u64;
        got += n;
    }
    Ok(window)
}

/// The check's verdict for an analysed take.
pub fn check(analysis: &Analysis, opts: &ProcessOptions) -> Check {
    let peaks = analysis.peak.peak_dbfs();
    dsp::check_take(
        &CheckInput {
            peak_dbfs: &peaks,
            clipped_samples: analysis.peak.total_over_ceiling(),
            noise_floor_dbfs: analysis.trim.noise_floor_dbfs,
            signal_dbfs: analysis.rms.max_window_rms_dbfs,
            trim: analysis.trim.points,
            pitch: analysis.pitch,
            planned_hz: opts.planned_hz,
            track: analysis.track,
            hum: analysis.hum,
        },
        &opts.check,
    )
}

/// The protocol's form of a check.
pub fn to_protocol(check: &Check) -> TakeCheck {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    TakeCheck {
        verdict: check.verdict,
        issues: check.issues.clone(),
        measured_hz: check.measured_hz.map(|x| (x * 1000.0).round() / 1000.0),
        cents: check.cents.map(round),
        noise_floor_dbfs: check.noise_floor_dbfs.filter(|x| x.is_finite()).map(round),
        snr_db: check.snr_db.filter(|x| x.is_finite()).map(round),
        clipped_samples: check.clipped_samples,
        target_cents: Some(check.target_cents).filter(|c| *c != 0.0).map(round),
        pitch_method: check.track.filter(|t| t.pitch.is_some()).map(|t| t.method),
        settled_ms: check
            .track
            .filter(|t| t.method == dsp::PitchMethod::Settled && t.pitch.is_some())
            .map(|t| t.settled_ms.round()),
        attack_cents: check.track.and_then(|t| t.attack_cents).map(round),
        vibrato_cents: check
            .track
            .and_then(|t| t.vibrato)
            .map(|v| round(v.depth_cents)),
        vibrato_hz: check
            .track
            .and_then(|t| t.vibrato)
            .map(|v| round(v.rate_hz)),
        no_pitch: check.track.and_then(|t| t.no_pitch).map(|r| r.reason()),
        below_key: check
            .track
            .filter(|t| t.pitch.is_some())
            .and_then(|t| t.below_key)
            .map(|s| s.k),
        hum_hz: check.hum.map(|h| h.mains_hz),
        hum_dbfs: check.hum.map(|h| round(h.dbfs)),
        notes: check.notes.clone(),
    }
}

/// The gain to apply: the override, the normalization, or none.
pub fn decide_gain(analysis: &Analysis, opts: &ProcessOptions) -> GainDecision {
    if let Some(g) = opts.gain_override {
        return g;
    }
    match &opts.normalize {
        Some(n) => dsp::take_gain(&analysis.levels(), n),
        None => GainDecision {
            gain_db: 0.0,
            limited_by_peak: false,
        },
    }
}

/// The frames kept: the trim points when trimming found sound, else everything.
pub fn kept_range(analysis: &Analysis, opts: &ProcessOptions) -> TrimPoints {
    match (opts.trim, analysis.trim.points) {
        (true, Some(p)) => p,
        _ => TrimPoints {
            start_frame: 0,
            end_frame: analysis.info.frames,
        },
    }
}

/// What the render pass wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub frames: u64,
    pub kept: TrimPoints,
    /// Hex SHA-256 of the file; empty when [`RenderTo::checksum`] was off.
    pub sha256: String,
    pub format: SampleFormat,
    /// Peak per channel of the written audio (linear).
    pub peaks: Vec<f32>,
}

/// The chunks [`render`] writes between `fmt ` and `data` (`smpl`, the
/// input's other chunks if carried, `bext`, `iXML`), complete and padded, for
/// a take of `info` whose measured pitch is `pitch`; `path` names the file in
/// errors.
pub fn metadata_chunks(
    info: &WavInfo,
    pitch: Option<PitchEstimate>,
    kept: TrimPoints,
    opts: &ProcessOptions,
    path: &Path,
) -> Result<Vec<u8>, ProcessError> {
    metadata_chunks_looped(info, pitch, None, kept, opts, path)
}

/// [`metadata_chunks`] with a sustain loop (in the input's frames) in `smpl`;
/// a loop outside the kept frames is left out.
pub fn metadata_chunks_looped(
    info: &WavInfo,
    pitch: Option<PitchEstimate>,
    sample_loop: Option<SampleLoop>,
    kept: TrimPoints,
    opts: &ProcessOptions,
    path: &Path,
) -> Result<Vec<u8>, ProcessError> {
    let rate = info.sample_rate;
    let mut chunks = Vec::new();
    let smpl_loop = sample_loop.and_then(|l| smpl_loop_in(l, kept));
    let smpl = pitch
        .and_then(|p| SmplPitch::from_hz(p.hz))
        .or_else(|| opts.planned_midi.map(|m| SmplPitch::from_cents(m, 0.0)))
        // A loop needs the chunk; middle C is RIFF's usual unity note.
        .or_else(|| smpl_loop.map(|_| SmplPitch::from_cents(60, 0.0)));
    if let Some(pitch) = smpl {
        let loops: Vec<_> = smpl_loop.into_iter().collect();
        chunks.extend(dsp::smpl_chunk_looped(rate, pitch, &loops).map_err(|e| dsp_err(path, e))?);
    }
    if opts.carry_chunks {
        for (id, payload) in &info.other_chunks {
            let replaced = (id == b"smpl" && smpl.is_some())
                || (opts.metadata.is_some() && (id == b"bext" || id == b"iXML"));
            if !replaced {
                chunks.extend(dsp::chunks::riff_chunk(*id, payload).map_err(|e| dsp_err(path, e))?);
            }
        }
    }
    let Some(meta) = &opts.metadata else {
        return Ok(chunks);
    };
    let start = meta
        .recorded_at
        .map(|t| t + std::time::Duration::from_secs_f64(kept.start_frame as f64 / f64::from(rate)));
    let (date, time, since_midnight) = bext_origination(start, rate);
    let description = format!(
        "{} {} {} {} take {}",
        meta.instrument, meta.note_name, meta.articulation, meta.dynamic, meta.take_id
    );
    let fmt = opts.output_format.or(info.format()).unwrap_or_default();
    let history = coding_history(rate, fmt, info.channels);
    chunks.extend(
        dsp::bext_chunk(&BextInfo {
            description: description.trim(),
            originator: "takebox",
            originator_reference: &meta.take_id,
            origination_date: &date,
            origination_time: &time,
            time_reference: since_midnight,
            umid: None,
            loudness: None,
            coding_history: &history,
        })
        .map_err(|e| dsp_err(path, e))?,
    );
    chunks.extend(
        dsp::ixml_chunk(&IxmlInfo {
            project: &meta.session,
            take: &meta.take_id,
            note: &description,
            session: &meta.session,
            instrument: &meta.instrument,
            note_name: &meta.note_name,
            articulation: &meta.articulation,
            dynamic: &meta.dynamic,
            round_robin: meta.round_robin,
        })
        .map_err(|e| dsp_err(path, e))?,
    );
    Ok(chunks)
}

/// A loop in the input's frames as a `smpl` loop of the output, which
/// starts at the first kept frame; `None` if it is not all kept.
fn smpl_loop_in(l: SampleLoop, kept: TrimPoints) -> Option<SmplLoop> {
    if l.start < kept.start_frame || l.end > kept.end_frame || l.end <= l.start {
        return None;
    }
    Some(SmplLoop {
        start: u32::try_from(l.start - kept.start_frame).ok()?,
        last: u32::try_from(l.last_frame() - kept.start_frame).ok()?,
    })
}

/// The bext origination date and time of a take's first kept frame, and its
/// time reference: samples since midnight of the capture clock.
fn bext_origination(start: Option<SystemTime>, rate: u32) -> (String, String, u64) {
    match start.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
        Some(d) => {
            let stamp = humantime::format_rfc3339_seconds(
                UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs()),
            )
            .to_string();
            let secs = d.as_secs_f64() % 86_400.0;
            (
                stamp[0..10].to_string(),
                stamp[11..19].to_string(),
                (secs * f64::from(rate)) as u64,
            )
        }
        None => (String::new(), String::new(), 0),
    }
}

/// The bext coding history line (EBU R 98) of a file takebox wrote.
fn coding_history(rate: u32, format: SampleFormat, channels: u16) -> String {
    format!(
        "A=PCM,F={rate},W={},M={},T=takebox {}\r\n",
        format.bits(),
        match channels {
            1 => "mono".to_string(),
            2 => "stereo".to_string(),
            n => format!("{n}ch"),
        },
        env!("CARGO_PKG_VERSION")
    )
}

/// Pass 2: write the kept frames with the gain, fades and metadata to `output`
/// (fsynced). The caller renames it into place.
pub fn render(
    input: &Path,
    output: &Path,
    analysis: &Analysis,
    gain: GainDecision,
    opts: &ProcessOptions,
) -> Result<Rendered, ProcessError> {
    let to = RenderTo {
        path: output,
        durability: Durability::Fsync,
        checksum: true,
    };
    render_with(input, None, &to, analysis, gain, opts)
}

/// Where and how [`render_with`] writes.
#[derive(Debug, Clone, Copy)]
pub struct RenderTo<'a> {
    pub path: &'a Path,
    pub durability: Durability,
    /// Compute the file's SHA-256 while writing it ([`Rendered::sha256`]
    /// is empty without).
    pub checksum: bool,
}

/// Whether [`render_with`] makes the output durable itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the output before returning.
    Fsync,
    /// The caller makes it durable (one `syncfs` for a whole batch) before
    /// renaming it into place.
    Deferred,
}

/// [`render`], from the samples [`analyze_keeping`] kept when there are
/// some (else the input file is read again), written as `to` says.
pub fn render_with(
    input: &Path,
    samples: Option<&[f32]>,
    to: &RenderTo,
    analysis: &Analysis,
    gain: GainDecision,
    opts: &ProcessOptions,
) -> Result<Rendered, ProcessError> {
    let output = to.path;
    let info = &analysis.info;
    let ch = usize::from(info.channels);
    let format = opts
        .output_format
        .or(info.format())
        .ok_or_else(|| err(input, "no output format for this input"))?;
    let kept = kept_range(analysis, opts);
    let trimmed = kept.start_frame > 0 || kept.end_frame < info.frames;
    let settings = render_settings(analysis, gain, opts, trimmed);
    let renderer =
        Renderer::new(ch, info.sample_rate, kept, &settings).map_err(|e| dsp_err(input, e))?;
    let frames = renderer.output_frames();
    let chunks = metadata_chunks_looped(
        info,
        analysis.pitch,
        analysis.sample_loop,
        kept,
        opts,
        input,
    )?;
    let mut writer = open_writer(to, info, format, frames, &chunks)?;
    let mut source = RenderSource::open(input, samples, kept.start_frame, ch)?;
    // Values already on the output grid stay exact; anything changed is dithered.
    let changed = gain.gain_db != 0.0 || opts.remove_dc || trimmed || info.format() != Some(format);
    let mut encoder = BlockEncoder::new(format, changed, frames);
    let mut out = Vec::with_capacity(BLOCK_FRAMES * ch);
    let mut peaks = vec![0.0f32; ch];
    let mut pos = kept.start_frame;
    let mut faded = Vec::new();
    while pos < kept.end_frame {
        let mut block = source.block(pos, ch)?;
        if block.is_empty() {
            break;
        }
        let touched = |f: &&FadedFrames| !f.within(pos, (block.len() / ch) as u64, ch).is_empty();
        if let Some(fade) = analysis.loop_fade.as_ref().filter(touched) {
            faded.clear();
            faded.extend_from_slice(block);
            fade.overlay(pos, ch, &mut faded);
            block = &faded;
        }
        out.clear();
        renderer.render(pos, block, &mut out);
        pos += (block.len() / ch) as u64;
        dsp::channel_peaks(&out, ch, &mut peaks);
        encoder
            .write(&out, &mut writer)
            .map_err(|e| err(output, e))?;
    }
    let sha256 = finish_file(writer, output, to.durability)?;
    Ok(Rendered {
        frames,
        kept,
        sha256,
        format,
        peaks,
    })
}

/// The gain, DC removal and fades a take is rendered with; fades only where
/// the take was cut, so an untrimmed take keeps its first and last samples.
fn render_settings(
    analysis: &Analysis,
    gain: GainDecision,
    opts: &ProcessOptions,
    trimmed: bool,
) -> RenderSettings {
    RenderSettings {
        gain_db: gain.gain_db,
        dc_offset: opts.remove_dc.then(|| analysis.rms.dc.clone()),
        fade_in_ms: if trimmed { opts.fade_in_ms } else { 0.0 },
        fade_out_ms: if trimmed { opts.fade_out_ms } else { 0.0 },
        fade_shape: FadeShape::RaisedCosine,
    }
}

type RenderWriter = WavWriter<BufWriter<File>>;

fn open_writer(
    to: &RenderTo,
    info: &WavInfo,
    format: SampleFormat,
    frames: u64,
    chunks: &[u8],
) -> Result<RenderWriter, ProcessError> {
    let file = File::create(to.path).map_err(|e| err(to.path, e))?;
    let spec = WavSpec {
        channels: info.channels,
        sample_rate: info.sample_rate,
        format,
    };
    let buffered = BufWriter::with_capacity(IO_BUFFER, file);
    if to.checksum {
        WavWriter::new(buffered, spec, frames, chunks)
    } else {
        WavWriter::new_unhashed(buffered, spec, frames, chunks)
    }
    .map_err(|e| err(to.path, e))
}

/// Where a render's samples come from: the input file read again, or the
/// samples the analysis kept in memory.
enum RenderSource<'a> {
    File {
        path: &'a Path,
        reader: WavReader<BufReader<File>>,
        buf: Vec<f32>,
    },
    Memory(&'a [f32]),
}

impl<'a> RenderSource<'a> {
    fn open(
        input: &'a Path,
        samples: Option<&'a [f32]>,
        start_frame: u64,
        ch: usize,
    ) -> Result<Self, ProcessError> {
        if let Some(all) = samples {
            return Ok(RenderSource::Memory(all));
        }
        let mut reader = open(input)?;
        reader.seek_frame(start_frame).map_err(|e| err(input, e))?;
        Ok(RenderSource::File {
            path: input,
            reader,
            buf: vec![0.0f32; BLOCK_FRAMES * ch],
        })
    }

    /// The next block from frame `pos` on (the file reader is already there);
    /// empty at the end.
    fn block(&mut self, pos: u64, ch: usize) -> Result<&[f32], ProcessError> {
        match self {
            RenderSource::File { path, reader, buf } => {
                let n = reader.read(buf).map_err(|e| err(path, e))?;
                Ok(&buf[..n * ch])
            }
            RenderSource::Memory(all) => {
                let from = (pos as usize * ch).min(all.len());
                Ok(&all[from..(from + BLOCK_FRAMES * ch).min(all.len())])
            }
        }
    }
}

/// Turns rendered blocks into the output's samples: changed 16-bit audio is
/// dithered; 24 bits needs no dither (its noise floor is under any
/// microphone's), and unchanged samples are already on the grid, so the
/// writer rounds those.
struct BlockEncoder {
    dither_16: bool,
    dither: Tpdf,
    ints16: Vec<i16>,
    bytes: Vec<u8>,
}

impl BlockEncoder {
    fn new(format: SampleFormat, changed: bool, frames: u64) -> Self {
        BlockEncoder {
            dither_16: format == SampleFormat::S16 && changed,
            dither: Tpdf::new(0x7a6b_0001 ^ frames),
            ints16: Vec::new(),
            bytes: Vec::new(),
        }
    }

    fn write(&mut self, out: &[f32], writer: &mut RenderWriter) -> std::io::Result<()> {
        if !self.dither_16 {
            return writer.write(out);
        }
        self.ints16.clear();
        dsp::quantize_i16(out, &mut self.dither, &mut self.ints16);
        // Sized once for a whole block (no clear: refilling it is a memset).
        self.bytes.resize(self.ints16.len() * 2, 0);
        for (b, v) in self.bytes.chunks_exact_mut(2).zip(&self.ints16) {
            b.copy_from_slice(&v.to_le_bytes());
        }
        writer.write_encoded(&self.bytes)
    }
}

/// Flush the writer and make the file durable as asked; the file's SHA-256
/// (empty when it was not computed).
fn finish_file(
    writer: RenderWriter,
    output: &Path,
    durability: Durability,
) -> Result<String, ProcessError> {
    let (buffered, sha256) = writer.finish().map_err(|e| err(output, e))?;
    let file = buffered.into_inner().map_err(|e| err(output, e.error()))?;
    match durability {
        Durability::Fsync => file
            .sync_all()
            .map_err(|e| err(output, format!("fsync: {e}")))?,
        Durability::Deferred => crate::durable::start_writeback(&file),
    }
    Ok(sha256)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NormalizeTo;

    #[test]
    fn faded_frames_replace_only_their_own_in_any_block() {
        // Stereo frames 10..13 faded; blocks of 4 frames from 8 and from 12.
        let fade = FadedFrames {
            start_frame: 10,
            samples: vec![1.0, -1.0, 2.0, -2.0, 3.0, -3.0],
        };
        let mut a = vec![0.0f32; 8];
        fade.overlay(8, 2, &mut a);
        assert_eq!(a, [0.0, 0.0, 0.0, 0.0, 1.0, -1.0, 2.0, -2.0]);
        let mut b = vec![0.0f32; 8];
        fade.overlay(12, 2, &mut b);
        assert_eq!(b, [3.0, -3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let mut c = vec![0.0f32; 8];
        fade.overlay(13, 2, &mut c);
        assert_eq!(c, [0.0; 8]);
        assert!(fade.within(0, 10, 2).is_empty());
    }

    /// Near silence, then a decaying two-channel note that starts inside a
    /// piece, as the ring hands it out.
    fn take(frames: usize) -> Vec<f32> {
        (0..frames * 2)
            .map(|i| {
                let n = (i / 2) as f64;
                let v = if n < 7_000.0 {
                    ((i * 7919) % 13) as f64 / 1e5
                } else {
                    let t = (n - 7_000.0) / 48_000.0;
                    0.6 * (2.0 * std::f64::consts::PI * 330.0 * t).sin() * (-t * 2.0).exp()
                };
                ((v * 8_388_608.0).round() / 8_388_608.0) as f32
            })
            .collect()
    }

    const STEREO_S24: WavSpec = WavSpec {
        channels: 2,
        sample_rate: 48_000,
        format: SampleFormat::S24,
    };

    /// A stereo 24-bit 48 kHz WAV of `frames` frames of [`take`] at
    /// `dir/t.wav`: its spec, path and samples.
    fn take_file(dir: &Path, frames: u64) -> (WavSpec, PathBuf, Vec<f32>) {
        let path = dir.join("t.wav");
        let spec = STEREO_S24;
        let samples = take(frames as usize);
        let mut w = WavWriter::new(File::create(&path).unwrap(), spec, frames, &[]).unwrap();
        w.write(&samples).unwrap();
        w.finish().unwrap();
        (spec, path, samples)
    }

    #[test]
    fn a_take_fed_in_pieces_of_any_size_measures_as_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let (spec, path, samples) = take_file(dir.path(), 70_001);
        for to in [
            NormalizeTo::Peak,
            NormalizeTo::TruePeak,
            NormalizeTo::Loudness,
        ] {
            for floor in [false, true] {
                let pp = PostProcessing {
                    normalize_to: to,
                    trim_from_noise_floor: floor,
                    ..PostProcessing::default()
                };
                let mut opts = ProcessOptions::from_config(&pp, 4_800);
                opts.planned_hz = Some(330.0);
                let from_file = analyze(&path, &opts).unwrap();
                assert!(from_file.pitch.is_some());
                let mut analyzer = Analyzer::new(WavInfo::of(spec, 0), &opts, &path).unwrap();
                // Pieces of 1 frame, odd sizes, and more than a block.
                let mut rest = &samples[..];
                for frames in [1usize, 777, 5_000, 20_001, 3, 16_384].iter().cycle() {
                    let n = (frames * 2).min(rest.len());
                    analyzer.feed(&rest[..n]);
                    rest = &rest[n..];
                    if rest.is_empty() {
                        break;
                    }
                }
                // 1.46 s: too short to track before the end.
                assert!(analyzer.early.is_none());
                let streamed = analyzer.finish(&path).unwrap();
                assert_eq!(
                    format!("{streamed:?}"),
                    format!("{from_file:?}"),
                    "{to:?}, noise floor {floor}"
                );
            }
        }
    }

    #[test]
    fn a_long_note_is_tracked_while_it_is_recorded_and_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wav");
        let spec = STEREO_S24;
        // 3.5 s: the onset at 7,000 plus the 2 s tracked pass by before the end.
        let samples = take(168_000);
        let mut opts = ProcessOptions::from_config(&PostProcessing::default(), 4_800);
        opts.planned_hz = Some(330.0);
        let mut analyzer = Analyzer::new(WavInfo::of(spec, 0), &opts, &path).unwrap();
        let (early, rest) = samples.split_at(2 * 120_000);
        analyzer.feed(early);
        let (onset, track, _) = analyzer.early.expect("tracked before the end");
        analyzer.feed(rest);
        let a = analyzer.finish(&path).unwrap();
        assert_eq!(a.trim.onset_frame, Some(onset));
        assert_eq!(a.track, Some(track));
        // The same as tracking the gathered note at the end.
        let mono: Vec<f32> = samples.chunks(2).map(|f| (f[0] + f[1]) / 2.0).collect();
        let o = onset as usize;
        let late = dsp::track_pitch(&mono[o..o + 96_000], 48_000, Some(330.0));
        assert_eq!(a.track, Some(late));
        assert!(dsp::cents_between(a.pitch.unwrap().hz, 330.0).abs() < 0.5);
    }

    #[test]
    fn a_16_foot_organ_take_reads_at_its_key_when_midi_played_it() {
        // A3 (220 Hz) +4 cents with a 16' twice as loud as its 8' and a 4':
        // the waveform repeats at 110 Hz.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("organ.wav");
        let key = 220.0 * 2f64.powf(4.0 / 1200.0);
        let frames = 3 * 48_000;
        let samples: Vec<f32> = (0..frames * 2)
            .map(|i| {
                let n = (i / 2) as f64;
                if n < 4_800.0 {
                    return 0.0;
                }
                let t = (n - 4_800.0) / 48_000.0;
                let w = |r: f64, a: f64| a * (2.0 * std::f64::consts::PI * r * key * t).sin();
                (0.3 * (w(0.5, 1.0) + w(1.0, 0.5) + w(2.0, 0.3)) * (t / 0.01).min(1.0)) as f32
            })
            .collect();
        let mut w =
            WavWriter::new(File::create(&path).unwrap(), STEREO_S24, frames as u64, &[]).unwrap();
        w.write(&samples).unwrap();
        w.finish().unwrap();
        let mut opts = ProcessOptions::from_config(&PostProcessing::default(), 4_800);
        opts.planned_hz = Some(220.0);
        opts.planned_midi = Some(57);
        // Live: it is what A2 played for A3 would be.
        let live = to_protocol(&check(&analyze(&path, &opts).unwrap(), &opts));
        assert_eq!(live.verdict, dsp::Verdict::NoPitch, "{live:?}");
        assert!(live.no_pitch.unwrap().contains("an octave below"));
        // MIDI: the synth played A3; its pitch and smpl unity note are A3's.
        opts.player = Player::Midi;
        let a = analyze(&path, &opts).unwrap();
        let c = to_protocol(&check(&a, &opts));
        assert_eq!(c.verdict, dsp::Verdict::Ok, "{c:?}");
        assert_eq!(c.below_key, Some(2));
        assert!((c.cents.unwrap() - 4.0).abs() < 0.5, "{c:?}");
        assert!(
            c.notes
                .iter()
                .any(|n| n.starts_with("sounds an octave below its key"))
        );
        let smpl = SmplPitch::from_hz(a.pitch.unwrap().hz).unwrap();
        assert_eq!(smpl.unity_note, 57);
    }
}
