//! The take cycle: armed -> countdown -> recording -> waiting for confirmation ->
//! done (or recorded again), driven by commands from the page, the API and the
//! GPIO button. One task owns the session; everyone else sends [`Command`]s and
//! watches [`CycleStatus`] or subscribes to [`Event`]s (SSE clients, LEDs).
//! Everything it does goes into the session log as a [`LogEvent`].

use super::health::Health;
use super::plan::Slot;
use super::progress::{Session, SessionStatus, SlotState, Store, TakeOutcome};
use super::recorder_client::RecorderClient;
use super::retake;
use super::session_log::SessionLog;
pub use super::status::{CycleStatus, Event, LastTake, Phase, Waveform};
use super::storage::{Storage, WriteKind};
use super::take_list::{self, TakeList};
use super::take_runner::{self, Progress, TakeJob, TakeResult};
use super::verdict::{self, Disposition, Judgement};
use crate::config::{Config, FileNaming, OnWarning, PostProcessing, StorageManagement};
use crate::dsp::CheckSettings;
use crate::notes::MiddleC;
use crate::protocol::{Confirmation, TakeCommand, TakeId, Timestamp};
use crate::session_log_format::{Confirmed, EndStatus, LogEvent, PlannedSlot};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Start,
    Retake,
    Skip,
    Pause,
    /// Go on after a pause: Start, under the name the page shows.
    Resume,
    Abort,
}

impl Command {
    pub fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "start" => Command::Start,
            "retake" => Command::Retake,
            "skip" => Command::Skip,
            "pause" => Command::Pause,
            "resume" => Command::Resume,
            "abort" => Command::Abort,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Retake => "retake",
            Command::Skip => "skip",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Abort => "abort",
        }
    }
}

/// Why a command was not carried out (answered 409 on the API).
#[derive(Debug, Clone, PartialEq)]
pub struct Refused(pub String);

pub enum Request {
    Command(Command, oneshot::Sender<Result<(), Refused>>),
    Begin(Box<Session>, oneshot::Sender<Result<(), Refused>>),
    /// A line for the open session's log (a button press, say).
    Log(LogEvent),
    /// The session's take list (None: no session).
    Takes(oneshot::Sender<Option<TakeList>>),
    /// Record slots again (reopening a finished session).
    RecordAgain(Again, oneshot::Sender<Result<(), Refused>>),
    /// The share path of a file a confirmation of this session named, by the
    /// recorder's take id (None: no such confirmed file).
    AudioPath(String, oneshot::Sender<Option<String>>),
}

/// Which slots to record again.
#[derive(Debug, Clone, PartialEq)]
pub enum Again {
    /// These slots, from 1.
    Slots(Vec<usize>),
    /// Every slot done with a warning (the review's one button).
    Attention,
}

/// With `on_warning` `retake`, a slot is recorded again by itself at most this
/// many times in a row; then the session pauses and asks.
const MAX_AUTO_RETAKES: usize = 2;

/// In the notice of a take kept with a warning (and so paused on).
const NEEDS_ATTENTION: &str = "needs attention";

/// What the cycle needs from the daemon around it.
pub struct CycleContext {
    pub config: Arc<RwLock<Arc<Config>>>,
    pub clients: Vec<RecorderClient>,
    pub health: Arc<Health>,
    pub store: Store,
    pub events: broadcast::Sender<Event>,
    pub status: watch::Sender<CycleStatus>,
    /// Failed writes of the session log and progress, for the page.
    pub storage: Arc<Storage>,
}

struct ActiveTake {
    slot: usize,
    take_id: TakeId,
    start: Instant,
    start_at: Timestamp,
    duration: Duration,
    sent: Arc<AtomicBool>,
    handle: JoinHandle<TakeResult>,
}

pub struct Cycle {
    ctx: CycleContext,
    session: Option<Session>,
    log: Option<SessionLog>,
    phase: Phase,
    take: Option<ActiveTake>,
    last: Option<LastTake>,
    message: Option<String>,
    /// Auto-advance holds the next take until a recorder or the share allows
    /// it (the reason is the message); re-checked every [`HELD_RECHECK`].
    held: bool,
    progress_tx: mpsc::Sender<Progress>,
    progress_rx: mpsc::Receiver<Progress>,
}

/// How often a held auto-advance looks again: about the recorders' status
/// poll, so the next take starts within a poll of the recorder being ready.
const HELD_RECHECK: Duration = Duration::from_millis(250);

async fn join_take(take: &mut Option<ActiveTake>) -> Result<TakeResult, tokio::task::JoinError> {
    match take {
        Some(t) => (&mut t.handle).await,
        None => std::future::pending().await,
    }
}

enum Wake {
    Request(Option<Request>),
    TakeEnded(Result<TakeResult, tokio::task::JoinError>),
    Progress(Progress),
    Tick,
    Recheck,
}

/// A planned slot no recorder can be sent: its duration is out of range (it
/// was planned under limits that no longer hold).
#[derive(Debug, Clone, Copy, PartialEq)]
struct NotLaunchable {
    duration: f64,
}

impl fmt::Display for NotLaunchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "its duration of {} s is not between 0 and {} s; skip the slot or abort the session",
            self.duration,
            crate::config::MAX_NOTE_SECONDS
        )
    }
}

/// Whether a planned slot can be sent to a recorder at all.
fn launchable(slot: &Slot) -> Result<(), NotLaunchable> {
    let max = crate::config::MAX_NOTE_SECONDS;
    if !(slot.duration.is_finite() && slot.duration > 0.0 && slot.duration <= max) {
        return Err(NotLaunchable {
            duration: slot.duration,
        });
    }
    Ok(())
}

/// The settings in force that a `session_start` line records.
#[derive(Serialize)]
struct LoggedSettings<'a> {
    countdown_duration: f64,
    articulation_durations: &'a BTreeMap<String, f64>,
    default_frequency: f64,
    middle_c: MiddleC,
    file_naming: &'a FileNaming,
    post_processing: &'a PostProcessing,
    storage_management: &'a StorageManagement,
}

impl<'a> LoggedSettings<'a> {
    fn of(config: &'a Config) -> LoggedSettings<'a> {
        LoggedSettings {
            countdown_duration: config.countdown_duration,
            articulation_durations: &config.articulation_durations,
            default_frequency: config.session_settings.default_frequency,
            middle_c: config.notes.middle_c,
            file_naming: &config.file_naming,
            post_processing: &config.post_processing,
            storage_management: &config.storage_management,
        }
    }
}

fn refused<T>(msg: impl Into<String>) -> Result<T, Refused> {
    Err(Refused(msg.into()))
}

impl Cycle {
    /// A cycle resuming `session` (the open one found on disk), if any.
    pub fn new(ctx: CycleContext, session: Option<Session>) -> Cycle {
        let (progress_tx, progress_rx) = mpsc::channel(32);
        let mut cycle = Cycle {
            ctx,
            session: None,
            log: None,
            phase: Phase::Idle,
            take: None,
            last: None,
            message: None,
            held: false,
            progress_tx,
            progress_rx,
        };
        match session {
            Some(s) if s.status == SessionStatus::Open => cycle.resume(s),
            Some(s) => cycle.hold(s),
            None => {}
        }
        cycle
    }

    fn config(&self) -> Arc<Config> {
        crate::panics::current(&self.ctx.config)
    }

    pub async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        self.publish(Event::Changed);
        loop {
            let ticking = matches!(self.phase, Phase::Countdown | Phase::Recording);
            let wake = tokio::select! {
                r = requests.recv() => Wake::Request(r),
                r = join_take(&mut self.take) => Wake::TakeEnded(r),
                Some(p) = self.progress_rx.recv() => Wake::Progress(p),
                _ = tokio::time::sleep(Duration::from_millis(50)), if ticking => Wake::Tick,
                _ = tokio::time::sleep(HELD_RECHECK), if self.held => Wake::Recheck,
                _ = shutdown.changed() => break,
            };
            match wake {
                Wake::Request(None) => break,
                Wake::Request(Some(request)) => self.request(request),
                Wake::TakeEnded(r) => {
                    let take = self.take.take().expect("a take ended");
                    let result = r
                        .unwrap_or_else(|e| TakeResult::Rejected(format!("take task failed: {e}")));
                    self.take_ended(take, result);
                    self.publish(Event::Changed);
                }
                Wake::Progress(p) => self.progress(p),
                Wake::Tick => self.tick(),
                Wake::Recheck => {
                    self.recheck_held();
                    self.publish(Event::Changed);
                }
            }
        }
        // Stopping: a take still out stays in flight in the session file and is
        // asked for again (same take id) when the daemon comes back.
        if let Some(t) = self.take.take() {
            t.handle.abort();
        }
    }

    /// A request from the page, the API or the button, answered.
    fn request(&mut self, request: Request) {
        match request {
            Request::Command(cmd, reply) => {
                let r = self.logged(cmd.name(), |c| c.command(cmd));
                let _ = reply.send(r);
                self.publish(Event::Changed);
            }
            Request::RecordAgain(again, reply) => {
                let r = self.logged("record_again", |c| c.record_again(again));
                let _ = reply.send(r);
                self.publish(Event::Changed);
            }
            Request::Begin(session, reply) => {
                let r = self.begin(*session);
                let _ = reply.send(r);
                self.publish(Event::Changed);
            }
            Request::Log(event) => self.log_event(event),
            Request::Takes(reply) => {
                let active = self.take.as_ref().map(|t| t.slot);
                let _ = reply.send(self.session.as_ref().map(|s| take_list::build(s, active)));
            }
            Request::AudioPath(take_id, reply) => {
                let _ = reply.send(self.audio_path(&take_id));
            }
        }
    }

    /// Carry out command `name`, logged first, then its refusal if refused.
    fn logged(
        &mut self,
        name: &str,
        run: impl FnOnce(&mut Cycle) -> Result<(), Refused>,
    ) -> Result<(), Refused> {
        self.log_event(LogEvent::Command {
            command: name.into(),
        });
        let r = run(self);
        if let Err(e) = &r {
            self.log_event(LogEvent::Refused {
                command: Some(name.into()),
                take_id: None,
                reason: e.0.clone(),
            });
        }
        r
    }

    /// A line for session `session_id`'s log: the open log when it is that
    /// session's, else that session's file (a new one began meanwhile).
    fn log_to(&mut self, session_id: &str, event: LogEvent) {
        if self.session.as_ref().is_some_and(|s| s.id == session_id) {
            return self.log_event(event);
        }
        let dir = self.config().logging.log_directory.clone();
        let appended = SessionLog::open(&dir, session_id).and_then(|mut l| l.append(&event));
        self.wrote(WriteKind::SessionLog, &appended);
        if let Err(e) = appended {
            log::error!(target: "takebox::control", "session log of {session_id}: {e}");
        }
    }

    fn log_event(&mut self, event: LogEvent) {
        let Some(log) = &mut self.log else { return };
        let appended = log.append(&event);
        self.wrote(WriteKind::SessionLog, &appended);
        if let Err(e) = appended {
            log::error!(target: "takebox::control", "session log: {e}");
            self.message = Some(format!("session log: {e}"));
        }
    }

    /// No take is armed while a recorder that answers cannot record it, or
    /// with less than `storage_management.min_free_gb` free on the share; the
    /// reason is shown. A share folder this board does not have (it is the
    /// recorder's mount) is not guarded here: the recorder reports its own.
    fn disk_guard(&mut self) -> Result<(), Refused> {
        let Some(why) = self.guard_reason() else {
            return Ok(());
        };
        log::warn!(target: "takebox::control", "take not armed: {why}");
        self.message = Some(format!("take not armed: {why}"));
        Err(Refused(why))
    }

    /// Why no take can be armed now, if anything stops it (the board's own
    /// share first: no recorder can change that).
    fn guard_reason(&self) -> Option<String> {
        self.share_guard().or_else(|| self.recorder_guard())
    }

    /// Why the share this board exports has too little room for a take.
    fn share_guard(&self) -> Option<String> {
        let config = self.config();
        let min = (config.storage_management.min_free_gb * 1e9) as u64;
        let share = &config.capture.share_path;
        if min == 0 || !share.is_dir() {
            return None;
        }
        crate::retention::disk_guard(share, min)
            .err()
            .map(|e| e.to_string())
    }

    /// Why the next slot's take cannot be recorded by a recorder that answers
    /// (not ready, or no room for it in its spool).
    fn recorder_guard(&self) -> Option<String> {
        let session = self.session.as_ref()?;
        let slot = &session.plan[session.current().or(session.last_done)?];
        // A slot that cannot go out at all pauses the session when launched.
        launchable(slot).ok()?;
        let seconds = slot.duration;
        self.ctx
            .health
            .snapshot()
            .iter()
            .find_map(|h| h.cannot_record(seconds))
    }

    fn persist(&mut self) {
        let Some(s) = &self.session else { return };
        let saved = self.ctx.store.save(s);
        self.wrote(WriteKind::Progress, &saved);
        if let Err(e) = saved {
            log::error!(target: "takebox::control", "cannot save session progress: {e}");
            self.message = Some(format!("cannot save session progress: {e}"));
        }
    }

    /// Keep what became of a write of `kind` for the page (a full `/var`).
    fn wrote<T, E: std::fmt::Display>(&self, kind: WriteKind, result: &Result<T, E>) {
        let config = self.config();
        let folder = match kind {
            WriteKind::Progress => &config.control.state_dir,
            _ => &config.logging.log_directory,
        };
        let changed = match result {
            Ok(_) => self.ctx.storage.succeeded(kind),
            Err(e) => self.ctx.storage.failed(kind, folder, e),
        };
        if changed {
            let _ = self.ctx.events.send(Event::Changed);
        }
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            let _ = self.ctx.events.send(Event::Phase { phase });
        }
    }

    fn status(&self) -> CycleStatus {
        let mut st = CycleStatus {
            phase: self.phase,
            phase_label: self.phase.label(),
            last: self.last.clone(),
            message: self.message.clone(),
            ..CycleStatus::default()
        };
        if let Some(s) = &self.session {
            st.session_id = Some(s.id.clone());
            st.instrument = Some(s.request.instrument.clone());
            st.user_initials =
                (!s.request.user_initials.is_empty()).then(|| s.request.user_initials.clone());
            st.auto_advance = s.request.auto_advance;
            st.unattended = s.unattended();
            st.paused = s.paused;
            st.done = s.finished_count();
            st.total = s.plan.len();
            st.skipped = s.skipped_count();
            st.attention = s.needing_attention().len();
            st.seconds_per_take = s.seconds_per_take();
            let slot = self.take.as_ref().map(|t| t.slot).or_else(|| s.current());
            st.slot = slot.map(|i| s.plan[i].clone());
        }
        if let Some(t) = &self.take {
            st.take_id = Some(t.take_id.to_string());
            st.start_at = Some(t.start_at);
            st.start_instant = Some(t.start);
            st.end_instant = Some(t.start + t.duration);
            if self.phase == Phase::Countdown {
                st.countdown = Some(
                    t.start
                        .saturating_duration_since(Instant::now())
                        .as_secs_f64()
                        .ceil() as u32,
                );
            }
        }
        st
    }

    /// Update the watched status; tell subscribers when it changed (a bare
    /// `Changed` with nothing new is not sent: the countdown ticks every 50 ms).
    fn publish(&mut self, event: Event) {
        let st = self.status();
        let changed = self.ctx.status.send_if_modified(|old| {
            if *old != st {
                *old = st;
                true
            } else {
                false
            }
        });
        if changed || event != Event::Changed {
            let _ = self.ctx.events.send(event);
        }
    }

    fn tick(&mut self) {
        let Some(t) = &self.take else { return };
        let now = Instant::now();
        let phase = if now < t.start {
            Phase::Countdown
        } else if now < t.start + t.duration {
            Phase::Recording
        } else {
            Phase::Waiting
        };
        let before = self.status().countdown;
        self.set_phase(phase);
        let st = self.status();
        if st.countdown != before
            && let Some(remaining) = st.countdown
        {
            let _ = self.ctx.events.send(Event::Countdown { remaining });
        }
        self.publish(Event::Changed);
    }

    fn progress(&mut self, p: Progress) {
        match p {
            Progress::Trouble { recorder, error } => {
                log::warn!(target: "takebox::control", "{recorder}: {error}; the take waits for it");
                self.log_event(LogEvent::Error {
                    recorder: Some(recorder.clone()),
                    error: error.clone(),
                    take_id: self.take.as_ref().map(|t| t.take_id.clone()),
                });
                self.message = Some(format!("waiting for {recorder}: {error}"));
            }
            Progress::Aborted { session_id, line } => self.log_to(&session_id, line),
            Progress::Recovered { recorder } => {
                self.log_event(LogEvent::RecorderBack { recorder });
                // Only the notice it made untrue goes (not, say, a lost take's).
                if self
                    .message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("waiting for "))
                {
                    self.message = None;
                }
            }
        }
        self.publish(Event::Recorders);
    }

    fn resume(&mut self, session: Session) {
        let config = self.config();
        let opened = SessionLog::open(&config.logging.log_directory, &session.id);
        self.wrote(WriteKind::SessionLog, &opened);
        match opened {
            Ok(l) => self.log = Some(l),
            Err(e) => {
                log::error!(target: "takebox::control", "session log: {e}");
                self.message = Some(format!("session log: {e}"));
            }
        }
        let id = session.id.clone();
        let current = session.current();
        let in_flight = current.and_then(|c| session.in_flight(c).cloned());
        self.log_event(LogEvent::SessionResumed {
            session_id: id.clone(),
            done: session.finished_count(),
            total: session.plan.len(),
            in_flight: in_flight.as_ref().map(|t| t.take_id.clone()),
        });
        log::info!(target: "takebox::control", "resuming session {id} at slot {:?}", current.map(|c| c + 1));
        let paused = session.paused;
        let mut session = session;
        self.last = self.rebuild_from_log(&mut session);
        self.session = Some(session);
        match (current, in_flight) {
            (Some(slot), Some(t)) => {
                // Out when the board went down: ask for it again by the same id; a
                // recorder that never finished it answers so and the slot is re-armed.
                self.launch(slot, t.take_id, t.start_at);
            }
            (Some(_), None) => self.set_phase(if paused { Phase::Paused } else { Phase::Armed }),
            (None, _) => self.finish(),
        }
    }

    /// The latest session, finished or aborted when the board went down: its
    /// take list and last confirmation stay on the page, and its slots can be
    /// recorded again (which reopens it).
    fn hold(&mut self, mut session: Session) {
        self.last = self.rebuild_from_log(&mut session);
        let phase = if session.status == SessionStatus::Aborted {
            Phase::Aborted
        } else {
            Phase::Finished
        };
        self.session = Some(session);
        self.set_phase(phase);
    }

    /// The session's last confirmation, read back from its log (the same
    /// typed lines the catalog reads), with its verdict by name; takes whose
    /// figures the session file lacks (saved by an older board) get them
    /// from their confirmation lines too.
    fn rebuild_from_log(&self, session: &mut Session) -> Option<LastTake> {
        let config = self.config();
        let path = config
            .logging
            .log_directory
            .join(format!("{}.jsonl", session.id));
        let record = match crate::session_log_format::read(&path) {
            Ok(r) => r,
            Err(e) => {
                log::warn!(target: "takebox::control", "no last confirmation: {e}");
                return None;
            }
        };
        let limits = config.post_processing.check_settings();
        let lines: BTreeMap<String, &Confirmed> = record
            .takes
            .iter()
            .map(|t| (t.confirmed.take_id.to_string(), &t.confirmed))
            .collect();
        let records = session.progress.iter_mut().flat_map(|p| &mut p.takes);
        for t in records.filter(|t| t.figures.is_none()) {
            if let Some(c) = lines.get(&t.take_id.to_string()) {
                t.figures = Some(verdict::figures(
                    &c.judgement,
                    c.check.as_ref(),
                    &c.peak_dbfs,
                    &limits,
                ));
            }
        }
        last_take(session, &record, &limits)
    }

    fn begin(&mut self, session: Session) -> Result<(), Refused> {
        if let Some(s) = &self.session
            && s.status == SessionStatus::Open
        {
            return refused(format!("session {} is open; abort it first", s.id));
        }
        let config = self.config();
        let log = SessionLog::open(&config.logging.log_directory, &session.id);
        self.wrote(WriteKind::SessionLog, &log);
        let log = log.map_err(|e| Refused(format!("cannot open the session log: {e}")))?;
        let saved = self.ctx.store.save(&session);
        self.wrote(WriteKind::Progress, &saved);
        saved.map_err(|e| Refused(format!("cannot save the session: {e}")))?;
        self.log = Some(log);
        self.log_event(LogEvent::SessionStart {
            session_id: session.id.clone(),
            request: serde_json::to_value(&session.request).expect("a request serializes"),
            takes: session.plan.len(),
            recorders: self.ctx.clients.iter().map(|c| c.url.clone()).collect(),
            settings: serde_json::to_value(LoggedSettings::of(&config))
                .expect("settings serialize"),
        });
        log::info!(target: "takebox::control", "session {} begins: {} takes", session.id, session.plan.len());
        self.session = Some(session);
        self.last = None;
        self.message = None;
        // Nobody plays a MIDI instrument's session: it starts by itself as
        // soon as the recorders are ready (Start and the button still work).
        self.held = self.session.as_ref().is_some_and(Session::unattended);
        self.set_phase(Phase::Armed);
        Ok(())
    }

    fn command(&mut self, cmd: Command) -> Result<(), Refused> {
        let Some(session) = &self.session else {
            return refused("no session: initiate one first");
        };
        if session.status != SessionStatus::Open {
            return refused(format!("session {} is {}", session.id, self.phase.label()));
        }
        let sent = self.take.as_ref().map(|t| t.sent.load(Ordering::SeqCst));
        match cmd {
            Command::Start | Command::Resume => self.start(),
            Command::Retake => self.retake(),
            Command::Skip if sent == Some(true) => {
                refused("the take is being recorded; skip after its confirmation")
            }
            Command::Skip => self.skip(),
            Command::Pause => {
                self.session_mut().paused = true;
                if sent != Some(true) {
                    self.cancel_take();
                    self.set_phase(Phase::Paused);
                }
                self.persist();
                Ok(())
            }
            Command::Abort => {
                self.abort();
                Ok(())
            }
        }
    }

    fn session_mut(&mut self) -> &mut Session {
        self.session.as_mut().expect("a session")
    }

    fn start(&mut self) -> Result<(), Refused> {
        if self.take.is_some() {
            return refused("a take is already under way");
        }
        self.disk_guard()?;
        let session = self.session_mut();
        session.paused = false;
        let Some(slot) = session.current() else {
            self.finish();
            return Ok(());
        };
        self.message = None;
        self.start_take(slot);
        Ok(())
    }

    fn retake(&mut self) -> Result<(), Refused> {
        if self.take.is_some() {
            return refused("a take is under way; retake once it is confirmed");
        }
        let Some(slot) = self.session_mut().last_done else {
            return refused("no confirmed take to record again");
        };
        self.disk_guard()?;
        let session = self.session_mut();
        let Some(old) = session.retake(slot) else {
            return refused("the last take was already replaced");
        };
        session.paused = false;
        self.message = None;
        self.log_event(LogEvent::Retake {
            slot: slot + 1,
            superseded: old,
            reason: None,
        });
        self.persist();
        self.start_take(slot);
        Ok(())
    }

    /// Skip the current slot (a countdown not yet sent is stopped).
    fn skip(&mut self) -> Result<(), Refused> {
        self.cancel_take();
        let session = self.session_mut();
        let Some(slot) = session.current() else {
            return refused("nothing left to skip");
        };
        session.progress[slot].state = SlotState::Skipped;
        let skipped = LogEvent::Skip {
            slot: planned(slot, &session.plan[slot]),
        };
        self.log_event(skipped);
        self.persist();
        if self.session.as_ref().and_then(Session::current).is_none() {
            self.finish();
        } else {
            self.set_phase(Phase::Armed);
        }
        Ok(())
    }

    /// End the session; a take still out is abandoned, a countdown cancelled.
    fn abort(&mut self) {
        if let Some(t) = self.take.take() {
            t.handle.abort();
            let outcome = if t.sent.load(Ordering::SeqCst) {
                TakeOutcome::Abandoned
            } else {
                TakeOutcome::Cancelled
            };
            if let Some(r) = self.session_mut().take_mut(t.slot, &t.take_id) {
                r.outcome = outcome;
            }
            let take_id = t.take_id;
            if outcome == TakeOutcome::Abandoned {
                // The recorders stop it too; their answers are logged as they come.
                let timeout =
                    crate::protocol::seconds(self.config().control.request_timeout_seconds);
                let session_id = self.session_mut().id.clone();
                super::take_abort::spawn(
                    &self.ctx.clients,
                    &session_id,
                    &take_id,
                    timeout,
                    &self.progress_tx,
                );
            }
            self.log_event(if outcome == TakeOutcome::Abandoned {
                LogEvent::TakeAbandoned { take_id }
            } else {
                LogEvent::TakeCancelled { take_id }
            });
        }
        self.session_mut().status = SessionStatus::Aborted;
        self.log_end(EndStatus::Aborted);
        self.persist();
        self.set_phase(Phase::Aborted);
    }

    /// The session's `session_end` line: how it ended and how far it got.
    fn log_end(&mut self, status: EndStatus) {
        let session = self.session_mut();
        let end = LogEvent::SessionEnd {
            status,
            done: session.finished_count(),
            total: session.plan.len(),
        };
        self.log_event(end);
    }

    /// Stop a countdown whose command has not gone out.
    fn cancel_take(&mut self) {
        if let Some(t) = self.take.take() {
            t.handle.abort();
            if let Some(r) = self
                .session
                .as_mut()
                .and_then(|s| s.take_mut(t.slot, &t.take_id))
            {
                r.outcome = TakeOutcome::Cancelled;
            }
            self.log_event(LogEvent::TakeCancelled { take_id: t.take_id });
            self.persist();
        }
    }

    fn finish(&mut self) {
        let Some(session) = &mut self.session else {
            return;
        };
        // Nothing is left to pause: a pause asked for the last take ends here,
        // and its notice with it (the review counts the takes instead).
        session.paused = false;
        if self
            .message
            .as_deref()
            .is_some_and(|m| m.contains(NEEDS_ATTENTION))
        {
            self.message = None;
        }
        if session.status == SessionStatus::Open {
            session.status = SessionStatus::Finished;
            self.log_end(EndStatus::Finished);
            self.persist();
        }
        self.set_phase(Phase::Finished);
    }

    /// A new attempt at `slot`, its countdown starting now.
    fn start_take(&mut self, slot: usize) {
        self.held = false;
        let configured = self.config().countdown_duration;
        let session = self.session.as_mut().expect("a session");
        // A MIDI instrument's session keeps the countdown it began with (its own).
        let countdown = match session.plan[slot].play {
            Some(_) => session.countdown,
            None => configured,
        };
        let start_at = Timestamp(SystemTime::now() + crate::protocol::seconds(countdown));
        let take_id = session.new_attempt(slot, start_at).take_id.clone();
        self.persist();
        self.launch(slot, take_id, start_at);
    }

    /// Send (or send again) the take `take_id` for the note starting at `start_at`.
    fn launch(&mut self, slot: usize, take_id: TakeId, start_at: Timestamp) {
        let config = self.config();
        let session = self.session.as_ref().expect("a session");
        let s = &session.plan[slot];
        if let Err(why) = launchable(s) {
            self.refuse_launch(slot, &take_id, why);
            return;
        }
        let command = TakeCommand {
            take_id: take_id.to_string(),
            session_id: session.id.clone(),
            instrument: session.request.instrument.clone(),
            note: s.note.clone(),
            frequency: s.frequency,
            articulation: s.articulation.clone(),
            duration: s.duration,
            user_initials: (!session.request.user_initials.is_empty())
                .then(|| session.request.user_initials.clone()),
            dynamic: s.dynamic.clone(),
            round_robin: s.round_robin,
            start_at: Some(start_at),
            pitch_check: (!s.pitch_check).then_some(false),
            max_cents: s.max_cents,
            tuning_cents: s.tuning_cents,
            sustain: s.sustain.then_some(true),
            sounds_below_key: s.sounds_below_key.then_some(true),
            midi: s.play.clone(),
        };
        let until = start_at
            .0
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let start = Instant::now() + until;
        let sent = Arc::new(AtomicBool::new(false));
        let sending = LogEvent::Take {
            take_id: take_id.clone(),
            slot: planned(slot, s),
            start_at: Some(start_at),
            offsets_ms: self
                .ctx
                .health
                .offsets()
                .iter()
                .map(|o| o.map(|o| o * 1000.0))
                .collect(),
        };
        let duration = crate::protocol::seconds(s.duration);
        let job = TakeJob {
            clients: self.ctx.clients.clone(),
            health: self.ctx.health.clone(),
            command,
            start,
            margin: crate::protocol::seconds(config.control.take_timeout_seconds),
            sent: sent.clone(),
            progress: self.progress_tx.clone(),
        };
        self.log_event(sending);
        self.take = Some(ActiveTake {
            slot,
            take_id,
            start,
            start_at,
            duration,
            sent,
            handle: tokio::spawn(take_runner::run(job)),
        });
        self.set_phase(Phase::Countdown);
        self.tick();
    }

    /// A take that cannot go out (its slot was planned under limits that no
    /// longer hold): the session pauses and says why, so the person can skip
    /// the slot or abort; the board never crashes over it, at resume either.
    fn refuse_launch(&mut self, slot: usize, take_id: &TakeId, why: NotLaunchable) {
        let why = format!(
            "take {take_id} (slot {}) cannot be recorded: {why}",
            slot + 1
        );
        log::error!(target: "takebox::control", "{why}");
        if let Some(session) = self.session.as_mut() {
            if let Some(r) = session.take_mut(slot, take_id) {
                r.outcome = TakeOutcome::Cancelled;
            }
            session.paused = true;
        }
        self.log_event(LogEvent::Refused {
            command: None,
            take_id: Some(take_id.clone()),
            reason: why.clone(),
        });
        self.message = Some(why);
        self.persist();
        self.set_phase(Phase::Paused);
    }

    fn take_ended(&mut self, take: ActiveTake, result: TakeResult) {
        let slot = take.slot;
        let session = self.session.as_mut().expect("a session");
        let mut lost = false;
        // Aborted on a recorder (not by this board): nothing kept, as if lost.
        let aborted = matches!(result, TakeResult::Aborted(_));
        let mut fix = None;
        let rearm = match result {
            TakeResult::Confirmed(confs) => {
                let (rearm, fixable) = self.confirmed(&take, &confs);
                fix = fixable;
                rearm
            }
            TakeResult::Lost(why) | TakeResult::Aborted(why) => {
                if let Some(r) = session.take_mut(slot, &take.take_id) {
                    r.outcome = if aborted {
                        TakeOutcome::Abandoned
                    } else {
                        TakeOutcome::Lost
                    };
                    r.detail = Some(why.clone());
                }
                lost = true;
                Some(why)
            }
            TakeResult::Rejected(why) => {
                if let Some(r) = session.take_mut(slot, &take.take_id) {
                    r.outcome = TakeOutcome::Lost;
                    r.detail = Some(why.clone());
                }
                session.paused = true;
                self.log_event(LogEvent::Error {
                    recorder: None,
                    error: why.clone(),
                    take_id: Some(take.take_id),
                });
                self.message = Some(format!("take refused: {why}"));
                self.persist();
                self.set_phase(Phase::Paused);
                return;
            }
        };
        if let Some(why) = rearm {
            log::warn!(target: "takebox::control", "take {} not usable ({why}); slot {} is recorded again", take.take_id, slot + 1);
            let what = if aborted {
                "was aborted"
            } else if lost {
                "was lost"
            } else {
                "has no usable audio"
            };
            self.message = Some(format!(
                "take {} {what} ({why}); slot {} ({}) is recorded again",
                take.take_id,
                slot + 1,
                self.slot_label(slot)
            ));
            self.log_event(LogEvent::Rearm {
                take_id: take.take_id,
                slot: slot + 1,
                reason: why,
            });
        } else if let Some(name) = self.warned() {
            if self.session_mut().unattended() {
                self.unattended_warning(slot, &name, fix.as_ref());
            } else {
                self.on_warning(slot, &name);
            }
        }
        self.persist();
        self.arm_next();
    }

    /// An unattended session after a flagged take: recorded again when a
    /// second pass can fix it (`fixable`) and retakes are left; otherwise kept
    /// flagged, and the session goes on (the take list shows it).
    fn unattended_warning(&mut self, slot: usize, name: &str, fix: Option<&retake::Fixable>) {
        let settings = self.config().control.unattended;
        let label = self.slot_label(slot);
        let session = self.session_mut();
        let flagged = session.progress[slot].warned_takes();
        let again = fix.is_some() && retake::again(flagged, &settings);
        let old = again.then(|| session.retake(slot)).flatten();
        self.message = Some(match (old, fix) {
            // Named by what a second pass fixes (a take may also be off pitch).
            (Some(old), Some(fix)) => {
                let why = fix.name();
                self.log_event(LogEvent::Retake {
                    slot: slot + 1,
                    superseded: old,
                    reason: Some(why.clone()),
                });
                format!(
                    "slot {} ({label}) is recorded again ({flagged} of {} retakes): {why}",
                    slot + 1,
                    settings.retakes
                )
            }
            (_, Some(_)) => format!(
                "slot {} ({label}) {NEEDS_ATTENTION}: {name} after {} retakes; the session goes on",
                slot + 1,
                flagged - 1
            ),
            (_, None) => format!(
                "slot {} ({label}) {NEEDS_ATTENTION}: {name} (a second pass would not change it); the session goes on",
                slot + 1
            ),
        });
    }

    /// The last take's verdict by name, when it is a warning.
    fn warned(&self) -> Option<String> {
        let last = self.last.as_ref()?;
        (last.judgement.disposition == Disposition::Warn).then(|| last.figures.verdict_name.clone())
    }

    /// `control.on_warning` after a take with a warning: record the slot again
    /// (a few times at most), pause and ask, or go on.
    fn on_warning(&mut self, slot: usize, name: &str) {
        let policy = self.config().control.on_warning;
        let label = self.slot_label(slot);
        let session = self.session_mut();
        let warned = session.progress[slot].warned_takes();
        match policy {
            OnWarning::Continue => {}
            OnWarning::Retake if warned <= MAX_AUTO_RETAKES => {
                let Some(old) = session.retake(slot) else {
                    return;
                };
                self.log_event(LogEvent::Retake {
                    slot: slot + 1,
                    superseded: old,
                    reason: Some(name.to_string()),
                });
                self.message = Some(format!(
                    "slot {} ({label}) is recorded again: {name}",
                    slot + 1
                ));
            }
            OnWarning::Retake | OnWarning::Pause => {
                session.paused = true;
                self.message = Some(format!(
                    "slot {} ({label}) {NEEDS_ATTENTION}: {name}. Retake records it again; Resume goes on.",
                    slot + 1
                ));
            }
        }
    }

    /// "A4 long ff rr2": a slot as a person names it.
    fn slot_label(&self, slot: usize) -> String {
        let Some(s) = self.session.as_ref().map(|s| &s.plan[slot]) else {
            return String::new();
        };
        let mut label = format!("{} {}", s.note, s.articulation);
        if let Some(d) = &s.dynamic {
            label.push_str(&format!(" {d}"));
        }
        if let Some(rr) = s.round_robin {
            label.push_str(&format!(" rr{rr}"));
        }
        label
    }

    /// Every recorder confirmed `take`: judge it, log each file and show it.
    /// Returns why the slot is recorded again, when no usable audio came back,
    /// and, in an unattended session, what a second pass could fix.
    fn confirmed(
        &mut self,
        take: &ActiveTake,
        confs: &[(String, Confirmation)],
    ) -> (Option<String>, Option<retake::Fixable>) {
        let config = self.config();
        let limits = config.post_processing.check_settings();
        let session = self.session_mut();
        let unattended = session.unattended();
        let note_secs = session.plan[take.slot].duration;
        let settings = &config.control.unattended;
        let tolerance = settings.onset_tolerance_ms;
        let mut fix = None;
        let judged: Vec<Judgement> = confs
            .iter()
            .map(|(_, c)| {
                let judged = verdict::judge(c, &limits);
                match unattended.then(|| retake::fixable(c, note_secs, &limits, settings)) {
                    Some(Some(f)) => {
                        let flagged = match judged.disposition {
                            Disposition::Ok => Judgement::warn(f.describe(tolerance)),
                            _ => judged,
                        };
                        fix.get_or_insert(f);
                        flagged
                    }
                    _ => judged,
                }
            })
            .collect();
        let overall = judged
            .iter()
            .cloned()
            .fold(Judgement::ok(), Judgement::worst);
        let mut figures = worst_figures(confs, &judged, &limits);
        // Named by what a second pass would fix, where the recorder's check
        // and the levels had nothing to say.
        if let Some(f) = &fix
            && overall.reason.as_deref() == Some(&f.describe(tolerance))
        {
            figures.verdict_name = f.name();
        }
        let failed = overall.is_failed();
        let paths: Vec<String> = confs.iter().map(|(_, c)| c.path.clone()).collect();
        let slot = take.slot;
        let session = self.session.as_mut().expect("a session");
        if let Some(r) = session.take_mut(slot, &take.take_id) {
            r.outcome = if failed {
                TakeOutcome::Failed
            } else {
                TakeOutcome::Done
            };
            r.paths = paths.clone();
            r.verdict = Some(overall.disposition);
            // An organ's 16' stop read at its key: ok, and the list says so.
            r.detail = overall.reason.clone().or_else(|| {
                verdict::below_key_detail(confs.iter().filter_map(|(_, c)| c.check.as_ref()))
            });
            r.figures = Some(figures.clone());
        }
        if !failed {
            session.progress[slot].state = SlotState::Done;
            session.last_done = Some(slot);
        }
        let lines: Vec<Confirmed> = confs
            .iter()
            .zip(judged)
            .map(|((url, c), judgement)| confirmation_line(session, take, url, c, judgement))
            .collect();
        let plan = &session.plan[slot];
        self.last = Some(LastTake {
            take_id: take.take_id.to_string(),
            slot,
            note: plan.note.clone(),
            articulation: plan.articulation.clone(),
            dynamic: plan.dynamic.clone(),
            round_robin: plan.round_robin,
            paths,
            judgement: overall.clone(),
            figures,
            warnings: take_warnings(confs),
            recorded_at: confs.first().map(|(_, c)| c.recorded_at),
            waveform: confs.first().and_then(|(_, c)| {
                Waveform::new(
                    c.envelope.as_ref(),
                    c.processing.as_ref(),
                    Some(c.sample_rate),
                )
            }),
        });
        for line in lines {
            self.log_event(LogEvent::Confirmation(Box::new(line)));
        }
        let _ = self.ctx.events.send(Event::Confirmed {
            take_id: take.take_id.to_string(),
            verdict: overall.disposition,
        });
        self.message = None;
        let rearm = failed.then(|| overall.reason.unwrap_or_else(|| "failed".into()));
        (rearm, fix)
    }

    /// A held auto-advance starts the next take once nothing stands in its
    /// way; a person's command (pause, abort, start) or a take under way ends
    /// the hold.
    fn recheck_held(&mut self) {
        let waiting = self.take.is_none()
            && self.phase == Phase::Armed
            && self
                .session
                .as_ref()
                .is_some_and(|s| s.request.auto_advance && !s.paused);
        if !waiting {
            self.held = false;
            return;
        }
        if let Some(why) = self.guard_reason() {
            self.message = Some(format!("take not armed: {why}"));
            return;
        }
        self.held = false;
        self.message = None;
        match self.session.as_ref().and_then(Session::current) {
            Some(next) => self.start_take(next),
            None => self.finish(),
        }
    }

    /// After a take: the next slot's countdown starts (auto advance) or waits.
    fn arm_next(&mut self) {
        let session = self.session.as_ref().expect("a session");
        let Some(next) = session.current() else {
            self.finish();
            return;
        };
        if session.paused {
            self.set_phase(Phase::Paused);
        } else if session.request.auto_advance {
            if self.disk_guard().is_ok() {
                self.start_take(next);
            } else {
                // An unattended session goes on by itself once the guard clears.
                self.held = true;
                self.set_phase(Phase::Armed);
            }
        } else {
            self.set_phase(Phase::Armed);
        }
    }
}

impl Cycle {
    /// Record `again` once more: each slot pending again (a confirmed take
    /// superseded, a skipped slot taken up), a finished session reopened, and
    /// the first of them armed with its countdown started.
    fn record_again(&mut self, again: Again) -> Result<(), Refused> {
        let Some(session) = &self.session else {
            return refused("no session: initiate one first");
        };
        if self.take.is_some() {
            return refused("a take is under way; record again once it is confirmed");
        }
        let slots: Vec<usize> = match again {
            Again::Attention => session.needing_attention(),
            Again::Slots(v) => v.iter().map(|n| n.wrapping_sub(1)).collect(),
        };
        if slots.is_empty() {
            return refused("no take needs attention");
        }
        for &i in &slots {
            match session.progress.get(i).map(|p| p.state) {
                None => {
                    return refused(format!(
                        "there is no slot {} in this session",
                        i.wrapping_add(1)
                    ));
                }
                Some(SlotState::Pending) => {
                    return refused(format!("slot {} is still to be recorded", i + 1));
                }
                Some(_) => {}
            }
        }
        self.disk_guard()?;
        self.reopen(&slots)?;
        for &i in &slots {
            let session = self.session_mut();
            let event = match session.record_again(i) {
                Ok(Some(old)) => LogEvent::Retake {
                    slot: i + 1,
                    superseded: old,
                    reason: None,
                },
                Ok(None) => LogEvent::Requeue {
                    slot: planned(i, &session.plan[i]),
                },
                Err(e) => return refused(e.to_string()),
            };
            self.log_event(event);
        }
        let session = self.session_mut();
        session.paused = false;
        let first = session.current().expect("a slot was made pending");
        self.message = None;
        self.persist();
        self.start_take(first);
        Ok(())
    }

    /// A finished or aborted session is opened again (its log too, after a restart).
    fn reopen(&mut self, slots: &[usize]) -> Result<(), Refused> {
        let session = self.session.as_ref().expect("a session");
        if session.status == SessionStatus::Open {
            return Ok(());
        }
        if self.log.is_none() {
            let dir = self.config().logging.log_directory.clone();
            let log = SessionLog::open(&dir, &session.id);
            self.wrote(WriteKind::SessionLog, &log);
            let log = log.map_err(|e| Refused(format!("cannot open the session log: {e}")))?;
            self.log = Some(log);
        }
        let session = self.session_mut();
        session.status = SessionStatus::Open;
        let event = LogEvent::SessionReopened {
            session_id: session.id.clone(),
            slots: slots.iter().map(|i| i + 1).collect(),
        };
        log::info!(target: "takebox::control", "session {} reopened to record {} slots again", session.id, slots.len());
        self.log_event(event);
        Ok(())
    }

    /// The share path of the confirmed file the recorder's take id `take_id`
    /// names: only files a confirmation of this session named are served.
    fn audio_path(&self, take_id: &str) -> Option<String> {
        let session = self.session.as_ref()?;
        let base = TakeId::parse(take_id);
        let slot = session.progress.iter().find_map(|p| {
            p.takes
                .iter()
                .find(|t| t.take_id.to_string() == base.base())
        })?;
        let n = slot.paths.len();
        slot.paths
            .iter()
            .enumerate()
            .find(|(i, _)| slot.take_id.on_recorder(*i, n).to_string() == take_id)
            .map(|(_, p)| p.clone())
    }
}

/// The figures of the worst-judged recorder's file (the first on a tie).
fn worst_figures(
    confs: &[(String, Confirmation)],
    judged: &[Judgement],
    limits: &CheckSettings,
) -> verdict::Figures {
    let worst = (0..judged.len())
        .rev()
        .max_by_key(|&i| judged[i].disposition)
        .unwrap_or(0);
    confs
        .get(worst)
        .map(|(_, c)| verdict::figures(&judged[worst], c.check.as_ref(), &c.peak_dbfs, limits))
        .unwrap_or_default()
}

/// The last confirmation a session log holds, as the page shows it.
fn last_take(
    session: &Session,
    record: &crate::session_log_format::SessionRecord,
    limits: &CheckSettings,
) -> Option<LastTake> {
    let last = record.takes.iter().max_by_key(|t| t.line)?;
    let base = last.confirmed.take_id.base().to_string();
    let files: Vec<&Confirmed> = record
        .takes
        .iter()
        .filter(|t| t.confirmed.take_id.base() == base)
        .map(|t| &t.confirmed)
        .collect();
    let judged: Vec<Judgement> = files.iter().map(|c| c.judgement.clone()).collect();
    let worst = (0..judged.len())
        .rev()
        .max_by_key(|&i| judged[i].disposition)
        .unwrap_or(0);
    let c = files[worst];
    let slot = c
        .slot
        .map(|s| s.saturating_sub(1))
        .filter(|&s| s < session.plan.len())
        .unwrap_or(0);
    Some(LastTake {
        take_id: base,
        slot,
        note: c.note.clone(),
        articulation: c.articulation.clone(),
        dynamic: c.dynamic.clone(),
        round_robin: c.round_robin,
        paths: files.iter().map(|f| f.filename.clone()).collect(),
        judgement: judged
            .iter()
            .cloned()
            .fold(Judgement::ok(), Judgement::worst),
        figures: verdict::figures(&c.judgement, c.check.as_ref(), &c.peak_dbfs, limits),
        warnings: files
            .iter()
            .flat_map(|f| f.warnings.iter().map(|w| w.to_string()))
            .collect(),
        recorded_at: files.first().map(|f| f.timestamp),
        waveform: files
            .first()
            .and_then(|f| Waveform::new(f.envelope.as_ref(), f.processing.as_ref(), f.sample_rate)),
    })
}

/// Slot `index` (from 0) as a `take` or `skip` line has it.
fn planned(index: usize, s: &Slot) -> PlannedSlot {
    PlannedSlot {
        slot: index + 1,
        note: s.note.clone(),
        articulation: s.articulation.clone(),
        dynamic: s.dynamic.clone(),
        round_robin: s.round_robin,
    }
}

/// A recorder's file of `take` as its `confirmation` line has it.
fn confirmation_line(
    session: &Session,
    take: &ActiveTake,
    recorder: &str,
    c: &Confirmation,
    judgement: Judgement,
) -> Confirmed {
    let plan = &session.plan[take.slot];
    Confirmed {
        session_id: session.id.clone(),
        filename: c.path.clone(),
        note: plan.note.clone(),
        frequency: plan.frequency,
        articulation: plan.articulation.clone(),
        instrument: session.request.instrument.clone(),
        timestamp: c.recorded_at,
        take_id: TakeId::parse(&c.take_id),
        dynamic: plan.dynamic.clone(),
        round_robin: plan.round_robin,
        recorder: Some(recorder.to_string()),
        judgement,
        state: Some(c.state),
        sha256: Some(c.sha256.clone()),
        peak_dbfs: c.peak_dbfs.clone(),
        check: c.check.clone(),
        processing: c.processing.clone(),
        warnings: c.warnings.clone(),
        slot: Some(take.slot + 1),
        start_at: Some(take.start_at),
        sample_rate: Some(c.sample_rate),
        envelope: c.envelope.clone(),
        midi: c.midi.clone(),
    }
}

/// What the recorders said about a take recorded all the same, each named by
/// its recorder when there are several.
fn take_warnings(confs: &[(String, Confirmation)]) -> Vec<String> {
    let multi = confs.len() > 1;
    confs
        .iter()
        .flat_map(|(url, c)| {
            c.warnings.iter().map(move |w| {
                if multi {
                    format!("{url}: {w}")
                } else {
                    w.to_string()
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_start_records_the_settings_as_before() {
        let config = Config::default();
        let settings = serde_json::to_value(LoggedSettings::of(&config)).unwrap();
        assert_eq!(
            settings.to_string(),
            crate::session_log_format::event::DEFAULT_SETTINGS
        );
    }

    #[test]
    fn an_unlaunchable_slot_says_why() {
        let why = NotLaunchable { duration: -1.0 };
        assert_eq!(
            why.to_string(),
            format!(
                "its duration of -1 s is not between 0 and {} s; skip the slot or abort the session",
                crate::config::MAX_NOTE_SECONDS
            )
        );
    }
}
