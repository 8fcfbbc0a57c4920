//! The board's Samba share, from the shipped samba/smb.conf, served by a real
//! smbd in the board namespace on the veth's address. Users come from
//! nss_wrapper (the machine's accounts are never touched); state lives in the
//! run's folder.

use super::hosts::SMB_PASSWORD;
use super::rig::{BOARD_IP, Netns};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// smb.conf (the shipped one, its [global] extended for this rig), users and
/// the `recorder` login's password.
pub fn prepare(dir: &Path, drive: &Path) {
    let d = dir.display();
    for sub in [
        "private", "state", "cache", "lock", "pid", "ncalrpc", "binddns",
    ] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("samba/smb.conf"))
            .unwrap();
    let (global, rest) = shipped
        .split_once("\n[takebox]\n")
        .expect("smb.conf has a [takebox] section");
    let overrides = format!(
        "
   # soak rig: the board namespace's veth address, state in the run's folder
   interfaces = {BOARD_IP}/30
   private dir = {d}/private
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
    let share: String = rest
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("path =") {
                format!("   path = {}", drive.display())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let conf = dir.join("smb.conf");
    std::fs::write(
        &conf,
        format!("{global}\n{overrides}\n[takebox]\n{share}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
         recorder:x:4101:4101:recorder:/nonexistent:/usr/sbin/nologin\n\
         takebox:x:4102:4102:takebox:/nonexistent:/usr/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("group"),
        "root:x:0:\nnogroup:x:65534:\nrecorder:x:4101:\ntakebox:x:4102:\n",
    )
    .unwrap();
    let mut pw = Command::new("smbpasswd")
        .arg("-c")
        .arg(&conf)
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
        .write_all(format!("{SMB_PASSWORD}\n{SMB_PASSWORD}\n").as_bytes())
        .unwrap();
    let out = pw.wait_with_output().unwrap();
    assert!(out.status.success(), "smbpasswd: {out:?}");
}

/// Copy a session's folder off the share over SMB, from the recorder's
/// namespace as the recording computer reaches it, into `into`.
pub fn fetch_session(recorder: &Netns, session: &str, into: &Path) -> Result<(), String> {
    std::fs::create_dir_all(into).unwrap();
    let out = recorder
        .command("smbclient")
        .arg(format!("//{BOARD_IP}/takebox"))
        .args(["-t", "30", "-U", &format!("recorder%{SMB_PASSWORD}")])
        .arg("-c")
        .arg(format!(
            "cd \"{session}\"; prompt OFF; lcd \"{}\"; mget *.wav",
            into.display()
        ))
        .output()
        .map_err(|e| format!("smbclient: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "smbclient: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
