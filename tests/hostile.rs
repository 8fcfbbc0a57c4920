//! Both daemons stay available to their real clients while other addresses on
//! the LAN stall uploads, hoard idle sockets or flood them with connections.
//! Every "attacker" here is a socket of this test bound to another loopback
//! address (127.0.0.2 and up); the real client is 127.0.0.1. Loops are
//! bounded in count and time and stop by themselves.

mod common;

use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// A connection from the loopback address 127.0.0.`from`.
fn peer(n: u8, to: SocketAddr) -> std::io::Result<TcpStream> {
    connect_from(IpAddr::from([127, 0, 0, n]), to)
}

/// Open `count` connections from addresses 127.0.0.`first`.. (`per_address`
/// each), each sending `prefix` and then nothing. Connections the server
/// refuses at once are counted, not kept.
fn hold(
    to: SocketAddr,
    first: u8,
    per_address: usize,
    count: usize,
    prefix: &[u8],
) -> Vec<TcpStream> {
    (0..count)
        .filter_map(|i| {
            let from = first + (i / per_address) as u8;
            let mut s = peer(from, to).ok()?;
            s.write_all(prefix).ok()?;
            Some(s)
        })
        .collect()
}

/// A normal request from 127.0.0.1 succeeds with a 2xx.
fn served(addr: SocketAddr, path: &str, token: Option<&str>) -> bool {
    let (code, _) = http(addr, "GET", path, token, None);
    (200..300).contains(&code)
}

/// Whether the server has closed `s` (EOF or reset), with what it sent;
/// looks without waiting.
fn closed_by_server(s: &mut TcpStream) -> Option<String> {
    s.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    s.set_nonblocking(false).unwrap();
    closed.then(|| String::from_utf8_lossy(&out).into_owned())
}

fn stalled_post(addr: SocketAddr, path: &str, length: u64, token: Option<&str>) -> Vec<u8> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n{auth}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\nx"
    )
    .into_bytes()
}

fn board() -> (Pulse, Workspace, Daemon, Daemon) {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_board_config(free_port(), json!({}));
    let capture = Daemon::capture(&ws, Some(&pulse));
    let control = Daemon::control(&ws);
    (pulse, ws, capture, control)
}

#[test]
fn stalled_uploads_lose_their_slots_and_the_page_stays_up() {
    let (_pulse, _ws, capture, control) = board();
    let page = control.addr;
    // 64 uploads from one address and 64 more from eight others (8 each),
    // each announcing a body and sending one byte of it.
    let prefix = stalled_post(page, "/initiate", 1000, None);
    let mut stalled = hold(page, 2, 64, 64, &prefix);
    stalled.extend(hold(page, 3, 8, 64, &prefix));
    for path in ["/", "/app.js", "/api/v1/status"] {
        assert!(
            served(page, path, Some(TOKEN)),
            "{path} while uploads stall"
        );
    }
    // The recorder too, with its token: a 1 GB body that stops after 100
    // bytes, and a chunked body that never ends.
    let rec = capture.addr;
    let mut huge = stalled_post(rec, "/v1/takes", 1 << 30, Some(TOKEN));
    huge.extend_from_slice(&[b'{'; 99]);
    let chunked = format!(
        "POST /v1/takes HTTP/1.1\r\nHost: {rec}\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"a\":\r\n"
    );
    let mut on_recorder = hold(rec, 20, 64, 64, &huge);
    on_recorder.extend(hold(rec, 21, 64, 64, chunked.as_bytes()));
    assert!(
        served(rec, "/v1/status", None),
        "recorder status while uploads stall"
    );
    let (code, take) = rec_post(&capture, "hostile-1");
    assert_eq!(code, 200, "a take while uploads stall: {take}");
    // Every stalled upload is answered 408 and closed within the body deadline.
    let mut pending: Vec<&mut TcpStream> =
        stalled.iter_mut().chain(on_recorder.iter_mut()).collect();
    wait_for(
        "every stalled upload to be closed",
        Duration::from_secs(60),
        || {
            pending.retain_mut(|s| closed_by_server(s).is_none());
            pending.is_empty().then_some(())
        },
    );
}

fn rec_post(capture: &Daemon, take_id: &str) -> (u16, serde_json::Value) {
    capture.post("/v1/takes", &take_cmd(take_id, json!({"duration": 0.2})))
}

#[test]
fn idle_sockets_never_starve_real_clients_and_refusals_do_not_flood_the_log() {
    let (_pulse, _ws, capture, control) = board();
    for (addr, path) in [
        (control.addr, "/api/v1/status"),
        (capture.addr, "/v1/status"),
    ] {
        // 1,000 idle sockets from ten addresses, held open.
        let idle = hold(addr, 30, 100, 1000, b"");
        assert!(!idle.is_empty());
        let ok = (0..20).filter(|_| served(addr, path, Some(TOKEN))).count();
        assert_eq!(ok, 20, "{path}: real requests served among idle sockets");
        // And while the idle ones are reopened as soon as they close.
        let mut churn = idle;
        let mut served_count = 0;
        for round in 0..20 {
            churn.retain_mut(|s| closed_by_server(s).is_none());
            let missing = 1000 - churn.len();
            churn.extend(hold(addr, 30 + (round % 10) as u8, 100, missing, b""));
            if served(addr, path, Some(TOKEN)) {
                served_count += 1;
            }
        }
        assert_eq!(
            served_count, 20,
            "{path}: real requests served while idle sockets churn"
        );
    }
    for d in [&control, &capture] {
        let lines = d.logs.lock().unwrap();
        let refusals = lines
            .iter()
            .filter(|l| l.contains("refusing a connection"))
            .count();
        assert!(refusals < 20, "refusals flood the log: {refusals} lines");
    }
}

#[test]
fn refused_live_status_streams_are_closed_at_once() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    // 16 connections: at most 8 live status streams.
    ws.write_board_config(free_port(), json!({"control": {"max_connections": 16}}));
    let _capture = Daemon::capture(&ws, Some(&pulse));
    let control = Daemon::control(&ws);
    let page = control.addr;
    let request =
        format!("GET /events HTTP/1.1\r\nHost: {page}\r\nAccept: text/event-stream\r\n\r\n");
    // One per address, so that no address reaches its share.
    let mut streams: Vec<TcpStream> = (0..8)
        .map(|i| {
            let mut s = peer(40 + i, page).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            s
        })
        .collect();
    for s in &mut streams {
        let mut buf = [0u8; 64];
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let n = s.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
    let mut ninth = peer(60, page).unwrap();
    ninth.write_all(request.as_bytes()).unwrap();
    let answer = wait_for(
        "the ninth stream to be refused and closed",
        Duration::from_secs(30),
        || closed_by_server(&mut ninth),
    );
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("live status streams"), "{answer}");
    assert!(served(page, "/", None));
}
