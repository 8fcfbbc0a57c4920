//! Fixtures for integration tests: a private PulseAudio server with a null sink
//! (a real-time capture source without a sound card), takebox daemons as real
//! processes on loopback, and a small blocking HTTP client.
#![allow(dead_code)]

pub mod samba;
pub mod sfizz;
pub mod sfzlint;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod webdriver;

pub const TOKEN: &str = "test-token-4d1f";

/// Poll `f` until it returns Some, or panic after `timeout` naming `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A PulseAudio server of the test's own, with a null sink `studio` whose
/// monitor is the default source: what is played into `studio` is captured.
pub struct Pulse {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Pulse {
    pub fn start() -> Pulse {
        let dir = tempfile::Builder::new()
            .prefix("takebox-pulse-")
            .tempdir()
            .unwrap();
        let mut p = Pulse { dir, child: None };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let child = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--log-target=stderr",
                "--log-level=error",
                // libpulse clients can deadlock freeing shared memory when the
                // server dies; the daemon copes with a hung driver, but the
                // test wants to see the device come back.
                "--disable-shm=yes",
                "--load=module-null-sink sink_name=studio rate=48000",
                "--load=module-native-protocol-unix",
            ])
            .envs(self.env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulseaudio must be installed (make test installs it)");
        self.child = Some(child);
        wait_for("PulseAudio to answer", Duration::from_secs(30), || {
            self.pactl(&["set-default-source", "studio.monitor"])
                .then_some(())
        });
    }

    /// Environment that points clients (alsa-lib's pulse plugin, paplay) here.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "XDG_RUNTIME_DIR".into(),
                self.dir.path().display().to_string(),
            ),
            (
                "PULSE_SERVER".into(),
                format!("unix:{}/pulse/native", self.dir.path().display()),
            ),
        ]
    }

    pub fn pactl(&self, args: &[&str]) -> bool {
        Command::new("pactl")
            .args(args)
            .envs(self.env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Start playing a WAV into the sink; returns the player process.
    pub fn play(&self, wav: &Path) -> Child {
        Command::new("paplay")
            .args(["-d", "studio"])
            .arg(wav)
            .envs(self.env())
            .spawn()
            .expect("paplay")
    }

    /// Load a WAV into the server's sample cache under `name`.
    pub fn upload_sample(&self, wav: &Path, name: &str) {
        let wav = wav.display().to_string();
        assert!(
            self.pactl(&["upload-sample", &wav, name]),
            "pactl upload-sample {wav}"
        );
    }

    /// Play a cached sample into the sink. The server plays it from its own
    /// memory, so unlike a client's stream (paplay) it cannot underrun when
    /// the machine is loaded: no silence is ever inserted into the note.
    /// Returns once the server has started it.
    pub fn play_sample(&self, name: &str) {
        assert!(
            self.pactl(&["play-sample", name, "studio"]),
            "pactl play-sample {name}"
        );
    }

    /// Kill the server (a sound card unplugged, as far as clients can tell).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The server's process id (to freeze it with SIGSTOP: a driver that hangs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A JSON merge: objects merge key by key, anything else replaces.
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Folders a capture daemon works in, kept across restarts of the process.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix("takebox-test-")
            .tempdir()
            .unwrap();
        let ws = Workspace { dir };
        std::fs::create_dir_all(ws.share()).unwrap();
        std::fs::create_dir_all(ws.spool()).unwrap();
        ws
    }

    pub fn share(&self) -> PathBuf {
        self.dir.path().join("share")
    }

    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// Put the marker that says the share is mounted.
    pub fn mount_share(&self) {
        std::fs::write(self.share().join(".takebox-share"), b"").unwrap();
    }

    /// Write config.json: loopback, this workspace's folders, short pre-roll, plus `patch`.
    pub fn write_config(&self, patch: Value) {
        let mut cfg = serde_json::json!({
            "logging": {"log_directory": self.dir.path().join("logs"), "log_to_file": false, "log_level": "DEBUG"},
            "capture": {
                "device": "pulse",
                "share_path": self.share(),
                "spool_path": self.spool(),
                "listen": "127.0.0.1:0",
                "pre_roll_seconds": 0.5,
                "release_tail_seconds": 0.2
            }
        });
        merge(&mut cfg, &patch);
        std::fs::write(self.config_path(), serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    }

    /// Bytes of the take's audio being recorded into the spool so far: its
    /// largest WAV there (whatever the spool calls its working files).
    pub fn spooled_bytes(&self, take_id: &str) -> u64 {
        self.tree()
            .into_iter()
            .filter(|(p, _)| {
                let name = p.rsplit('/').next().unwrap_or("");
                p.starts_with("spool/")
                    && name.ends_with(".wav")
                    && name
                        .strip_prefix(take_id)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
            .map(|(_, len)| len)
            .max()
            .unwrap_or(0)
    }

    /// Every file under the workspace's share and spool with its size.
    pub fn tree(&self) -> Vec<(String, u64)> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, u64)>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    out.push((p.strip_prefix(root).unwrap().display().to_string(), len));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.share(), self.dir.path(), &mut out);
        walk(&self.spool(), self.dir.path(), &mut out);
        out.sort();
        out
    }
}

/// A running daemon process, its address and what it logged.
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Start `bin` with `args`, the environment `env`, and wait for its "listening on" line.
    pub fn spawn(bin: &str, args: &[&str], env: &[(String, String)]) -> Daemon {
        let mut child = Command::new(bin)
            .args(args)
            .envs(env.iter().cloned())
            .env("TAKEBOX_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                eprintln!("  | {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!(
                    "{bin} did not start listening; logs: {:?}",
                    logs.lock().unwrap()
                )
            });
        Daemon {
            child,
            addr: addr.parse().unwrap(),
            logs,
        }
    }

    pub fn capture(ws: &Workspace, pulse: Option<&Pulse>) -> Daemon {
        let env = pulse.map(|p| p.env()).unwrap_or_default();
        let config = ws.config_path().display().to_string();
        let d = Daemon::spawn(
            env!("CARGO_BIN_EXE_takebox-capture"),
            &["--config", &config],
            &env,
        );
        wait_for("the recorder to be ready", Duration::from_secs(30), || {
            let (code, s) = d.get("/v1/status");
            (code == 200 && s["ready"] == true).then_some(())
        });
        d
    }

    /// How the process ended, once it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().unwrap()
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        http(self.addr, "GET", path, None, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        http(
            self.addr,
            "POST",
            path,
            Some(TOKEN),
            Some(serde_json::to_vec(body).unwrap()),
        )
    }

    /// Whether a line read so far holds `needle`: for asserting a line is absent.
    pub fn log_contains(&self, needle: &str) -> bool {
        self.logs.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    /// Waits until the daemon has logged a line holding `needle`: the reader thread
    /// may lag the HTTP answer that followed the line.
    pub fn wait_for_log(&self, needle: &str) {
        wait_for(
            &format!("a log line with {needle:?}"),
            Duration::from_secs(30),
            || self.log_contains(needle).then_some(()),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One blocking HTTP request; the body is parsed as JSON (Null when empty).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let method = method.parse().unwrap();
    let (status, bytes) = rt
        .block_on(takebox::http::request(addr, method, path, token, body))
        .unwrap_or_else(|e| panic!("{e}"));
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status.as_u16(), value)
}

/// `t` as the protocol writes a time (`start_at`).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    takebox::protocol::Timestamp(t).to_string()
}

/// A take command with sensible defaults; `patch` overrides fields.
pub fn take_cmd(take_id: &str, patch: Value) -> Value {
    let mut v = serde_json::json!({
        "take_id": take_id,
        "session_id": "s1",
        "instrument": "guitar",
        "note": "A4",
        "frequency": 440.0,
        "articulation": "long",
        "duration": 0.5
    });
    merge(&mut v, &patch);
    v
}

/// A mono 16-bit WAV of a sine at `hz` and `amp`, `secs` long, 48 kHz.
pub fn write_tone(path: &Path, hz: f64, amp: f64, secs: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (secs * 48_000.0) as usize;
    for i in 0..n {
        let s = amp * (2.0 * std::f64::consts::PI * hz * i as f64 / 48_000.0).sin();
        w.write_sample((s * 32767.0).round() as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Read any WAV as f32 frames (interleaved) with its spec.
pub fn read_wav(path: &Path) -> (hound::WavSpec, Vec<f32>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let samples = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 / scale)
                .collect()
        }
    };
    (spec, samples)
}

/// A port that was free a moment ago (for a daemon that must come back on it),
/// never one this test process handed out before: the kernel may give a port
/// back to the next `bind(0)` as soon as it is released, so two tests running
/// in parallel could both be handed it before either daemon binds it.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<std::collections::BTreeSet<u16>> =
        Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
}

impl Workspace {
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// config.json for both daemons: capture on `capture_port`, control on any
    /// free port driving that capture, the seed's instruments.json beside it.
    pub fn write_board_config(&self, capture_port: u16, patch: Value) {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed/instruments.json"),
            self.dir.path().join("instruments.json"),
        )
        .unwrap();
        let mut p = serde_json::json!({
            "countdown_duration": 0.5,
            "capture": {"listen": format!("127.0.0.1:{capture_port}")},
            "control": {
                "listen": "127.0.0.1:0",
                "recorders": [format!("http://127.0.0.1:{capture_port}")],
                "state_dir": "state",
                "request_timeout_seconds": 1.0
            }
        });
        merge(&mut p, &patch);
        self.write_config(p);
    }
}

impl Daemon {
    pub fn control(ws: &Workspace) -> Daemon {
        let config = ws.config_path().display().to_string();
        Daemon::spawn(
            env!("CARGO_BIN_EXE_takebox-control"),
            &["--config", &config],
            &[],
        )
    }
}

/// A TCP connection to `to` from the local address `from`: tests stand for
/// other hosts on the LAN with other loopback addresses (127.0.0.2 and up).
pub fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stream = rt.block_on(async {
        let socket = match from {
            IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.bind(SocketAddr::new(from, 0))?;
        tokio::time::timeout(Duration::from_secs(10), socket.connect(to))
            .await
            .map_err(|_| std::io::Error::other("connect timed out"))??
            .into_std()
    })?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// One HTTP/1.1 exchange with exactly these headers (no Host added), from
/// `from` or any local address: (status, head, body); status 0 when the
/// server closed without an answer.
pub fn exchange(
    addr: SocketAddr,
    from: Option<IpAddr>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = match from {
        None => std::net::TcpStream::connect(addr).unwrap(),
        Some(ip) => connect_from(ip, addr).unwrap(),
    };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let _ = s.write_all(req.as_bytes());
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// A raw HTTP/1.1 exchange with any headers (and the Host the client used):
/// (status, response headers, body).
pub fn raw_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let host = addr.to_string();
    let mut all = vec![("Host", host.as_str())];
    all.extend_from_slice(headers);
    exchange(addr, None, method, path, &all, body)
}

/// A same-origin form POST, as the page's forms send it.
pub fn post_form(addr: SocketAddr, path: &str, form: &str) -> (u16, String, String) {
    let origin = format!("http://{addr}");
    raw_http(
        addr,
        "POST",
        path,
        &[
            ("Origin", &origin),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
}

/// Every line of a session log, parsed (panics on a line that is not JSON).
pub fn session_log(ws: &Workspace, session_id: &str) -> Vec<Value> {
    let path = ws.log_dir().join(format!("{session_id}.jsonl"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// WAV files on the workspace's share.
pub fn share_wavs(ws: &Workspace) -> Vec<String> {
    ws.tree()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with("share/") && p.ends_with(".wav"))
        .collect()
}

/// A GET on the board's JSON API with the token; panics unless 200.
pub fn board_get(d: &Daemon, path: &str) -> Value {
    let (code, v) = http(d.addr, "GET", path, Some(TOKEN), None);
    assert_eq!(code, 200, "{path}: {v}");
    v
}

/// A POST on the board's JSON API with the token: (status, answer).
pub fn board_post(d: &Daemon, path: &str, body: Value) -> (u16, Value) {
    http(
        d.addr,
        "POST",
        path,
        Some(TOKEN),
        Some(serde_json::to_vec(&body).unwrap()),
    )
}

/// The board's status once `pred` holds (within `secs`).
pub fn board_wait(d: &Daemon, what: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    wait_for(what, Duration::from_secs(secs), || {
        let s = board_get(d, "/api/v1/status");
        pred(&s).then_some(s)
    })
}

/// A recorder and a board on loopback whose input is the generator's
/// `device` (`takebox:silence`, `takebox:sine=440`): no sound server needed.
/// The board's config gets `patch`; the recorder's port stays the same
/// across restarts ([`Daemon::capture`] again on the same workspace).
pub fn generated_board(device: &str, patch: Value) -> (Workspace, Daemon, Daemon) {
    let ws = Workspace::new();
    ws.mount_share();
    let mut config = serde_json::json!({"capture": {"device": device}});
    merge(&mut config, &patch);
    ws.write_board_config(free_port(), config);
    let capture = Daemon::capture(&ws, None);
    let control = Daemon::control(&ws);
    board_wait(&control, "the recorder to show as up", 20, |s| {
        s["recorders"][0]["up"] == true && s["recorders"][0]["ready"] == true
    });
    (ws, capture, control)
}
