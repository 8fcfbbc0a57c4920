//! The take cycle as a worker (librespot's player pattern): [`CycleWorker`]
//! owns the cycle's task, and [`CycleSender`], cloned to the page, the API and
//! the button, is the only way in: typed requests, typed answers.

use super::cycle::{Again, Command, Cycle, Refused, Request};
use super::progress::Session;
use super::take_list::TakeList;
use crate::session_log_format::LogEvent;
use std::fmt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Requests waiting for the cycle; a sender waits when it is full.
const QUEUE: usize = 16;

/// Why a request to the cycle was not carried out.
#[derive(Debug, Clone, PartialEq)]
pub enum CycleError {
    /// The cycle's task has ended (the daemon is stopping, or the task failed).
    Stopped,
    /// The cycle said no, and why (a take is running, nothing is open, ...).
    Refused(Refused),
}

impl fmt::Display for CycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CycleError::Stopped => f.write_str("the take cycle has stopped"),
            CycleError::Refused(r) => f.write_str(&r.0),
        }
    }
}

impl std::error::Error for CycleError {}

/// Hands requests to the take cycle.
#[derive(Clone)]
pub struct CycleSender {
    requests: mpsc::Sender<Request>,
}

impl CycleSender {
    /// A sender and the end the cycle (or a test standing in for it) reads.
    pub fn channel() -> (CycleSender, mpsc::Receiver<Request>) {
        let (requests, rx) = mpsc::channel(QUEUE);
        (CycleSender { requests }, rx)
    }

    /// Open `session` and arm its first take.
    pub async fn begin(&self, session: Session) -> Result<(), CycleError> {
        self.ask(|reply| Request::Begin(Box::new(session), reply))
            .await
    }

    pub async fn command(&self, cmd: Command) -> Result<(), CycleError> {
        self.ask(|reply| Request::Command(cmd, reply)).await
    }

    /// A line for the open session's log (a button press, say).
    pub async fn log(&self, event: LogEvent) -> Result<(), CycleError> {
        self.requests
            .send(Request::Log(event))
            .await
            .map_err(|_| CycleError::Stopped)
    }

    /// The open (or last) session's take list; None without a session.
    pub async fn takes(&self) -> Result<Option<TakeList>, CycleError> {
        self.query(Request::Takes).await
    }

    /// Record slots again, reopening a finished session.
    pub async fn record_again(&self, again: Again) -> Result<(), CycleError> {
        self.ask(|reply| Request::RecordAgain(again, reply)).await
    }

    /// The share path of the confirmed file with this (recorder's) take id.
    pub async fn audio_path(&self, take_id: String) -> Result<Option<String>, CycleError> {
        self.query(|reply| Request::AudioPath(take_id, reply)).await
    }

    async fn query<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, CycleError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .await
            .map_err(|_| CycleError::Stopped)?;
        answer.await.map_err(|_| CycleError::Stopped)
    }

    /// The cycle's task has ended: nothing sent will be answered.
    pub fn stopped(&self) -> bool {
        self.requests.is_closed()
    }

    async fn ask(
        &self,
        request: impl FnOnce(oneshot::Sender<Result<(), Refused>>) -> Request,
    ) -> Result<(), CycleError> {
        self.query(request).await?.map_err(CycleError::Refused)
    }
}

/// The running cycle. It ends once shutdown is set ([`CycleWorker::join`]
/// waits for that); dropped before, it is stopped where it is (a take still
/// out stays in flight in the session file and is asked for again at the next
/// start).
pub struct CycleWorker {
    sender: CycleSender,
    task: Option<JoinHandle<()>>,
}

impl CycleWorker {
    pub fn start(cycle: Cycle, shutdown: watch::Receiver<bool>) -> CycleWorker {
        let (sender, requests) = CycleSender::channel();
        let task = tokio::spawn(cycle.run(requests, shutdown));
        CycleWorker {
            sender,
            task: Some(task),
        }
    }

    pub fn sender(&self) -> CycleSender {
        self.sender.clone()
    }

    /// Wait for the cycle to end by itself (after shutdown is set).
    pub async fn join(&mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for CycleWorker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
