//! Which connections a server keeps when clients ask for more than it has:
//! the bookkeeping behind [`super::serve`], free of sockets so it can be
//! tested alone.
//!
//! The rules, in order, for a new connection from address `ip`:
//! 1. `ip` already holds `max_per_peer` connections: its own longest-idle
//!    connection makes room, or the new one is refused. One address never
//!    holds more than its share, however many sockets it opens.
//! 2. The server is full (an address that holds no connection yet may use the
//!    `reserve`; others stop `reserve` short of `max_connections`): the
//!    longest-idle connection anywhere makes room; failing that, the oldest
//!    request of the address holding the most connections, if it holds more
//!    than `ip` would. A stalled or idle client loses its slot, never a
//!    client that uses it, and a newcomer (a person opening the page, the
//!    board calling its recorder) always finds one.
//!
//! A connection is *idle* between requests (also before its first one); it
//! is *busy* from a request's head until its answer has been sent.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// How many connections, and how they are shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    pub max_connections: usize,
    pub max_per_peer: usize,
    /// Slots only an address that holds no connection may take.
    pub reserve: usize,
}

#[derive(Debug)]
struct Entry {
    ip: IpAddr,
    busy: bool,
    /// When it became idle or busy.
    since: Instant,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    PerPeer,
    Full,
}

/// A connection admitted, and the ones it displaced (to be closed).
#[derive(Debug, PartialEq, Eq)]
pub struct Admitted {
    pub id: u64,
    pub evicted: Vec<u64>,
}

#[derive(Debug)]
pub struct Table {
    shares: Shares,
    next_id: u64,
    conns: HashMap<u64, Entry>,
}

impl Table {
    pub fn new(shares: Shares) -> Table {
        Table {
            shares,
            next_id: 0,
            conns: HashMap::new(),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    fn held_by(&self, ip: IpAddr) -> usize {
        self.conns.values().filter(|e| e.ip == ip).count()
    }

    /// The connection idle the longest, among those `from` accepts.
    fn longest_idle(&self, from: impl Fn(&Entry) -> bool) -> Option<u64> {
        self.conns
            .iter()
            .filter(|(_, e)| !e.busy && from(e))
            .min_by_key(|(id, e)| (e.since, **id))
            .map(|(id, _)| *id)
    }

    /// The oldest request of the address with the most connections, if that
    /// address would still hold more than `ip` after admitting it.
    fn heaviest_peers_oldest(&self, ip: IpAddr) -> Option<u64> {
        let mut counts: HashMap<IpAddr, usize> = HashMap::new();
        for e in self.conns.values() {
            *counts.entry(e.ip).or_default() += 1;
        }
        let (&heavy, &n) = counts.iter().max_by_key(|(ip, n)| (**n, **ip))?;
        if heavy == ip || n <= counts.get(&ip).copied().unwrap_or(0) + 1 {
            return None;
        }
        self.conns
            .iter()
            .filter(|(_, e)| e.ip == heavy)
            .min_by_key(|(id, e)| (e.since, **id))
            .map(|(id, _)| *id)
    }

    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> Result<Admitted, Refusal> {
        let mut evicted = Vec::new();
        if self.held_by(ip) >= self.shares.max_per_peer {
            let own = self.longest_idle(|e| e.ip == ip).ok_or(Refusal::PerPeer)?;
            self.conns.remove(&own);
            evicted.push(own);
        }
        let cap = if self.held_by(ip) == 0 {
            self.shares.max_connections
        } else {
            self.shares
                .max_connections
                .saturating_sub(self.shares.reserve)
        };
        if self.conns.len() >= cap {
            let victim = self
                .longest_idle(|_| true)
                .or_else(|| self.heaviest_peers_oldest(ip))
                .ok_or(Refusal::Full)?;
            self.conns.remove(&victim);
            evicted.push(victim);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.conns.insert(
            id,
            Entry {
                ip,
                busy: false,
                since: now,
            },
        );
        Ok(Admitted { id, evicted })
    }

    /// A request began (`true`) or its answer was sent (`false`).
    pub fn set_busy(&mut self, id: u64, busy: bool, now: Instant) {
        if let Some(e) = self.conns.get_mut(&id) {
            e.busy = busy;
            e.since = now;
        }
    }

    pub fn remove(&mut self, id: u64) {
        self.conns.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SHARES: Shares = Shares {
        max_connections: 8,
        max_per_peer: 4,
        reserve: 2,
    };

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    /// A clock that moves on by a millisecond at every reading.
    struct Clock(Instant);

    impl Clock {
        fn tick(&mut self) -> Instant {
            self.0 += Duration::from_millis(1);
            self.0
        }
    }

    #[test]
    fn one_address_never_holds_more_than_its_share() {
        let mut t = Table::new(SHARES);
        let mut c = Clock(Instant::now());
        let mut held = Vec::new();
        for _ in 0..4 {
            let a = t.admit(ip(2), c.tick()).unwrap();
            t.set_busy(a.id, true, c.tick());
            held.push(a.id);
        }
        // All four stall mid-request: a fifth from the same address is refused.
        assert_eq!(t.admit(ip(2), c.tick()), Err(Refusal::PerPeer));
        // One of them finishes its request: the fifth takes that idle slot.
        t.set_busy(held[1], false, c.tick());
        let a = t.admit(ip(2), c.tick()).unwrap();
        assert_eq!(a.evicted, vec![held[1]]);
        // Another address is not affected.
        assert!(t.admit(ip(3), c.tick()).is_ok());
    }

    const NO_RESERVE: Shares = Shares {
        reserve: 0,
        ..SHARES
    };

    #[test]
    fn a_full_server_closes_idle_connections_first() {
        let mut t = Table::new(NO_RESERVE);
        let mut c = Clock(Instant::now());
        // Four addresses open two idle sockets each: full.
        let mut first = None;
        for n in 2..6 {
            for _ in 0..2 {
                let a = t.admit(ip(n), c.tick()).unwrap();
                first.get_or_insert(a.id);
            }
        }
        assert_eq!(t.len(), 8);
        let a = t.admit(ip(9), c.tick()).unwrap();
        assert_eq!(a.evicted, first.into_iter().collect::<Vec<_>>());
        assert_eq!(t.len(), 8);
    }

    #[test]
    fn stalled_requests_of_the_heaviest_address_make_room_for_a_newcomer() {
        let mut t = Table::new(NO_RESERVE);
        let mut c = Clock(Instant::now());
        let mut stalled = Vec::new();
        for n in [2, 2, 2, 2, 3, 3, 4, 4] {
            let a = t.admit(ip(n), c.tick()).unwrap();
            t.set_busy(a.id, true, c.tick());
            stalled.push(a.id);
        }
        // Full of busy connections: a person's first connection still gets in,
        // in place of the oldest request of the address holding four.
        let a = t.admit(ip(9), c.tick()).unwrap();
        assert_eq!(a.evicted, vec![stalled[0]]);
        t.set_busy(a.id, true, c.tick());
        // Address 4 holds two; a third would give it as many as the heaviest
        // address keeps: no one is displaced for it.
        assert_eq!(t.admit(ip(4), c.tick()), Err(Refusal::Full));
    }

    #[test]
    fn the_reserve_is_for_addresses_that_hold_nothing() {
        let mut t = Table::new(SHARES);
        let mut c = Clock(Instant::now());
        for n in [2, 2, 2, 3, 3, 3] {
            let a = t.admit(ip(n), c.tick()).unwrap();
            t.set_busy(a.id, true, c.tick());
        }
        // Six of eight taken, two reserved: address 2 and 3 share the rest evenly.
        assert_eq!(t.admit(ip(2), c.tick()), Err(Refusal::Full));
        let a = t.admit(ip(7), c.tick()).unwrap();
        assert!(a.evicted.is_empty());
        let a = t.admit(ip(8), c.tick()).unwrap();
        assert!(a.evicted.is_empty());
        assert_eq!(t.len(), 8);
    }
}
