//! A WebDriver client for headless Chromium (plain JSON over HTTP to
//! chromedriver on loopback), for the browser tests.

use super::{free_port, http, wait_for};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    child: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    /// Chromium with a window of `width` x `height` CSS pixels.
    pub fn start_sized(width: u32, height: u32) -> Driver {
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
        wait_for("chromedriver to answer", Duration::from_secs(30), || {
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
                         "--disable-component-update", "--no-first-run", format!("--window-size={width},{height}"),
                         format!("--user-data-dir={profile}")]
            }}}}),
        );
        assert_eq!(code, 200, "new WebDriver session: {v}");
        d.session = v["value"]["sessionId"].as_str().unwrap().to_string();
        d
    }

    pub fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = (method == "POST").then(|| serde_json::to_vec(&body).unwrap());
        http(self.addr, method, path, None, body)
    }

    pub fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        let (code, v) = self.call(method, &format!("/session/{}{path}", self.session), body);
        assert_eq!(code, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    pub fn go(&self, url: &str) {
        self.session_call("POST", "/url", json!({"url": url}));
    }

    pub fn find(&self, css: &str) -> String {
        let v = self.session_call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.session_call("POST", &format!("/element/{e}/click"), json!({}));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.session_call("POST", &format!("/element/{e}/clear"), json!({}));
        self.session_call(
            "POST",
            &format!("/element/{e}/value"),
            json!({"text": text}),
        );
    }

    /// The visible text of the first element matching `css`, or None if absent.
    pub fn text(&self, css: &str) -> Option<String> {
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

    /// Run `script` (a function body) in the page; its return value.
    pub fn execute(&self, script: &str) -> Value {
        self.execute_with(script, Value::Null)
    }

    /// Run `script` (a function body; `arguments[0]` is `arg`) in the page.
    pub fn execute_with(&self, script: &str, arg: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": [arg]}),
        )
    }

    /// The viewport exactly `width` x `height` CSS pixels (a window's size
    /// would include whatever the browser draws around the page).
    pub fn resize(&self, width: u64, height: u64) {
        self.session_call(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}}),
        );
    }

    /// Press and release `key` with nothing focused in particular.
    pub fn press(&self, key: &str) {
        self.session_call(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]}),
        );
    }

    pub fn screenshot(&self, path: &std::path::Path) {
        self.save_png("/screenshot", path);
    }

    /// The element matching `css` alone, scrolled into view.
    pub fn element_screenshot(&self, css: &str, path: &std::path::Path) {
        let e = self.find(css);
        self.save_png(&format!("/element/{e}/screenshot"), path);
    }

    fn save_png(&self, what: &str, path: &std::path::Path) {
        let v = self.session_call("GET", what, Value::Null);
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

pub fn base64_decode(s: &str) -> Vec<u8> {
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
