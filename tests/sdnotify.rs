//! takebox-capture under a stand-in for systemd: it reports READY=1 once it
//! serves, pings the watchdog at half of WATCHDOG_USEC while its capture thread
//! runs, stops pinging while that thread hangs in the driver (PulseAudio frozen
//! with SIGSTOP), resumes when it returns, and reports STOPPING=1 on SIGTERM.

mod common;

use common::*;
use serde_json::json;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// Every notification that arrives within `window`.
fn collect(sock: &UnixDatagram, window: Duration) -> Vec<String> {
    collect_until(sock, window, |_| false)
}

/// The notifications that arrive until those read so far satisfy `done`, or
/// `timeout` passes: a loaded machine may be slow to send them, never early.
fn collect_until(
    sock: &UnixDatagram,
    timeout: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let end = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if done(&got) {
            break;
        }
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => break,
        }
    }
    got
}

fn is_ready(msgs: &[String]) -> bool {
    msgs.iter().any(|m| m.starts_with("READY=1"))
}

fn pings(msgs: &[String]) -> usize {
    msgs.iter().filter(|m| m.as_str() == "WATCHDOG=1").count()
}

fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).unwrap();
}

#[test]
fn ready_watchdog_only_while_capturing_and_stopping() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({}));
    let sock_path = ws.dir.path().join("notify");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let mut env = pulse.env();
    env.push(("NOTIFY_SOCKET".into(), sock_path.display().to_string()));
    // 1 s timeout: a ping every 0.5 s.
    env.push(("WATCHDOG_USEC".into(), "1000000".into()));
    let config = ws.config_path().display().to_string();
    let mut d = Daemon::spawn(
        env!("CARGO_BIN_EXE_takebox-capture"),
        &["--config", &config],
        &env,
    );

    // READY=1 comes once the pre-roll is held (0.5 s here), however loaded the machine.
    let mut first = collect_until(&sock, Duration::from_secs(30), is_ready);
    assert!(is_ready(&first), "no READY=1: {first:?}");
    // READY means a take would be accepted with its whole pre-roll.
    assert_eq!(d.get("/v1/status").1["ready"], true);
    first.extend(collect_until(&sock, Duration::from_secs(30), |m| {
        pings(m) >= 3
    }));
    let ready: Vec<_> = first.iter().filter(|m| m.starts_with("READY=1")).collect();
    assert_eq!(ready.len(), 1, "one READY=1: {first:?}");
    assert!(
        ready[0].contains("\nSTATUS=capturing from pulse"),
        "{first:?}"
    );
    // READY means it serves: the API answers.
    assert_eq!(d.get("/v1/status").0, 200);
    assert!(pings(&first) >= 3, "pings every 0.5 s: {first:?}");

    // A capture thread stuck in the driver: freeze the sound server.
    let server = pulse.pid().unwrap();
    signal(server, nix::sys::signal::Signal::SIGSTOP);
    // The engine calls the thread stuck after 5 s of silence; then a further
    // two ping periods show that no ping follows it.
    let stuck = |m: &[String]| m.iter().any(|m| m.contains("STATUS=capture thread stuck"));
    let mut frozen = collect_until(&sock, Duration::from_secs(60), stuck);
    frozen.extend(collect(&sock, Duration::from_secs(1)));
    signal(server, nix::sys::signal::Signal::SIGCONT);
    let status = frozen
        .iter()
        .position(|m| m.contains("STATUS=capture thread stuck"))
        .unwrap_or_else(|| panic!("no stuck status while frozen: {frozen:?}"));
    assert_eq!(
        pings(&frozen[status..]),
        0,
        "no ping once stuck: {frozen:?}"
    );
    let thawed = collect_until(&sock, Duration::from_secs(30), |m| pings(m) >= 2);
    assert!(pings(&thawed) >= 2, "pings resume: {thawed:?}");

    let exit = d.terminate();
    assert!(exit.success(), "{exit:?}");
    let last = collect(&sock, Duration::from_millis(300));
    assert!(
        last.iter().any(|m| m.starts_with("STOPPING=1")),
        "STOPPING=1 on SIGTERM: {last:?}"
    );
}

#[test]
fn control_reports_ready_pings_while_its_cycle_runs_and_stops() {
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_board_config(free_port(), json!({}));
    let sock_path = ws.dir.path().join("notify-control");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let env = vec![
        ("NOTIFY_SOCKET".to_string(), sock_path.display().to_string()),
        ("WATCHDOG_USEC".to_string(), "1000000".to_string()),
    ];
    let config = ws.config_path().display().to_string();
    let mut d = Daemon::spawn(
        env!("CARGO_BIN_EXE_takebox-control"),
        &["--config", &config],
        &env,
    );
    let first = collect_until(&sock, Duration::from_secs(30), |m| {
        is_ready(m) && pings(m) >= 2
    });
    assert!(is_ready(&first), "{first:?}");
    assert!(pings(&first) >= 2, "{first:?}");
    assert!(d.terminate().success());
    let last = collect(&sock, Duration::from_millis(300));
    assert!(last.iter().any(|m| m.starts_with("STOPPING=1")), "{last:?}");
}
