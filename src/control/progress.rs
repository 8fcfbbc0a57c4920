//! A session's progress, persisted after every change so that a reboot resumes
//! where it stopped: no take done twice, none skipped.
//!
//! One file per session, `<state_dir>/sessions/<id>.json`, replaced atomically.

use super::plan::{SessionRequest, Slot};
use super::verdict::{Disposition, Figures};
use crate::protocol::{TakeId, Timestamp};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    Pending,
    Done,
    Skipped,
}

/// How one attempt at a slot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeOutcome {
    /// Sent (or about to be) and not confirmed yet. Found after a restart, it is
    /// asked for again with the same take id.
    InFlight,
    /// Confirmed; the slot is done.
    Done,
    /// Confirmed, but the recorder reported the audio unusable: recorded again.
    Failed,
    /// The recorder no longer knows it (restarted mid-take) or refused its start.
    Lost,
    /// Replaced by a retake.
    Superseded,
    /// The countdown was stopped before the command was sent.
    Cancelled,
    /// The session was aborted while the take was out.
    Abandoned,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TakeRecord {
    pub take_id: TakeId,
    pub attempt: u32,
    /// The note's start on the board's clock.
    pub start_at: Timestamp,
    pub outcome: TakeOutcome,
    /// File per recorder, relative to the share root.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Disposition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The verdict by name and the figures (cents, peak, SNR) of a confirmed take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures: Option<Figures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotProgress {
    pub state: SlotState,
    pub attempts: u32,
    #[serde(default)]
    pub takes: Vec<TakeRecord>,
}

impl SlotProgress {
    /// How many of the slot's takes the board warned about (each retake of
    /// a flagged take counts once).
    pub fn warned_takes(&self) -> usize {
        self.takes
            .iter()
            .filter(|t| t.verdict == Some(Disposition::Warn))
            .count()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Finished,
    Aborted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub created_at: Timestamp,
    pub request: SessionRequest,
    /// Countdown in seconds when the session began.
    pub countdown: f64,
    pub plan: Vec<Slot>,
    pub progress: Vec<SlotProgress>,
    pub status: SessionStatus,
    pub paused: bool,
    /// The slot most recently confirmed: what Retake records again.
    #[serde(default)]
    pub last_done: Option<usize>,
}

impl Session {
    pub fn new(id: String, request: SessionRequest, countdown: f64, plan: Vec<Slot>) -> Session {
        let progress = plan
            .iter()
            .map(|_| SlotProgress {
                state: SlotState::Pending,
                attempts: 0,
                takes: Vec::new(),
            })
            .collect();
        Session {
            id,
            created_at: Timestamp::now(),
            request,
            countdown,
            plan,
            progress,
            status: SessionStatus::Open,
            paused: false,
            last_done: None,
        }
    }

    /// Nobody attends: asked for, or a MIDI instrument's session (the
    /// recorder plays every take).
    pub fn unattended(&self) -> bool {
        self.request.unattended || self.plan.first().is_some_and(|s| s.play.is_some())
    }

    /// The next slot to record: the first one neither done nor skipped.
    pub fn current(&self) -> Option<usize> {
        self.progress
            .iter()
            .position(|p| p.state == SlotState::Pending)
    }

    /// Slots done or skipped.
    pub fn finished_count(&self) -> usize {
        self.progress
            .iter()
            .filter(|p| p.state != SlotState::Pending)
            .count()
    }

    /// Slots skipped (counted in [`Session::finished_count`] too).
    pub fn skipped_count(&self) -> usize {
        self.progress
            .iter()
            .filter(|p| p.state == SlotState::Skipped)
            .count()
    }

    /// The pace so far: seconds between the starts of the first and the
    /// latest recorded takes, per take in between (countdowns, listening and
    /// retakes included). `None` before two takes are recorded.
    pub fn seconds_per_take(&self) -> Option<f64> {
        let starts = self
            .progress
            .iter()
            .flat_map(|p| &p.takes)
            .filter(|t| t.outcome == TakeOutcome::Done)
            .map(|t| t.start_at.unix_seconds());
        let (n, first, last) = starts
            .fold((0u32, f64::INFINITY, f64::NEG_INFINITY), |(n, a, b), t| {
                (n + 1, a.min(t), b.max(t))
            });
        (n >= 2 && last > first).then(|| (last - first) / f64::from(n - 1))
    }

    /// A new attempt at `slot`: its take id is unique per attempt and a valid name.
    pub fn new_attempt(&mut self, slot: usize, start_at: Timestamp) -> &TakeRecord {
        let p = &mut self.progress[slot];
        p.attempts += 1;
        let take_id = TakeId::attempt(&self.id, slot, p.attempts);
        p.takes.push(TakeRecord {
            take_id,
            attempt: p.attempts,
            start_at,
            outcome: TakeOutcome::InFlight,
            paths: Vec::new(),
            verdict: None,
            detail: None,
            figures: None,
        });
        p.takes.last().expect("just pushed")
    }

    /// The attempt of `slot` still out, if any.
    pub fn in_flight(&self, slot: usize) -> Option<&TakeRecord> {
        self.progress[slot]
            .takes
            .iter()
            .rev()
            .find(|t| t.outcome == TakeOutcome::InFlight)
    }

    pub fn take_mut(&mut self, slot: usize, take_id: &TakeId) -> Option<&mut TakeRecord> {
        self.progress[slot]
            .takes
            .iter_mut()
            .find(|t| t.take_id == *take_id)
    }

    /// Mark the confirmed take of `slot` superseded and make the slot pending again.
    /// Returns the superseded take id.
    pub fn retake(&mut self, slot: usize) -> Option<TakeId> {
        let p = &mut self.progress[slot];
        if p.state != SlotState::Done {
            return None;
        }
        let t = p
            .takes
            .iter_mut()
            .rev()
            .find(|t| t.outcome == TakeOutcome::Done)?;
        t.outcome = TakeOutcome::Superseded;
        p.state = SlotState::Pending;
        Some(t.take_id.clone())
    }
}

/// Why a slot cannot be recorded again now.
#[derive(Debug, Clone, PartialEq)]
pub enum NotAgain {
    /// No such slot in the plan (from 1).
    NoSuchSlot(usize),
    /// The slot is still to be recorded.
    Pending(usize),
}

impl std::fmt::Display for NotAgain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotAgain::NoSuchSlot(n) => write!(f, "there is no slot {n} in this session"),
            NotAgain::Pending(n) => write!(f, "slot {n} is still to be recorded"),
        }
    }
}

impl Session {
    /// Make `slot` pending again so it is recorded next: a confirmed take is
    /// superseded (returned), a skipped slot is simply taken up again.
    pub fn record_again(&mut self, slot: usize) -> Result<Option<TakeId>, NotAgain> {
        let p = self
            .progress
            .get_mut(slot)
            .ok_or(NotAgain::NoSuchSlot(slot + 1))?;
        match p.state {
            SlotState::Pending => Err(NotAgain::Pending(slot + 1)),
            SlotState::Skipped => {
                p.state = SlotState::Pending;
                Ok(None)
            }
            SlotState::Done => Ok(self.retake(slot)),
        }
    }

    /// The take that stands for `slot`: its confirmed one, else its latest attempt.
    pub fn kept_take(&self, slot: usize) -> Option<&TakeRecord> {
        let takes = &self.progress[slot].takes;
        takes
            .iter()
            .rev()
            .find(|t| t.outcome == TakeOutcome::Done)
            .or(takes.last())
    }

    /// Slots done with a warning: the review at the end lists them.
    pub fn needing_attention(&self) -> Vec<usize> {
        (0..self.plan.len())
            .filter(|&i| {
                self.progress[i].state == SlotState::Done
                    && self
                        .kept_take(i)
                        .is_some_and(|t| t.verdict == Some(Disposition::Warn))
            })
            .collect()
    }
}

/// Where sessions are kept.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn open(state_dir: &Path) -> std::io::Result<Store> {
        let dir = state_dir.join("sessions");
        std::fs::create_dir_all(&dir)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        Ok(Store { dir })
    }

    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub fn exists(&self, id: &str) -> bool {
        self.path(id).exists()
    }

    pub fn save(&self, session: &Session) -> std::io::Result<()> {
        let path = self.path(&session.id);
        let mut text = serde_json::to_vec_pretty(session).expect("session serializes");
        text.push(b'\n');
        crate::durable::write_atomic(&path, &text)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }

    /// The most recent session still open, if any. Files that do not parse are
    /// reported and left alone.
    pub fn load_open(&self) -> std::io::Result<Option<Session>> {
        self.load_latest(|s| s.status == SessionStatus::Open)
    }

    /// The most recent session that `wanted` accepts (a finished one stays on
    /// the page across a restart, its take list and reopening with it).
    pub fn load_latest(
        &self,
        wanted: impl Fn(&Session) -> bool,
    ) -> std::io::Result<Option<Session>> {
        let mut open: Option<Session> = None;
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.ends_with(".json") || crate::durable::is_temp_name(name) {
                continue;
            }
            let session: Session = match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(s) => s,
                Err(e) => {
                    log::error!(target: "takebox::control", "{}: unreadable session file: {e}", path.display());
                    continue;
                }
            };
            if wanted(&session)
                && open
                    .as_ref()
                    .is_none_or(|o| o.created_at < session.created_at)
            {
                open = Some(session);
            }
        }
        Ok(open)
    }
}

/// A session `s1` planning one `long` slot per note, for tests.
#[cfg(test)]
pub(crate) fn test_session(notes: &[&str]) -> Session {
    let plan = notes
        .iter()
        .enumerate()
        .map(|(i, note)| super::plan::test_slot(i, note))
        .collect();
    Session::new("s1".into(), SessionRequest::default(), 3.0, plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        test_session(&["A4", "A#4"])
    }

    #[test]
    fn the_pace_counts_recorded_takes_and_skips_apart() {
        let mut s = session();
        s.plan.push(s.plan[1].clone());
        s.progress.push(s.progress[1].clone());
        let at = |secs: &str| -> Timestamp { format!("2026-12-01T10:00:{secs}Z").parse().unwrap() };
        let done = |s: &mut Session, slot: usize, t: &str, outcome: TakeOutcome| {
            s.new_attempt(slot, at(t));
            s.progress[slot].takes.last_mut().unwrap().outcome = outcome;
        };
        done(&mut s, 0, "00", TakeOutcome::Failed);
        done(&mut s, 0, "10", TakeOutcome::Done);
        assert_eq!(s.seconds_per_take(), None, "one take sets no pace");
        done(&mut s, 1, "55", TakeOutcome::Done);
        assert_eq!(s.seconds_per_take(), Some(45.0));
        s.progress[2].state = SlotState::Skipped;
        assert_eq!((s.skipped_count(), s.finished_count()), (1, 1));
    }

    #[test]
    fn attempts_get_unique_ids_and_retake_supersedes() {
        let mut s = session();
        assert_eq!(s.current(), Some(0));
        let id1 = s.new_attempt(0, Timestamp::now()).take_id.clone();
        assert_eq!(id1.to_string(), "s1-0001-1");
        crate::protocol::check_name("take_id", &id1.to_string()).unwrap();
        assert_eq!(s.in_flight(0).unwrap().take_id, id1);
        s.take_mut(0, &id1).unwrap().outcome = TakeOutcome::Done;
        s.progress[0].state = SlotState::Done;
        assert_eq!(s.current(), Some(1));
        assert_eq!(s.retake(0), Some(id1));
        assert_eq!(s.current(), Some(0));
        assert_eq!(
            s.new_attempt(0, Timestamp::now()).take_id.to_string(),
            "s1-0001-2"
        );
        assert_eq!(s.retake(1), None, "a pending slot has nothing to retake");
    }

    #[test]
    fn a_slot_is_recorded_again_whether_done_or_skipped() {
        let mut s = session();
        let id = s.new_attempt(0, Timestamp::now()).take_id.clone();
        let t = s.take_mut(0, &id).unwrap();
        t.outcome = TakeOutcome::Done;
        t.verdict = Some(Disposition::Warn);
        s.progress[0].state = SlotState::Done;
        s.progress[1].state = SlotState::Skipped;
        assert_eq!(s.needing_attention(), vec![0]);
        assert_eq!(s.skipped_count(), 1);
        assert_eq!(s.record_again(1), Ok(None));
        assert_eq!(s.record_again(1), Err(NotAgain::Pending(2)));
        assert_eq!(s.record_again(0), Ok(Some(id)));
        assert_eq!(s.record_again(5), Err(NotAgain::NoSuchSlot(6)));
        assert_eq!(s.current(), Some(0));
        assert!(s.needing_attention().is_empty());
    }

    #[test]
    fn store_round_trips_and_finds_the_open_session() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut s = session();
        s.new_attempt(0, Timestamp::now());
        store.save(&s).unwrap();
        let mut done = session();
        done.id = "s0".into();
        done.status = SessionStatus::Finished;
        store.save(&done).unwrap();
        std::fs::write(store.path("junk"), b"{").unwrap();
        let back = store.load_open().unwrap().unwrap();
        assert_eq!(back.id, s.id);
        assert_eq!(back.progress[0].takes[0].take_id.to_string(), "s1-0001-1");
        assert_eq!(back.in_flight(0).unwrap().attempt, 1);
        assert_eq!(back.plan, s.plan);
    }
}
