//! Aborting a take (`POST /v1/takes/{id}/abort`): the board abandoned it, so
//! the recorder stops it at once (its own flag, not the shutdown one), drops
//! its MIDI note (which silences the channel), keeps nothing of it, and
//! refuses its id from then on. The take command still waiting for it is
//! answered with [`TakeRefused::Aborted`].

use super::Recorder;
use crate::capture::refused::TakeRefused;
use crate::panics::locked;
use crate::protocol::{ABORT_ANSWER_WITHIN, AbortOutcome, AbortReply, Confirmation, check_name};
use std::sync::atomic::Ordering;

impl Recorder {
    /// Stop `take_id` if it is under way; say what became of it. Answers
    /// within [`ABORT_ANSWER_WITHIN`] (`stopping` when the take needs longer).
    pub async fn abort(&self, take_id: &str) -> Result<AbortReply, TakeRefused> {
        check_name("take_id", take_id)?;
        let mut ended = {
            let active = locked(&self.active);
            if active.as_deref() != Some(take_id) {
                // Under the lock: no command for this id can begin meanwhile.
                return self.abort_idle(take_id);
            }
            self.aborting.store(true, Ordering::Release);
            self.take_ended.subscribe()
        };
        log::info!(target: "takebox::capture", "take {take_id}: aborted by the board; stopping it");
        let stopped = tokio::time::timeout(ABORT_ANSWER_WITHIN, ended.changed())
            .await
            .is_ok();
        if !stopped {
            return Ok(AbortReply::new(take_id, AbortOutcome::Stopping));
        }
        // Committed before the flag was seen: it stays as recorded.
        Ok(match self.spool.load(take_id) {
            Some(c) => recorded(c),
            None => AbortReply::new(take_id, AbortOutcome::Stopped),
        })
    }

    /// An abort for a take not under way: recorded already, aborted before,
    /// or never seen (then its id is refused from now on, so a command still
    /// on its way cannot record it).
    fn abort_idle(&self, take_id: &str) -> Result<AbortReply, TakeRefused> {
        if let Some(c) = self.spool.load(take_id) {
            return Ok(recorded(c));
        }
        if self.spool.was_aborted(take_id) {
            return Ok(AbortReply::new(take_id, AbortOutcome::AlreadyAborted));
        }
        self.spool
            .mark_aborted(take_id)
            .map_err(|e| TakeRefused::NotStored {
                take_id: take_id.to_string(),
                error: e.to_string(),
            })?;
        Ok(AbortReply::new(take_id, AbortOutcome::Unknown))
    }

    /// Whether the take under way must stop: aborted, or the daemon stopping.
    pub(super) fn stop_asked(&self) -> bool {
        self.aborting.load(Ordering::Acquire) || self.cancel.load(Ordering::Acquire)
    }

    /// A take stopped before its record was saved: aborted by the board (its
    /// id kept, its audio removed), or abandoned because the daemon stops.
    pub(super) fn stopped(&self, take_id: &str) -> TakeRefused {
        if !self.aborting.load(Ordering::Acquire) {
            return TakeRefused::ShuttingDown;
        }
        match self.spool.mark_aborted(take_id) {
            Ok(()) => log::info!(target: "takebox::capture",
                "take {take_id}: aborted; nothing of it is kept"),
            Err(e) => log::error!(target: "takebox::capture",
                "take {take_id}: aborted, but its id is not kept: {e}"),
        }
        TakeRefused::Aborted {
            take_id: take_id.to_string(),
        }
    }

    /// Whether the board aborted `take_id` (its command is refused, and so
    /// is a look-up by id).
    pub fn was_aborted(&self, take_id: &str) -> bool {
        self.spool.was_aborted(take_id)
    }
}

fn recorded(c: Confirmation) -> AbortReply {
    AbortReply {
        state: Some(c.state),
        path: Some(c.path),
        ..AbortReply::new(&c.take_id, AbortOutcome::Recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::midi::MidiMessage;
    use crate::capture::midi::hub::tests::one_port;
    use crate::capture::recorder::until;
    use crate::protocol::{TakeCommand, Timestamp};
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    /// A recorder on a generated input (`device`) whose MIDI port records
    /// what it is sent, ready for a take.
    async fn recorder(
        dir: &Path,
        device: &str,
    ) -> (Arc<Recorder>, crate::capture::midi::player::tests::Sent) {
        let config = super::super::test_config(dir, device);
        let (seq, sent) = one_port();
        let r = Arc::new(Recorder::start_with(config, Box::new(seq)).unwrap());
        until("the recorder to be ready", || r.readiness().is_ok()).await;
        (r, sent)
    }

    /// A take of A4 on channel 3 of the recording port, a long note.
    fn midi_take(take_id: &str, release_seconds: f64) -> TakeCommand {
        let mut cmd: TakeCommand = serde_json::from_value(serde_json::json!({
            "take_id": take_id, "session_id": "s1", "instrument": "synth",
            "note": "A4", "frequency": 440.0, "articulation": "long", "duration": 60.0,
            "midi": {"port": "synth", "channel": 3, "velocity": 90,
                     "release_seconds": release_seconds}
        }))
        .unwrap();
        cmd.start_at = Some(Timestamp(SystemTime::now() + Duration::from_millis(300)));
        cmd
    }

    /// The take sent on a task of its own, as the HTTP layer does.
    fn send(
        r: &Arc<Recorder>,
        cmd: TakeCommand,
    ) -> tokio::task::JoinHandle<Result<crate::protocol::TakeReply, TakeRefused>> {
        let r = r.clone();
        tokio::spawn(async move { r.take(cmd).await })
    }

    fn files_under(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in walk(dir) {
            out.push(e.strip_prefix(dir).unwrap().display().to_string());
        }
        out
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .flat_map(|e| {
                let p = e.unwrap().path();
                if p.is_dir() { walk(&p) } else { vec![p] }
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_aborted_midi_take_silences_its_channel_and_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (r, sent) = recorder(dir.path(), "takebox:silence").await;
        let take = send(&r, midi_take("m1", 0.2));
        let sounding = || {
            locked(&sent)
                .iter()
                .any(|s| matches!(s.1, MidiMessage::NoteOn { .. }))
        };
        until("the note-on", sounding).await;

        let reply = r.abort("m1").await.unwrap();
        assert_eq!(reply, AbortReply::new("m1", AbortOutcome::Stopped));
        let refused = take.await.unwrap().unwrap_err();
        assert_eq!(
            refused,
            TakeRefused::Aborted {
                take_id: "m1".into()
            }
        );
        // The note went on, then its channel (3, 2 on the wire) was silenced
        // at once: nothing waits for the planned note-off a minute later.
        let kinds: Vec<MidiMessage> = locked(&sent).iter().map(|s| s.1).collect();
        let on = MidiMessage::NoteOn {
            channel: 2,
            note: 69,
            velocity: 90,
        };
        assert_eq!(kinds[0], on, "{kinds:?}");
        assert_eq!(&kinds[1..], &MidiMessage::silence(2), "{kinds:?}");
        // Nothing of it kept: no audio, no record; only its id, refused.
        assert_eq!(files_under(&dir.path().join("spool")), ["aborted/m1"]);
        assert_eq!(files_under(&dir.path().join("share")), [".takebox-share"]);
        assert!(r.lookup("m1").is_none() && r.was_aborted("m1"));
        let again = r.take(midi_take("m1", 0.2)).await.unwrap_err();
        assert!(matches!(again, TakeRefused::Aborted { .. }), "{again:?}");
        let reply = r.abort("m1").await.unwrap();
        assert_eq!(reply.outcome, AbortOutcome::AlreadyAborted);
        // Only the abort's own messages went out: no note-off came later.
        assert_eq!(locked(&sent).len(), 4);
    }

    /// Aborted while it waits for the last release to decay (the input never
    /// goes quiet here): the note is never played, and the take answers as
    /// aborted, not as whatever the cut-short wait led to.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_midi_take_aborted_before_its_note_plays_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (r, sent) = recorder(dir.path(), "takebox:sine=440").await;
        let take = send(&r, midi_take("w1", 30.0));
        let waiting = || r.status().recording.as_deref() == Some("w1");
        until("the take to wait for quiet", waiting).await;
        let reply = r.abort("w1").await.unwrap();
        assert_eq!(reply.outcome, AbortOutcome::Stopped);
        let refused = take.await.unwrap().unwrap_err();
        assert!(
            matches!(refused, TakeRefused::Aborted { .. }),
            "{refused:?}"
        );
        assert!(locked(&sent).is_empty(), "{:?}", locked(&sent));
        assert_eq!(files_under(&dir.path().join("spool")), ["aborted/w1"]);
    }
}
