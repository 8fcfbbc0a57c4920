//! The board's Samba share, from the shipped samba/smb.conf, served by a real
//! smbd in the board namespace on the veth's address. Users come from
//! nss_wrapper (the machine's accounts are never touched); state lives in the
//! run's folder.

use super::hosts::SMB_PASSWORD;
use super::rig::{BOARD_IP, Netns};
use crate::common::samba;
use std::path::Path;

pub use crate::common::samba::env;

/// smb.conf (the shipped one, its [global] extended for this rig), users and
/// the `recorder` login's password.
pub fn prepare(dir: &Path, drive: &Path) {
    samba::state_dirs(dir);
    let overrides = format!(
        "
   # soak rig: the board namespace's veth address, state in the run's folder
   interfaces = {BOARD_IP}/30
"
    );
    let conf = dir.join("smb.conf");
    std::fs::write(&conf, samba::config(dir, drive, &overrides)).unwrap();
    samba::add_users(dir, &conf, SMB_PASSWORD);
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
