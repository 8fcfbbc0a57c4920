//! The processes of the two hosts, supervised the way systemd runs them
//! (`Restart=on-failure`, `RestartSec=2`): takebox-control and smbd in the
//! board namespace, takebox-capture in the recorder namespace.

use super::common::{Daemon, Pulse, TOKEN};
use super::rig::{BOARD_IP, Netns, RECORDER_IP, Rig, http_in};
use serde_json::Value;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const RESTART_SEC: Duration = Duration::from_secs(2);
pub const CAPTURE_PORT: u16 = 5001;
pub const CONTROL_PORT: u16 = 5000;
pub const SMB_PASSWORD: &str = "Soak-box 4 real";

/// One supervised service.
pub struct Service {
    pub name: &'static str,
    pub daemon: Option<Daemon>,
    /// smbd is no takebox daemon (no "listening on" line): a plain child.
    pub child: Option<Child>,
    pub restart_at: Option<Instant>,
    pub starts: u32,
    /// Exit statuses that were not asked for (a panic, a crash).
    pub unexpected_exits: Vec<String>,
    /// The running process was told to fail (a failpoint): its end is expected.
    pub expect_exit: bool,
    pub logs: Vec<Arc<Mutex<Vec<String>>>>,
}

impl Service {
    fn new(name: &'static str) -> Service {
        Service {
            name,
            daemon: None,
            child: None,
            restart_at: None,
            starts: 0,
            unexpected_exits: Vec::new(),
            expect_exit: false,
            logs: Vec::new(),
        }
    }

    /// kill -9, as the fault; systemd then restarts it (on-failure).
    pub fn kill9(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill9();
        }
        if let Some(mut c) = self.child.take() {
            // smbd's forked children go with it, as systemd ends a unit's cgroup.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = c.wait();
        }
        self.expect_exit = false;
        self.restart_at = Some(Instant::now() + RESTART_SEC);
    }

    /// Notice an exit the test did not cause; schedule the restart.
    fn reap(&mut self) {
        let status = match (&mut self.daemon, &mut self.child) {
            (Some(d), _) => d.exited(),
            (_, Some(c)) => c.try_wait().ok().flatten(),
            _ => None,
        };
        let Some(status) = status else { return };
        if !self.expect_exit {
            self.unexpected_exits
                .push(format!("{} exited by itself: {status}", self.name));
        }
        self.expect_exit = false;
        self.daemon = None;
        self.child = None;
        self.restart_at = Some(Instant::now() + RESTART_SEC);
    }

    pub fn all_logs(&self) -> Vec<String> {
        self.logs
            .iter()
            .flat_map(|l| l.lock().unwrap().clone())
            .collect()
    }
}

pub struct Hosts {
    pub board: Netns,
    pub recorder: Netns,
    pub config: PathBuf,
    pub smb_dir: PathBuf,
    pub pulse_env: Vec<(String, String)>,
    pub capture: Service,
    pub control: Service,
    pub smbd: Service,
    /// `TAKEBOX_FAILPOINTS` for the next start of takebox-capture only.
    pub next_failpoint: Option<String>,
    /// The stand-in player of `make run` (scripts/player.py): it plays each
    /// planned note into the null sink when the board's countdown ends.
    player: Child,
}

/// The player stands by the board: it reads the board's status there.
fn spawn_player(rig: &Rig, pulse: &Pulse) -> Child {
    let work = rig.dir.path().join("player");
    std::fs::create_dir_all(&work).unwrap();
    rig.board
        .command("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/player.py"))
        .arg(format!("http://127.0.0.1:{CONTROL_PORT}"))
        .arg(format!("http://{RECORDER_IP}:{CAPTURE_PORT}"))
        .arg(TOKEN)
        .arg(&work)
        .envs(pulse.env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3")
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = self.player.kill();
        let _ = self.player.wait();
    }
}

impl Hosts {
    pub fn new(rig: &Rig, pulse: &Pulse, config: &Path) -> Hosts {
        let smb_dir = rig.dir.path().join("smb");
        let mut h = Hosts {
            board: rig.board.clone(),
            recorder: rig.recorder.clone(),
            config: config.to_path_buf(),
            smb_dir,
            pulse_env: pulse.env(),
            capture: Service::new("takebox-capture"),
            control: Service::new("takebox-control"),
            smbd: Service::new("smbd"),
            next_failpoint: None,
            player: spawn_player(rig, pulse),
        };
        super::smb::prepare(&h.smb_dir, &rig.drive());
        h.start_capture();
        h.start_control();
        h.start_smbd();
        h
    }

    pub fn capture_addr(&self) -> SocketAddr {
        format!("{RECORDER_IP}:{CAPTURE_PORT}").parse().unwrap()
    }

    pub fn control_addr(&self) -> SocketAddr {
        format!("127.0.0.1:{CONTROL_PORT}").parse().unwrap()
    }

    pub fn start_capture(&mut self) {
        let mut env = self.pulse_env.clone();
        // As under systemd: a panic's message, no backtrace.
        env.push(("RUST_BACKTRACE".into(), "0".into()));
        if let Some(fp) = self.next_failpoint.take() {
            env.push(("TAKEBOX_FAILPOINTS".into(), fp));
            self.capture.expect_exit = true;
        } else {
            self.capture.expect_exit = false;
        }
        let ns = format!("--net={}", self.recorder.path().display());
        let config = self.config.display().to_string();
        let d = Daemon::spawn(
            "nsenter",
            &[
                &ns,
                "--",
                env!("CARGO_BIN_EXE_takebox-capture"),
                "--config",
                &config,
            ],
            &env,
        );
        self.capture.logs.push(d.logs.clone());
        self.capture.daemon = Some(d);
        self.capture.starts += 1;
        self.capture.restart_at = None;
    }

    pub fn start_control(&mut self) {
        let ns = format!("--net={}", self.board.path().display());
        let config = self.config.display().to_string();
        let d = Daemon::spawn(
            "nsenter",
            &[
                &ns,
                "--",
                env!("CARGO_BIN_EXE_takebox-control"),
                "--config",
                &config,
            ],
            &[("RUST_BACKTRACE".into(), "0".into())],
        );
        self.control.logs.push(d.logs.clone());
        self.control.daemon = Some(d);
        self.control.starts += 1;
        self.control.restart_at = None;
        self.control.expect_exit = false;
    }

    pub fn start_smbd(&mut self) {
        let mut cmd = self.board.command("smbd");
        cmd.process_group(0)
            .args(["--foreground", "--no-process-group", "-d", "0", "-s"])
            .arg(self.smb_dir.join("smb.conf"))
            .envs(super::smb::env(&self.smb_dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.smbd.child = Some(cmd.spawn().expect("smbd (samba) must be installed"));
        self.smbd.starts += 1;
        self.smbd.restart_at = None;
        self.smbd.expect_exit = false;
    }

    /// Restart what ended, 2 s after it ended.
    pub fn supervise(&mut self) {
        self.capture.reap();
        self.control.reap();
        self.smbd.reap();
        let now = Instant::now();
        if self.capture.restart_at.is_some_and(|t| now >= t) {
            self.start_capture();
        }
        if self.control.restart_at.is_some_and(|t| now >= t) {
            self.start_control();
        }
        if self.smbd.restart_at.is_some_and(|t| now >= t) {
            self.start_smbd();
        }
    }

    /// The board's status, when it answers.
    pub fn board_status(&self) -> Option<Value> {
        self.control.daemon.as_ref()?;
        match http_in(
            &self.board,
            self.control_addr(),
            "GET",
            "/api/v1/status",
            Some(TOKEN),
            None,
        ) {
            Some((200, v)) => Some(v),
            _ => None,
        }
    }

    pub fn board_post(&self, path: &str) -> Option<(u16, Value)> {
        http_in(
            &self.board,
            self.control_addr(),
            "POST",
            path,
            Some(TOKEN),
            Some(b"{}".to_vec()),
        )
    }

    pub fn recorder_status(&self) -> Option<Value> {
        self.capture.daemon.as_ref()?;
        match http_in(
            &self.recorder,
            self.capture_addr(),
            "GET",
            "/v1/status",
            None,
            None,
        ) {
            Some((200, v)) => Some(v),
            _ => None,
        }
    }

    /// smbd answers on the board's address, seen from the recorder.
    pub fn smbd_up(&self) -> bool {
        let addr: SocketAddr = format!("{BOARD_IP}:445").parse().unwrap();
        self.smbd.child.is_some()
            && self.recorder.within(|| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
            })
    }

    /// Both takebox daemons answer and the recorder says ready.
    pub fn all_ready(&self) -> bool {
        self.board_status().is_some() && self.recorder_status().is_some_and(|s| s["ready"] == true)
    }
}
