//! One take on every recorder: wait until the command is due, send it, retry
//! with the same take id until each recorder confirms or says the take cannot
//! be had any more.

use super::health::Health;
use super::recorder_client::{Answer, Backoff, RecorderClient};
use crate::protocol::{Confirmation, TakeCommand, TakeId, Timestamp};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The command goes out this long before the note starts: late enough that the
/// countdown can still be stopped, early enough to arrive in time (a recorder
/// also accepts a command that arrives a little after its start).
pub const SEND_LEAD: Duration = Duration::from_millis(1000);
const POLL_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub enum TakeResult {
    /// Every recorder confirmed, in recorder order.
    Confirmed(Vec<(String, Confirmation)>),
    /// A recorder no longer knows the take or refused its start: record the slot again.
    Lost(String),
    /// A recorder says the take was aborted (nothing of it kept): record the slot again.
    Aborted(String),
    /// The command was refused as wrong: retrying cannot help.
    Rejected(String),
}

/// Something worth showing while the take is out.
#[derive(Debug, Clone)]
pub enum Progress {
    Trouble {
        recorder: String,
        error: String,
    },
    Recovered {
        recorder: String,
    },
    /// What a recorder did about the take the board aborted (see
    /// `take_abort`): a line for session `session_id`'s log.
    Aborted {
        session_id: String,
        line: crate::session_log_format::LogEvent,
    },
}

pub struct TakeJob {
    pub clients: Vec<RecorderClient>,
    pub health: Arc<Health>,
    /// `start_at` is the board's instant; each recorder gets it on its own clock.
    pub command: TakeCommand,
    pub start: Instant,
    /// Added to countdown and duration for the request's timeout.
    pub margin: Duration,
    pub sent: Arc<AtomicBool>,
    pub progress: mpsc::Sender<Progress>,
}

pub async fn run(job: TakeJob) -> TakeResult {
    tokio::time::sleep_until(job.start.checked_sub(SEND_LEAD).unwrap_or(job.start)).await;
    job.sent.store(true, Ordering::SeqCst);
    let offsets = job.health.offsets();
    let board_start = job
        .command
        .start_at
        .unwrap_or_else(Timestamp::now)
        .unix_seconds();
    let mut set = tokio::task::JoinSet::new();
    for (i, client) in job.clients.iter().cloned().enumerate() {
        let mut cmd = job.command.clone();
        cmd.take_id = TakeId::parse(&cmd.take_id)
            .on_recorder(i, job.clients.len())
            .to_string();
        let at = super::clock::to_recorder_clock(board_start, offsets.get(i).copied().flatten());
        cmd.start_at = Some(Timestamp::from_unix_seconds(at));
        let health = job.health.clone();
        let progress = job.progress.clone();
        let (start, margin) = (job.start, job.margin);
        set.spawn(async move {
            (
                i,
                drive(i, &client, &cmd, start, margin, &health, &progress).await,
            )
        });
    }
    let mut confirmed: Vec<Option<(String, Confirmation)>> = vec![None; job.clients.len()];
    while let Some(joined) = set.join_next().await {
        let (i, result) = match joined {
            Ok(r) => r,
            Err(e) => return TakeResult::Rejected(format!("take task failed: {e}")),
        };
        match result {
            Ok(c) => confirmed[i] = Some((job.clients[i].url.clone(), c)),
            // One recorder lost it: the slot is recorded again on all of them.
            Err(lost) => return lost,
        }
    }
    TakeResult::Confirmed(confirmed.into_iter().flatten().collect())
}

async fn drive(
    i: usize,
    client: &RecorderClient,
    cmd: &TakeCommand,
    start: Instant,
    margin: Duration,
    health: &Health,
    progress: &mpsc::Sender<Progress>,
) -> Result<Confirmation, TakeResult> {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    let mut poll = false;
    let mut troubled = false;
    // A MIDI take may first wait for the last release, and keeps a longer tail.
    let duration = crate::protocol::seconds(cmd.duration)
        + cmd.midi.as_ref().map_or(Duration::ZERO, |m| m.extra());
    loop {
        let answer = if poll {
            client.get_take(&cmd.take_id).await
        } else {
            let timeout = start.saturating_duration_since(Instant::now()) + duration + margin;
            client.post_take(cmd, timeout).await
        };
        if troubled && !matches!(answer, Answer::Retry(_)) {
            troubled = false;
            let _ = progress.try_send(Progress::Recovered {
                recorder: client.url.clone(),
            });
        }
        match answer {
            Answer::Confirmed(c) => return Ok(*c),
            Answer::InProgress => {
                poll = true;
                backoff.reset();
                tokio::time::sleep(POLL_EVERY).await;
            }
            // Polled and forgotten: the recorder restarted. Asking again with the
            // command tells whether it can still be recorded (it cannot, almost always).
            Answer::Unknown if poll => poll = false,
            Answer::Unknown => {
                return Err(TakeResult::Lost(format!(
                    "{} does not know take {}",
                    client.url, cmd.take_id
                )));
            }
            Answer::StartRefused(m) => {
                return Err(TakeResult::Lost(format!("{}: {m}", client.url)));
            }
            Answer::Aborted(m) => {
                return Err(TakeResult::Aborted(format!("{}: {m}", client.url)));
            }
            Answer::Rejected(m) => return Err(TakeResult::Rejected(m)),
            Answer::Retry(m) => {
                if !troubled || health.mark_trouble(i, &m) {
                    let _ = progress.try_send(Progress::Trouble {
                        recorder: client.url.clone(),
                        error: m.clone(),
                    });
                }
                health.mark_trouble(i, &m);
                troubled = true;
                poll = false;
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}
