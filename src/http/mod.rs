//! HTTP plumbing both daemons use: an accept loop with bounds ([`server`]),
//! JSON bodies with a size cap and a deadline, JSON error answers, the
//! bearer-token check, and a small client.

mod admission;
pub mod multipart;
mod percent;
mod server;
mod throttle;
mod url;

pub use percent::percent_decode;
pub use server::{ServerLimits, serve};
pub use throttle::LogThrottle;
pub use url::{UrlError, parse_http_url};

use crate::protocol::{ErrorBody, ErrorKind};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// Answers are whole (`full`) or streamed (`stream`, for server-sent events).
pub type Body = BoxBody<Bytes, Infallible>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A body fed by a channel: it ends when the sender is dropped. When the client
/// goes away hyper drops the body, so the sender's next send fails.
pub fn stream(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    ChannelBody { rx }.boxed()
}

struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|b| b.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// A failed request, answered as an [`ErrorBody`].
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Close the connection after this answer (its request was not read whole).
    pub close: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: kind,
                message: message.into(),
                field: None,
            },
            close: false,
        }
    }

    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: ErrorKind::BadRequest,
                message: format!("field `{field}`: {message}"),
                field: Some(field),
            },
            close: false,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let mut resp = json_response(self.status, &self.body);
        if self.close {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }

    /// This answer ends its connection (see [`ApiError::close`]).
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }
}

impl From<crate::protocol::FieldError> for ApiError {
    fn from(e: crate::protocol::FieldError) -> Self {
        ApiError::bad_field(e.field, e.message)
    }
}

pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let mut bytes = serde_json::to_vec(value).expect("response serializes");
    bytes.push(b'\n');
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The whole of a request's body must arrive within this: a client that
/// announces a body and stalls loses its connection, not the server a slot.
/// Bodies here are small (a take command, a form): on any network that works
/// they take milliseconds.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Read a body of at most `limit` bytes, within [`BODY_DEADLINE`].
pub async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    let collected = tokio::time::timeout(
        BODY_DEADLINE,
        Limited::new(req.into_body(), limit).collect(),
    );
    let Ok(collected) = collected.await else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorKind::BadRequest,
            format!(
                "the request body did not arrive within {} s",
                BODY_DEADLINE.as_secs()
            ),
        )
        .closing());
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorKind::PayloadTooLarge,
                format!("request body larger than {limit} bytes"),
            )
            .closing())
        }
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::BadRequest,
            format!("could not read the request body: {e}"),
        )
        .closing()),
    }
}

/// Parse a JSON body strictly, naming the field that failed.
pub fn parse_json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || field == "." {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorKind::BadRequest,
                format!("malformed JSON: {inner}"),
            )
        } else {
            ApiError::bad_field(field, inner.to_string())
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::BadRequest,
            format!("malformed JSON: trailing data ({e})"),
        )
    })?;
    Ok(value)
}

/// Compare the `Authorization: Bearer` header with `token` in constant time.
/// Hashing both sides first also hides the token's length.
pub fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let a = Sha256::digest(given.trim().as_bytes());
    let b = Sha256::digest(token.as_bytes());
    same_secret(&a, &b) && !token.is_empty()
}

/// Equal in time that does not depend on where they differ (lengths are
/// not secret: compare digests where they are).
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn require_bearer(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    if bearer_matches(headers, token) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Unauthorized,
            "missing or wrong bearer token (Authorization: Bearer <token>)",
        ))
    }
}

/// Why a [`request`] got no answer (each names the address, and the path once sent).
#[derive(Debug)]
pub enum RequestError {
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    Handshake {
        addr: SocketAddr,
        source: hyper::Error,
    },
    /// The request could not be built (a path that is not a URI).
    Build(hyper::http::Error),
    Send {
        addr: SocketAddr,
        path: String,
        source: hyper::Error,
    },
    ReadAnswer {
        addr: SocketAddr,
        path: String,
        source: hyper::Error,
    },
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Connect { addr, source } => write!(f, "connect {addr}: {source}"),
            RequestError::Handshake { addr, source } => write!(f, "handshake {addr}: {source}"),
            RequestError::Build(e) => write!(f, "{e}"),
            RequestError::Send { addr, path, source } => {
                write!(f, "request to {addr}{path}: {source}")
            }
            RequestError::ReadAnswer { addr, path, source } => {
                write!(f, "reading answer from {addr}{path}: {source}")
            }
        }
    }
}

impl std::error::Error for RequestError {}

/// One HTTP/1 request on a fresh connection: enough for the board's calls to its
/// recorders and for tests. Returns the status and the body.
pub async fn request(
    addr: SocketAddr,
    method: hyper::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Result<(StatusCode, Bytes), RequestError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| RequestError::Connect { addr, source })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| RequestError::Handshake { addr, source })?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string());
    if let Some(t) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    let req = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(RequestError::Build)?;
    let path = path.to_string();
    let resp = match sender.send_request(req).await {
        Ok(resp) => resp,
        Err(source) => return Err(RequestError::Send { addr, path, source }),
    };
    let status = resp.status();
    let bytes = match resp.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(source) => return Err(RequestError::ReadAnswer { addr, path, source }),
    };
    Ok((status, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_checked() {
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, "secret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        assert!(bearer_matches(&h, "secret"));
        assert!(!bearer_matches(&h, "secreT"));
        assert!(!bearer_matches(&h, ""));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic secret"),
        );
        assert!(!bearer_matches(&h, "secret"));
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        let e = parse_json_body::<T>(br#"{"a": "x"}"#).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("a"));
        let e = parse_json_body::<T>(b"{not json").unwrap_err();
        assert!(e.body.message.starts_with("malformed JSON"), "{:?}", e.body);
        let e = parse_json_body::<T>(br#"{"a": 1} x"#).unwrap_err();
        assert!(e.body.message.contains("trailing"), "{:?}", e.body);
    }
}
