//! The link between board and recorder as the test wants it: a TCP proxy in
//! the board namespace in front of the recorder. It can stall (stop
//! forwarding in both directions without closing anything, as a switch that
//! hangs) and step the recorder's clock as the board sees it (the `clock` of
//! each status answer moved by whole seconds, rewritten in place).

use super::rig::Netns;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Controls {
    pub stalled: AtomicBool,
    /// Seconds added to the recorder's clock in status answers.
    pub clock_shift: AtomicI64,
    /// Status answers whose clock was moved (so a clock step is known to have landed).
    pub clocks_moved: AtomicU64,
    stop: AtomicBool,
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub controls: Arc<Controls>,
}

impl Proxy {
    /// Listen on the board's loopback, forward to `upstream` (over the veth).
    pub fn start(board: &Netns, upstream: SocketAddr) -> Proxy {
        let controls = Arc::new(Controls::default());
        let listener = board.within(|| TcpListener::bind("127.0.0.1:0").expect("proxy listener"));
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let c = controls.clone();
        let ns = board.clone();
        std::thread::spawn(move || {
            ns.enter_this_thread();
            while !c.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((down, _)) => {
                        let _ = down.set_nonblocking(false);
                        // Connected from this namespace: a link that is down refuses at once.
                        match TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) {
                            Ok(up) => pair(down, up, c.clone()),
                            Err(_) => drop(down),
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Proxy { addr, controls }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.controls.stop.store(true, Ordering::SeqCst);
    }
}

fn pair(down: TcpStream, up: TcpStream, c: Arc<Controls>) {
    let (down2, up2) = (down.try_clone().unwrap(), up.try_clone().unwrap());
    let c2 = c.clone();
    std::thread::spawn(move || pump(down, up, &c, false));
    std::thread::spawn(move || pump(up2, down2, &c2, true));
}

/// Copy `from` to `to` until either side closes; while stalled, read nothing
/// and send nothing (the other side's buffers fill, its requests time out).
fn pump(mut from: TcpStream, mut to: TcpStream, c: &Controls, answers: bool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if c.stop.load(Ordering::SeqCst) {
            break;
        }
        if c.stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        // Bytes read before a stall began are held back until it ends.
        while c.stalled.load(Ordering::SeqCst) && !c.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if answers {
            let shift = c.clock_shift.load(Ordering::SeqCst);
            if shift != 0 && shift_clock(&mut buf[..n], shift) {
                c.clocks_moved.fetch_add(1, Ordering::SeqCst);
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Move the `"clock":"<RFC 3339>"` in `bytes` by `secs`, keeping its length
/// (only whole seconds change, so the fraction and so the length stay).
fn shift_clock(bytes: &mut [u8], secs: i64) -> bool {
    const KEY: &[u8] = b"\"clock\":\"";
    let Some(at) = bytes.windows(KEY.len()).position(|w| w == KEY) else {
        return false;
    };
    let start = at + KEY.len();
    let Some(len) = bytes[start..].iter().position(|&b| b == b'"') else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&bytes[start..start + len]) else {
        return false;
    };
    let Ok(t) = text.parse::<takebox::protocol::Timestamp>() else {
        return false;
    };
    let moved = if secs >= 0 {
        t.0 + Duration::from_secs(secs as u64)
    } else {
        t.0 - Duration::from_secs(secs.unsigned_abs())
    };
    let new = takebox::protocol::Timestamp(moved).to_string();
    if new.len() != len {
        return false;
    }
    bytes[start..start + len].copy_from_slice(new.as_bytes());
    true
}

#[test]
fn a_status_clock_moves_by_whole_seconds_in_place() {
    let mut body = br#"{"ready":true,"clock":"2026-12-31T23:59:59.125Z","x":1}"#.to_vec();
    assert!(shift_clock(&mut body, 2));
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        r#"{"ready":true,"clock":"2027-01-01T00:00:01.125Z","x":1}"#
    );
    assert!(shift_clock(&mut body, -2));
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("2026-12-31T23:59:59.125Z")
    );
}
