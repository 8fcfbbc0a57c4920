//! A take abandoned by an abort (the page, the button, the API), stopped on
//! every recorder: `POST /v1/takes/{id}/abort` to each at once, with a short
//! timeout, so a recorder that vanished holds nothing up. Each answer, or why
//! none came, becomes a `take_aborted` line of the session log.

use super::recorder_client::RecorderClient;
use super::take_runner::Progress;
use crate::protocol::{ABORT_ANSWER_WITHIN, AbortReply, TakeId};
use crate::session_log_format::LogEvent;
use std::time::Duration;
use tokio::sync::mpsc;

/// Ask every recorder to stop `take_id` of session `session_id`; their
/// answers arrive on `progress`. `request_timeout` is the board's usual wait
/// for a recorder.
pub fn spawn(
    clients: &[RecorderClient],
    session_id: &str,
    take_id: &TakeId,
    request_timeout: Duration,
    progress: &mpsc::Sender<Progress>,
) {
    // The recorder itself answers within ABORT_ANSWER_WITHIN.
    let timeout = request_timeout + ABORT_ANSWER_WITHIN;
    for (i, client) in clients.iter().cloned().enumerate() {
        let id = take_id.on_recorder(i, clients.len());
        let progress = progress.clone();
        let session_id = session_id.to_string();
        tokio::spawn(async move {
            let answer = client.abort_take(&id.to_string(), timeout).await;
            let line = log_line(id, client.url, answer.map_err(|e| e.to_string()));
            let _ = progress.send(Progress::Aborted { session_id, line }).await;
        });
    }
}

/// The session log's line for one recorder's answer.
fn log_line(take_id: TakeId, recorder: String, answer: Result<AbortReply, String>) -> LogEvent {
    match answer {
        Ok(r) => {
            log::info!(target: "takebox::control",
                "{recorder}: take {take_id} aborted: {}", r.outcome.as_str());
            LogEvent::TakeAborted {
                take_id,
                recorder,
                outcome: Some(r.outcome),
                state: r.state,
                path: r.path,
                error: None,
            }
        }
        Err(e) => {
            log::warn!(target: "takebox::control",
                "{recorder}: take {take_id} not aborted there: {e}");
            LogEvent::TakeAborted {
                take_id,
                recorder,
                outcome: None,
                state: None,
                path: None,
                error: Some(e),
            }
        }
    }
}
