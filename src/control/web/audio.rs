//! Listening back: `GET /audio/<take id>` serves a confirmed take's delivered
//! WAV from the share, with single byte ranges (206, `Content-Range`; 416 for a
//! range outside the file) so a phone's player can seek.
//!
//! Only a file that a confirmation of the session names is served, looked up
//! by the recorder's take id (the URL never holds a path), and that path must
//! stay inside the share: relative, plain components only, and the file it
//! resolves to (symbolic links followed) still under the share's root.

use crate::http::{self, ApiError, Body};
use crate::protocol::ErrorKind;
use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// Read and sent this much at a time.
const CHUNK: usize = 64 * 1024;

/// Why a take's file is not served.
#[derive(Debug)]
pub enum AudioError {
    /// No confirmation of the session names this take id.
    NotConfirmed(String),
    /// The confirmed path would leave the share (or is not a WAV).
    OutsideShare(String),
    /// The file is not (or no longer) on the share.
    Missing {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The range asked for lies outside the file's `len` bytes.
    Range { len: u64 },
}

impl fmt::Display for AudioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioError::NotConfirmed(id) => {
                write!(f, "no confirmed file of this session has take id {id:?}")
            }
            AudioError::OutsideShare(p) => write!(f, "{p:?} is not a WAV file inside the share"),
            AudioError::Missing { path, error } => write!(f, "{}: {error}", path.display()),
            AudioError::Range { len } => write!(f, "the range is outside the file's {len} bytes"),
        }
    }
}

impl std::error::Error for AudioError {}

impl From<AudioError> for ApiError {
    fn from(e: AudioError) -> ApiError {
        let status = match e {
            AudioError::NotConfirmed(_) | AudioError::Missing { .. } => StatusCode::NOT_FOUND,
            AudioError::OutsideShare(_) => StatusCode::FORBIDDEN,
            AudioError::Range { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        };
        let kind = match status {
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            _ => ErrorKind::BadRequest,
        };
        ApiError::new(status, kind, e.to_string())
    }
}

/// The file `relative` (a path a confirmation named) under `share`, checked.
pub fn resolve(share: &Path, relative: &str) -> Result<PathBuf, AudioError> {
    let outside = || AudioError::OutsideShare(relative.to_string());
    let rel = Path::new(relative);
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    let wav = rel
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    if relative.is_empty() || !plain || !wav {
        return Err(outside());
    }
    let missing = |path: &Path, error| AudioError::Missing {
        path: path.to_path_buf(),
        error,
    };
    let root = share.canonicalize().map_err(|e| missing(share, e))?;
    let joined = root.join(rel);
    let file = joined.canonicalize().map_err(|e| missing(&joined, e))?;
    if !file.starts_with(&root) || !file.is_file() {
        return Err(outside());
    }
    Ok(file)
}

/// Which bytes of a `len`-byte file a `Range` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranged {
    /// No range (or one this server answers whole: another unit, several ranges).
    Whole,
    /// From the first to the last byte, both included.
    Part(u64, u64),
}

/// The one range of `bytes=first-last`, `bytes=first-` or `bytes=-suffix`.
pub fn parse_range(header: Option<&str>, len: u64) -> Result<Ranged, AudioError> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(Ranged::Whole);
    };
    if spec.contains(',') {
        return Ok(Ranged::Whole);
    }
    let bad = AudioError::Range { len };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (first, last) = spec
        .trim()
        .split_once('-')
        .ok_or(AudioError::Range { len })?;
    let range = match (number(first), last) {
        (None, suffix) if first.is_empty() => {
            let n = number(suffix).filter(|&n| n > 0 && len > 0).ok_or(bad)?;
            (len - n.min(len), len - 1)
        }
        (Some(a), "") if a < len => (a, len - 1),
        (Some(a), b) if a < len => match number(b) {
            Some(b) if b >= a => (a, b.min(len - 1)),
            _ => return Err(bad),
        },
        _ => return Err(bad),
    };
    Ok(Ranged::Part(range.0, range.1))
}

/// The answer for `file` and the request's `Range` header.
pub fn serve(file: &Path, range: Option<&str>) -> Result<Response<Body>, ApiError> {
    let missing = |error| AudioError::Missing {
        path: file.to_path_buf(),
        error,
    };
    let mut f = std::fs::File::open(file).map_err(missing)?;
    let len = f.metadata().map_err(missing)?.len();
    let (status, first, last) = match parse_range(range, len) {
        Ok(Ranged::Whole) => (StatusCode::OK, 0, len.saturating_sub(1)),
        Ok(Ranged::Part(a, b)) => (StatusCode::PARTIAL_CONTENT, a, b),
        Err(e) => {
            let mut resp = ApiError::from(e).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let count = if len == 0 { 0 } else { last - first + 1 };
    f.seek(SeekFrom::Start(first)).map_err(missing)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || send_bytes(f, count, tx));
    let mut resp = Response::new(http::stream(rx));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{len}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

/// Up to `count` bytes of `f` into the body; stops when the client goes away.
fn send_bytes(mut f: std::fs::File, mut count: u64, tx: tokio::sync::mpsc::Sender<Bytes>) {
    let mut buf = vec![0u8; CHUNK];
    while count > 0 {
        let want = (count as usize).min(CHUNK);
        let n = match f.read(&mut buf[..want]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        count -= n as u64;
        if tx.blocking_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |h: &str| parse_range(Some(h), 1000).map_err(|e| e.to_string());
        assert_eq!(parse_range(None, 1000).unwrap(), Ranged::Whole);
        assert_eq!(r("bytes=0-"), Ok(Ranged::Part(0, 999)));
        assert_eq!(r("bytes=100-199"), Ok(Ranged::Part(100, 199)));
        assert_eq!(r("bytes=900-5000"), Ok(Ranged::Part(900, 999)));
        assert_eq!(r("bytes=-100"), Ok(Ranged::Part(900, 999)));
        assert_eq!(r("bytes=-5000"), Ok(Ranged::Part(0, 999)));
        assert_eq!(r("bytes=0-1,5-6"), Ok(Ranged::Whole));
        assert_eq!(r("items=0-1"), Ok(Ranged::Whole));
        for bad in [
            "bytes=1000-",
            "bytes=5-2",
            "bytes=-0",
            "bytes=x-1",
            "bytes=1",
            "bytes=+1-2",
        ] {
            assert!(r(bad).is_err(), "{bad}");
        }
        assert!(parse_range(Some("bytes=-1"), 0).is_err());
    }

    #[test]
    fn only_plain_paths_inside_the_share() {
        let dir = tempfile::tempdir().unwrap();
        let share = dir.path().join("share");
        std::fs::create_dir_all(share.join("s1")).unwrap();
        std::fs::write(share.join("s1/a.wav"), b"RIFF").unwrap();
        std::fs::write(dir.path().join("secret.wav"), b"RIFF").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.wav"), share.join("s1/link.wav"))
            .unwrap();
        assert!(resolve(&share, "s1/a.wav").is_ok());
        for bad in [
            "../secret.wav",
            "/etc/passwd",
            "s1/../../secret.wav",
            "s1/link.wav",
            "s1",
            "",
        ] {
            assert!(
                matches!(resolve(&share, bad), Err(AudioError::OutsideShare(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            resolve(&share, "s1/gone.wav"),
            Err(AudioError::Missing { .. })
        ));
    }
}
