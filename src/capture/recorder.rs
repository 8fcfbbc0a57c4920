//! The recorder: turns take commands into delivered WAV files, exactly once per
//! take id, and reports its state.

use super::engine::{CaptureEngine, CaptureShared};
use super::process::{self, ProcessError, ProcessOptions, Rendered, TakeMetadata};
use super::share::{DeliveryError, Share};
use super::spool::Spool;
use super::take::{self, RecordOptions, TakeError, TakeSpan};
use super::untouched;
use crate::config::Config;
use crate::durable;
use crate::http::ApiError;
use crate::notes::Note;
use crate::panics::locked;
use crate::protocol::{
    Confirmation, DeviceState, ErrorKind, InProgress, Processing, RecorderStatus, SpoolStatus,
    TakeCheck, TakeCommand, TakeReply, TakeState, TakeWarning, Timestamp, peak_to_dbfs,
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
        *locked(self.0) = None;
    }
}

/// Room kept in the spool beside a take's audio: its record, header chunks,
/// and what the file system needs for its own bookkeeping.
const SPOOL_MARGIN_BYTES: u64 = 64 << 10;

/// A take's plan: where it lies on the timeline, where it goes on the share,
/// and what the board should be told about it.
struct Planned {
    span: TakeSpan,
    path: String,
    warnings: Vec<TakeWarning>,
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
        if locked(&self.active).as_deref() == Some(take_id) {
            return Some(TakeReply::Pending(InProgress {
                take_id: take_id.to_string(),
                state: TakeState::InProgress,
            }));
        }
        self.spool
            .load(take_id)
            .map(|c| TakeReply::Done(Box::new(c)))
    }

    /// Bytes the spool needs for a take whose note lasts `note_seconds`: the
    /// raw recording and the processed file exist side by side until the raw
    /// one is removed.
    fn spool_bytes_for(&self, note_seconds: f64) -> u64 {
        let c = &self.config.capture;
        let frames = c.frames(c.pre_roll_seconds + note_seconds + c.release_tail_seconds);
        2 * frames * self.bytes_per_frame() + SPOOL_MARGIN_BYTES
    }

    fn bytes_per_frame(&self) -> u64 {
        let c = &self.config.capture;
        u64::from(c.channels) * u64::from(c.sample_format.bits() / 8)
    }

    /// Seconds of note `free` bytes of spool hold (see [`SpoolStatus::room_seconds`]).
    fn spool_room_seconds(&self, free: Option<u64>) -> Option<f64> {
        let c = &self.config.capture;
        let free = free?.saturating_sub(SPOOL_MARGIN_BYTES);
        let per_second = 2.0 * self.bytes_per_frame() as f64 * f64::from(c.sample_rate);
        let seconds = free as f64 / per_second - c.pre_roll_seconds - c.release_tail_seconds;
        Some((seconds.max(0.0) * 10.0).floor() / 10.0)
    }

    /// Refuse a take the spool cannot hold, before a note is played.
    fn check_spool_room(&self, cmd: &TakeCommand) -> Result<(), ApiError> {
        let need = self.spool_bytes_for(cmd.duration);
        match self.spool.free_bytes() {
            Some(free) if free < need => Err(ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                ErrorKind::SpoolFull,
                format!(
                    "the spool {} has {:.1} MB free; take {} can need up to {:.1} MB",
                    self.spool.root().display(),
                    free as f64 / 1e6,
                    cmd.take_id,
                    need as f64 / 1e6
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Why a take starting now would not be accepted with its full pre-roll;
    /// `Ok` exactly when [`RecorderStatus::ready`] is true.
    pub fn readiness(&self) -> Result<(), String> {
        self.readiness_with(self.spool.free_bytes())
    }

    /// [`Recorder::readiness`] with the spool's free bytes as just measured.
    fn readiness_with(&self, spool_free: Option<u64>) -> Result<(), String> {
        let c = &self.config.capture;
        let shared = self.capture();
        if shared.state() != DeviceState::Running {
            return Err(format!(
                "capture device is not running: {}",
                shared.error().unwrap_or_else(|| "still opening".into())
            ));
        }
        let ring = &shared.ring;
        let Some(now) = ring.frame_at(unix_ns(SystemTime::now()), c.sample_rate) else {
            return Err("capture clock not established yet".into());
        };
        let now = now.max(0) as u64;
        let held = now.saturating_sub(Self::pre_roll_floor(ring, now));
        let want = c.frames(c.pre_roll_seconds);
        if held < want {
            return Err(format!(
                "filling the pre-roll: {:.2} of {} s captured",
                held as f64 / f64::from(c.sample_rate),
                c.pre_roll_seconds
            ));
        }
        if self
            .spool_room_seconds(spool_free)
            .is_some_and(|r| r <= 0.0)
        {
            return Err(format!("the spool {} is full", self.spool.root().display()));
        }
        Ok(())
    }

    /// The first frame a take's pre-roll may use: the oldest still safe to
    /// read, or the last discontinuity of the stream before `note_start`.
    fn pre_roll_floor(ring: &super::ring::HistoryRing, note_start: u64) -> u64 {
        ring.oldest_readable()
            .max(ring.last_gap_at_or_before(note_start).unwrap_or(0))
    }

    /// Check a command against this recorder's limits and place it on the timeline.
    fn plan(&self, cmd: &TakeCommand) -> Result<Planned, ApiError> {
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
        let name = note.name(self.config.notes.middle_c);
        let naming = &self.config.file_naming;
        let path = cmd
            .take_name(
                &name,
                naming.include_session_id,
                naming.include_user_initials,
            )
            .path()
            .map_err(|e| ApiError::bad_field(e.field, e.message))?;
        self.check_spool_room(cmd)?;
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
                ErrorKind::NotReady,
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
        let configured_frames = c.frames(c.pre_roll_seconds);
        let first = note_start
            .saturating_sub(configured_frames)
            .max(Self::pre_roll_floor(ring, note_start));
        let end = note_start + c.frames(cmd.duration + c.release_tail_seconds).max(1);
        let span = TakeSpan {
            first,
            note_start,
            end,
        };
        let mut warnings = Vec::new();
        if span.pre_roll() < configured_frames {
            warnings.push(TakeWarning::ShortPreRoll {
                frames: span.pre_roll(),
                configured_frames,
            });
        }
        Ok(Planned {
            span,
            path,
            warnings,
        })
    }

    /// Record a take, or answer from its record if this id was seen before.
    pub async fn take(self: &Arc<Self>, cmd: TakeCommand) -> Result<TakeReply, ApiError> {
        // Before anything touches the spool: the take id becomes a file name there.
        cmd.validate()?;
        {
            let mut active = locked(&self.active);
            if active.as_deref() == Some(cmd.take_id.as_str()) {
                return Ok(TakeReply::Pending(InProgress {
                    take_id: cmd.take_id,
                    state: TakeState::InProgress,
                }));
            }
            if let Some(done) = self.spool.load(&cmd.take_id) {
                return Ok(TakeReply::Done(Box::new(done)));
            }
            if self.spool.was_interrupted(&cmd.take_id) {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorKind::Interrupted,
                    format!(
                        "take {:?} was cut short by a restart of the recorder; a take id never records twice",
                        cmd.take_id
                    ),
                ));
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
            let planned = this.plan(&cmd)?;
            this.record_and_deliver(&cmd, planned)
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
        planned: Planned,
    ) -> Result<TakeReply, ApiError> {
        let Planned {
            span,
            path: rel,
            warnings,
        } = planned;
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
            warnings,
            check: None,
            processing: None,
        };
        crate::failpoint::hit("capture.recorded");
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
        crate::failpoint::hit("capture.processed");
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
        let _one_at_a_time = locked(&self.delivering);
        let mut conf = self.spool.load(take_id)?;
        if conf.state != TakeState::Spooled {
            return None;
        }
        crate::failpoint::hit("capture.deliver");
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
                let msg = match e {
                    DeliveryError::Unavailable(e) => format!("waiting in the spool: {e}"),
                    e @ DeliveryError::NameTaken { .. } => e.to_string(),
                };
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
        if !self.share.marker_present() {
            return;
        }
        for id in self.spool.pending() {
            self.deliver(&id);
        }
    }

    /// Whether the share's last write failed (so the delivery loop probes it).
    pub fn share_failing(&self) -> bool {
        self.share.failing()
    }

    pub fn probe_share(&self) {
        self.share.probe();
    }

    pub fn status(&self) -> RecorderStatus {
        let c = &self.config.capture;
        let shared = self.capture();
        // One look at the spool's file system for the whole answer.
        let spool_free = self.spool.free_bytes();
        let readiness = self.readiness_with(spool_free);
        RecorderStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            device: c.device.to_string(),
            sample_rate: c.sample_rate,
            channels: c.channels,
            format: c.sample_format,
            state: shared.state(),
            ready: readiness.is_ok(),
            not_ready: readiness.err(),
            device_error: shared.error(),
            xruns: shared.xruns(),
            frames_captured: shared.ring.written(),
            input_peak_dbfs: shared.peaks().into_iter().map(peak_to_dbfs).collect(),
            recording: locked(&self.active).clone(),
            spool_pending: self.spool.pending(),
            share: self.share.status(),
            spool: SpoolStatus {
                path: self.spool.root().display().to_string(),
                free_bytes: spool_free,
                room_seconds: self.spool_room_seconds(spool_free),
            },
            clock: Timestamp::now(),
        }
    }
}
