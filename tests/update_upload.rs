//! Settings -> Update against a real takebox-control: a bundle streams to
//! `state_dir/update/incoming` without being held in memory, bounded by the
//! free space, behind the page password and the API token, one at a time;
//! what root's updater then writes into `update/status` (played here by the
//! test, as image/overlay's takebox-update writes it) shows on the status and
//! on Settings, and Reboot now leaves its request file.

mod common;

use common::webdriver::Driver;
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

const PASSWORD: &str = "upd4te";

/// A board with the image's guards (Settings behind the page password) and
/// no recorder: updates need none.
fn board() -> (Workspace, Daemon) {
    let ws = Workspace::new();
    ws.write_board_config(
        free_port(),
        json!({"control": {"password_guards": "settings_and_abort"}}),
    );
    let config = ws.config_path().display().to_string();
    let env = [("TAKEBOX_PAGE_PASSWORD".to_string(), PASSWORD.to_string())];
    let control = Daemon::spawn(
        env!("CARGO_BIN_EXE_takebox-control"),
        &["--config", &config],
        &env,
    );
    (ws, control)
}

fn update_dir(ws: &Workspace) -> PathBuf {
    ws.dir.path().join("state/update")
}

fn incoming(ws: &Workspace) -> PathBuf {
    update_dir(ws).join("incoming")
}

/// The request's head on a fresh connection; its body is the caller's to send.
fn open_upload(a: SocketAddr, path: &str, headers: &[(&str, String)]) -> TcpStream {
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// The answer's status and body (the server may close before all was sent).
fn answer(mut s: TcpStream) -> (u16, String) {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn token_headers(len: u64) -> Vec<(&'static str, String)> {
    vec![
        ("Authorization", format!("Bearer {TOKEN}")),
        ("Content-Type", "application/octet-stream".into()),
        ("Content-Length", len.to_string()),
    ]
}

fn page_headers(
    a: SocketAddr,
    cookie: &str,
    content_type: &str,
    len: u64,
) -> Vec<(&'static str, String)> {
    vec![
        ("Origin", format!("http://{a}")),
        ("Cookie", cookie.to_string()),
        ("Content-Type", content_type.to_string()),
        ("Content-Length", len.to_string()),
    ]
}

fn log_in(a: SocketAddr) -> String {
    let (code, head, _) = post_form(a, "/login", &format!("password={PASSWORD}&next=/settings"));
    assert_eq!(code, 303, "{head}");
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| l[11..].trim())
        })
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no cookie: {head}"))
        .to_string()
}

/// Deterministic bytes standing for a bundle.
fn bundle_bytes(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The daemon's peak resident memory (VmHWM), in bytes.
fn peak_rss(d: &Daemon) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    kb * 1024
}

fn board_of(d: &Daemon) -> Value {
    board_get(d, "/api/v1/status")["board"].clone()
}

/// 96 MiB through the API streams to disk: the daemon's peak memory grows by
/// far less than the bundle, the file is the bundle, and it waits, queued,
/// for root's updater; without the token or the page login nothing is taken.
#[test]
fn a_bundle_streams_to_disk_behind_the_token_and_the_page_login() {
    let (ws, control) = board();
    let a = control.addr;
    let data = bundle_bytes(96 << 20);

    let mut no_token = token_headers(data.len() as u64);
    no_token.remove(0);
    let (code, body) = answer(open_upload(a, "/api/v1/update", &no_token));
    assert_eq!(code, 401, "{body}");
    let (code, body) = answer(open_upload(
        a,
        "/settings/update",
        &page_headers(a, "takebox_page=nope", "application/octet-stream", 10),
    ));
    assert_eq!(code, 401, "{body}");
    assert!(!incoming(&ws).join("bundle.raucb").exists());

    let before = peak_rss(&control);
    let mut s = open_upload(a, "/api/v1/update", &token_headers(data.len() as u64));
    for chunk in data.chunks(1 << 20) {
        s.write_all(chunk).unwrap();
    }
    let (code, body) = answer(s);
    assert_eq!(code, 202, "{body}");
    let accepted: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(accepted["board"]["upload"]["state"], "queued", "{accepted}");
    assert_eq!(accepted["busy"], true);
    let grew = peak_rss(&control).saturating_sub(before);
    eprintln!(
        "a {} MiB upload: the daemon's peak memory grew by {:.1} MiB",
        data.len() >> 20,
        grew as f64 / (1 << 20) as f64
    );
    assert!(
        grew < 32 << 20,
        "peak memory grew by {grew} bytes for a {} byte upload",
        data.len()
    );
    let on_disk = std::fs::read(incoming(&ws).join("bundle.raucb")).unwrap();
    assert_eq!(Sha256::digest(&on_disk), Sha256::digest(&data));
    assert!(!incoming(&ws).join("bundle.raucb.part").exists());
    assert_eq!(board_of(&control)["upload"]["percent"], 100);

    // Queued for root: a second upload waits until it is taken.
    let (code, body) = answer(open_upload(a, "/api/v1/update", &token_headers(10)));
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("waits for the board's updater"), "{body}");
}

/// While one upload streams, another (from the page, logged in) is refused
/// and the status shows the first's progress; a client that goes away
/// leaves no partial file and frees the board for the next.
#[test]
fn a_second_upload_is_refused_while_one_streams_and_a_broken_one_leaves_nothing() {
    let (ws, control) = board();
    let a = control.addr;
    let total = 8u64 << 20;
    let mut first = open_upload(a, "/api/v1/update", &token_headers(total));
    first.write_all(&bundle_bytes(2 << 20)).unwrap();
    let st = board_wait(&control, "the upload's progress", 30, |s| {
        s["board"]["upload"]["received"].as_u64() == Some(2 << 20)
    });
    assert_eq!(st["board"]["upload"]["state"], "uploading", "{st}");
    assert_eq!(st["board"]["upload"]["total"], total);
    assert_eq!(st["board"]["upload"]["percent"], 25);

    let cookie = log_in(a);
    let page = raw_http(a, "GET", "/settings", &[("Cookie", &cookie)], b"").2;
    assert!(page.contains("Uploading: 25%"), "{page}");
    let (code, body) = answer(open_upload(
        a,
        "/settings/update",
        &page_headers(a, &cookie, "application/octet-stream", 10),
    ));
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("another upload is in progress"), "{body}");

    drop(first);
    board_wait(&control, "the broken upload to be dropped", 30, |s| {
        s["board"]["upload"].is_null()
    });
    let left: Vec<_> = std::fs::read_dir(incoming(&ws))
        .unwrap()
        .flatten()
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The next one is taken: the plain form's multipart upload.
    let file = bundle_bytes(300_000);
    let mut form = b"--b0und\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"u.raucb\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    form.extend_from_slice(&file);
    form.extend_from_slice(b"\r\n--b0und--\r\n");
    let ctype = "multipart/form-data; boundary=b0und";
    let mut s = open_upload(
        a,
        "/settings/update",
        &page_headers(a, &cookie, ctype, form.len() as u64),
    );
    s.write_all(&form).unwrap();
    let (code, _) = answer(s);
    assert_eq!(code, 303);
    assert_eq!(
        std::fs::read(incoming(&ws).join("bundle.raucb")).unwrap(),
        file
    );
}

/// A bundle larger than the free space (less what is kept for logs) is
/// refused before a byte is read, saying so; a body of unknown size too.
#[test]
fn a_bundle_that_does_not_fit_or_has_no_size_is_refused_at_once() {
    let (ws, control) = board();
    let a = control.addr;
    std::fs::create_dir_all(incoming(&ws)).unwrap();
    let free = nix::sys::statvfs::statvfs(&incoming(&ws)).unwrap();
    let free = free.blocks_available() as u64 * free.fragment_size() as u64;
    // Well over the free space, whatever else on the machine writes or deletes.
    let size = free + (256 << 20);
    let (code, body) = answer(open_upload(a, "/api/v1/update", &token_headers(size)));
    assert_eq!(code, 413, "{body}");
    assert!(body.contains("does not fit"), "{body}");
    assert!(body.contains("stay free for logs and settings"), "{body}");

    let mut chunked = token_headers(0);
    chunked.pop();
    chunked.push(("Transfer-Encoding", "chunked".into()));
    let mut s = open_upload(a, "/api/v1/update", &chunked);
    let _ = s.write_all(b"5\r\nhello\r\n0\r\n\r\n");
    let (code, body) = answer(s);
    assert_eq!(code, 411, "{body}");
    assert!(std::fs::read_dir(incoming(&ws)).unwrap().next().is_none());
}

/// What root's updater writes shows live: writing with RAUC's percentage,
/// a bundle refused for its signature (with the reason, on Settings too),
/// then an installed one whose Reboot now leaves the request for root.
#[test]
fn the_updaters_progress_and_a_refused_bundle_show_on_status_and_settings() {
    let (ws, control) = board();
    let a = control.addr;
    let cookie = log_in(a);
    let mut s = open_upload(a, "/api/v1/update", &token_headers(4096));
    s.write_all(&bundle_bytes(4096)).unwrap();
    assert_eq!(answer(s).0, 202);
    // Root takes the bundle and writes its progress, as takebox-update does.
    let root_writes = |text: &str| {
        let _ = std::fs::remove_file(incoming(&ws).join("bundle.raucb"));
        std::fs::write(update_dir(&ws).join("status"), text).unwrap();
    };
    root_writes(
        "state=installing\nversion=v2\nslot=B\nreason=\ntime=2026-12-02T06:00:00Z\npercent=40\nstep=Copying image to rootfs.1\n",
    );
    let st = board_of(&control);
    assert_eq!(st["update"]["percent"], 40, "{st}");
    assert!(st["upload"].is_null(), "{st}");
    let page = raw_http(a, "GET", "/settings", &[("Cookie", &cookie)], b"").2;
    assert!(
        page.contains("installing 40% (Copying image to rootfs.1)"),
        "{page}"
    );
    assert_eq!(
        answer(open_upload(a, "/api/v1/update", &token_headers(10))).0,
        409
    );

    let why = "refused before writing: signature verification failed: unable to get local issuer certificate";
    root_writes(&format!(
        "state=failed\nversion=bundle.raucb\nslot=\nreason={why}\ntime=2026-12-02T06:01:00Z\npercent=\nstep=\n"
    ));
    let st = board_of(&control);
    assert_eq!(
        (
            st["update"]["state"].as_str(),
            st["update"]["reason"].as_str()
        ),
        (Some("failed"), Some(why))
    );
    let page = raw_http(a, "GET", "/settings", &[("Cookie", &cookie)], b"").2;
    assert!(page.contains(why), "{page}");
    assert!(page.contains(r#"id="reboot_form" hidden"#), "{page}");
    let (code, _, page) = raw_http(
        a,
        "POST",
        "/settings/reboot",
        &[("Origin", &format!("http://{a}")), ("Cookie", &cookie)],
        b"",
    );
    assert_eq!(code, 409);
    assert!(
        page.contains("no reboot: the last update is failed"),
        "{page}"
    );
    assert!(!incoming(&ws).join("reboot").exists());

    root_writes("state=installed\nversion=v2\nslot=B\nreason=\ntime=2026-12-02T06:02:00Z\n");
    let (code, v) = http(a, "GET", "/settings/update", None, None);
    assert_eq!(code, 303, "the update's state is behind the login too: {v}");
    let polled = raw_http(a, "GET", "/settings/update", &[("Cookie", &cookie)], b"").2;
    let polled: Value = serde_json::from_str(&polled).unwrap();
    assert_eq!(
        (polled["can_reboot"].as_bool(), polled["busy"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(post_form(a, "/settings/reboot", "").0, 401);
    let (code, head, _) = raw_http(
        a,
        "POST",
        "/settings/reboot",
        &[("Origin", &format!("http://{a}")), ("Cookie", &cookie)],
        b"",
    );
    assert_eq!(code, 303, "{head}");
    assert!(head.contains("location: /settings?rebooting=1"), "{head}");
    assert!(incoming(&ws).join("reboot").exists());
    assert_eq!(
        board_post(&control, "/api/v1/update/reboot", json!({})).0,
        202
    );
}

/// Chromium on Settings: the file chosen goes up through the page's script
/// (raw bytes, with its progress) and the section follows the board's
/// updater until the update is installed and Reboot now is offered.
#[test]
fn settings_uploads_a_bundle_in_chromium_and_follows_the_install() {
    let (ws, control) = board();
    let base = format!("http://{}", control.addr);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("takebox-v2.raucb");
    let data = bundle_bytes(3 << 20);
    std::fs::write(&file, &data).unwrap();

    let browser = Driver::start_sized(412, 1000);
    browser.go(&format!("{base}/login?next=/settings"));
    browser.type_into("input[name=password]", PASSWORD);
    browser.click("button[type=submit]");
    wait_for("Settings after the login", Duration::from_secs(20), || {
        browser.text("#update_form").map(|_| ())
    });
    assert!(browser.execute("return document.getElementById('reboot_form').hidden;") == true);
    let input = browser.find("#update_form input[type=file]");
    browser.session_call(
        "POST",
        &format!("/element/{input}/value"),
        json!({"text": file.display().to_string()}),
    );
    browser.click("#update_form button");
    let bundle = incoming(&ws).join("bundle.raucb");
    wait_for("the bundle on disk", Duration::from_secs(60), || {
        (std::fs::read(&bundle).ok()? == data).then_some(())
    });
    wait_for(
        "the page to say it waits for the updater",
        Duration::from_secs(20),
        || {
            browser
                .text("#update_progress")
                .filter(|t| t.contains("waiting for the board's updater"))
        },
    );
    // Root's updater: the outcome first, then the bundle taken (the page
    // polls while a bundle waits).
    std::fs::write(
        update_dir(&ws).join("status"),
        "state=installed\nversion=v2\nslot=B\nreason=\ntime=2026-12-02T06:02:00Z\n",
    )
    .unwrap();
    std::fs::remove_file(&bundle).unwrap();
    wait_for("Reboot now on the page", Duration::from_secs(20), || {
        (browser.execute("return document.getElementById('reboot_form').hidden;") == false)
            .then_some(())
    });
    let summary = browser.text("#board_version").unwrap_or_default();
    assert!(
        summary.contains("last update v2 (slot B): installed"),
        "{summary}"
    );
}
