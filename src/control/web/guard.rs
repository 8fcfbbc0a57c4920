//! Who may change state: same-origin POSTs only (CSRF), and when a page password
//! is set, a browser holding the session cookie it earned.

use crate::http::ApiError;
use crate::protocol::ErrorKind;
use hyper::StatusCode;
use hyper::header::{self, HeaderMap};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "takebox_page";

fn forbidden(msg: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorKind::Unauthorized, msg)
}

/// `scheme://authority/...` -> authority.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// A browser's POST must come from a page of this server: its Origin (or, from
/// older browsers, its Referer) names the host it was sent to.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| forbidden("request without a Host header"))?;
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| forbidden("cross-site check: the request has neither Origin nor Referer"))?;
    match authority(source) {
        Some(a) if a.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(forbidden(
            "cross-site request refused: Origin does not match Host",
        )),
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The cookie value a correct password earns: a keyed hash, so the password
/// itself never travels in the cookie and a restart (new key) logs everyone out.
pub fn cookie_value(key: &[u8; 32], password: &str) -> String {
    let mut h = Sha256::new();
    h.update(key);
    h.update(password.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal in constant time (for equal lengths; lengths are not secret here).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn logged_in(headers: &HeaderMap, key: &[u8; 32], password: &str) -> bool {
    password.is_empty()
        || cookie(headers, COOKIE).is_some_and(|c| same(c, &cookie_value(key, password)))
}

/// 32 random bytes from the kernel.
pub fn random_key() -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn origin_must_match_host() {
        let ok = headers(&[
            (header::HOST, "127.0.0.1:5000"),
            (header::ORIGIN, "http://127.0.0.1:5000"),
        ]);
        assert!(same_origin(&ok).is_ok());
        let referer = headers(&[
            (header::HOST, "board:5000"),
            (header::REFERER, "http://board:5000/initiate?x=1"),
        ]);
        assert!(same_origin(&referer).is_ok());
        for bad in [
            headers(&[
                (header::HOST, "127.0.0.1:5000"),
                (header::ORIGIN, "http://evil.example"),
            ]),
            headers(&[(header::HOST, "127.0.0.1:5000"), (header::ORIGIN, "null")]),
            headers(&[(header::HOST, "127.0.0.1:5000")]),
            headers(&[
                (header::HOST, "127.0.0.1:5000"),
                (header::ORIGIN, "http://127.0.0.1:5000.evil"),
            ]),
        ] {
            assert_eq!(same_origin(&bad).unwrap_err().status, StatusCode::FORBIDDEN);
        }
    }

    #[test]
    fn password_cookie() {
        let key = [7u8; 32];
        let good = format!("a=b; {COOKIE}={}", cookie_value(&key, "pw"));
        assert!(logged_in(&headers(&[(header::COOKIE, &good)]), &key, "pw"));
        assert!(!logged_in(
            &headers(&[(header::COOKIE, "takebox_page=00")]),
            &key,
            "pw"
        ));
        assert!(!logged_in(&HeaderMap::new(), &key, "pw"));
        assert!(logged_in(&HeaderMap::new(), &key, ""));
    }
}
