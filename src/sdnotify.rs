//! systemd's service notification protocol (`sd_notify(3)`), without libsystemd.
//!
//! A unit with `Type=notify` gives the daemon `NOTIFY_SOCKET`, a datagram socket
//! (a path, or an abstract name written with a leading `@`). The daemon sends
//! `READY=1` once it serves, `STATUS=...` for `systemctl status`, `WATCHDOG=1`
//! at least every `WATCHDOG_USEC` microseconds while it is healthy, and
//! `STOPPING=1` when it begins to shut down. Outside systemd (no `NOTIFY_SOCKET`)
//! every call is a no-op, so the daemons run the same by hand and in tests.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;
use tokio::sync::watch;

pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
pub const WATCHDOG_USEC: &str = "WATCHDOG_USEC";
pub const WATCHDOG_PID: &str = "WATCHDOG_PID";

/// The address `NOTIFY_SOCKET` names: `/path` or `@abstract`.
pub fn socket_addr(value: &str) -> io::Result<SocketAddr> {
    if let Some(name) = value.strip_prefix('@') {
        SocketAddr::from_abstract_name(name.as_bytes())
    } else if value.starts_with('/') {
        SocketAddr::from_pathname(value)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{NOTIFY_SOCKET}={value:?} is neither an absolute path nor an @abstract name"),
        ))
    }
}

/// Send `state` (newline-separated `KEY=value` assignments) to the socket `target`.
pub fn notify_to(target: &str, state: &str) -> io::Result<()> {
    let addr = socket_addr(target)?;
    let socket = UnixDatagram::unbound()?;
    let sent = socket.send_to_addr(state.as_bytes(), &addr)?;
    if sent != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("notification truncated to {sent} of {} bytes", state.len()),
        ));
    }
    Ok(())
}

/// Where notifications go: the socket systemd named, or nowhere.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    target: Option<String>,
}

impl Notifier {
    /// The socket in `NOTIFY_SOCKET`, read once.
    pub fn from_env() -> Notifier {
        Notifier {
            target: std::env::var(NOTIFY_SOCKET).ok().filter(|t| !t.is_empty()),
        }
    }

    /// A socket given by name (`/path` or `@abstract`).
    pub fn to(target: &str) -> Notifier {
        Notifier {
            target: Some(target.to_string()),
        }
    }

    /// Send and log a failure instead of returning it: a lost notification
    /// must not stop the daemon (systemd will time it out and say so itself).
    fn send(&self, state: &str) {
        if let Some(target) = &self.target
            && let Err(e) = notify_to(target, state)
        {
            log::warn!(target: "takebox::sdnotify", "cannot notify systemd ({state:?}): {e}");
        }
    }

    fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", status_line(status)));
    }
}

fn send(state: &str) {
    Notifier::from_env().send(state);
}

/// One `STATUS=` line: newlines would start a new assignment.
fn status_line(status: &str) -> String {
    status.replace(['\n', '\r'], " ")
}

/// `READY=1` with a status line.
pub fn ready(status: &str) {
    send(&format!("READY=1\nSTATUS={}", status_line(status)));
}

pub fn status(status: &str) {
    Notifier::from_env().status(status);
}

const STOPPING: &str = "STOPPING=1\nSTATUS=stopping";

/// How often to ping, from the values of `WATCHDOG_USEC` and `WATCHDOG_PID`:
/// half the timeout, as sd_watchdog_enabled(3) advises; None when the watchdog is
/// off, malformed, or meant for another process.
pub fn watchdog_interval_from(
    usec: Option<&str>,
    pid: Option<&str>,
    own_pid: u32,
) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid {
        let pid: u32 = pid.trim().parse().ok()?;
        if pid != own_pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2))
}

/// The ping interval for this process, from its environment.
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var(WATCHDOG_USEC).ok();
    let pid = std::env::var(WATCHDOG_PID).ok();
    watchdog_interval_from(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// Ping the watchdog every `interval` while `healthy()` holds; send `STOPPING=1`
/// when `shutdown` turns true. An unhealthy daemon stops pinging (and says why
/// in its status) so that systemd kills and restarts it after `WatchdogSec`.
pub async fn supervise<E: std::fmt::Display>(
    interval: Option<Duration>,
    healthy: impl Fn() -> Result<(), E>,
    shutdown: watch::Receiver<bool>,
) {
    supervise_with(Notifier::from_env(), interval, healthy, shutdown).await
}

/// [`supervise`], notifying `notifier`.
pub async fn supervise_with<E: std::fmt::Display>(
    notifier: Notifier,
    interval: Option<Duration>,
    healthy: impl Fn() -> Result<(), E>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = interval.map(|i| {
        let mut t = tokio::time::interval(i.max(Duration::from_millis(10)));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut was_healthy = true;
    loop {
        if *shutdown.borrow() {
            notifier.send(STOPPING);
            return;
        }
        tokio::select! {
            _ = async { ticker.as_mut().unwrap().tick().await }, if ticker.is_some() => {
                match healthy() {
                    Ok(()) => {
                        if !was_healthy {
                            log::info!(target: "takebox::sdnotify", "healthy again: watchdog pings resume");
                            notifier.status("running");
                        }
                        was_healthy = true;
                        notifier.send("WATCHDOG=1");
                    }
                    Err(why) => {
                        if was_healthy {
                            log::error!(target: "takebox::sdnotify", "{why}: watchdog pings withheld, systemd will restart the daemon");
                            notifier.status(&why.to_string());
                        }
                        was_healthy = false;
                    }
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() {
                    // The sender is gone: the daemon is going down.
                    notifier.send(STOPPING);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        notify_to(path.to_str().unwrap(), "READY=1\nSTATUS=up").unwrap();
        assert_eq!(recv(&sock), "READY=1\nSTATUS=up");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!(
            "takebox-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        );
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        notify_to(&format!("@{name}"), "WATCHDOG=1").unwrap();
        assert_eq!(recv(&sock), "WATCHDOG=1");
    }

    #[test]
    fn refuses_relative_and_reports_missing_sockets() {
        assert!(socket_addr("relative/path").is_err());
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nobody");
        assert!(notify_to(missing.to_str().unwrap(), "READY=1").is_err());
    }

    #[test]
    fn status_stays_on_one_line() {
        assert_eq!(status_line("a\nWATCHDOG=1"), "a WATCHDOG=1");
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout_for_this_pid() {
        let half = Some(Duration::from_secs(5));
        assert_eq!(watchdog_interval_from(Some("10000000"), None, 42), half);
        assert_eq!(
            watchdog_interval_from(Some("10000000"), Some("42"), 42),
            half
        );
        assert_eq!(
            watchdog_interval_from(Some("10000000"), Some("41"), 42),
            None
        );
        assert_eq!(watchdog_interval_from(Some("0"), None, 42), None);
        assert_eq!(watchdog_interval_from(Some("ten"), None, 42), None);
        assert_eq!(watchdog_interval_from(None, Some("42"), 42), None);
    }

    /// The pinging loop against a real socket: pings while healthy, none while
    /// not, STOPPING=1 at shutdown. Simulated time: the counts do not depend on
    /// how busy the machine is.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn supervise_pings_only_while_healthy() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_nonblocking(true).unwrap();
        let ok = Arc::new(AtomicBool::new(true));
        let (tx, rx) = watch::channel(false);
        let healthy = {
            let ok = ok.clone();
            move || {
                if ok.load(Ordering::Relaxed) {
                    Ok(())
                } else {
                    Err("stuck".to_string())
                }
            }
        };
        let task = tokio::spawn(supervise_with(
            Notifier::to(path.to_str().unwrap()),
            Some(Duration::from_millis(20)),
            healthy,
            rx,
        ));
        let drain = || {
            let mut got = Vec::new();
            let mut buf = [0u8; 512];
            while let Ok(n) = sock.recv(&mut buf) {
                got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
            }
            got
        };
        tokio::time::sleep(Duration::from_millis(150)).await;
        let healthy_msgs = drain();
        assert!(
            healthy_msgs.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3,
            "{healthy_msgs:?}"
        );
        ok.store(false, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(60)).await;
        drain();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let sick = drain();
        assert!(!sick.iter().any(|m| m == "WATCHDOG=1"), "{sick:?}");
        ok.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let back = drain();
        assert!(back.iter().any(|m| m == "WATCHDOG=1"), "{back:?}");
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        let last = drain();
        assert_eq!(
            last.last().map(String::as_str),
            Some("STOPPING=1\nSTATUS=stopping")
        );
    }
}
