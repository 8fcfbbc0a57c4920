//! Who may change state: same-origin POSTs only (CSRF; the Host itself is
//! checked first, by [`super::hosts`]), and when a page password is set, a
//! browser holding the cookie of a live session ([`super::login`]).

use super::login::Logins;
use crate::http::ApiError;
use crate::protocol::ErrorKind;
use hyper::StatusCode;
use hyper::header::{self, HeaderMap};
use std::time::Instant;

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

/// Equal in constant time (for equal lengths; lengths are not secret here).
pub fn same(a: &str, b: &str) -> bool {
    crate::http::same_secret(a.as_bytes(), b.as_bytes())
}

/// With a page password: does the request carry a live session's cookie?
pub fn logged_in(headers: &HeaderMap, logins: &Logins, password: &str, now: Instant) -> bool {
    password.is_empty() || cookie(headers, COOKIE).is_some_and(|c| logins.check(c, now))
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
        let logins = Logins::new();
        let now = Instant::now();
        let id = logins.create(now).unwrap();
        let good = format!("a=b; {COOKIE}={id}");
        assert!(logged_in(
            &headers(&[(header::COOKIE, &good)]),
            &logins,
            "pw",
            now
        ));
        assert!(!logged_in(
            &headers(&[(header::COOKIE, "takebox_page=00")]),
            &logins,
            "pw",
            now
        ));
        assert!(!logged_in(&HeaderMap::new(), &logins, "pw", now));
        assert!(logged_in(&HeaderMap::new(), &logins, "", now));
        logins.end(&id);
        assert!(!logged_in(
            &headers(&[(header::COOKIE, &good)]),
            &logins,
            "pw",
            now
        ));
    }
}
