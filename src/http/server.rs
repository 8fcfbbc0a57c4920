//! The accept loop both daemons serve with: HTTP/1 connections admitted by
//! [`admission`](super::admission) (per-address shares, idle and stalled
//! connections displaced first, a reserve for newcomers), deadlines on
//! headers and bodies, and a bounded wait for open connections at shutdown.

use super::Body;
use super::admission::{Refusal, Shares, Table};
use super::throttle::LogThrottle;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// Bounds for [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub max_connections: usize,
    /// Connections one address may hold (a browser opens up to six, plus
    /// the live-status stream).
    pub max_per_peer: usize,
    /// Slots kept for an address that holds none yet.
    pub reserve: usize,
    pub header_read_timeout: Duration,
    /// How long open connections may finish after shutdown is asked for.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits::with_max(64)
    }
}

impl ServerLimits {
    /// `max_connections` in all; a quarter of them per address (at least
    /// eight) and an eighth (at least one) in reserve.
    pub fn with_max(max_connections: usize) -> ServerLimits {
        ServerLimits {
            max_connections,
            max_per_peer: (max_connections / 4).max(8).min(max_connections),
            reserve: (max_connections / 8).max(1).min(max_connections / 2),
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// How long a refused or displaced connection waits for its answer to go out.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The admission table and each connection's close signal, under one lock.
struct Conns {
    table: Table,
    close: HashMap<u64, Arc<Notify>>,
    /// The server is stopping: requests under way get the shutdown grace.
    stopping: bool,
}

type Shared = Arc<Mutex<Conns>>;

fn lock(conns: &Shared) -> std::sync::MutexGuard<'_, Conns> {
    crate::panics::locked(conns)
}

/// Marks its connection idle again when dropped: when the answer's body has
/// been sent (or the request was abandoned).
struct BusyGuard {
    conns: Shared,
    id: u64,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        lock(&self.conns)
            .table
            .set_busy(self.id, false, Instant::now());
    }
}

/// An answer's body that keeps its connection marked busy until it is done.
struct GuardedBody {
    inner: Body,
    _guard: BusyGuard,
}

impl hyper::body::Body for GuardedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Accept HTTP/1 connections until `shutdown` turns true, then let open
/// connections finish for a bounded time.
pub async fn serve<H, F>(
    listener: TcpListener,
    limits: ServerLimits,
    handler: H,
    mut shutdown: watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let conns: Shared = Arc::new(Mutex::new(Conns {
        table: Table::new(Shares {
            max_connections: limits.max_connections,
            max_per_peer: limits.max_per_peer,
            reserve: limits.reserve,
        }),
        close: HashMap::new(),
        stopping: false,
    }));
    let mut refusals = LogThrottle::new(Duration::from_secs(10));
    let mut accept_errors = LogThrottle::new(Duration::from_secs(10));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(pair) => pair,
                Err(e) => {
                    if let Some(n) = accept_errors.admit(Instant::now()) {
                        log::warn!(target: "takebox::http", "accept failed: {e}{}", held_back(n));
                    }
                    // Out of descriptors or similar: back off rather than spin or exit.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let (id, close) = match admit(&conns, peer) {
            Ok(pair) => pair,
            Err(r) => {
                if let Some(n) = refusals.admit(Instant::now()) {
                    let why = match r {
                        Refusal::PerPeer => "it holds its share of connections, all busy",
                        Refusal::Full => "every connection is busy",
                    };
                    log::warn!(target: "takebox::http", "refusing a connection from {peer}: {why}{}", held_back(n));
                }
                drop(stream);
                continue;
            }
        };
        let admitted = Admitted {
            conns: conns.clone(),
            id,
            peer,
            close,
        };
        tokio::spawn(connection(admitted, stream, handler.clone(), limits));
    }
    close_all(&conns, limits.shutdown_grace).await;
}

/// A connection the table let in: its id, and the signal that closes it.
struct Admitted {
    conns: Shared,
    id: u64,
    peer: SocketAddr,
    close: Arc<Notify>,
}

/// Let `peer` in, closing the idle connections it displaces.
fn admit(conns: &Shared, peer: SocketAddr) -> Result<(u64, Arc<Notify>), Refusal> {
    let mut c = lock(conns);
    let a = c.table.admit(peer.ip(), Instant::now())?;
    for id in &a.evicted {
        if let Some(n) = c.close.remove(id) {
            n.notify_one();
        }
    }
    let close = Arc::new(Notify::new());
    c.close.insert(a.id, close.clone());
    Ok((a.id, close))
}

/// Serve one connection until the client ends it or it is told to close;
/// then it leaves the table.
async fn connection<H, F>(a: Admitted, stream: TcpStream, handler: H, limits: ServerLimits)
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let Admitted {
        conns,
        id,
        peer,
        close,
    } = a;
    let service = {
        let conns = conns.clone();
        hyper::service::service_fn(move |req| {
            lock(&conns).table.set_busy(id, true, Instant::now());
            let guard = BusyGuard {
                conns: conns.clone(),
                id,
            };
            let answer = handler(req, peer);
            async move {
                let resp = answer.await;
                Ok::<_, Infallible>(resp.map(|inner| {
                    GuardedBody {
                        inner,
                        _guard: guard,
                    }
                    .boxed()
                }))
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                log::debug!(target: "takebox::http", "connection from {peer}: {e}");
            }
        }
        _ = close.notified() => {
            // Displaced or stopping: an idle connection closes at once;
            // a request under way gets a moment (displaced) or the
            // shutdown grace (stopping) to finish.
            let grace = if lock(&conns).stopping { limits.shutdown_grace } else { CLOSE_GRACE };
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(grace, conn).await;
        }
    }
    let mut c = lock(&conns);
    c.table.remove(id);
    c.close.remove(&id);
}

/// Stopping: every connection is asked to close, then waited for (at most `grace`).
async fn close_all(conns: &Shared, grace: Duration) {
    {
        let mut c = lock(conns);
        c.stopping = true;
        for n in c.close.values() {
            n.notify_one();
        }
    }
    let deadline = Instant::now() + grace;
    while !lock(conns).table.is_empty() {
        if Instant::now() >= deadline {
            log::warn!(target: "takebox::http", "connections still open after the grace period");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn held_back(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} more like this in the last 10 s not logged)")
    }
}
