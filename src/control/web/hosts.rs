//! Which `Host` the board answers to (DNS rebinding): a page elsewhere that
//! points its own name at the board's address would otherwise be same-origin
//! with the board in a visitor's browser. Only names the board is known by are
//! served: its hostname and `hostname.local`, `control.host_names`, `localhost`,
//! loopback literals and the IP literals of its own interfaces, each with or
//! without a port (IPv6 in brackets). Anything else gets 421 on every route.

use crate::http::ApiError;
use crate::protocol::ErrorKind;
use hyper::StatusCode;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Interface addresses change (DHCP): an unknown Host looks them up again, at
/// most this often.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// What the system says the board is called and where it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// Lowercase names, without a trailing dot.
    pub names: HashSet<String>,
    pub addrs: HashSet<IpAddr>,
}

type Lookup = Box<dyn Fn() -> Identity + Send + Sync>;

pub struct KnownHosts {
    /// `control.host_names`, lowercase.
    extra: HashSet<String>,
    lookup: Lookup,
    state: Mutex<(Identity, Instant)>,
}

/// The machine's hostname (and `.local`) and its interfaces' addresses.
pub fn system_identity() -> Identity {
    let mut id = Identity::default();
    match nix::unistd::gethostname() {
        Ok(name) => {
            let name = name.to_string_lossy().trim_end_matches('.').to_lowercase();
            if !name.is_empty() {
                // `board.studio.lan` is also reached as `board` and `board.local`.
                let short = name.split('.').next().unwrap_or(&name).to_string();
                id.names.insert(format!("{short}.local"));
                id.names.insert(short);
                id.names.insert(format!("{name}.local"));
                id.names.insert(name);
            }
        }
        Err(e) => log::warn!(target: "takebox::control", "gethostname: {e}"),
    }
    match nix::ifaddrs::getifaddrs() {
        Ok(ifs) => {
            for a in ifs.filter_map(|i| i.address) {
                if let Some(v4) = a.as_sockaddr_in() {
                    id.addrs.insert(IpAddr::V4(v4.ip()));
                } else if let Some(v6) = a.as_sockaddr_in6() {
                    id.addrs.insert(IpAddr::V6(v6.ip()));
                }
            }
        }
        Err(e) => log::warn!(target: "takebox::control", "getifaddrs: {e}"),
    }
    id
}

/// Split a Host header into its host (lowercase, brackets and a trailing dot
/// removed) and check the port's form. None: not a well-formed Host.
pub fn host_part(value: &str) -> Option<String> {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (inside, port)
    } else {
        match value.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

fn misdirected(host: &str) -> ApiError {
    let shown: String = host.chars().take(100).collect();
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        ErrorKind::BadRequest,
        format!(
            "this board is not known as {shown:?}: open it by its IP address, its hostname \
             (or hostname.local) or localhost; another name (a DNS alias) must be listed \
             in control.host_names"
        ),
    )
}

impl KnownHosts {
    /// The board's own identity, read now and again when an unknown Host comes.
    pub fn new(extra: &[String]) -> KnownHosts {
        KnownHosts::with_lookup(extra, Box::new(system_identity), Instant::now())
    }

    pub fn with_lookup(extra: &[String], lookup: Lookup, now: Instant) -> KnownHosts {
        let first = lookup();
        KnownHosts {
            extra: extra
                .iter()
                .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            lookup,
            state: Mutex::new((first, now)),
        }
    }

    fn known(&self, id: &Identity, host: &str) -> bool {
        if host == "localhost" || id.names.contains(host) || self.extra.contains(host) {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => {
                let ip = ip.to_canonical();
                ip.is_loopback() || id.addrs.contains(&ip)
            }
            Err(_) => false,
        }
    }

    /// Is `value` (a Host header or a URI's authority) a name of this board?
    /// An unknown one refreshes the identity if the last look is
    /// [`REFRESH_EVERY`] old.
    pub fn allows_at(&self, value: &str, now: Instant) -> bool {
        let Some(host) = host_part(value) else {
            return false;
        };
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        if self.known(&state.0, &host) {
            return true;
        }
        if now.saturating_duration_since(state.1) < REFRESH_EVERY {
            return false;
        }
        state.0 = (self.lookup)();
        state.1 = now;
        self.known(&state.0, &host)
    }

    /// The request's Host header (and the authority of an absolute-form
    /// target) must name this board: 421 otherwise.
    pub fn check(
        &self,
        headers: &hyper::HeaderMap,
        uri: &hyper::Uri,
        now: Instant,
    ) -> Result<(), ApiError> {
        let host = headers
            .get(hyper::header::HOST)
            .map(|v| v.to_str().unwrap_or("?"))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorKind::BadRequest,
                    "request without a Host header",
                )
            })?;
        if !self.allows_at(host, now) {
            return Err(misdirected(host));
        }
        if let Some(a) = uri.authority()
            && !self.allows_at(a.as_str(), now)
        {
            return Err(misdirected(a.as_str()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn board(addrs: Arc<Mutex<Vec<IpAddr>>>, looks: Arc<AtomicUsize>, t0: Instant) -> KnownHosts {
        KnownHosts::with_lookup(
            &["Studio-Board.example.".to_string()],
            Box::new(move || {
                looks.fetch_add(1, Ordering::SeqCst);
                Identity {
                    names: ["board", "board.local"].map(String::from).into(),
                    addrs: addrs.lock().unwrap().iter().copied().collect(),
                }
            }),
            t0,
        )
    }

    #[test]
    fn host_forms() {
        assert_eq!(host_part("Board:5000").as_deref(), Some("board"));
        assert_eq!(host_part("board.local.").as_deref(), Some("board.local"));
        assert_eq!(host_part("[::1]:5000").as_deref(), Some("::1"));
        assert_eq!(host_part("[fe80::1]").as_deref(), Some("fe80::1"));
        for bad in [
            "",
            ":5000",
            "board:",
            "board:50x0",
            "board:123456",
            "[::1",
            "[::1]5000",
            "[nothost]:1",
            "::1",
            "a:1:2",
        ] {
            assert_eq!(host_part(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_the_boards_names_and_addresses() {
        let t0 = Instant::now();
        let addrs = Arc::new(Mutex::new(vec!["192.0.2.7".parse().unwrap()]));
        let looks = Arc::new(AtomicUsize::new(0));
        let k = board(addrs, looks, t0);
        for ok in [
            "board:5000",
            "BOARD.local",
            "board.local.:5000",
            "studio-board.example:5000",
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.9.9",
            "[::1]:5000",
            "[::ffff:127.0.0.1]",
            "192.0.2.7:5000",
            "192.0.2.7",
        ] {
            assert!(k.allows_at(ok, t0), "{ok}");
        }
        for bad in [
            "evil.example:5000",
            "evil.example",
            "board.evil.example",
            "localhost.evil.example",
            "192.0.2.8",
            "[2001:db8::1]:5000",
            "127.1",
            "board:5000:1",
            "",
        ] {
            assert!(!k.allows_at(bad, t0), "{bad}");
        }
    }

    #[test]
    fn a_new_address_is_found_by_a_refresh_at_most_every_few_seconds() {
        let t0 = Instant::now();
        let addrs = Arc::new(Mutex::new(vec![]));
        let looks = Arc::new(AtomicUsize::new(0));
        let k = board(addrs.clone(), looks.clone(), t0);
        assert_eq!(looks.load(Ordering::SeqCst), 1, "read at start");
        // DHCP gives the board a new address.
        addrs.lock().unwrap().push("198.51.100.20".parse().unwrap());
        // Too soon after the last look: no new look, however many ask.
        for _ in 0..100 {
            assert!(!k.allows_at("198.51.100.20", t0 + Duration::from_secs(1)));
            assert!(!k.allows_at("evil.example", t0 + Duration::from_secs(1)));
        }
        assert_eq!(looks.load(Ordering::SeqCst), 1);
        // Known names never cause a look.
        assert!(k.allows_at("board", t0 + REFRESH_EVERY * 3));
        assert_eq!(looks.load(Ordering::SeqCst), 1);
        let later = t0 + REFRESH_EVERY;
        assert!(k.allows_at("198.51.100.20:5000", later));
        assert_eq!(looks.load(Ordering::SeqCst), 2);
        // Unknown hosts again: one look per period.
        for _ in 0..100 {
            assert!(!k.allows_at("evil.example", later + Duration::from_secs(2)));
        }
        assert_eq!(looks.load(Ordering::SeqCst), 2);
        assert!(!k.allows_at("evil.example", later + REFRESH_EVERY));
        assert_eq!(looks.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn the_request_target_counts_too() {
        let t0 = Instant::now();
        let k = board(Arc::default(), Arc::default(), t0);
        let mut h = hyper::HeaderMap::new();
        let root: hyper::Uri = "/".parse().unwrap();
        assert_eq!(
            k.check(&h, &root, t0).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        h.insert(hyper::header::HOST, "evil.example:5000".parse().unwrap());
        let e = k.check(&h, &root, t0).unwrap_err();
        assert_eq!(e.status, StatusCode::MISDIRECTED_REQUEST);
        assert!(
            e.body.message.contains("evil.example"),
            "{}",
            e.body.message
        );
        h.insert(hyper::header::HOST, "board:5000".parse().unwrap());
        assert!(k.check(&h, &root, t0).is_ok());
        let absolute: hyper::Uri = "http://evil.example:5000/settings".parse().unwrap();
        assert_eq!(
            k.check(&h, &absolute, t0).unwrap_err().status,
            StatusCode::MISDIRECTED_REQUEST
        );
    }

    #[test]
    fn the_system_identity_has_the_hostname_and_loopback() {
        let id = system_identity();
        let name = nix::unistd::gethostname().unwrap();
        let name = name.to_string_lossy().to_lowercase();
        if !name.is_empty() {
            assert!(id.names.contains(&name), "{id:?}");
            assert!(id.names.contains(&format!("{name}.local")), "{id:?}");
        }
        assert!(id.addrs.contains(&IpAddr::from([127, 0, 0, 1])), "{id:?}");
    }
}
