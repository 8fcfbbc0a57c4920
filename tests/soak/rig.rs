//! The two hosts on one machine: network namespaces "board" and "recorder"
//! joined by a veth pair, small ext4 file systems for the board's drive (the
//! share) and the recorder's spool, and helpers to run code and processes
//! inside a namespace. Everything is named after this process, so parallel
//! runs cannot clash, and undone on drop, also when the test fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The board's end of the veth pair and its address.
pub const BOARD_IP: &str = "10.99.0.1";
/// The recorder's end.
pub const RECORDER_IP: &str = "10.99.0.2";

/// Run a command to completion; panics with its output when it fails.
pub fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run a command, telling whether it worked (cleanup and fault injection).
pub fn try_run(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A network namespace made by this run.
#[derive(Clone)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// `cmd args` inside this namespace (network only: the file system and
    /// its mounts stay the ones this test sees).
    pub fn command(&self, cmd: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(cmd);
        c
    }

    /// Run `f` on a thread inside this namespace: sockets it opens live there.
    pub fn within<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter_this_thread();
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// Move the calling thread into this namespace (for threads that serve it).
    pub fn enter_this_thread(&self) {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(self.path())
            .unwrap_or_else(|e| panic!("{}: {e}", self.path().display()));
        // SAFETY: setns on an fd we own; it changes only this thread's namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "setns {}: {}",
            self.name,
            std::io::Error::last_os_error()
        );
    }
}

/// One HTTP request from inside `ns`, bounded in time: None when there is no
/// answer (refused, reset, timed out).
pub fn http_in(
    ns: &Netns,
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Option<(u16, serde_json::Value)> {
    let (method, path, token) = (
        method.to_string(),
        path.to_string(),
        token.map(String::from),
    );
    ns.within(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let answer = rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(5),
                takebox::http::request(
                    addr,
                    method.parse().unwrap(),
                    &path,
                    token.as_deref(),
                    body,
                ),
            )
            .await
        });
        let (status, bytes) = answer.ok()?.ok()?;
        let value = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into())
            })
        };
        Some((status.as_u16(), value))
    })
}

/// A small ext4 file system in an image file, loop-mounted on `dir`.
fn mount_ext4(image: &Path, dir: &Path, mib: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let image_s = image.display().to_string();
    run(
        "mke2fs",
        &[
            "-q",
            "-F",
            "-t",
            "ext4",
            "-m",
            "0",
            &image_s,
            &format!("{mib}M"),
        ],
    );
    run(
        "mount",
        &["-o", "loop", &image_s, &dir.display().to_string()],
    );
    // A fresh ext4 root holds lost+found; nothing of takebox's.
    let _ = std::fs::remove_dir(dir.join("lost+found"));
}

/// The rig: namespaces, link, file systems. Dropping it undoes all of it.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub board: Netns,
    pub recorder: Netns,
    /// The board's end of the veth pair (in the board namespace).
    pub board_link: String,
    mounts: Vec<PathBuf>,
}

impl Rig {
    pub fn new(share_mib: u64, spool_mib: u64) -> Rig {
        // SAFETY: geteuid has no preconditions and cannot fail.
        assert!(
            unsafe { libc::geteuid() } == 0,
            "the soak needs root (network namespaces, loop mounts); CI and make test run as root"
        );
        remove_stale();
        let id = std::process::id();
        let dir = tempfile::Builder::new()
            .prefix(&format!("takebox-soak-{id}-"))
            .tempdir()
            .unwrap();
        let board = Netns {
            name: format!("tbs{id}b"),
        };
        let recorder = Netns {
            name: format!("tbs{id}r"),
        };
        let mut rig = Rig {
            dir,
            board_link: board.name.clone(),
            board,
            recorder,
            mounts: Vec::new(),
        };
        for ns in [&rig.board, &rig.recorder] {
            run("ip", &["netns", "add", &ns.name]);
            run("ip", &["-n", &ns.name, "link", "set", "lo", "up"]);
        }
        let (b, r) = (&rig.board.name, &rig.recorder.name);
        run(
            "ip",
            &[
                "link", "add", b, "netns", b, "type", "veth", "peer", "name", r, "netns", r,
            ],
        );
        run(
            "ip",
            &["-n", b, "addr", "add", &format!("{BOARD_IP}/30"), "dev", b],
        );
        run(
            "ip",
            &[
                "-n",
                r,
                "addr",
                "add",
                &format!("{RECORDER_IP}/30"),
                "dev",
                r,
            ],
        );
        run("ip", &["-n", b, "link", "set", b, "up"]);
        run("ip", &["-n", r, "link", "set", r, "up"]);

        let d = rig.dir.path().to_path_buf();
        mount_ext4(&d.join("drive.img"), &rig.drive(), share_mib);
        rig.mounts.push(rig.drive());
        mount_ext4(&d.join("spool.img"), &rig.spool(), spool_mib);
        rig.mounts.push(rig.spool());
        std::fs::write(rig.drive().join(".takebox-share"), b"").unwrap();
        rig.mount_share();
        rig
    }

    /// The board's recordings drive (what smbd serves).
    pub fn drive(&self) -> PathBuf {
        self.dir.path().join("drive")
    }

    /// Where the recorder writes the share: the drive, bind-mounted (the
    /// stand-in for its CIFS mount, which this kernel cannot make).
    pub fn share(&self) -> PathBuf {
        self.dir.path().join("share")
    }

    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    pub fn mount_share(&mut self) {
        std::fs::create_dir_all(self.share()).unwrap();
        run(
            "mount",
            &[
                "--bind",
                &self.drive().display().to_string(),
                &self.share().display().to_string(),
            ],
        );
        if !self.mounts.contains(&self.share()) {
            self.mounts.push(self.share());
        }
    }

    /// The share's mount gone (lazily: files open on it stay usable, as a
    /// CIFS mount's do until they fail).
    pub fn unmount_share(&mut self) {
        run("umount", &["-l", &self.share().display().to_string()]);
        let share = self.share();
        self.mounts.retain(|m| m != &share);
    }

    /// The kernel refuses to make a mount read-only while a file on it is
    /// open for writing (a delivery under way): try again until it is closed.
    pub fn share_read_only(&self, ro: bool) {
        let flag = if ro {
            "remount,bind,ro"
        } else {
            "remount,bind,rw"
        };
        let share = self.share().display().to_string();
        let args = ["-o", flag, share.as_str()];
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while !try_run("mount", &args) {
            if std::time::Instant::now() > until {
                // Once more, to fail with the command's own words.
                run("mount", &args);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn set_link(&self, up: bool) {
        run(
            "ip",
            &[
                "-n",
                &self.board.name,
                "link",
                "set",
                &self.board_link,
                if up { "up" } else { "down" },
            ],
        );
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            try_run("umount", &["-l", &m.display().to_string()]);
        }
        for ns in [&self.board, &self.recorder] {
            try_run("ip", &["netns", "del", &ns.name]);
        }
    }
}

/// Namespaces and mounts left by a soak run that was killed (its process is gone).
fn remove_stale() {
    let gone = |pid: &str| !Path::new(&format!("/proc/{pid}")).exists();
    for e in std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("takebox-soak-")
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && gone(pid) {
            for m in ["share", "drive", "spool"] {
                try_run("umount", &["-l", &e.path().join(m).display().to_string()]);
            }
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let Ok(rd) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("tbs")
            .and_then(|r| r.strip_suffix('b').or_else(|| r.strip_suffix('r')))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if gone(&pid.to_string()) {
            try_run("ip", &["netns", "del", &name]);
        }
    }
}

/// Fill a file system up to `leave` bytes free with one file (a real ENOSPC
/// for whoever writes next); remove the file to heal.
pub fn fill(dir: &Path, leave: u64) -> PathBuf {
    let st = nix::sys::statvfs::statvfs(dir).unwrap();
    let free = st.blocks_available() as u64 * st.fragment_size() as u64;
    let file = dir.join("soak-filler");
    let len = free.saturating_sub(leave).max(4096);
    // fallocate may fall short by metadata blocks: what it got is the point.
    let _ = Command::new("fallocate")
        .args(["-l", &len.to_string()])
        .arg(&file)
        .status();
    file
}
