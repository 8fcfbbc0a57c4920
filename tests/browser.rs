//! The page in headless Chromium, driven over WebDriver (plain JSON over HTTP to
//! chromedriver on loopback): Initiate -> Start -> countdown on screen ->
//! confirmation with its file path on screen. A screenshot is kept in artifacts/.

mod common;

use common::*;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver must be installed (make test installs chromium-driver)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut d = Driver {
            child,
            addr,
            session: String::new(),
            _profile: tempfile::tempdir().unwrap(),
        };
        wait_for("chromedriver to answer", Duration::from_secs(20), || {
            std::net::TcpStream::connect(addr).ok()?;
            let (code, v) = http(addr, "GET", "/status", None, None);
            (code == 200 && v["value"]["ready"] == true).then_some(())
        });
        let profile = d._profile.path().display().to_string();
        let (code, v) = d.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--no-first-run", "--window-size=412,1000",
                         format!("--user-data-dir={profile}")]
            }}}}),
        );
        assert_eq!(code, 200, "new WebDriver session: {v}");
        d.session = v["value"]["sessionId"].as_str().unwrap().to_string();
        d
    }

    fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = (method == "POST").then(|| serde_json::to_vec(&body).unwrap());
        http(self.addr, method, path, None, body)
    }

    fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        let (code, v) = self.call(method, &format!("/session/{}{path}", self.session), body);
        assert_eq!(code, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.session_call("POST", "/url", json!({"url": url}));
    }

    fn find(&self, css: &str) -> String {
        let v = self.session_call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.session_call("POST", &format!("/element/{e}/click"), json!({}));
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.session_call("POST", &format!("/element/{e}/clear"), json!({}));
        self.session_call(
            "POST",
            &format!("/element/{e}/value"),
            json!({"text": text}),
        );
    }

    /// The visible text of the first element matching `css`, or None if absent.
    fn text(&self, css: &str) -> Option<String> {
        let (code, v) = self.call(
            "POST",
            &format!("/session/{}/element", self.session),
            json!({"using": "css selector", "value": css}),
        );
        if code != 200 {
            return None;
        }
        let e = v["value"][ELEMENT].as_str()?.to_string();
        let (code, v) = self.call(
            "GET",
            &format!("/session/{}/element/{e}/text", self.session),
            Value::Null,
        );
        (code == 200).then(|| v["value"].as_str().unwrap_or("").to_string())
    }

    fn screenshot(&self, path: &std::path::Path) {
        let v = self.session_call("GET", "/screenshot", Value::Null);
        let png = base64_decode(v.as_str().unwrap());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), Value::Null);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let mut n = 0u32;
        for (i, &c) in data.iter().enumerate() {
            n |= val(c) << (18 - 6 * i);
        }
        for i in 0..data.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[test]
fn the_page_records_a_take_from_initiate_to_confirmation_in_chromium() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_board_config(free_port(), json!({"countdown_duration": 3}));
    let _capture = Daemon::capture(&ws, Some(&pulse));
    let control = Daemon::control(&ws);
    // A tone in the room: the meter moves and the take passes the level check.
    let tone = ws.dir.path().join("tone.wav");
    write_tone(&tone, 440.0, 0.3, 20.0);
    let mut player = pulse.play(&tone);
    let base = format!("http://{}", control.addr);
    let browser = Driver::start();

    browser.go(&format!("{base}/initiate"));
    browser.type_into("input[name=lowest_note]", "A4");
    browser.type_into("input[name=highest_note]", "A4");
    browser.click("input[name=articulations][value=medium]");
    browser.type_into("input[name=user_initials]", "wd");
    browser.click("#begin");
    wait_for(
        "the status page with the session",
        Duration::from_secs(10),
        || browser.text("#note_text").filter(|t| t.starts_with("A4")),
    );
    assert_eq!(browser.text("#progress_text").as_deref(), Some("0 of 1"));
    // The room falls quiet for the countdown: the pre-roll measures the noise floor.
    let _ = player.kill();
    let _ = player.wait();
    browser.click("button[value=start]");

    // The countdown shows on screen, updated live by server-sent events.
    let seen = wait_for("the countdown on screen", Duration::from_secs(10), || {
        let phase = browser.text("#phase_label")?;
        let n = browser.text("#countdown_text")?;
        (phase == "countdown" && !n.is_empty()).then_some(n)
    });
    assert!(matches!(seen.as_str(), "1" | "2" | "3"), "{seen}");
    // The player plays the note when the countdown ends.
    wait_for("the recording phase", Duration::from_secs(10), || {
        (browser.text("#phase_label")? == "recording").then_some(())
    });
    let note = ws.dir.path().join("note.wav");
    write_tone(&note, 440.0, 0.3, 1.5);
    player = pulse.play(&note);
    // Then the confirmation, with its file path, without reloading the page.
    let path = wait_for(
        "the confirmation on screen",
        Duration::from_secs(30),
        || browser.text("#last_paths").filter(|t| t.ends_with(".wav")),
    );
    assert!(path.contains("/guitar_A4_medium_"), "{path}");
    assert!(ws.share().join(&path).exists(), "{path} is on the share");
    assert_eq!(browser.text("#last_verdict").as_deref(), Some("ok"));
    wait_for("progress 1 of 1", Duration::from_secs(10), || {
        (browser.text("#progress_text")? == "1 of 1").then_some(())
    });
    browser.screenshot(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/control-page.png"),
    );
    let _ = player.kill();
    let _ = player.wait();
}
