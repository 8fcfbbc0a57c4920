//! The recorder's HTTP API: `POST /v1/takes`, `GET /v1/takes/{id}`,
//! `POST /v1/takes/{id}/abort`, `GET /v1/status`, `GET /v1/levels`.

use super::recorder::Recorder;
use super::refused::{NotReady, TakeRefused};
use crate::http::{self, ApiError, Body};
use crate::protocol::{
    ABORT_SUFFIX, AbortOutcome, ErrorKind, LEVELS_PATH, STATUS_PATH, TAKES_PATH, TakeCommand,
    TakeReply, TakeState,
};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;

/// Take commands are a few hundred bytes; anything much larger is not one.
pub const MAX_BODY: usize = 16 * 1024;

pub async fn handle(
    recorder: Arc<Recorder>,
    token: Arc<str>,
    req: Request<Incoming>,
) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let result = route(&recorder, &token, req).await;
    match result {
        Ok(resp) => resp,
        Err(e) => {
            log::info!(target: "takebox::capture", "{method} {path}: {} {}", e.status.as_u16(), e.body.message);
            e.into_response()
        }
    }
}

fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, what)
}

fn method_not_allowed(allowed: &str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::MethodNotAllowed,
        format!("use {allowed}"),
    )
}

async fn route(
    recorder: &Arc<Recorder>,
    token: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    if path == STATUS_PATH {
        return match *req.method() {
            Method::GET | Method::HEAD => {
                Ok(http::json_response(StatusCode::OK, &recorder.status()))
            }
            _ => Err(method_not_allowed("GET")),
        };
    }
    if path == LEVELS_PATH {
        if req.method() != Method::GET {
            return Err(method_not_allowed("GET"));
        }
        let near = super::levels::near_hz(req.uri().query())?;
        let r = recorder.clone();
        let levels = tokio::task::spawn_blocking(move || r.levels(near))
            .await
            .map_err(|e| refusal(TakeRefused::Internal(e.to_string())))?;
        return Ok(http::json_response(StatusCode::OK, &levels));
    }
    if path == TAKES_PATH {
        if req.method() != Method::POST {
            return Err(method_not_allowed("POST"));
        }
        http::require_bearer(req.headers(), token)?;
        let bytes = http::read_body(req, MAX_BODY).await?;
        let cmd: TakeCommand = http::parse_json_body(&bytes)?;
        let reply = recorder.take(cmd).await.map_err(refusal)?;
        return Ok(reply_response(&reply));
    }
    if let Some(id) = path
        .strip_prefix(TAKES_PATH)
        .and_then(|p| p.strip_prefix('/'))
        .and_then(|p| p.strip_suffix(ABORT_SUFFIX))
    {
        if req.method() != Method::POST {
            return Err(method_not_allowed("POST"));
        }
        http::require_bearer(req.headers(), token)?;
        let id = take_id_in_path(id)?;
        let reply = recorder.abort(&id).await.map_err(refusal)?;
        let status = match reply.outcome {
            AbortOutcome::Stopping => StatusCode::ACCEPTED,
            _ => StatusCode::OK,
        };
        return Ok(http::json_response(status, &reply));
    }
    if let Some(id) = path
        .strip_prefix(TAKES_PATH)
        .and_then(|p| p.strip_prefix('/'))
    {
        if req.method() != Method::GET {
            return Err(method_not_allowed("GET"));
        }
        let id = take_id_in_path(id)?;
        return match recorder.lookup(&id) {
            Some(reply) => Ok(reply_response(&reply)),
            None if recorder.was_aborted(&id) => Err(refusal(TakeRefused::Aborted { take_id: id })),
            None => Err(not_found(format!("no take {id:?} on this recorder"))),
        };
    }
    Err(not_found(format!("no such endpoint: {path}")))
}

/// The take id a path names, decoded and checked as a name.
fn take_id_in_path(id: &str) -> Result<String, ApiError> {
    let id = crate::http::percent_decode(id, false)
        .ok_or_else(|| ApiError::bad_field("take_id", "bad percent-encoding"))?;
    crate::protocol::check_name("take_id", &id)?;
    Ok(id)
}

/// The answer to a refused take: its status, kind and message.
fn refusal(e: TakeRefused) -> ApiError {
    let message = e.to_string();
    let (status, kind) = match e {
        TakeRefused::BadField(f) => return ApiError::bad_field(f.field, f.message),
        TakeRefused::StartTooFarAhead { .. } | TakeRefused::StartTooLate { .. } => {
            let mut e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorKind::StartOutOfRange,
                message,
            );
            e.body.field = Some("start_at".into());
            return e;
        }
        TakeRefused::Busy { .. } => (StatusCode::CONFLICT, ErrorKind::Busy),
        TakeRefused::Interrupted { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorKind::Interrupted)
        }
        // 422 as for `interrupted`: a board that does not know `aborted`
        // still records the slot again under a new id.
        TakeRefused::Aborted { .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorKind::Aborted),
        TakeRefused::SpoolFull { .. } | TakeRefused::NotReady(NotReady::SpoolFull { .. }) => {
            (StatusCode::INSUFFICIENT_STORAGE, ErrorKind::SpoolFull)
        }
        TakeRefused::NotReady(NotReady::DeviceNotRunning { .. })
        | TakeRefused::ShuttingDown
        | TakeRefused::Midi(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::DeviceUnavailable,
        ),
        TakeRefused::NotReady(NotReady::ClockNotEstablished | NotReady::FillingPreRoll { .. }) => {
            (StatusCode::SERVICE_UNAVAILABLE, ErrorKind::NotReady)
        }
        TakeRefused::NotStored { .. } => {
            (StatusCode::INSUFFICIENT_STORAGE, ErrorKind::StorageFailed)
        }
        TakeRefused::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Internal),
    };
    ApiError::new(status, kind, message)
}

/// 200 for a finished take, 202 while it is still being recorded.
fn reply_response(reply: &TakeReply) -> Response<Body> {
    let status = match reply {
        TakeReply::Pending(p) if p.state == TakeState::InProgress => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    http::json_response(status, reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::FieldError;

    #[test]
    fn each_refusal_has_its_status_kind_field_and_message() {
        let not_running = NotReady::DeviceNotRunning { error: None };
        let cases = [
            (
                TakeRefused::BadField(FieldError::new("note", "not a note")),
                400,
                r#"{"error":"bad_request","message":"field `note`: not a note","field":"note"}"#,
            ),
            (
                TakeRefused::Busy {
                    recording: "t1".into(),
                },
                409,
                r#"{"error":"busy","message":"take \"t1\" is recording; one take at a time"}"#,
            ),
            (
                TakeRefused::SpoolFull {
                    spool: "/var/spool/takebox".into(),
                    free_bytes: 1_250_000,
                    take_id: "t1".into(),
                    need_bytes: 35_000_000,
                },
                507,
                r#"{"error":"spool_full","message":"the spool /var/spool/takebox has 1.2 MB free; take t1 can need up to 35.0 MB"}"#,
            ),
            (
                TakeRefused::NotReady(not_running),
                503,
                r#"{"error":"device_unavailable","message":"capture device is not running: still opening"}"#,
            ),
            (
                TakeRefused::NotReady(NotReady::ClockNotEstablished),
                503,
                r#"{"error":"not_ready","message":"capture clock not established yet"}"#,
            ),
            (
                TakeRefused::StartTooFarAhead {
                    ahead_seconds: 12.34,
                    max_seconds: 10.0,
                },
                422,
                r#"{"error":"start_out_of_range","message":"start_at lies 12.3 s ahead; this recorder accepts at most 10 s","field":"start_at"}"#,
            ),
            (
                TakeRefused::StartTooLate {
                    late_seconds: 7.0,
                    keeps_seconds: 5.5,
                },
                422,
                r#"{"error":"start_out_of_range","message":"start_at lies 7.0 s in the past; this recorder keeps 5.5 s of late start","field":"start_at"}"#,
            ),
            (
                TakeRefused::Interrupted {
                    take_id: "0043-1".into(),
                },
                422,
                r#"{"error":"interrupted","message":"take \"0043-1\" was cut short by a restart of the recorder; a take id never records twice"}"#,
            ),
            (
                TakeRefused::Aborted {
                    take_id: "0043-1".into(),
                },
                422,
                r#"{"error":"aborted","message":"take \"0043-1\" was aborted; nothing of it is kept and a take id never records twice"}"#,
            ),
            (
                TakeRefused::ShuttingDown,
                503,
                r#"{"error":"device_unavailable","message":"the recorder is shutting down; send the take again"}"#,
            ),
            (
                TakeRefused::NotStored {
                    take_id: "t1".into(),
                    error: "disk full".into(),
                },
                507,
                r#"{"error":"storage_failed","message":"take t1 could not be stored: disk full"}"#,
            ),
            (
                TakeRefused::Internal("task panicked".into()),
                500,
                r#"{"error":"internal","message":"task panicked"}"#,
            ),
        ];
        for (refused, status, body) in cases {
            let what = format!("{refused:?}");
            let e = refusal(refused);
            assert_eq!(e.status.as_u16(), status, "{what}");
            assert_eq!(serde_json::to_string(&e.body).unwrap(), body, "{what}");
        }
    }
}
