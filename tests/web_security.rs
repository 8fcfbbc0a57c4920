//! The board's page against a hostile LAN: DNS rebinding (the Host check),
//! page-password sessions and the wrong-password throttle, and the journald
//! priorities of its log lines. The real takebox-control over loopback.

mod common;

use common::*;
use serde_json::json;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .to_lowercase()
}

#[test]
fn a_rebound_host_is_refused_on_every_route_and_the_boards_names_are_served() {
    let ws = Workspace::new();
    ws.write_board_config(free_port(), json!({}));
    let control = Daemon::control(&ws);
    let a = control.addr;
    let port = a.port();
    let before = std::fs::read(ws.config_path()).unwrap();
    let form = b"countdown_duration=2.5";
    // A same-origin form POST as a browser sends it to `host`.
    let post_settings = |host: &str| {
        let origin = format!("http://{host}");
        exchange(
            a,
            None,
            "POST",
            "/settings",
            &[
                ("Host", host),
                ("Origin", &origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            form,
        )
    };

    // The rebinding page: its own name, pointed at the board, Origin matching.
    let evil = format!("evil.example:{port}");
    let (code, _, body) = post_settings(&evil);
    assert_eq!(code, 421, "{body}");
    assert!(body.contains("not known as"), "a clear message: {body}");
    assert_eq!(
        std::fs::read(ws.config_path()).unwrap(),
        before,
        "nothing saved"
    );

    refused_on_every_route(a, &evil);
    // No Host at all, or an absolute target naming another host.
    let (code, _, body) = exchange(a, None, "GET", "/", &[], b"");
    assert_eq!(code, 400, "{body}");
    let (code, _, body) = exchange(
        a,
        None,
        "GET",
        &format!("http://evil.example:{port}/app.js"),
        &[("Host", &format!("127.0.0.1:{port}"))],
        b"",
    );
    assert_eq!(code, 421, "{body}");

    // The names the board is known by, with and without the port.
    let bearer = format!("Bearer {TOKEN}");
    for host in &own_host_names(port) {
        let (code, _, body) = exchange(a, None, "GET", "/app.js", &[("Host", host)], b"");
        assert_eq!(code, 200, "Host {host}: {body}");
        let (code, _, body) = exchange(
            a,
            None,
            "GET",
            "/api/v1/status",
            &[("Host", host), ("Authorization", &bearer)],
            b"",
        );
        assert_eq!(code, 200, "Host {host}: {body}");
    }
    // The same form from the board's own page is saved.
    let (code, head, body) = post_settings(&format!("localhost:{port}"));
    assert_eq!(code, 303, "{head}{body}");
    let saved = takebox::config::Config::load(&ws.config_path()).unwrap();
    assert_eq!(saved.countdown_duration, 2.5);
}

/// Every route (page, script, events, login, the API with a good token)
/// answers 421 to a name the board is not known by.
fn refused_on_every_route(a: std::net::SocketAddr, evil: &str) {
    let bearer = format!("Bearer {TOKEN}");
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/app.js"),
        ("GET", "/events"),
        ("GET", "/login"),
        ("GET", "/settings"),
        ("GET", "/initiate"),
        ("GET", "/nope"),
        ("GET", "/api/v1/status"),
        ("POST", "/api/v1/start"),
        ("POST", "/control"),
    ] {
        for host in [
            evil,
            "evil.example",
            "localhost.evil.example",
            "[2001:db8::1]:5000",
        ] {
            let (code, _, body) = exchange(
                a,
                None,
                method,
                path,
                &[("Host", host), ("Authorization", &bearer)],
                b"",
            );
            assert_eq!(code, 421, "{method} {path} Host {host}: {body}");
        }
    }
}

/// The names this machine is known by, with and without `port`, and one
/// address of each of its own interfaces (only named in the Host header: the
/// connection itself stays on loopback).
fn own_host_names(port: u16) -> Vec<String> {
    let name = hostname();
    let mut known = vec![
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_string(),
        format!("localhost:{port}"),
        "LOCALHOST".to_string(),
        format!("[::1]:{port}"),
        "[::1]".to_string(),
        format!("{name}:{port}"),
        format!("{name}.local:{port}"),
        name.clone(),
    ];
    for ifa in nix::ifaddrs::getifaddrs().unwrap() {
        let Some(addr) = ifa.address else { continue };
        if let Some(v4) = addr.as_sockaddr_in()
            && !v4.ip().is_loopback()
        {
            known.push(format!("{}:{port}", v4.ip()));
        } else if let Some(v6) = addr.as_sockaddr_in6()
            && !v6.ip().is_loopback()
            && (v6.ip().segments()[0] & 0xffc0) != 0xfe80
        {
            known.push(format!("[{}]:{port}", v6.ip()));
        }
    }
    known
}

#[test]
fn a_dns_alias_is_served_once_listed_in_host_names_and_a_bad_one_is_refused_at_check() {
    let ws = Workspace::new();
    ws.write_board_config(free_port(), json!({}));
    let control = Daemon::control(&ws);
    let alias = format!("studio-board.example:{}", control.addr.port());
    let get = |a: SocketAddr| exchange(a, None, "GET", "/app.js", &[("Host", &alias)], b"").0;
    assert_eq!(get(control.addr), 421, "not a name of the board by itself");
    drop(control);
    ws.write_board_config(
        free_port(),
        json!({"control": {"host_names": ["Studio-Board.example"]}}),
    );
    let control = Daemon::control(&ws);
    let alias = format!("studio-board.example:{}", control.addr.port());
    let (code, _, body) = exchange(
        control.addr,
        None,
        "GET",
        "/app.js",
        &[("Host", &alias)],
        b"",
    );
    assert_eq!(code, 200, "{body}");
    drop(control);

    let ws = Workspace::new();
    ws.write_board_config(
        free_port(),
        json!({"control": {"host_names": ["evil.example:5000"]}}),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_takebox-control"))
        .args([
            "--config",
            &ws.config_path().display().to_string(),
            "--check",
        ])
        .env("TAKEBOX_TOKEN", TOKEN)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("control.host_names[0]"), "{err}");
}

fn login(a: SocketAddr, from: Option<IpAddr>, password: &str) -> (u16, String, String) {
    let host = a.to_string();
    let origin = format!("http://{a}");
    exchange(
        a,
        from,
        "POST",
        "/login",
        &[
            ("Host", &host),
            ("Origin", &origin),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        format!("password={password}").as_bytes(),
    )
}

/// The session cookie a login set (`takebox_page=...`), checking its flags.
fn session_cookie(head: &str) -> String {
    let line = header(head, "set-cookie").unwrap_or_else(|| panic!("no cookie: {head}"));
    let flags: Vec<&str> = line.split(';').map(str::trim).collect();
    for f in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(flags.contains(&f), "{f} in {line}");
    }
    let cookie = flags[0].to_string();
    let id = cookie.strip_prefix("takebox_page=").unwrap();
    assert_eq!(id.len(), 64, "{cookie}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{cookie}");
    cookie
}

fn page(a: SocketAddr, path: &str, cookie: &str) -> u16 {
    let host = a.to_string();
    exchange(
        a,
        None,
        "GET",
        path,
        &[("Host", &host), ("Cookie", cookie)],
        b"",
    )
    .0
}

/// `GET /events` with `cookie`, its status line read (200).
fn open_event_stream(a: std::net::SocketAddr, cookie: &str) -> std::net::TcpStream {
    use std::io::{BufRead, Write};
    let mut stream = std::net::TcpStream::connect(a).unwrap();
    write!(
        stream,
        "GET /events HTTP/1.1\r\nHost: {a}\r\nCookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    let mut status = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut status)
        .unwrap();
    assert!(status.contains(" 200 "), "{status}");
    stream
}

/// What `stream` sends until its last chunk (the connection itself may stay
/// open), or until it closes or is silent for 30 s.
fn read_to_last_chunk(stream: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    let mut buf = [0u8; 4096];
    while !rest.ends_with(b"0\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => rest.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    rest
}

#[test]
fn each_login_is_its_own_session_and_logout_ends_it_on_the_board() {
    let ws = Workspace::new();
    ws.write_board_config(free_port(), json!({"control": {"page_password": "s3cret"}}));
    let control = Daemon::control(&ws);
    let a = control.addr;

    let (code, head, _) = login(a, None, "s3cret");
    assert_eq!(code, 303, "{head}");
    let first = session_cookie(&head);
    let (code, head, _) = login(a, None, "s3cret");
    assert_eq!(code, 303, "{head}");
    let second = session_cookie(&head);
    assert_ne!(first, second, "a fresh session for each login");
    assert_eq!(page(a, "/", &first), 200);
    assert_eq!(page(a, "/", &second), 200);
    // A live status stream opened with the first session.
    let mut stream = open_event_stream(a, &first);

    // Logout: the cookie is worth nothing afterwards, even if kept.
    let host = a.to_string();
    let origin = format!("http://{a}");
    let (code, head, _) = exchange(
        a,
        None,
        "POST",
        "/logout",
        &[("Host", &host), ("Origin", &origin), ("Cookie", &first)],
        b"",
    );
    assert_eq!(code, 303, "{head}");
    assert_eq!(
        page(a, "/", &first),
        303,
        "a logged-out cookie goes to /login"
    );
    assert_eq!(page(a, "/events", &first), 401);
    assert_eq!(page(a, "/settings", &first), 303);
    // The stream opened before the logout ends with it.
    let rest = read_to_last_chunk(&mut stream);
    assert!(
        rest.ends_with(b"0\r\n\r\n"),
        "the stream ends once its session is over: {}",
        String::from_utf8_lossy(&rest)
    );
    // The other login is untouched.
    assert_eq!(page(a, "/", &second), 200);
    // A made-up id of the right form is nothing.
    assert_eq!(
        page(a, "/", &format!("takebox_page={}", "ab".repeat(32))),
        303
    );

    // A restart ends every session.
    drop(control);
    let control = Daemon::control(&ws);
    let a = control.addr;
    assert_eq!(page(a, "/", &second), 303);
}

#[test]
fn wrong_passwords_are_throttled_per_address_and_for_the_board() {
    let ws = Workspace::new();
    ws.write_board_config(free_port(), json!({"control": {"page_password": "s3cret"}}));
    let control = Daemon::control(&ws);
    let a = control.addr;

    // 20 parallel guesses from one address: five are answered, the rest
    // throttled (429 with Retry-After) without a look at the password.
    let results: Vec<(u16, String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(move || login(a, None, "guess")))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // One address also holds at most its share of connections (16 of 64):
    // a guess beyond that is closed unanswered (status 0 here).
    let wrong = results.iter().filter(|r| r.0 == 401).count();
    let throttled: Vec<_> = results.iter().filter(|r| r.0 == 429).collect();
    let refused = results.iter().filter(|r| r.0 == 0).count();
    let codes: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert_eq!(wrong + throttled.len() + refused, 20, "{codes:?}");
    assert!(wrong >= 5, "the first five are answered: {codes:?}");
    assert!(
        throttled.len() + refused >= 10,
        "one address gets 5 tries, then one a second: {codes:?}"
    );
    for (_, head, body) in &throttled {
        let retry: u64 = header(head, "retry-after")
            .unwrap_or_else(|| panic!("Retry-After: {head}"))
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{head}");
        assert!(body.contains("too many wrong passwords"), "{body}");
        assert!(header(head, "set-cookie").is_none(), "{head}");
    }
    // Another address is not held up by the first one's guesses.
    let (code, head, _) = login(a, Some([127, 0, 0, 2].into()), "s3cret");
    assert_eq!(code, 303, "{head}");
    session_cookie(&head);

    // Many addresses at once meet the board's own limit: 10 addresses with
    // 4 guesses each stay within their own budgets, but not within the board's.
    let results: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..40u8)
            .map(|i| {
                let from: IpAddr = [127, 0, 1, 10 + i / 4].into();
                s.spawn(move || login(a, Some(from), "guess").0)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let throttled = results.iter().filter(|c| **c == 429).count();
    assert_eq!(
        results.iter().filter(|c| **c == 401).count() + throttled,
        40,
        "{results:?}"
    );
    assert!(
        throttled >= 10,
        "the board allows a burst of 20 and 2 a second: {throttled} of 40 throttled"
    );
}

/// Start takebox-control with stderr into `stderr` and JOURNAL_STREAM as given;
/// the address it listens on, read from that file.
fn control_with_stderr(
    ws: &Workspace,
    stderr: &std::path::Path,
    journal_stream: &str,
) -> (std::process::Child, SocketAddr) {
    let file = std::fs::File::create(stderr).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_takebox-control"))
        .args(["--config", &ws.config_path().display().to_string()])
        .env("TAKEBOX_TOKEN", TOKEN)
        .env("JOURNAL_STREAM", journal_stream)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    let addr = wait_for("the listening line", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(stderr).ok()?;
        let rest = text.split("listening on http://").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    });
    (child, addr)
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Each log line starts with the syslog priority of its level, then the
/// timestamp as always.
fn each_line_has_its_levels_priority(text: &str) {
    for line in text.lines().filter(|l| l.contains(" level=")) {
        let level = line
            .split(" level=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let want = match level {
            "error" => "<3>",
            "warn" => "<4>",
            "info" => "<6>",
            "debug" | "trace" => "<7>",
            other => panic!("level {other} in {line}"),
        };
        assert!(line.starts_with(want), "{want} for {line}");
        // Otherwise the line is as always: a timestamp first.
        assert!(
            line[want.len()..].starts_with(|c: char| c.is_ascii_digit()),
            "{line}"
        );
    }
}

#[test]
fn log_lines_carry_syslog_priorities_when_stderr_is_the_journal() {
    use std::os::unix::fs::MetadataExt;
    let ws = Workspace::new();
    // An error at start (no GPIO chip), a warning when a take waits for its
    // recorder (it is down), info and debug lines as usual.
    ws.write_board_config(
        free_port(),
        json!({"control": {"gpio": {"backend": "chardev", "chip": "/nonexistent/gpiochip9"}}}),
    );
    let journal = ws.dir.path().join("journal.txt");
    // Created first, so that its device and inode are known before the start.
    std::fs::write(&journal, b"").unwrap();
    let md = std::fs::metadata(&journal).unwrap();
    let stream = format!("{}:{}", md.dev(), md.ino());
    let (child, a) = control_with_stderr(&ws, &journal, &stream);
    let child = Killed(child);
    assert_eq!(
        std::fs::metadata(&journal).unwrap().ino(),
        md.ino(),
        "the same file"
    );
    let (code, v) = http(
        a,
        "POST",
        "/api/v1/session",
        Some(TOKEN),
        Some(
            serde_json::to_vec(
                &json!({"instrument": "guitar", "lowest_note": "E2", "highest_note": "E2"}),
            )
            .unwrap(),
        ),
    );
    assert_eq!(code, 201, "{v}");
    let _ = http(
        a,
        "POST",
        "/api/v1/start",
        Some(TOKEN),
        Some(b"{}".to_vec()),
    );
    let text = wait_for("a warning in the journal", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&journal).ok()?;
        let has = |p: &str| text.lines().any(|l| l.starts_with(p));
        (has("<3>") && has("<4>") && has("<6>") && has("<7>")).then_some(text)
    });
    drop(child);
    each_line_has_its_levels_priority(&text);
    assert!(
        text.lines()
            .any(|l| l.starts_with("<3>") && l.contains("button and LEDs off")),
        "{text}"
    );
    assert!(
        text.lines()
            // No recorder: Start is refused as it is down (or, asked before
            // the first status poll, the take waits for it); a warning either way.
            .any(|l| l.starts_with("<4>")
                && (l.contains("take not armed") || l.contains("the take waits for it"))),
        "{text}"
    );

    // JOURNAL_STREAM naming another file (inherited by a child whose stderr
    // went elsewhere): lines stay plain.
    let other = ws.dir.path().join("plain.txt");
    let (child, _) = control_with_stderr(&ws, &other, &stream);
    drop(Killed(child));
    let text = std::fs::read_to_string(&other).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" level=")).collect();
    assert!(!lines.is_empty(), "{text}");
    for line in lines {
        assert!(
            line.starts_with(|c: char| c.is_ascii_digit()),
            "no prefix: {line}"
        );
    }
}
