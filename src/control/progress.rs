//! A session's progress, persisted after every change so that a reboot resumes
//! where it stopped: no take done twice, none skipped.
//!
//! One file per session, `<state_dir>/sessions/<id>.json`, replaced atomically.

use super::plan::{SessionRequest, Slot};
use super::verdict::Disposition;
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotProgress {
    pub state: SlotState,
    pub attempts: u32,
    #[serde(default)]
    pub takes: Vec<TakeRecord>,
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
            if session.status == SessionStatus::Open
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

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        let slot = |i: usize, note: &str| Slot {
            index: i,
            note: note.into(),
            midi: 69,
            frequency: 440.0,
            articulation: "long".into(),
            duration: 1.0,
            dynamic: None,
            round_robin: None,
            pitch_check: true,
            max_cents: None,
            tuning_cents: None,
        };
        Session::new(
            "s1".into(),
            SessionRequest::default(),
            3.0,
            vec![slot(0, "A4"), slot(1, "A#4")],
        )
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
