//! Settings -> Update on the page (`/settings/update`, `/settings/reboot`,
//! behind the page password) and in the API (`/api/v1/update`,
//! `/api/v1/update/reboot`, behind the token): the bundle's body is streamed
//! into [`crate::control::update_upload`], as raw bytes (the page's script,
//! curl `--data-binary`) or as the plain form's multipart file.

use super::super::Control;
use super::super::board_update;
use super::super::status::Phase;
use super::super::update_upload::UploadError;
use crate::http::multipart::{self, FilePart};
use crate::http::{self, ApiError, Body};
use crate::protocol::{BoardVersion, ErrorKind};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use std::time::Duration;

/// An upload that sends nothing for this long is dropped (and its file).
const STALL: Duration = Duration::from_secs(30);
/// The form field of the plain (multipart) upload form.
const FIELD: &str = "bundle";

/// What the Settings page shows of updates, and what its script polls.
#[derive(Serialize)]
pub struct UpdateView {
    pub board: BoardVersion,
    /// What runs and how the last update went (one line).
    pub summary: String,
    /// The upload or install under way, or what to do next.
    pub progress: String,
    /// An update is installed: the Reboot button is offered.
    pub can_reboot: bool,
    /// Something is under way: the script keeps polling.
    pub busy: bool,
}

pub fn view(ctl: &Control) -> UpdateView {
    let board = ctl.updates.board();
    let state = board.update.as_ref().map(|u| u.state.as_str());
    let progress = match (&board.upload, state) {
        (Some(u), _) if u.state == "uploading" => format!(
            "Uploading: {}% ({} of {} MB)",
            u.percent,
            u.received / 1_000_000,
            u.total.div_ceil(1_000_000)
        ),
        (Some(_), _) => "Uploaded: waiting for the board's updater to verify it".into(),
        (None, Some("verifying")) => "Verifying the bundle's signature".into(),
        (None, Some("installing")) => "Writing the update into the other slot".into(),
        (None, Some("installed")) => "Installed: reboot to use it".into(),
        (None, Some("failed")) => "The last update was not installed (see above)".into(),
        _ => String::new(),
    };
    UpdateView {
        summary: board_update::summary(&board),
        busy: board.upload.is_some() || matches!(state, Some("verifying" | "installing")),
        can_reboot: state == Some("installed") && board.upload.is_none(),
        progress,
        board,
    }
}

/// Receive a bundle: its size is checked against the free space before a
/// byte is written; it is on disk, complete, when this returns.
pub async fn receive(ctl: &Control, req: Request<Incoming>) -> Result<u64, UploadError> {
    let size = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .ok_or(UploadError::NoLength)?;
    let mut form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
        .map(|b| FilePart::new(b, FIELD));
    let mut upload = ctl.updates.begin(size)?;
    log::info!(target: "takebox::control", "receiving an update bundle ({size} bytes)");
    let mut body = req.into_body();
    loop {
        let frame = match tokio::time::timeout(STALL, body.frame()).await {
            Err(_) => {
                return Err(UploadError::Stalled {
                    received: upload.received(),
                    secs: STALL.as_secs(),
                });
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(UploadError::BrokeOff {
                    received: upload.received(),
                    total: upload.total(),
                    why: e.to_string(),
                });
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let data = match form.as_mut() {
            Some(f) => Bytes::from(f.feed(&data).map_err(UploadError::Form)?),
            None => data,
        };
        if !data.is_empty() {
            upload.write(data).await?;
        }
    }
    if let Some(f) = &form {
        f.finish().map_err(UploadError::Form)?;
    }
    upload.finish().await
}

/// Whether the request is the plain form (answered with a page).
pub fn is_form(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.starts_with("multipart/") || t.starts_with("application/x-www-form-urlencoded")
        })
}

/// Ask root to reboot into the installed update, unless a take is under way.
pub fn reboot(ctl: &Control) -> Result<(), UploadError> {
    let phase = ctl.status.borrow().phase;
    if matches!(phase, Phase::Countdown | Phase::Recording | Phase::Waiting) {
        return Err(UploadError::NothingToReboot(format!(
            "a take is under way ({}): reboot when it is done",
            phase.name()
        )));
    }
    ctl.updates.request_reboot()
}

/// The HTTP answer to a refused or failed upload or reboot. The upload's
/// body may be unread: the connection is closed after it.
pub fn api_error(e: &UploadError) -> ApiError {
    let (status, kind) = match e {
        UploadError::NoLength => (StatusCode::LENGTH_REQUIRED, ErrorKind::BadRequest),
        UploadError::Busy(_) | UploadError::NothingToReboot(_) => {
            (StatusCode::CONFLICT, ErrorKind::Busy)
        }
        UploadError::NoRoom { .. } => (StatusCode::PAYLOAD_TOO_LARGE, ErrorKind::PayloadTooLarge),
        UploadError::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::StorageFailed),
        UploadError::BrokeOff { .. } | UploadError::Form(_) => {
            (StatusCode::BAD_REQUEST, ErrorKind::BadRequest)
        }
        UploadError::Stalled { .. } => (StatusCode::REQUEST_TIMEOUT, ErrorKind::BadRequest),
    };
    ApiError::new(status, kind, e.to_string()).closing()
}

/// `202 Accepted` with the update's view: the install goes on in root's hands.
pub fn accepted(ctl: &Control) -> Response<Body> {
    http::json_response(StatusCode::ACCEPTED, &view(ctl))
}
