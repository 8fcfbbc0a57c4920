//! The take cycle: armed -> countdown -> recording -> waiting for confirmation ->
//! done (or recorded again), driven by commands from the page, the API and the
//! GPIO button. One task owns the session; everyone else sends [`Command`]s and
//! watches [`CycleStatus`] or subscribes to [`Event`]s (SSE clients, LEDs).
//! Everything it does goes into the session log as a [`LogEvent`].

use super::health::Health;
use super::plan::Slot;
use super::progress::{Session, SessionStatus, SlotState, Store, TakeOutcome};
use super::recorder_client::RecorderClient;
use super::session_log::SessionLog;
pub use super::status::{CycleStatus, Event, LastTake, Phase};
use super::take_runner::{self, Progress, TakeJob, TakeResult};
use super::verdict::{self, Judgement};
use crate::config::{Config, FileNaming, PostProcessing, StorageManagement};
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
    Abort,
}

impl Command {
    pub fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "start" => Command::Start,
            "retake" => Command::Retake,
            "skip" => Command::Skip,
            "pause" => Command::Pause,
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
}

/// What the cycle needs from the daemon around it.
pub struct CycleContext {
    pub config: Arc<RwLock<Arc<Config>>>,
    pub clients: Vec<RecorderClient>,
    pub health: Arc<Health>,
    pub store: Store,
    pub events: broadcast::Sender<Event>,
    pub status: watch::Sender<CycleStatus>,
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
    progress_tx: mpsc::Sender<Progress>,
    progress_rx: mpsc::Receiver<Progress>,
}

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
            progress_tx,
            progress_rx,
        };
        if let Some(s) = session {
            cycle.resume(s);
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
                _ = shutdown.changed() => break,
            };
            match wake {
                Wake::Request(None) => break,
                Wake::Request(Some(Request::Command(cmd, reply))) => {
                    // The command first, then what it caused.
                    self.log_event(LogEvent::Command {
                        command: cmd.name().into(),
                    });
                    let r = self.command(cmd);
                    if let Err(e) = &r {
                        self.log_event(LogEvent::Refused {
                            command: Some(cmd.name().into()),
                            take_id: None,
                            reason: e.0.clone(),
                        });
                    }
                    let _ = reply.send(r);
                    self.publish(Event::Changed);
                }
                Wake::Request(Some(Request::Log(event))) => self.log_event(event),
                Wake::Request(Some(Request::Begin(session, reply))) => {
                    let r = self.begin(*session);
                    let _ = reply.send(r);
                    self.publish(Event::Changed);
                }
                Wake::TakeEnded(r) => {
                    let take = self.take.take().expect("a take ended");
                    let result = r
                        .unwrap_or_else(|e| TakeResult::Rejected(format!("take task failed: {e}")));
                    self.take_ended(take, result);
                    self.publish(Event::Changed);
                }
                Wake::Progress(p) => self.progress(p),
                Wake::Tick => self.tick(),
            }
        }
        // Stopping: a take still out stays in flight in the session file and is
        // asked for again (same take id) when the daemon comes back.
        if let Some(t) = self.take.take() {
            t.handle.abort();
        }
    }

    fn log_event(&mut self, event: LogEvent) {
        if let Some(log) = &mut self.log
            && let Err(e) = log.append(&event)
        {
            log::error!(target: "takebox::control", "session log: {e}");
            self.message = Some(format!("session log: {e}"));
        }
    }

    /// No take is armed while a recorder that answers cannot record it, or
    /// with less than `storage_management.min_free_gb` free on the share; the
    /// reason is shown. A share folder this board does not have (it is the
    /// recorder's mount) is not guarded here: the recorder reports its own.
    fn disk_guard(&mut self) -> Result<(), Refused> {
        let Some(why) = self.recorder_guard().or_else(|| self.share_guard()) else {
            return Ok(());
        };
        log::warn!(target: "takebox::control", "take not armed: {why}");
        self.message = Some(format!("take not armed: {why}"));
        Err(Refused(why))
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
        if let Some(s) = &self.session
            && let Err(e) = self.ctx.store.save(s)
        {
            log::error!(target: "takebox::control", "cannot save session progress: {e}");
            self.message = Some(format!("cannot save session progress: {e}"));
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
            st.paused = s.paused;
            st.done = s.finished_count();
            st.total = s.plan.len();
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
            Progress::Recovered { recorder } => {
                self.log_event(LogEvent::RecorderBack { recorder });
                self.message = None;
            }
        }
        self.publish(Event::Recorders);
    }

    fn resume(&mut self, session: Session) {
        let config = self.config();
        match SessionLog::open(&config.logging.log_directory, &session.id) {
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

    fn begin(&mut self, session: Session) -> Result<(), Refused> {
        if let Some(s) = &self.session
            && s.status == SessionStatus::Open
        {
            return refused(format!("session {} is open; abort it first", s.id));
        }
        let config = self.config();
        let log = SessionLog::open(&config.logging.log_directory, &session.id)
            .map_err(|e| Refused(format!("cannot open the session log: {e}")))?;
        self.ctx
            .store
            .save(&session)
            .map_err(|e| Refused(format!("cannot save the session: {e}")))?;
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
            Command::Start => self.start(),
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
        self.log_event(LogEvent::Retake {
            slot: slot + 1,
            superseded: old,
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
        if session.status == SessionStatus::Open {
            session.status = SessionStatus::Finished;
            self.log_end(EndStatus::Finished);
            self.persist();
        }
        self.set_phase(Phase::Finished);
    }

    /// A new attempt at `slot`, its countdown starting now.
    fn start_take(&mut self, slot: usize) {
        let countdown = crate::protocol::seconds(self.config().countdown_duration);
        let start_at = Timestamp(SystemTime::now() + countdown);
        let session = self.session.as_mut().expect("a session");
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
        let rearm = match result {
            TakeResult::Confirmed(confs) => self.confirmed(&take, &confs),
            TakeResult::Lost(why) => {
                if let Some(r) = session.take_mut(slot, &take.take_id) {
                    r.outcome = TakeOutcome::Lost;
                    r.detail = Some(why.clone());
                }
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
            self.message = Some(format!("slot {} is recorded again: {why}", slot + 1));
            self.log_event(LogEvent::Rearm {
                take_id: take.take_id,
                slot: slot + 1,
                reason: why,
            });
        }
        self.persist();
        self.arm_next();
    }

    /// Every recorder confirmed `take`: judge it, log each file and show it.
    /// Returns why the slot is recorded again, when no usable audio came back.
    fn confirmed(&mut self, take: &ActiveTake, confs: &[(String, Confirmation)]) -> Option<String> {
        let limits = CheckSettings::from_post_processing(&self.config().post_processing);
        let judged: Vec<Judgement> = confs
            .iter()
            .map(|(_, c)| verdict::judge(c, &limits))
            .collect();
        let overall = judged
            .iter()
            .cloned()
            .fold(Judgement::ok(), Judgement::worst);
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
            r.detail = overall.reason.clone();
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
            warnings: take_warnings(confs),
            recorded_at: confs.first().map(|(_, c)| c.recorded_at),
        });
        for line in lines {
            self.log_event(LogEvent::Confirmation(Box::new(line)));
        }
        let _ = self.ctx.events.send(Event::Confirmed {
            take_id: take.take_id.to_string(),
            verdict: overall.disposition,
        });
        self.message = None;
        failed.then(|| overall.reason.unwrap_or_else(|| "failed".into()))
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
                self.set_phase(Phase::Armed);
            }
        } else {
            self.set_phase(Phase::Armed);
        }
    }
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
