//! samba/smb.conf for real: smbd (Debian's) runs the board's share definition
//! on a loopback port with its state in a temp dir, and smbclient uploads,
//! lists and reads back a take as the one valid user. Guests, anonymous logins,
//! a wrong password, SMB2 and a share whose drive marker is missing are refused,
//! and files land owned by the `force user`. Users come from nss_wrapper, so the
//! machine's own accounts are never touched. testparm finds the file clean.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const PASSWORD: &str = "Take-box 4 real";
use common::samba::{self, OWNER_UID};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The loopback test's [global] lines.
fn overrides(port: u16) -> String {
    format!(
        "
   # loopback test overrides
   smb ports = {port}
   interfaces = lo
   bind interfaces only = yes
   logging = file
"
    )
}

struct Smbd {
    dir: tempfile::TempDir,
    share: PathBuf,
    port: u16,
    child: Child,
}

impl Smbd {
    fn start() -> Smbd {
        let dir = tempfile::Builder::new()
            .prefix("takebox-smb-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        samba::state_dirs(d);
        // The drive's recordings folder, owned by the recordings' owner.
        let share = d.join("recordings");
        std::fs::create_dir_all(&share).unwrap();
        std::os::unix::fs::chown(&share, Some(OWNER_UID), Some(OWNER_UID)).unwrap();
        std::fs::write(share.join(".takebox-share"), b"").unwrap();
        // A free loopback port (rigs, section 6 uses 4450; other builders may too).
        let port = common::free_port();
        let conf = d.join("smb.conf");
        std::fs::write(&conf, samba::config(d, &share, &overrides(port))).unwrap();
        samba::add_users(d, &conf, PASSWORD);
        let env = samba::env(d);

        // Its own process group: smbd signals its whole group when it stops.
        let child = Command::new("smbd")
            .process_group(0)
            .args([
                "--foreground",
                "--no-process-group",
                "--debug-stdout",
                "-d",
                "1",
                "-s",
            ])
            .arg(&conf)
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smbd");
        let mut smbd = Smbd {
            dir,
            share,
            port,
            child,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        common::wait_for("smbd to listen", Duration::from_secs(30), || {
            if let Ok(Some(status)) = smbd.child.try_wait() {
                panic!("smbd exited: {status}");
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .ok()
                .map(|_| ())
        });
        smbd
    }

    /// smbclient against the share; `auth` is e.g. ["-U", "recorder%pw"] or ["-N"].
    fn client(&self, auth: &[&str], extra: &[&str], commands: &str) -> Output {
        Command::new("smbclient")
            .arg("//127.0.0.1/takebox")
            .args(["-p", &self.port.to_string(), "-t", "30"])
            .args(auth)
            .args(extra)
            .args(["-c", commands])
            .current_dir(self.dir.path())
            .output()
            .expect("smbclient must be installed: make test installs it")
    }
}

impl Drop for Smbd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn refused(o: &Output, what: &str) {
    assert!(!o.status.success(), "{what} was let in:\n{}", text(o));
    assert!(text(o).contains("NT_STATUS_"), "{what}: {}", text(o));
    eprintln!("{what}: refused: {}", text(o).lines().last().unwrap_or(""));
}

#[test]
fn share_takes_a_take_from_the_one_user_and_refuses_everyone_else() {
    let smbd = Smbd::start();
    let user = format!("recorder%{PASSWORD}");
    let auth = ["-U", user.as_str()];

    // A take as capture writes them: a real WAV into a session folder.
    let take = smbd.dir.path().join("take.wav");
    common::write_tone(&take, 440.0, 0.5, 0.5);
    let sent = std::fs::read(&take).unwrap();
    let put = smbd.client(
        &auth,
        &[],
        "mkdir s1; cd s1; put take.wav s1_guitar_A4_long_t1.wav; ls",
    );
    let put_text = text(&put);
    assert!(put.status.success(), "{put_text}");
    assert!(put_text.contains("s1_guitar_A4_long_t1.wav"), "{put_text}");
    let get = smbd.client(&auth, &[], "cd s1; get s1_guitar_A4_long_t1.wav back.wav");
    assert!(get.status.success(), "{}", text(&get));
    assert_eq!(
        std::fs::read(smbd.dir.path().join("back.wav")).unwrap(),
        sent
    );
    let (spec, samples) = common::read_wav(&smbd.dir.path().join("back.wav"));
    assert_eq!((spec.sample_rate, samples.len()), (48_000, 24_000));

    // On the drive: the owner of the recordings, the share's masks.
    let stored = smbd.share.join("s1/s1_guitar_A4_long_t1.wav");
    let meta = std::fs::metadata(&stored).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (OWNER_UID, OWNER_UID),
        "force user"
    );
    assert_eq!(meta.mode() & 0o777, 0o640);
    let dir_meta = std::fs::metadata(smbd.share.join("s1")).unwrap();
    assert_eq!(
        (dir_meta.uid(), dir_meta.mode() & 0o777),
        (OWNER_UID, 0o750)
    );

    // Everyone else.
    refused(&smbd.client(&["-N"], &[], "ls"), "anonymous");
    refused(&smbd.client(&["-U", "guest%"], &[], "ls"), "guest");
    refused(&smbd.client(&["-U", "nobody%"], &[], "ls"), "nobody");
    refused(
        &smbd.client(&["-U", "recorder%wrong"], &[], "ls"),
        "wrong password",
    );
    refused(
        &smbd.client(&["-U", "takebox%"], &[], "ls"),
        "the owner account (not a valid user)",
    );
    refused(
        &smbd.client(
            &auth,
            &[
                "--option=client min protocol=NT1",
                "--option=client max protocol=SMB2_10",
            ],
            "ls",
        ),
        "SMB2.1",
    );

    // The drive gone (no marker at the share root): the share refuses.
    std::fs::remove_file(smbd.share.join(".takebox-share")).unwrap();
    refused(&smbd.client(&auth, &[], "ls"), "share without its marker");
    std::fs::write(smbd.share.join(".takebox-share"), b"").unwrap();
    let back = smbd.client(&auth, &[], "ls");
    assert!(back.status.success(), "{}", text(&back));
}

#[test]
fn testparm_finds_the_shipped_and_the_test_config_clean() {
    let dir = tempfile::tempdir().unwrap();
    let shipped_path = repo().join("samba/smb.conf");
    samba::state_dirs(dir.path());
    let test_conf = dir.path().join("smb.conf");
    std::fs::write(
        &test_conf,
        samba::config(dir.path(), dir.path(), &overrides(4450)),
    )
    .unwrap();
    for conf in [&shipped_path, &test_conf] {
        let out = Command::new("testparm")
            .arg("-s")
            .arg(conf)
            .output()
            .expect("testparm (samba-common-bin) must be installed: make test installs it");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {stderr}", conf.display());
        assert!(stderr.contains("Loaded services file OK."), "{stderr}");
        let complaints: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                (l.contains("warning") || l.contains("error") || l.contains("unknown parameter"))
                    && !l.contains("weak crypto")
            })
            .collect();
        assert!(complaints.is_empty(), "{}: {complaints:?}", conf.display());
        let dump = String::from_utf8_lossy(&out.stdout);
        for must in [
            "server min protocol = SMB3",
            "restrict anonymous = 2",
            "valid users = recorder",
            "force user = takebox",
            "load printers = No",
            "bind interfaces only = Yes",
        ] {
            assert!(
                dump.contains(must),
                "{}: no `{must}` in\n{dump}",
                conf.display()
            );
        }
        assert!(!dump.contains("guest ok = Yes"), "{dump}");
    }
}
