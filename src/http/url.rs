//! The `http://host:port` URLs the board is given for its recorders.

use std::fmt;

/// What is wrong with a recorder's URL (each names the URL).
#[derive(Debug, Clone, PartialEq)]
pub enum UrlError {
    /// Not `http://`, or with a path or user info.
    NotHostPort(String),
    BadPort(String),
    UnclosedBracket(String),
    NoHost(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::NotHostPort(url) => write!(f, "expected http://host:port, got {url:?}"),
            UrlError::BadPort(url) => write!(f, "bad port in {url:?}"),
            UrlError::UnclosedBracket(url) => write!(f, "unclosed [ in {url:?}"),
            UrlError::NoHost(url) => write!(f, "no host in {url:?}"),
        }
    }
}

impl std::error::Error for UrlError {}

/// Split `http://host:port[/]` into host and port (80 when absent).
pub fn parse_http_url(url: &str) -> Result<(String, u16), UrlError> {
    let not_host_port = || UrlError::NotHostPort(url.to_string());
    let rest = url.strip_prefix("http://").ok_or_else(not_host_port)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return Err(not_host_port());
    }
    let bad_port = || UrlError::BadPort(url.to_string());
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| UrlError::UnclosedBracket(url.to_string()))?;
        match after.strip_prefix(':') {
            Some(p) => (h, p.parse::<u16>().map_err(|_| bad_port())?),
            None if after.is_empty() => (h, 80),
            None => return Err(bad_port()),
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad_port())?),
            None => (rest, 80),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost(url.to_string()));
    }
    Ok((host.to_string(), port))
}
