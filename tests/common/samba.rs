//! A private smbd for tests, from the shipped `samba/smb.conf`: its state in
//! the test's folder, its users from nss_wrapper (the machine's accounts are
//! never touched), the `recorder` login's password set with smbpasswd.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The board's service account, owner of the recordings.
pub const OWNER_UID: u32 = 4102;

fn nss_wrapper() -> PathBuf {
    let out = Command::new("dpkg")
        .args(["-L", "libnss-wrapper"])
        .output()
        .expect("dpkg");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with("/libnss_wrapper.so"))
        .map(PathBuf::from)
        .expect("libnss-wrapper must be installed (make test installs it)")
}

/// The environment that shows smbd (and smbpasswd) the accounts in `dir`.
pub fn env(dir: &Path) -> Vec<(String, String)> {
    vec![
        ("LD_PRELOAD".into(), nss_wrapper().display().to_string()),
        (
            "NSS_WRAPPER_PASSWD".into(),
            dir.join("passwd").display().to_string(),
        ),
        (
            "NSS_WRAPPER_GROUP".into(),
            dir.join("group").display().to_string(),
        ),
    ]
}

/// The shipped smb.conf with `overrides` (lines for its [global] section)
/// and smbd's state pointed into `dir`, and the share's path set to `share`.
/// Everything else (the protocol floor, guest rules, users, preexec) is the
/// shipped file's.
pub fn config(dir: &Path, share: &Path, overrides: &str) -> String {
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("samba/smb.conf"))
            .unwrap();
    let (global, rest) = shipped
        .split_once("\n[takebox]\n")
        .expect("smb.conf has a [takebox] section");
    let d = dir.display();
    let state = format!(
        "   private dir = {d}/private
   state directory = {d}/state
   cache directory = {d}/cache
   lock directory = {d}/lock
   pid directory = {d}/pid
   ncalrpc dir = {d}/ncalrpc
   binddns dir = {d}/binddns
   passdb backend = tdbsam:{d}/private/passdb.tdb
   log file = {d}/log.%m
"
    );
    let share_section: String = rest
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("path =") {
                format!("   path = {}", share.display())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("{global}\n{overrides}{state}\n[takebox]\n{share_section}\n")
}

/// The folders [`config`] points smbd's state at.
pub fn state_dirs(dir: &Path) {
    for sub in [
        "private", "state", "cache", "lock", "pid", "ncalrpc", "binddns",
    ] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
}

/// The board's accounts (root, nobody, `recorder`, `takebox`) and the
/// `recorder` login with `password`, in the passdb of the smb.conf at `conf`.
pub fn add_users(dir: &Path, conf: &Path, password: &str) {
    std::fs::write(
        dir.join("passwd"),
        format!(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
             recorder:x:4101:4101:recorder:/nonexistent:/usr/sbin/nologin\n\
             takebox:x:{OWNER_UID}:{OWNER_UID}:takebox:/nonexistent:/usr/sbin/nologin\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("group"),
        format!("root:x:0:\nnogroup:x:65534:\nrecorder:x:4101:\ntakebox:x:{OWNER_UID}:\n"),
    )
    .unwrap();
    let mut pw = Command::new("smbpasswd")
        .arg("-c")
        .arg(conf)
        .args(["-s", "-a", "recorder"])
        .envs(env(dir))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("smbpasswd (samba) must be installed: make test installs it");
    use std::io::Write;
    pw.stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n{password}\n").as_bytes())
        .unwrap();
    let out = pw.wait_with_output().unwrap();
    assert!(out.status.success(), "smbpasswd: {out:?}");
}
