//! `GET /events`: the status as server-sent events, one `data:` line of JSON per
//! change, and the meters and tuner as `levels` events many times a second
//! ([`crate::control::levels`]). A client that goes away, or reads too slowly
//! to keep up, is dropped.

use super::super::Control;
use super::views;
use crate::http::{self, ApiError, Body};
use crate::protocol::ErrorKind;
use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// A comment line this often tells a client that vanished silently from one
/// that is merely idle (the write fails) and keeps proxies from timing out.
const KEEPALIVE: Duration = Duration::from_secs(15);

pub fn frame(ctl: &Control) -> Bytes {
    let view = views::status_of(ctl, "");
    let json = serde_json::to_string(&view).expect("status serializes");
    Bytes::from(format!("data: {json}\n\n"))
}

/// How often a stream opened with a login session looks whether that
/// session still lives: a logout or an expiry ends the stream too.
const SESSION_CHECK: Duration = Duration::from_secs(1);

/// The stream; `session` is the login session it was opened with, if any.
pub fn events(ctl: &Arc<Control>, session: Option<String>) -> Result<Response<Body>, ApiError> {
    let permit = ctl.event_slots.clone().try_acquire_owned().map_err(|_| {
        // Closed at once: a refused stream must not hold its connection.
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Busy,
            format!(
                "{} live status streams are open, the most this board serves; the page works without one (reload to update)",
                ctl.event_slots_max
            ),
        )
        .closing()
    })?;
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let mut sub = ctl.events.subscribe();
    let mut levels = ctl.levels.clone();
    let mut shutdown = ctl.shutdown.clone();
    let ctl = ctl.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let mut session_check = tokio::time::interval(SESSION_CHECK);
        let mut last = frame(&ctl);
        if tx
            .send(Bytes::from_static(b"retry: 2000\n\n"))
            .await
            .is_err()
            || tx.try_send(last.clone()).is_err()
        {
            return;
        }
        loop {
            let out = tokio::select! {
                r = sub.recv() => match r {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let f = frame(&ctl);
                        if f == last { continue; }
                        last = f.clone();
                        f
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                r = levels.changed() => match r {
                    Ok(()) => levels.borrow_and_update().clone(),
                    Err(_) => return,
                },
                _ = tokio::time::sleep(KEEPALIVE) => Bytes::from_static(b": keepalive\n\n"),
                _ = session_check.tick(), if session.is_some() => {
                    if session.as_deref().is_some_and(|id| !ctl.logins.alive(id, Instant::now())) {
                        return;
                    }
                    continue;
                }
                // The connection closed and hyper dropped the body.
                _ = tx.closed() => return,
                _ = shutdown.changed() => return,
            };
            // Full: the client does not read; closed: it went away. Either way, drop it.
            if tx.try_send(out).is_err() {
                return;
            }
        }
    });
    let mut resp = Response::new(http::stream(rx));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
