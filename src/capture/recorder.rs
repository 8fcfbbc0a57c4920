//! The recorder: turns take commands into delivered WAV files, exactly once per
//! take id, and reports its state.

use super::engine::{CaptureEngine, CaptureShared};
use super::naming::take_path;
use super::process::{self, ProcessError, ProcessOptions, Rendered, TakeMetadata};
use super::share::Share;
use super::spool::Spool;
use super::take::{self, RecordOptions, TakeError, TakeSpan};
use super::untouched;
use crate::config::Config;
use crate::durable;
use crate::http::ApiError;
use crate::notes::Note;
use crate::protocol::{
    Confirmation, DeviceState, ErrorKind, InProgress, Processing, RecorderStatus, ShareStatus,
    TakeCheck, TakeCommand, TakeReply, TakeState, Timestamp, peak_to_dbfs,
};
use crate::wav::WavSpec;
use hyper::StatusCode;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

pub struct Recorder {
    config: Config,
    engine: CaptureEngine,
    spool: Spool,
    share: Share,
    /// The take being recorded, if any: one at a time.
    active: Mutex<Option<String>>,
    /// Serializes copies to the share (a take's own and the background retry).
    delivering: Mutex<()>,
    cancel: AtomicBool,
}

/// Clears the active slot however the take ends.
struct ActiveGuard<'a>(&'a Mutex<Option<String>>);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut a) = self.0.lock() {
            *a = None;
        }
    }
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn start_error(message: String) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::StartOutOfRange,
        message,
    );
    e.body.field = Some("start_at".into());
    e
}

impl Recorder {
    pub fn start(config: Config) -> std::io::Result<Recorder> {
        let c = &config.capture;
        let spool = Spool::open(&c.spool_path)?;
        let share = Share::new(&c.share_path, &c.share_marker);
        let retain = c.frames(c.pre_roll_seconds + c.late_start_seconds + 1.0);
        let engine = CaptureEngine::start(c.clone(), retain)?;
        Ok(Recorder {
            config,
            engine,
            spool,
            share,
            active: Mutex::new(None),
            delivering: Mutex::new(()),
            cancel: AtomicBool::new(false),
        })
    }

    pub fn capture(&self) -> &Arc<CaptureShared> {
        self.engine.shared()
    }

    /// Abandon a take still recording (the daemon is stopping).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Release);
    }

    pub fn lookup(&self, take_id: &str) -> Option<TakeReply> {
        crate::protocol::check_name("take_id", take_id).ok()?;
        if self.active.lock().ok()?.as_deref() == Some(take_id) {
            return Some(TakeReply::Pending(InProgress {
                take_id: take_id.to_string(),
                state: TakeState::InProgress,
            }));
        }
        self.spool
            .load(take_id)
            .map(|c| TakeReply::Done(Box::new(c)))
    }

    /// Check a command against this recorder's limits and place it on the timeline.
    fn plan(&self, cmd: &TakeCommand) -> Result<(TakeSpan, String), ApiError> {
        let c = &self.config.capture;
        let note = Note::parse(&cmd.note, self.config.notes.middle_c)
            .map_err(|e| ApiError::bad_field("note", e.to_string()))?;
        if cmd.duration > c.max_take_seconds {
            return Err(ApiError::bad_field(
                "duration",
                format!(
                    "longer than this recorder's max_take_seconds ({})",
                    c.max_take_seconds
                ),
            ));
        }
        let shared = self.capture();
        if shared.state() != DeviceState::Running {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::DeviceUnavailable,
                format!(
                    "capture device is not running: {}",
                    shared.error().unwrap_or_else(|| "still opening".into())
                ),
            ));
        }
        let now = SystemTime::now();
        let at = cmd.start_at.map(|t| t.0).unwrap_or(now);
        if let Ok(ahead) = at.duration_since(now)
            && ahead.as_secs_f64() > c.max_start_ahead_seconds
        {
            return Err(start_error(format!(
                "start_at lies {:.1} s ahead; this recorder accepts at most {} s",
                ahead.as_secs_f64(),
                c.max_start_ahead_seconds
            )));
        }
        let ring = &shared.ring;
        let note_start = ring.frame_at(unix_ns(at), c.sample_rate).ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::DeviceUnavailable,
                "capture clock not established yet",
            )
        })?;
        let oldest = ring.oldest_readable() as i64;
        if note_start < oldest {
            let late = now.duration_since(at).unwrap_or_default();
            return Err(start_error(format!(
                "start_at lies {:.1} s in the past; this recorder keeps {} s of late start",
                late.as_secs_f64(),
                c.late_start_seconds
            )));
        }
        let note_start = note_start as u64;
        // Pre-roll reaches back at most to the oldest safe frame or the last discontinuity.
        let first = note_start
            .saturating_sub(c.frames(c.pre_roll_seconds))
            .max(oldest as u64)
            .max(ring.last_gap_at_or_before(note_start).unwrap_or(0));
        let end = note_start + c.frames(cmd.duration + c.release_tail_seconds).max(1);
        let name = note.name(self.config.notes.middle_c);
        Ok((
            TakeSpan {
                first,
                note_start,
                end,
            },
            take_path(cmd, &name, &self.config.file_naming),
        ))
    }

    /// Record a take, or answer from its record if this id was seen before.
    pub async fn take(self: &Arc<Self>, cmd: TakeCommand) -> Result<TakeReply, ApiError> {
        // Before anything touches the spool: the take id becomes a file name there.
        cmd.validate()?;
        {
            let mut active = self.active.lock().expect("active lock");
            if active.as_deref() == Some(cmd.take_id.as_str()) {
                return Ok(TakeReply::Pending(InProgress {
                    take_id: cmd.take_id,
                    state: TakeState::InProgress,
                }));
            }
            if let Some(done) = self.spool.load(&cmd.take_id) {
                return Ok(TakeReply::Done(Box::new(done)));
            }
            if let Some(other) = active.as_deref() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ErrorKind::Busy,
                    format!("take {other:?} is recording; one take at a time"),
                ));
            }
            *active = Some(cmd.take_id.clone());
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = ActiveGuard(&this.active);
            let (span, rel) = this.plan(&cmd)?;
            this.record_and_deliver(&cmd, span, rel)
        })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorKind::Internal,
                e.to_string(),
            )
        })?
    }

    fn record_and_deliver(
        &self,
        cmd: &TakeCommand,
        span: TakeSpan,
        rel: String,
    ) -> Result<TakeReply, ApiError> {
        let c = &self.config.capture;
        let shared = self.capture();
        let wav = self.spool.wav_path(&cmd.take_id);
        let raw = self.spool.raw_path(&cmd.take_id);
        let xruns_before = shared.xruns();
        let recorded_at = || {
            shared
                .ring
                .time_of(span.first, c.sample_rate)
                .map(|ns| Timestamp(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)))
                .unwrap_or_else(Timestamp::now)
        };
        // A take processing will not change is recorded with room for its
        // final header and becomes the spool file as it is (see `untouched`).
        let mut opts = self.process_options(cmd, span, recorded_at());
        let reserved = if untouched::applies(&opts, c.sample_format) {
            let spec = WavSpec {
                channels: c.channels,
                sample_rate: c.sample_rate,
                format: c.sample_format,
            };
            untouched::reserve(&raw, spec, &opts).unwrap_or_else(|e| {
                log::warn!(target: "takebox::capture", "take {}: {e}; rendering it instead", cmd.take_id);
                None
            })
        } else {
            None
        };
        log::info!(target: "takebox::capture",
            "take {}: recording {} frames ({} pre-roll) to {rel}", cmd.take_id, span.frames(), span.pre_roll());
        let record_opts = RecordOptions {
            extra_chunks: reserved.as_deref().unwrap_or_default(),
            // The raw file is read once more and replaced (or finished in place).
            finished: false,
        };
        let result = take::record_with(
            shared,
            span,
            c.sample_format,
            &raw,
            &|| self.cancel.load(Ordering::Acquire),
            record_opts,
        );
        let recorded_at = recorded_at();
        if let Some(meta) = opts.metadata.as_mut() {
            meta.recorded_at = Some(recorded_at.0);
        }
        let mut conf = Confirmation {
            take_id: cmd.take_id.clone(),
            session_id: cmd.session_id.clone(),
            state: TakeState::Spooled,
            path: rel,
            frames: span.frames(),
            sample_rate: c.sample_rate,
            channels: c.channels,
            format: c.sample_format,
            peak_dbfs: Vec::new(),
            sha256: String::new(),
            recorded_at,
            pre_roll_frames: span.pre_roll(),
            frames_lost: 0,
            xruns: shared.xruns() - xruns_before,
            error: None,
            check: None,
            processing: None,
        };
        let result = result.and_then(|_| {
            self.process(&opts, &raw, &wav, reserved.as_ref().map(Vec::len))
                .map_err(|e| TakeError::Write {
                    path: e.file.display().to_string(),
                    what: e.what,
                })
        });
        let _ = std::fs::remove_file(&raw);
        match result {
            Ok((rendered, check, processing)) => {
                conf.frames = rendered.frames;
                conf.pre_roll_frames = span.pre_roll().saturating_sub(rendered.kept.start_frame);
                conf.peak_dbfs = rendered.peaks.iter().map(|&p| peak_to_dbfs(p)).collect();
                conf.sha256 = rendered.sha256;
                conf.check = Some(check);
                conf.processing = Some(processing);
            }
            Err(TakeError::Cancelled) => {
                let _ = std::fs::remove_file(&wav);
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorKind::DeviceUnavailable,
                    "the recorder is shutting down; send the take again",
                ));
            }
            Err(e) => {
                log::error!(target: "takebox::capture", "take {} failed: {e}", cmd.take_id);
                let _ = std::fs::remove_file(&wav);
                if let TakeError::FramesLost { frames, .. } = e {
                    conf.frames_lost = frames;
                }
                conf.state = TakeState::Failed;
                conf.error = Some(e.to_string());
            }
        }
        // The record is the commit point: without it the take did not happen.
        self.spool.save(&conf).map_err(|e| {
            let _ = std::fs::remove_file(&wav);
            ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                ErrorKind::StorageFailed,
                format!("take {} could not be stored: {e}", cmd.take_id),
            )
        })?;
        if conf.state == TakeState::Spooled {
            if let Some(delivered) = self.deliver(&cmd.take_id) {
                conf = delivered;
            } else {
                conf = self.spool.load(&cmd.take_id).unwrap_or(conf);
            }
        }
        log::info!(target: "takebox::capture", "take {}: {:?} {}", conf.take_id, conf.state, conf.path);
        Ok(TakeReply::Done(Box::new(conf)))
    }

    /// What processing does to this take: the configured post-processing,
    /// the planned note, and the metadata (`recorded_at` as known now).
    fn process_options(
        &self,
        cmd: &TakeCommand,
        span: TakeSpan,
        recorded_at: Timestamp,
    ) -> ProcessOptions {
        let middle_c = self.config.notes.middle_c;
        let note = Note::parse(&cmd.note, middle_c).ok();
        let mut opts = ProcessOptions::from_config(&self.config.post_processing, span.pre_roll());
        opts.planned_hz = (cmd.pitch_check != Some(false)).then_some(cmd.frequency);
        opts.planned_midi = note.map(|n| n.midi());
        opts.metadata = Some(TakeMetadata {
            session: cmd.session_id.clone(),
            instrument: cmd.instrument.clone(),
            note_name: note
                .map(|n| n.name(middle_c))
                .unwrap_or_else(|| cmd.note.clone()),
            articulation: cmd.articulation.clone(),
            dynamic: cmd.dynamic.clone().unwrap_or_default(),
            round_robin: cmd.round_robin.unwrap_or(1),
            take_id: cmd.take_id.clone(),
            recorded_at: Some(recorded_at.0),
        });
        opts
    }

    /// Trim, normalize and check the raw recording into the spool WAV.
    /// `untouched`: the raw file was recorded with room for the final header
    /// (this many bytes); if processing leaves the audio as it is, the raw
    /// file is finished in place and becomes the spool WAV.
    fn process(
        &self,
        opts: &ProcessOptions,
        raw: &Path,
        wav: &Path,
        untouched: Option<usize>,
    ) -> Result<(Rendered, TakeCheck, Processing), ProcessError> {
        let analysis = process::analyze(raw, opts)?;
        let check = process::check(&analysis, opts);
        let gain = process::decide_gain(&analysis, opts);
        let finished = match untouched {
            Some(reserved) => untouched::finish(raw, &analysis, gain, opts, reserved)?,
            None => None,
        };
        let rendered = match finished {
            Some(rendered) => {
                durable::publish(raw, wav).map_err(|e| ProcessError {
                    file: wav.to_path_buf(),
                    what: e.to_string(),
                })?;
                rendered
            }
            None => {
                let tmp = durable::temp_path_for(wav);
                let rendered =
                    process::render(raw, &tmp, &analysis, gain, opts).inspect_err(|_| {
                        let _ = std::fs::remove_file(&tmp);
                    })?;
                durable::publish(&tmp, wav).map_err(|e| ProcessError {
                    file: wav.to_path_buf(),
                    what: e.to_string(),
                })?;
                rendered
            }
        };
        let processing = Processing {
            kept_from_frame: rendered.kept.start_frame,
            kept_to_frame: rendered.kept.end_frame,
            gain_db: (gain.gain_db * 100.0).round() / 100.0,
            limited_by_peak: gain.limited_by_peak,
            integrated_lufs: analysis.loudness.as_ref().and_then(|l| l.integrated_lufs),
            true_peak_dbtp: analysis.true_peak_dbtp,
        };
        Ok((rendered, process::to_protocol(&check), processing))
    }

    /// Try to move one spooled take onto the share. Returns its new record on success.
    fn deliver(&self, take_id: &str) -> Option<Confirmation> {
        let _one_at_a_time = self.delivering.lock().ok()?;
        let mut conf = self.spool.load(take_id)?;
        if conf.state != TakeState::Spooled {
            return None;
        }
        let wav = self.spool.wav_path(take_id);
        match self.share.deliver(&wav, &conf.path, &conf.sha256) {
            Ok(()) => {
                conf.state = TakeState::Delivered;
                conf.error = None;
                if let Err(e) = self.spool.save(&conf) {
                    // Delivered but not recorded as such: it stays pending and is
                    // copied again (same bytes, same name) on the next pass.
                    log::error!(target: "takebox::capture", "take {take_id}: {e}");
                    return None;
                }
                let _ = std::fs::remove_file(&wav);
                log::info!(target: "takebox::capture", "take {take_id}: delivered to {}", conf.path);
                Some(conf)
            }
            Err(e) => {
                let msg = format!("waiting in the spool: {e}");
                if conf.error.as_deref() != Some(msg.as_str()) {
                    log::warn!(target: "takebox::capture", "take {take_id}: {msg}");
                    conf.error = Some(msg);
                    let _ = self.spool.save(&conf);
                }
                None
            }
        }
    }

    /// Whether any take waits in the spool for the share.
    pub fn has_pending(&self) -> bool {
        !self.spool.pending().is_empty()
    }

    /// One pass over the spool (blocking).
    pub fn deliver_pending(&self) {
        if !self.share.available() {
            return;
        }
        for id in self.spool.pending() {
            self.deliver(&id);
        }
    }

    pub fn status(&self) -> RecorderStatus {
        let c = &self.config.capture;
        let shared = self.capture();
        RecorderStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            device: c.device.clone(),
            sample_rate: c.sample_rate,
            channels: c.channels,
            format: c.sample_format,
            state: shared.state(),
            device_error: shared.error(),
            xruns: shared.xruns(),
            frames_captured: shared.ring.written(),
            input_peak_dbfs: shared.peaks().into_iter().map(peak_to_dbfs).collect(),
            recording: self.active.lock().ok().and_then(|a| a.clone()),
            spool_pending: self.spool.pending(),
            share: ShareStatus {
                path: self.share.root().display().to_string(),
                available: self.share.available(),
                free_bytes: self.share.free_bytes(),
            },
            clock: Timestamp::now(),
        }
    }
}
