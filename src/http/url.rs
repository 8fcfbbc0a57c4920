//! The `http://host:port` URLs the board is given for its recorders.

/// Split `http://host:port[/]` into host and port (80 when absent).
pub fn parse_http_url(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("expected http://host:port, got {url:?}"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return Err(format!("expected http://host:port, got {url:?}"));
    }
    let bad_port = || format!("bad port in {url:?}");
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in {url:?}"))?;
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
        return Err(format!("no host in {url:?}"));
    }
    Ok((host.to_string(), port))
}
