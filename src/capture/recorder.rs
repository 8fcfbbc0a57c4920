//! The recorder: turns take commands into delivered WAV files, exactly once per
//! take id, and reports its state.

use super::engine::{CaptureEngine, CaptureShared};
use super::finish;
use super::live_loop;
use super::midi::take::MidiStart;
use super::midi::{MidiHub, Sequencer, seq::AlsaSequencer};
use super::process::{self, Analysis, Analyzer, ProcessError, ProcessOptions, TakeMetadata};
use super::refused::{NotReady, TakeRefused};
use super::share::{DeliveryError, Share};
use super::spool::Spool;
use super::take::{self, TakeError, TakeSpan};
use crate::config::Config;
use crate::notes::Note;
use crate::panics::locked;
use crate::protocol::{
    Confirmation, DeviceState, FieldError, InProgress, Processing, RecorderStatus, SpoolStatus,
    TakeCommand, TakeEnvelope, TakeReply, TakeState, TakeWarning, Timestamp, peak_to_dbfs,
};
use crate::wav::{WavInfo, WavSpec};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

mod abort;
#[cfg(test)]
mod synth_restart;

/// Who played `cmd`'s note, as the pitch check needs to know: the synth
/// plays exactly the planned key, and an instrument said to sound below its
/// key does so by its registration, so a sound repeating below the key is its
/// 16' stop; a player without that may have played the wrong octave.
fn player(cmd: &TakeCommand) -> crate::dsp::Player {
    if cmd.midi.is_some() || cmd.sounds_below_key == Some(true) {
        crate::dsp::Player::Midi
    } else {
        crate::dsp::Player::Live
    }
}

/// A recorder's config for tests: `device`, a short pre-roll and tail, the
/// spool and the (marked) share in `dir`.
#[cfg(test)]
fn test_config(dir: &std::path::Path, device: &str) -> Config {
    let mut config = Config::default();
    let c = &mut config.capture;
    c.device = device.parse().unwrap();
    c.pre_roll_seconds = 0.2;
    c.release_tail_seconds = 0.1;
    c.spool_path = dir.join("spool");
    c.share_path = dir.join("share");
    std::fs::create_dir_all(&c.share_path).unwrap();
    std::fs::write(c.share_path.join(&c.share_marker), b"").unwrap();
    config
}

/// Wait for `done` in a test (a bound only against a hang, never a measurement).
#[cfg(test)]
async fn until(what: &str, done: impl Fn() -> bool) {
    let give_up = std::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            std::time::Instant::now() < give_up,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub struct Recorder {
    config: Config,
    engine: CaptureEngine,
    spool: Spool,
    share: Share,
    /// The take being recorded, if any: one at a time.
    active: Mutex<Option<String>>,
    /// Serializes copies to the share (a take's own and the background retry).
    delivering: Mutex<()>,
    /// The daemon is stopping: every take is abandoned.
    cancel: AtomicBool,
    /// The board aborted the active take (cleared when a take begins, set
    /// only for the active take's id, both under the `active` lock).
    aborting: AtomicBool,
    /// Counts the takes that ended, so an abort can wait for its take.
    take_ended: watch::Sender<u64>,
    tuner: super::levels::Tuner,
    midi: MidiHub,
}

/// Clears the active slot however the take ends, and says it ended.
struct ActiveGuard<'a>(&'a Recorder);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        *locked(&self.0.active) = None;
        self.0.take_ended.send_modify(|n| *n += 1);
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

impl Recorder {
    pub fn start(config: Config) -> std::io::Result<Recorder> {
        Recorder::start_with(config, Box::new(AlsaSequencer))
    }

    /// A recorder whose MIDI ports come from `sequencer`.
    pub fn start_with(config: Config, sequencer: Box<dyn Sequencer>) -> std::io::Result<Recorder> {
        let c = &config.capture;
        let spool = Spool::open(&c.spool_path)?;
        let share = Share::new(&c.share_path, &c.share_marker);
        let retain = c.frames(c.pre_roll_seconds + c.late_start_seconds + 1.0);
        let engine = CaptureEngine::start(c.clone(), retain)?;
        let midi = MidiHub::new(sequencer, &c.spool_path, c.midi_ports.clone());
        Ok(Recorder {
            midi,
            config,
            engine,
            spool,
            share,
            active: Mutex::new(None),
            delivering: Mutex::new(()),
            cancel: AtomicBool::new(false),
            aborting: AtomicBool::new(false),
            take_ended: watch::Sender::new(0),
            tuner: super::levels::Tuner::default(),
        })
    }

    pub fn capture(&self) -> &Arc<CaptureShared> {
        self.engine.shared()
    }

    /// Abandon a take still recording (the daemon is stopping); silence
    /// every MIDI instrument.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Release);
        self.midi.silence_all();
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
    fn spool_bytes_for(&self, cmd: &TakeCommand) -> u64 {
        let c = &self.config.capture;
        let frames = c.frames(c.pre_roll_seconds + cmd.duration + self.tail_seconds(cmd));
        2 * frames * self.bytes_per_frame() + SPOOL_MARGIN_BYTES
    }

    /// What the take keeps after the note: the configured tail, or a MIDI
    /// instrument's whole release when that is longer.
    fn tail_seconds(&self, cmd: &TakeCommand) -> f64 {
        let configured = self.config.capture.release_tail_seconds;
        cmd.midi.as_ref().map_or(configured, |m| {
            super::midi::schedule::tail_seconds(configured, m.release_seconds)
        })
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
    fn check_spool_room(&self, cmd: &TakeCommand) -> Result<(), TakeRefused> {
        let need = self.spool_bytes_for(cmd);
        match self.spool.free_bytes() {
            Some(free) if free < need => Err(TakeRefused::SpoolFull {
                spool: self.spool.root().to_path_buf(),
                free_bytes: free,
                take_id: cmd.take_id.clone(),
                need_bytes: need,
            }),
            _ => Ok(()),
        }
    }

    /// Why a take starting now would not be accepted with its full pre-roll;
    /// `Ok` exactly when [`RecorderStatus::ready`] is true.
    pub fn readiness(&self) -> Result<(), NotReady> {
        self.readiness_with(self.spool.free_bytes())
    }

    /// [`Recorder::readiness`] with the spool's free bytes as just measured.
    fn readiness_with(&self, spool_free: Option<u64>) -> Result<(), NotReady> {
        let c = &self.config.capture;
        self.device_running()?;
        let ring = &self.capture().ring;
        let Some(now) = ring.frame_at(unix_ns(SystemTime::now()), c.sample_rate) else {
            return Err(NotReady::ClockNotEstablished);
        };
        let now = now.max(0) as u64;
        let held = now.saturating_sub(Self::pre_roll_floor(ring, now));
        let want = c.frames(c.pre_roll_seconds);
        if held < want {
            return Err(NotReady::FillingPreRoll {
                held_seconds: held as f64 / f64::from(c.sample_rate),
                want_seconds: c.pre_roll_seconds,
            });
        }
        if self
            .spool_room_seconds(spool_free)
            .is_some_and(|r| r <= 0.0)
        {
            return Err(NotReady::SpoolFull {
                spool: self.spool.root().to_path_buf(),
            });
        }
        Ok(())
    }

    fn device_running(&self) -> Result<(), NotReady> {
        let shared = self.capture();
        match shared.state() {
            DeviceState::Running => Ok(()),
            _ => Err(NotReady::DeviceNotRunning {
                error: shared.error(),
            }),
        }
    }

    /// The first frame a take's pre-roll may use: the oldest still safe to
    /// read, or the last discontinuity of the stream before `note_start`.
    fn pre_roll_floor(ring: &super::ring::HistoryRing, note_start: u64) -> u64 {
        ring.oldest_readable()
            .max(ring.last_gap_at_or_before(note_start).unwrap_or(0))
    }

    /// The command's note, if it and its duration are within this recorder's
    /// limits: a request that could never be recorded says so (400) before
    /// the spool's free space is weighed against it (507).
    fn check_limits(&self, cmd: &TakeCommand) -> Result<Note, TakeRefused> {
        let c = &self.config.capture;
        let note = Note::parse(&cmd.note, self.config.notes.middle_c)
            .map_err(|e| FieldError::new("note", e.to_string()))?;
        if cmd.duration > c.max_take_seconds {
            return Err(FieldError::new(
                "duration",
                format!(
                    "longer than this recorder's max_take_seconds ({})",
                    c.max_take_seconds
                ),
            )
            .into());
        }
        Ok(note)
    }

    /// Check a command against this recorder's limits and place it on the timeline.
    fn plan(&self, cmd: &TakeCommand) -> Result<Planned, TakeRefused> {
        let c = &self.config.capture;
        let note = self.check_limits(cmd)?;
        let name = note.name(self.config.notes.middle_c);
        let naming = &self.config.file_naming;
        let path = cmd
            .take_name(
                &name,
                naming.include_session_id,
                naming.include_user_initials,
            )
            .path()?;
        self.check_spool_room(cmd)?;
        self.device_running()?;
        let now = SystemTime::now();
        let at = cmd.start_at.map(|t| t.0).unwrap_or(now);
        if let Ok(ahead) = at.duration_since(now)
            && ahead.as_secs_f64() > c.max_start_ahead_seconds
        {
            return Err(TakeRefused::StartTooFarAhead {
                ahead_seconds: ahead.as_secs_f64(),
                max_seconds: c.max_start_ahead_seconds,
            });
        }
        let ring = &self.capture().ring;
        let note_start = ring
            .frame_at(unix_ns(at), c.sample_rate)
            .ok_or(NotReady::ClockNotEstablished)?;
        let oldest = ring.oldest_readable() as i64;
        if note_start < oldest {
            return Err(TakeRefused::StartTooLate {
                late_seconds: now.duration_since(at).unwrap_or_default().as_secs_f64(),
                keeps_seconds: c.late_start_seconds,
            });
        }
        let note_start = note_start as u64;
        // Pre-roll reaches back at most to the oldest safe frame or the last discontinuity.
        let configured_frames = c.frames(c.pre_roll_seconds);
        let first = note_start
            .saturating_sub(configured_frames)
            .max(Self::pre_roll_floor(ring, note_start));
        let end = note_start + c.frames(cmd.duration + self.tail_seconds(cmd)).max(1);
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
    pub async fn take(self: &Arc<Self>, cmd: TakeCommand) -> Result<TakeReply, TakeRefused> {
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
                return Err(TakeRefused::Interrupted {
                    take_id: cmd.take_id,
                });
            }
            if self.spool.was_aborted(&cmd.take_id) {
                return Err(TakeRefused::Aborted {
                    take_id: cmd.take_id,
                });
            }
            if let Some(other) = active.as_deref() {
                return Err(TakeRefused::Busy {
                    recording: other.to_string(),
                });
            }
            *active = Some(cmd.take_id.clone());
            self.aborting.store(false, Ordering::Release);
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = ActiveGuard(&this);
            let take_id = cmd.take_id.clone();
            match this.run_take(cmd) {
                // Whatever the abort cut short, the take answers as aborted
                // (and its id is kept), as when it stopped the recording.
                Err(e)
                    if this.aborting.load(Ordering::Acquire)
                        && !matches!(e, TakeRefused::Aborted { .. }) =>
                {
                    Err(this.stopped(&take_id))
                }
                r => r,
            }
        })
        .await
        .map_err(|e| TakeRefused::Internal(e.to_string()))?
    }

    /// A take made active: its MIDI note prepared, planned, recorded, delivered.
    fn run_take(&self, cmd: TakeCommand) -> Result<TakeReply, TakeRefused> {
        // Before a synth is woken or a release waited out: a note that
        // cannot be kept is never played.
        self.check_limits(&cmd)?;
        self.check_spool_room(&cmd)?;
        let (cmd, midi) = self.midi_start(cmd)?;
        let planned = self.plan(&cmd)?;
        self.record_and_deliver(&cmd, planned, midi)
    }

    /// A MIDI take: its port made ready, the last release waited out, and
    /// its `start_at` moved to where the note-on can still be sent in time.
    fn midi_start(
        &self,
        mut cmd: TakeCommand,
    ) -> Result<(TakeCommand, Option<MidiStart>), TakeRefused> {
        let Some(m) = cmd.midi.clone() else {
            return Ok((cmd, None));
        };
        let note = Note::parse(&cmd.note, self.config.notes.middle_c)
            .map_err(|e| FieldError::new("note", e.to_string()))?;
        self.device_running()?;
        let start = super::midi::take::prepare(
            &self.midi,
            &m,
            note.midi(),
            &|| self.capture().peaks(),
            &|| self.stop_asked(),
        )
        .map_err(TakeRefused::Midi)?;
        let asked = cmd.start_at.map(|t| unix_ns(t.0));
        let at =
            super::midi::schedule::start_ns(asked, unix_ns(SystemTime::now()), start.latency_ns());
        cmd.start_at = Some(Timestamp(SystemTime::UNIX_EPOCH + Duration::from_nanos(at)));
        Ok((cmd, Some(start)))
    }

    /// Record a planned take into the spool, commit its record, and try to
    /// deliver it to the share.
    fn record_and_deliver(
        &self,
        cmd: &TakeCommand,
        planned: Planned,
        midi: Option<MidiStart>,
    ) -> Result<TakeReply, TakeRefused> {
        let conf = self.spool_take(cmd, planned, midi)?;
        crate::failpoint::hit("capture.processed");
        // Aborted while it was processed: it must not be committed.
        if self.aborting.load(Ordering::Acquire) {
            return Err(self.stopped(&cmd.take_id));
        }
        // The record is the commit point: without it the take did not happen.
        self.spool.save(&conf).map_err(|e| {
            let _ = std::fs::remove_file(self.spool.wav_path(&cmd.take_id));
            TakeRefused::NotStored {
                take_id: cmd.take_id.clone(),
                error: e.to_string(),
            }
        })?;
        let conf = match conf.state {
            TakeState::Spooled => self
                .deliver(&cmd.take_id)
                .or_else(|| self.spool.load(&cmd.take_id))
                .unwrap_or(conf),
            _ => conf,
        };
        log::info!(target: "takebox::capture", "take {}: {:?} {}", conf.take_id, conf.state, conf.path);
        Ok(TakeReply::Done(Box::new(conf)))
    }

    /// Record, analyse and finish a take into the spool WAV; its record (not
    /// saved yet) says `spooled` or `failed`, and why.
    fn spool_take(
        &self,
        cmd: &TakeCommand,
        planned: Planned,
        midi: Option<MidiStart>,
    ) -> Result<Confirmation, TakeRefused> {
        let span = planned.span;
        let shared = self.capture();
        let raw = self.spool.raw_path(&cmd.take_id);
        let wav = self.spool.wav_path(&cmd.take_id);
        let xruns_before = shared.xruns();
        let mut opts = self.process_options(cmd, span, self.recorded_at(span));
        let room = finish::header_room(&raw, self.spec(), &opts).unwrap_or_else(|e| {
            log::warn!(target: "takebox::capture", "take {}: {e}; rendering it instead", cmd.take_id);
            Vec::new()
        });
        log::info!(target: "takebox::capture",
            "take {}: recording {} frames ({} pre-roll) to {}", cmd.take_id, span.frames(), span.pre_roll(), planned.path);
        let mut onset = crate::dsp::onset::OnsetFinder::new(self.spec().channels, span.pre_roll());
        let playing = midi.as_ref().map(|m| {
            let start = self
                .capture()
                .ring
                .time_of(span.note_start, self.spec().sample_rate);
            m.play(start.unwrap_or_default(), cmd.duration)
        });
        let recorded = self.record_analysed(span, &raw, &room, &opts, &mut onset);
        let played = match &recorded {
            // Past the note-off by the release tail: this only collects the thread.
            Ok(_) => playing.map(|p| p.finish()).transpose(),
            // Stopped early (aborted, failed, shutting down): the note is
            // dropped now, which silences its channel once it sounded.
            Err(_) => Ok(playing.map(drop)),
        };
        let recorded_at = self.recorded_at(span);
        if let Some(meta) = opts.metadata.as_mut() {
            meta.recorded_at = Some(recorded_at.0);
        }
        let mut conf = self.spooled_record(cmd, planned, recorded_at);
        conf.xruns = shared.xruns() - xruns_before;
        // The synth went away (restarted, unplugged): the take fails naming
        // the port, never delivered silent, and the port is found again next time.
        let played = match (played, &cmd.midi) {
            (Err(e), Some(m)) => Err(self.midi.failed(&m.port, &e)),
            (Err(e), None) => Err(e.to_string()),
            (Ok(_), _) => Ok(()),
        };
        let recorded = match (recorded, played) {
            (Ok(_), Err(e)) => Err(TakeError::Midi(e)),
            (r, _) => r,
        };
        if let Some(m) = &midi {
            // A failed take's onset says nothing: no calibration from it.
            let found = match &recorded {
                Ok(_) => onset.finish(),
                Err(_) => crate::dsp::onset::Onset {
                    frame: None,
                    ..onset.finish()
                },
            };
            let rate = self.spec().sample_rate;
            conf.midi = Some(m.report(&self.midi, found, span.pre_roll(), rate));
        }
        crate::failpoint::hit("capture.recorded");
        let finished = recorded.and_then(|mut analysis| {
            let envelope = analysis.envelope.take();
            let fade = self.config.capture.loop_crossfade_seconds;
            let sample_loop = live_loop(cmd, &raw, &mut analysis, &opts, fade);
            self.finish_spool_file(&opts, &analysis, &raw, &wav, room.len())
                .map(|done| (done, (envelope, sample_loop)))
                .map_err(TakeError::from)
        });
        let _ = std::fs::remove_file(&raw);
        match finished {
            Ok(((rendered, processing, check), (envelope, sample_loop))) => {
                conf.envelope = envelope.map(|e| TakeEnvelope::new(&e, span.pre_roll()));
                conf.sample_loop = sample_loop.map(|l| live_loop::to_protocol(&l, rendered.kept));
                conf.frames = rendered.frames;
                conf.pre_roll_frames = span.pre_roll().saturating_sub(rendered.kept.start_frame);
                conf.peak_dbfs = rendered.peaks.iter().map(|&p| peak_to_dbfs(p)).collect();
                conf.sha256 = rendered.sha256;
                conf.check = Some(process::to_protocol(&check));
                conf.processing = Some(processing);
            }
            Err(TakeError::Cancelled) => {
                let _ = std::fs::remove_file(&wav);
                return Err(self.stopped(&cmd.take_id));
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
        Ok(conf)
    }

    /// The spool files' format: the capture's.
    fn spec(&self) -> WavSpec {
        let c = &self.config.capture;
        WavSpec {
            channels: c.channels,
            sample_rate: c.sample_rate,
            format: c.sample_format,
        }
    }

    /// The wall-clock time of the take's first frame, as the capture clock
    /// knows it now.
    fn recorded_at(&self, span: TakeSpan) -> Timestamp {
        self.capture()
            .ring
            .time_of(span.first, self.config.capture.sample_rate)
            .map(|ns| Timestamp(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)))
            .unwrap_or_else(Timestamp::now)
    }

    /// A take's record as recorded, before processing fills in its file.
    fn spooled_record(
        &self,
        cmd: &TakeCommand,
        planned: Planned,
        recorded_at: Timestamp,
    ) -> Confirmation {
        let c = &self.config.capture;
        Confirmation {
            take_id: cmd.take_id.clone(),
            session_id: cmd.session_id.clone(),
            state: TakeState::Spooled,
            path: planned.path,
            frames: planned.span.frames(),
            sample_rate: c.sample_rate,
            channels: c.channels,
            format: c.sample_format,
            peak_dbfs: Vec::new(),
            sha256: String::new(),
            recorded_at,
            pre_roll_frames: planned.span.pre_roll(),
            frames_lost: 0,
            xruns: 0,
            error: None,
            warnings: planned.warnings,
            check: None,
            processing: None,
            envelope: None,
            midi: None,
            sample_loop: None,
        }
    }

    /// Record `span` to `raw` (with `room` before the audio), analysing the
    /// frames as they are written.
    fn record_analysed(
        &self,
        span: TakeSpan,
        raw: &Path,
        room: &[u8],
        opts: &ProcessOptions,
        onset: &mut crate::dsp::onset::OnsetFinder,
    ) -> Result<Analysis, TakeError> {
        let spec = self.spec();
        let mut analyzer = Analyzer::new(WavInfo::of(spec, 0), opts, raw)?;
        take::record(
            self.capture(),
            span,
            spec.format,
            raw,
            room,
            &|| self.stop_asked(),
            &mut |frames| {
                onset.feed(frames);
                analyzer.feed(frames)
            },
        )?;
        Ok(analyzer.finish(raw)?)
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
        let pp = &self.config.post_processing;
        let mut opts = ProcessOptions::from_config(pp, span.pre_roll());
        // A layer of a dynamics or round-robin set keeps its recorded level.
        if !pp.normalizes_take(cmd.dynamic.is_some() || cmd.round_robin.is_some()) {
            opts.normalize = None;
        }
        opts.planned_hz = (cmd.pitch_check != Some(false)).then_some(cmd.frequency);
        opts.planned_midi = note.map(|n| n.midi());
        opts.player = player(cmd);
        // The instrument's limits, as the board sent them.
        if let Some(max) = cmd.max_cents.filter(|c| c.is_finite() && *c >= 0.0) {
            opts.check.max_cents = max;
        }
        opts.check.target_cents = cmd.tuning_cents.filter(|c| c.is_finite()).unwrap_or(0.0);
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

    /// Check the analysed take, decide its gain and make its spool WAV from
    /// the raw recording (see [`finish::finish_take`]).
    fn finish_spool_file(
        &self,
        opts: &ProcessOptions,
        analysis: &Analysis,
        raw: &Path,
        wav: &Path,
        room: usize,
    ) -> Result<(process::Rendered, Processing, crate::dsp::Check), ProcessError> {
        let check = process::check(analysis, opts);
        let gain = process::decide_gain(analysis, opts);
        let rendered = finish::finish_take(raw, wav, analysis, gain, opts, room)?;
        let processing = Processing {
            kept_from_frame: rendered.kept.start_frame,
            kept_to_frame: rendered.kept.end_frame,
            gain_db: (gain.gain_db * 100.0).round() / 100.0,
            limited_by_peak: gain.limited_by_peak,
            integrated_lufs: analysis.loudness.as_ref().and_then(|l| l.integrated_lufs),
            true_peak_dbtp: analysis.true_peak_dbtp,
        };
        Ok((rendered, processing, check))
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

    /// The live input's peaks, and its pitch near `near_hz` when asked
    /// (blocking: the pitch is measured here).
    pub fn levels(&self, near_hz: Option<f64>) -> crate::protocol::InputLevels {
        self.tuner.levels(self.capture(), near_hz)
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
            not_ready: readiness.err().map(|e| e.to_string()),
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
            midi_ports: self.midi.status(),
            clock: Timestamp::now(),
        }
    }
}

/// The take's sustain loop ([`live_loop::search`]), set into `analysis` to be
/// written when good. A failed search costs the take its loop, not the take.
fn live_loop(
    cmd: &TakeCommand,
    raw: &Path,
    analysis: &mut Analysis,
    opts: &ProcessOptions,
    crossfade_seconds: f64,
) -> Option<live_loop::LiveLoop> {
    let found = live_loop::search(raw, analysis, opts, cmd.sustain, crossfade_seconds)
        .inspect_err(
            |e| log::warn!(target: "takebox::capture", "take {}: loop search: {e}", cmd.take_id),
        )
        .ok()??;
    analysis.sample_loop = found.report.found.as_ref().ok().copied();
    analysis.loop_fade = found.fade.clone();
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::Player;

    fn command(patch: serde_json::Value) -> TakeCommand {
        let mut v = serde_json::json!({
            "take_id": "t1", "session_id": "s1", "instrument": "organ", "note": "C3",
            "frequency": 130.813, "articulation": "long", "duration": 2.0
        });
        for (k, x) in patch.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_sound_below_the_key_stands_for_it_when_a_synth_or_the_registration_made_it() {
        let midi = serde_json::json!({"port": "fluid", "channel": 1, "velocity": 90, "release_seconds": 1.0});
        assert_eq!(player(&command(serde_json::json!({}))), Player::Live);
        assert_eq!(
            player(&command(serde_json::json!({"sounds_below_key": false}))),
            Player::Live
        );
        assert_eq!(
            player(&command(serde_json::json!({"sounds_below_key": true}))),
            Player::Midi
        );
        assert_eq!(
            player(&command(serde_json::json!({"midi": midi}))),
            Player::Midi
        );
    }
}
