//! The session's take list: every slot with what became of it (its verdict by
//! name, cents, peak, SNR, why a take was lost, where to listen to it), what the
//! review at the end counts, and which slots can be recorded again.

use super::progress::{Session, SessionStatus, SlotState, TakeOutcome, TakeRecord};
use super::verdict::{Disposition, Figures};
use serde::Serialize;

/// One slot of the plan, as the take list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TakeRow {
    /// From 1.
    pub slot: usize,
    pub note: String,
    pub articulation: String,
    pub dynamic: Option<String>,
    pub round_robin: Option<u32>,
    /// `pending`, `recording` (its take is out now), `done` or `skipped`.
    pub state: &'static str,
    /// The take that stands for the slot: the confirmed one, else the latest attempt.
    pub take_id: Option<String>,
    pub attempts: u32,
    pub verdict: Option<Disposition>,
    /// `verdict_name` (empty until a take is confirmed or lost), `cents`, `peak_dbfs`, `snr_db`.
    #[serde(flatten)]
    pub figures: Figures,
    /// Why the verdict, or in words what became of a take that was lost.
    pub detail: Option<String>,
    pub paths: Vec<String>,
    /// Done with a warning: the review lists it.
    pub attention: bool,
    /// Where the board plays the kept take's file (its first recorder's).
    pub play: Option<String>,
    /// Done or skipped, and no take is out: "record again" can be offered.
    pub can_record_again: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TakeList {
    pub session_id: String,
    pub instrument: String,
    pub status: SessionStatus,
    pub done: usize,
    pub total: usize,
    pub skipped: usize,
    /// Slots done with a warning.
    pub attention: usize,
    pub rows: Vec<TakeRow>,
}

/// Where the board serves take `take_id`'s file.
pub fn play_url(take_id: &str) -> String {
    format!("/audio/{take_id}")
}

/// The list for `session`; `active` is the slot whose take is out now, if any.
pub fn build(session: &Session, active: Option<usize>) -> TakeList {
    let rows: Vec<TakeRow> = (0..session.plan.len())
        .map(|i| row(session, i, active))
        .collect();
    TakeList {
        session_id: session.id.clone(),
        instrument: session.request.instrument.clone(),
        status: session.status,
        done: session.finished_count(),
        total: session.plan.len(),
        skipped: session.skipped_count(),
        attention: rows.iter().filter(|r| r.attention).count(),
        rows,
    }
}

fn row(session: &Session, i: usize, active: Option<usize>) -> TakeRow {
    let plan = &session.plan[i];
    let progress = &session.progress[i];
    let kept = session.kept_take(i);
    let state = match progress.state {
        _ if active == Some(i) => "recording",
        SlotState::Pending => "pending",
        SlotState::Done => "done",
        SlotState::Skipped => "skipped",
    };
    let (figures, detail) = kept.map(what_became).unwrap_or_default();
    let confirmed = kept.filter(|t| t.outcome == TakeOutcome::Done);
    TakeRow {
        slot: i + 1,
        note: plan.note.clone(),
        articulation: plan.articulation.clone(),
        dynamic: plan.dynamic.clone(),
        round_robin: plan.round_robin,
        state,
        take_id: kept.map(|t| t.take_id.to_string()),
        attempts: progress.attempts,
        verdict: kept.and_then(|t| t.verdict),
        attention: progress.state == SlotState::Done
            && confirmed.is_some_and(|t| t.verdict == Some(Disposition::Warn)),
        play: confirmed
            .filter(|t| !t.paths.is_empty())
            .map(|t| play_url(&t.take_id.to_string())),
        paths: kept.map(|t| t.paths.clone()).unwrap_or_default(),
        can_record_again: active.is_none() && progress.state != SlotState::Pending,
        figures,
        detail,
    }
}

/// A take's figures and, for one that came to nothing, what happened in words.
fn what_became(t: &TakeRecord) -> (Figures, Option<String>) {
    let named = |name: &str| Figures {
        verdict_name: name.to_string(),
        ..Figures::default()
    };
    let figures = match t.outcome {
        TakeOutcome::Lost => named("lost"),
        TakeOutcome::Cancelled => named("cancelled"),
        TakeOutcome::Abandoned => named("abandoned"),
        TakeOutcome::InFlight => named(""),
        _ => t
            .figures
            .clone()
            .unwrap_or_else(|| named(t.verdict.map(Disposition::as_str).unwrap_or_default())),
    };
    let detail = match (t.outcome, &t.detail) {
        (TakeOutcome::Lost, Some(why)) => Some(format!("take {} was lost: {why}", t.take_id)),
        (TakeOutcome::Lost, None) => Some(format!("take {} was lost", t.take_id)),
        (_, d) => d.clone(),
    };
    (figures, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::progress::test_session;
    use crate::protocol::Timestamp;

    #[test]
    fn rows_say_what_became_of_each_slot() {
        let mut s = test_session(&["A4", "A#4", "B4"]);
        let id = s.new_attempt(0, Timestamp::now()).take_id.clone();
        let t = s.take_mut(0, &id).unwrap();
        t.outcome = TakeOutcome::Done;
        t.verdict = Some(Disposition::Warn);
        t.paths = vec!["s1/x.wav".into()];
        t.figures = Some(Figures {
            verdict_name: "silent".into(),
            peak_dbfs: None,
            cents: None,
            snr_db: None,
            ..Figures::default()
        });
        s.progress[0].state = SlotState::Done;
        let lost = s.new_attempt(1, Timestamp::now()).take_id.clone();
        let t = s.take_mut(1, &lost).unwrap();
        t.outcome = TakeOutcome::Lost;
        t.detail = Some("http://r does not know it".into());
        s.progress[2].state = SlotState::Skipped;

        let list = build(&s, None);
        assert_eq!(
            (list.done, list.total, list.skipped, list.attention),
            (2, 3, 1, 1)
        );
        let r = &list.rows[0];
        assert_eq!(
            (r.state, r.figures.verdict_name.as_str()),
            ("done", "silent")
        );
        assert!(r.attention && r.can_record_again);
        assert_eq!(r.play.as_deref(), Some("/audio/s1-0001-1"));
        let r = &list.rows[1];
        assert_eq!(
            (r.state, r.figures.verdict_name.as_str()),
            ("pending", "lost")
        );
        assert_eq!(
            r.detail.as_deref(),
            Some("take s1-0002-1 was lost: http://r does not know it")
        );
        assert!(!r.can_record_again && r.play.is_none());
        assert_eq!(list.rows[2].state, "skipped");
        let busy = build(&s, Some(1));
        assert_eq!(busy.rows[1].state, "recording");
        assert!(!busy.rows[0].can_record_again, "not while a take is out");
    }
}
