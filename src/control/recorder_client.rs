//! JSON over HTTP to one recording computer: take commands, aborts and status.
//!
//! Answers are sorted into what the take cycle does next: a confirmation ends
//! the take, "in progress" means ask again, a refused start or an unknown take
//! means the slot must be recorded again, and anything transient (down, busy,
//! timed out) means retry the same take id after a pause.

use crate::http;
use crate::protocol::{
    AbortReply, Confirmation, ErrorBody, ErrorKind, InputLevels, LEVELS_PATH, RecorderStatus,
    STATUS_PATH, TAKES_PATH, TakeCommand, TakeReply, Timestamp, abort_path,
};
use hyper::{Method, StatusCode};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Confirmed(Box<Confirmation>),
    InProgress,
    /// The recorder does not know this take id (it restarted before finishing it).
    Unknown,
    /// The recorder cannot record this start any more (422): record the slot again.
    StartRefused(String),
    /// The take was aborted on the recorder (422 `aborted`): nothing of it
    /// is kept; the slot is recorded again under a new id.
    Aborted(String),
    /// Down, busy, device missing, timed out: try the same take id again.
    Retry(String),
    /// The command itself is wrong (400, 401): retrying cannot help.
    Rejected(String),
}

/// Why a recorder gave no usable answer (each names its URL).
#[derive(Debug)]
pub enum RecorderError {
    LookupTimedOut {
        url: String,
    },
    Resolve {
        url: String,
        host: String,
        source: std::io::Error,
    },
    NoAddress {
        url: String,
        host: String,
    },
    Request(http::RequestError),
    NoAnswer {
        url: String,
        path: String,
        within: Duration,
    },
    Status {
        url: String,
        path: &'static str,
        code: StatusCode,
    },
    UnexpectedAnswer {
        url: String,
        path: &'static str,
        source: serde_json::Error,
    },
}

impl fmt::Display for RecorderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecorderError::LookupTimedOut { url } => write!(f, "{url}: name lookup timed out"),
            RecorderError::Resolve { url, host, source } => {
                write!(f, "{url}: cannot resolve {host}: {source}")
            }
            RecorderError::NoAddress { url, host } => write!(f, "{url}: {host} has no address"),
            RecorderError::Request(e) => write!(f, "{e}"),
            RecorderError::NoAnswer { url, path, within } => write!(
                f,
                "{url}{path}: no answer within {:.1} s",
                within.as_secs_f64()
            ),
            RecorderError::Status { url, path, code } => write!(f, "{url}{path}: HTTP {code}"),
            RecorderError::UnexpectedAnswer { url, path, source } => {
                write!(f, "{url}{path}: unexpected answer: {source}")
            }
        }
    }
}

impl std::error::Error for RecorderError {}

#[derive(Debug, Clone)]
pub struct RecorderClient {
    pub url: String,
    host: String,
    port: u16,
    token: String,
    timeout: Duration,
}

impl RecorderClient {
    pub fn new(
        url: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<RecorderClient, http::UrlError> {
        let (host, port) = crate::http::parse_http_url(url)?;
        Ok(RecorderClient {
            url: url.trim_end_matches('/').to_string(),
            host,
            port,
            token: token.to_string(),
            timeout,
        })
    }

    async fn resolve(&self) -> Result<SocketAddr, RecorderError> {
        let url = || self.url.clone();
        let host = || self.host.clone();
        let mut addrs = tokio::time::timeout(
            self.timeout,
            tokio::net::lookup_host((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| RecorderError::LookupTimedOut { url: url() })?
        .map_err(|source| RecorderError::Resolve {
            url: url(),
            host: host(),
            source,
        })?;
        addrs.next().ok_or_else(|| RecorderError::NoAddress {
            url: url(),
            host: host(),
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<(StatusCode, bytes::Bytes), RecorderError> {
        let addr = self.resolve().await?;
        tokio::time::timeout(
            timeout,
            http::request(addr, method, path, Some(&self.token), body),
        )
        .await
        .map_err(|_| RecorderError::NoAnswer {
            url: self.url.clone(),
            path: path.to_string(),
            within: timeout,
        })?
        .map_err(RecorderError::Request)
    }

    /// The recorder's status, and the board's clock (Unix seconds) when the request
    /// went out and when the answer came back.
    pub async fn status(&self) -> Result<(RecorderStatus, f64, f64), RecorderError> {
        let sent = Timestamp::now().unix_seconds();
        let status = self
            .get_json(STATUS_PATH, STATUS_PATH, self.timeout)
            .await?;
        let received = Timestamp::now().unix_seconds();
        Ok((status, sent, received))
    }

    /// The live input's peaks, and its pitch near `near_hz` when asked;
    /// a meter's request, so it waits at most `timeout`.
    pub async fn levels(
        &self,
        near_hz: Option<f64>,
        timeout: Duration,
    ) -> Result<InputLevels, RecorderError> {
        let path = match near_hz {
            Some(hz) => format!("{LEVELS_PATH}?near_hz={hz:.3}"),
            None => LEVELS_PATH.to_string(),
        };
        self.get_json(&path, LEVELS_PATH, timeout).await
    }

    /// Stop take `take_id` on this recorder (`POST /v1/takes/{id}/abort`):
    /// what it did, answered within `timeout`.
    pub async fn abort_take(
        &self,
        take_id: &str,
        timeout: Duration,
    ) -> Result<AbortReply, RecorderError> {
        let path = abort_path(take_id);
        let name = "/v1/takes/{take_id}/abort";
        self.json(Method::POST, &path, name, timeout, &[StatusCode::ACCEPTED])
            .await
    }

    /// `GET path` answered 200 with a `T`; `name` is the path in errors.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        name: &'static str,
        timeout: Duration,
    ) -> Result<T, RecorderError> {
        self.json(Method::GET, path, name, timeout, &[]).await
    }

    /// `method path` answered 200 (or one of `also`) with a `T`.
    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        name: &'static str,
        timeout: Duration,
        also: &[StatusCode],
    ) -> Result<T, RecorderError> {
        let (code, bytes) = self.call(method, path, None, timeout).await?;
        if code != StatusCode::OK && !also.contains(&code) {
            return Err(RecorderError::Status {
                url: self.url.clone(),
                path: name,
                code,
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| RecorderError::UnexpectedAnswer {
            url: self.url.clone(),
            path: name,
            source,
        })
    }

    /// Send a take command; waits up to `timeout` (the recorder answers when the
    /// take is written).
    pub async fn post_take(&self, cmd: &TakeCommand, timeout: Duration) -> Answer {
        let body = serde_json::to_vec(cmd).expect("command serializes");
        match self
            .call(Method::POST, TAKES_PATH, Some(body), timeout)
            .await
        {
            Ok((code, bytes)) => self.classify(code, &bytes),
            Err(e) => Answer::Retry(e.to_string()),
        }
    }

    pub async fn get_take(&self, take_id: &str) -> Answer {
        match self
            .call(
                Method::GET,
                &format!("{TAKES_PATH}/{take_id}"),
                None,
                self.timeout,
            )
            .await
        {
            Ok((code, bytes)) => self.classify(code, &bytes),
            Err(e) => Answer::Retry(e.to_string()),
        }
    }

    fn classify(&self, code: StatusCode, bytes: &[u8]) -> Answer {
        let body = serde_json::from_slice::<ErrorBody>(bytes).ok();
        let kind = body.as_ref().map(|b| b.error);
        let message = || {
            body.as_ref()
                .map(|b| b.message.clone())
                .unwrap_or_else(|| String::from_utf8_lossy(bytes).chars().take(200).collect())
        };
        match code {
            StatusCode::OK | StatusCode::ACCEPTED => {
                match serde_json::from_slice::<TakeReply>(bytes) {
                    Ok(TakeReply::Done(c)) if c.state.is_final() => Answer::Confirmed(c),
                    Ok(_) => Answer::InProgress,
                    Err(e) => Answer::Retry(format!("{}: unexpected answer: {e}", self.url)),
                }
            }
            StatusCode::NOT_FOUND => Answer::Unknown,
            StatusCode::UNPROCESSABLE_ENTITY if kind == Some(ErrorKind::Aborted) => {
                Answer::Aborted(message())
            }
            StatusCode::UNPROCESSABLE_ENTITY => Answer::StartRefused(message()),
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::PAYLOAD_TOO_LARGE => {
                Answer::Rejected(format!("{}: HTTP {code}: {}", self.url, message()))
            }
            _ => Answer::Retry(format!("{}: HTTP {code}: {}", self.url, message())),
        }
    }
}

/// Pauses between retries: doubling from `first` up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    first: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            next: first,
            first,
            max,
        }
    }

    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
        let d: Vec<u64> = (0..6).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(d, [500, 1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(500));
    }

    #[test]
    fn answers_are_sorted() {
        let c = RecorderClient::new("http://127.0.0.1:1", "t", Duration::from_secs(1)).unwrap();
        assert_eq!(
            c.classify(
                StatusCode::ACCEPTED,
                br#"{"take_id":"a","state":"in_progress"}"#
            ),
            Answer::InProgress
        );
        assert_eq!(c.classify(StatusCode::NOT_FOUND, b"{}"), Answer::Unknown);
        assert!(matches!(
            c.classify(
                StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"error":"start_out_of_range","message":"too late"}"#
            ),
            Answer::StartRefused(m) if m == "too late"
        ));
        assert!(matches!(
            c.classify(
                StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"error":"aborted","message":"take t was aborted"}"#
            ),
            Answer::Aborted(m) if m == "take t was aborted"
        ));
        // A kind a newer recorder names is read for its message.
        assert!(matches!(
            c.classify(
                StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"error":"rewound","message":"later"}"#
            ),
            Answer::StartRefused(m) if m == "later"
        ));
        assert!(matches!(
            c.classify(StatusCode::CONFLICT, b"{}"),
            Answer::Retry(_)
        ));
        assert!(matches!(
            c.classify(StatusCode::SERVICE_UNAVAILABLE, b""),
            Answer::Retry(_)
        ));
        assert!(matches!(
            c.classify(StatusCode::BAD_REQUEST, b"{}"),
            Answer::Rejected(_)
        ));
        assert!(RecorderClient::new("recorder:5001", "t", Duration::from_secs(1)).is_err());
    }
}
