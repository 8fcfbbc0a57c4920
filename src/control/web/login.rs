//! Page-password sessions and the throttle on wrong passwords.
//!
//! Each login gets a fresh random session id (32 bytes from /dev/urandom, in
//! hex), kept in memory with its last use: it ends after [`IDLE`] unused, on
//! logout, when [`MAX_SESSIONS`] newer ones push it out, or when the daemon
//! restarts. Failed logins are counted in token buckets, per client address
//! (an IPv6 client by its /64) and for the whole board; an attempt when either
//! is empty is refused (429) before the password is looked at.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session unused this long is over (sliding: each request renews it).
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at once; a login beyond it ends the least recently used one.
pub const MAX_SESSIONS: usize = 64;
/// Per client address: this many wrong passwords at once...
pub const PER_ADDRESS_BURST: f64 = 5.0;
/// ...then one try per second.
pub const PER_ADDRESS_RATE: f64 = 1.0;
/// For the whole board, however many addresses guess.
pub const GLOBAL_BURST: f64 = 20.0;
pub const GLOBAL_RATE: f64 = 2.0;
/// Client addresses remembered by the throttle.
const MAX_ADDRESSES: usize = 4096;

/// A session last used at `last` has not yet expired at `now`.
fn fresh(last: Instant, now: Instant) -> bool {
    now.saturating_duration_since(last) < IDLE
}

/// 32 random bytes from the kernel, in hex.
pub fn random_id() -> std::io::Result<String> {
    use std::io::Read;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    Ok(crate::wav::hex(&key))
}

fn well_formed(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, at: Instant) -> Bucket {
        Bucket { tokens: burst, at }
    }

    fn refill(&mut self, burst: f64, rate: f64, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * rate).min(burst);
        self.at = now;
    }

    /// Seconds until one token is there (0 when it is).
    fn wait(&self, rate: f64) -> f64 {
        if self.tokens >= 1.0 {
            0.0
        } else {
            (1.0 - self.tokens) / rate
        }
    }
}

#[derive(Default)]
struct Throttle {
    global: Option<Bucket>,
    per_address: HashMap<IpAddr, Bucket>,
}

/// A client's throttle key: its address, an IPv6 one by its /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
        }
        v4 => v4,
    }
}

pub struct Logins {
    /// Session id -> last use.
    sessions: Mutex<HashMap<String, Instant>>,
    throttle: Mutex<Throttle>,
}

impl Default for Logins {
    fn default() -> Self {
        Logins::new()
    }
}

impl Logins {
    pub fn new() -> Logins {
        Logins {
            sessions: Mutex::new(HashMap::new()),
            throttle: Mutex::new(Throttle::default()),
        }
    }

    /// A new session; the least recently used one goes when there are too many.
    pub fn create(&self, now: Instant) -> std::io::Result<String> {
        let id = random_id()?;
        let mut s = self
            .sessions
            .lock()
            .map_err(|_| std::io::Error::other("session lock poisoned"))?;
        s.retain(|_, last| fresh(*last, now));
        while s.len() >= MAX_SESSIONS {
            let Some(oldest) = s.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) else {
                break;
            };
            s.remove(&oldest);
        }
        s.insert(id.clone(), now);
        Ok(id)
    }

    /// Is `id` a live session? A live one is renewed.
    pub fn check(&self, id: &str, now: Instant) -> bool {
        if !well_formed(id) {
            return false;
        }
        let Ok(mut s) = self.sessions.lock() else {
            return false;
        };
        match s.get_mut(id) {
            Some(last) if fresh(*last, now) => {
                *last = now;
                true
            }
            Some(_) => {
                s.remove(id);
                false
            }
            None => false,
        }
    }

    /// Is `id` a live session? Looks only: an open live status stream does
    /// not keep a session alive by itself.
    pub fn alive(&self, id: &str, now: Instant) -> bool {
        self.sessions
            .lock()
            .is_ok_and(|s| s.get(id).is_some_and(|last| fresh(*last, now)))
    }

    /// Logout: the session is over on the board, whoever still holds its cookie.
    pub fn end(&self, id: &str) {
        if let Ok(mut s) = self.sessions.lock() {
            s.remove(id);
        }
    }

    pub fn count(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// May `peer` try a password now? Err: seconds to wait (for Retry-After).
    /// An allowed attempt takes a token from both buckets at once, so parallel
    /// guesses are counted before any of them is answered; [`Logins::succeeded`]
    /// gives it back.
    pub fn attempt(&self, peer: IpAddr, now: Instant) -> Result<(), u64> {
        let Ok(mut t) = self.throttle.lock() else {
            return Err(1);
        };
        let key = client_key(peer);
        let global = t
            .global
            .get_or_insert_with(|| Bucket::full(GLOBAL_BURST, now));
        global.refill(GLOBAL_BURST, GLOBAL_RATE, now);
        let global_wait = global.wait(GLOBAL_RATE);
        if t.per_address.len() >= MAX_ADDRESSES && !t.per_address.contains_key(&key) {
            // Forget the clients whose bucket has filled up again, then the oldest.
            t.per_address.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * PER_ADDRESS_RATE
                    < PER_ADDRESS_BURST
            });
            if t.per_address.len() >= MAX_ADDRESSES
                && let Some(oldest) = t
                    .per_address
                    .iter()
                    .min_by_key(|(_, b)| b.at)
                    .map(|(k, _)| *k)
            {
                t.per_address.remove(&oldest);
            }
        }
        let mine = t
            .per_address
            .entry(key)
            .or_insert_with(|| Bucket::full(PER_ADDRESS_BURST, now));
        mine.refill(PER_ADDRESS_BURST, PER_ADDRESS_RATE, now);
        let wait = mine.wait(PER_ADDRESS_RATE).max(global_wait);
        if wait > 0.0 {
            return Err(wait.ceil().max(1.0) as u64);
        }
        mine.tokens -= 1.0;
        if let Some(g) = t.global.as_mut() {
            g.tokens -= 1.0;
        }
        Ok(())
    }

    /// The password was right: the attempt's tokens come back.
    pub fn succeeded(&self, peer: IpAddr) {
        let Ok(mut t) = self.throttle.lock() else {
            return;
        };
        if let Some(b) = t.per_address.get_mut(&client_key(peer)) {
            b.tokens = (b.tokens + 1.0).min(PER_ADDRESS_BURST);
        }
        if let Some(g) = t.global.as_mut() {
            g.tokens = (g.tokens + 1.0).min(GLOBAL_BURST);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_login_gets_its_own_random_session() {
        let l = Logins::new();
        let t0 = Instant::now();
        let a = l.create(t0).unwrap();
        let b = l.create(t0).unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a) && well_formed(&b), "{a} {b}");
        assert!(l.check(&a, t0) && l.check(&b, t0));
        assert!(!l.check(&"0".repeat(64), t0));
        assert!(!l.check("", t0));
        assert!(!l.check(&a.to_uppercase(), t0));
    }

    #[test]
    fn logout_ends_only_that_session() {
        let l = Logins::new();
        let t0 = Instant::now();
        let a = l.create(t0).unwrap();
        let b = l.create(t0).unwrap();
        l.end(&a);
        assert!(!l.check(&a, t0));
        assert!(l.check(&b, t0));
    }

    #[test]
    fn sessions_expire_when_idle_and_use_renews_them() {
        let l = Logins::new();
        let t0 = Instant::now();
        let used = l.create(t0).unwrap();
        let idle = l.create(t0).unwrap();
        let half = t0 + IDLE / 2;
        assert!(l.check(&used, half));
        let later = t0 + IDLE + Duration::from_secs(1);
        assert!(l.check(&used, later), "renewed at half time");
        assert!(!l.check(&idle, later), "idle for longer than IDLE");
        assert!(!l.check(&idle, t0), "and removed for good");
        assert!(!l.check(&used, later + IDLE));
    }

    #[test]
    fn the_count_is_bounded_and_the_least_recently_used_goes() {
        let l = Logins::new();
        let t0 = Instant::now();
        let first = l.create(t0).unwrap();
        let mut ids = vec![];
        for i in 1..MAX_SESSIONS as u64 {
            ids.push(l.create(t0 + Duration::from_secs(i)).unwrap());
        }
        // The first is used again: the second is now the least recently used.
        let now = t0 + Duration::from_secs(1000);
        assert!(l.check(&first, now));
        let newest = l.create(now).unwrap();
        assert_eq!(l.count(), MAX_SESSIONS);
        assert!(!l.check(&ids[0], now));
        assert!(l.check(&first, now) && l.check(&ids[1], now) && l.check(&newest, now));
    }

    #[test]
    fn wrong_passwords_are_throttled_per_address() {
        let l = Logins::new();
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..PER_ADDRESS_BURST as usize {
            assert_eq!(l.attempt(a, t0), Ok(()));
        }
        assert_eq!(l.attempt(a, t0), Err(1));
        // Another address is not held up by the first.
        assert_eq!(l.attempt(ip("192.0.2.2"), t0), Ok(()));
        // One more try per second.
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(l.attempt(a, t1), Ok(()));
        assert_eq!(l.attempt(a, t1), Err(1));
        // A right password gives its token back.
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(l.attempt(a, t2), Ok(()));
        l.succeeded(a);
        assert_eq!(l.attempt(a, t2), Ok(()));
        assert_eq!(l.attempt(a, t2), Err(1));
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let l = Logins::new();
        let t0 = Instant::now();
        for i in 0..PER_ADDRESS_BURST as u16 {
            let a = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i + 1]);
            assert_eq!(l.attempt(a, t0), Ok(()));
        }
        assert!(l.attempt(ip("2001:db8:0:1::ffff"), t0).is_err());
        assert_eq!(l.attempt(ip("2001:db8:0:2::1"), t0), Ok(()));
        // An IPv4-mapped address is the IPv4 client.
        for _ in 0..PER_ADDRESS_BURST as usize {
            assert_eq!(l.attempt(ip("192.0.2.9"), t0), Ok(()));
        }
        assert!(l.attempt(ip("::ffff:192.0.2.9"), t0).is_err());
    }

    #[test]
    fn many_addresses_meet_the_global_limit() {
        let l = Logins::new();
        let t0 = Instant::now();
        let mut allowed = 0;
        let mut refused = vec![];
        for i in 0..100u8 {
            match l.attempt(IpAddr::from([10, 0, 0, i]), t0) {
                Ok(()) => allowed += 1,
                Err(s) => refused.push(s),
            }
        }
        assert_eq!(allowed, GLOBAL_BURST as usize);
        assert!(refused.iter().all(|s| *s == 1), "{refused:?}");
        // The global bucket refills at its own rate.
        let t1 = t0 + Duration::from_secs(1);
        let ok = (100..200u8)
            .filter(|i| l.attempt(IpAddr::from([10, 0, 0, *i]), t1).is_ok())
            .count();
        assert_eq!(ok, GLOBAL_RATE as usize);
    }

    #[test]
    fn the_throttle_forgets_addresses_within_bounds() {
        let l = Logins::new();
        let t0 = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 100) {
            let _ = l.attempt(
                IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000u32 + i)),
                t0,
            );
        }
        assert!(l.throttle.lock().unwrap().per_address.len() <= MAX_ADDRESSES);
    }
}
