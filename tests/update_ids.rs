//! takebox-update's user and group id check (image/overlay's
//! `/usr/lib/takebox/id-drift`), run against two root trees' /etc/passwd and
//! /etc/group: a new slot that would hand the files on /var and the share
//! (owned by number) to another user or group is refused, with the reason
//! takebox-update records in the update's status.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The board's accounts as image/build.sh makes them: Debian's, then the fixed takebox ids.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash
messagebus:x:100:101::/nonexistent:/usr/sbin/nologin
_chrony:x:101:103:Chrony daemon,,,:/var/lib/chrony:/usr/sbin/nologin
takebox:x:900:900:takebox control daemon, owner of the recordings:/var/lib/takebox:/usr/sbin/nologin
recorder:x:901:901:takebox share login (Samba only):/nonexistent:/usr/sbin/nologin
admin:x:1000:1000:takebox administrator:/home/admin:/bin/bash
";
const GROUP: &str = "root:x:0:
sudo:x:27:admin
messagebus:x:101:
_chrony:x:103:
gpio:x:902:takebox,admin
takebox:x:900:
recorder:x:901:
admin:x:1000:
";

fn id_drift() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("image/overlay/usr/lib/takebox/id-drift")
}

fn etc(passwd: &str, group: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("passwd"), passwd).unwrap();
    std::fs::write(dir.path().join("group"), group).unwrap();
    dir
}

/// (exit code, what it printed) for the running root's /etc HERE and the new slot's NEW.
fn drift(here: &Path, new: &Path) -> (i32, String) {
    let out = Command::new(id_drift())
        .arg(here)
        .arg(new)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().expect("id-drift killed"), text)
}

/// The first item, as takebox-update puts it into the status's reason.
fn reason(printed: &str) -> &str {
    printed.split(';').next().unwrap()
}

#[test]
fn the_same_ids_pass() {
    let here = etc(PASSWD, GROUP);
    // The lines in another order, a user only the new slot has (a new
    // package's) and one only this root has: no file changes hands.
    let mut passwd: Vec<&str> = PASSWD.lines().rev().collect();
    passwd.retain(|l| !l.starts_with("messagebus:"));
    passwd.push("_rpc:x:102:65534::/run/rpcbind:/usr/sbin/nologin");
    let new = etc(&(passwd.join("\n") + "\n"), GROUP);
    assert_eq!(drift(here.path(), new.path()), (0, String::new()));
}

#[test]
fn a_fixed_user_with_another_id_is_refused() {
    let here = etc(PASSWD, GROUP);
    let new = etc(
        &PASSWD.replace("takebox:x:900:900:", "takebox:x:994:994:"),
        GROUP,
    );
    let (code, printed) = drift(here.path(), new.path());
    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        reason(&printed),
        "passwd takebox: 900 here, 994 in the new slot"
    );
}

#[test]
fn every_differing_user_and_group_is_named() {
    let here = etc(PASSWD, GROUP);
    // Debian's allocator numbered the system users otherwise, and gpio moved.
    let new = etc(
        &PASSWD.replace("_chrony:x:101:103:", "_chrony:x:102:104:"),
        &GROUP
            .replace("_chrony:x:103:", "_chrony:x:104:")
            .replace("gpio:x:902:", "gpio:x:998:"),
    );
    let (code, printed) = drift(here.path(), new.path());
    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        printed.trim_end(),
        "passwd _chrony: 101 here, 102 in the new slot; \
         group _chrony: 103 here, 104 in the new slot; \
         group gpio: 902 here, 998 in the new slot;"
    );
}

#[test]
fn an_id_given_to_someone_new_is_refused() {
    // The new slot drops recorder and gives its id to a user of its own:
    // the takes recorder's files hold would be that user's.
    let here = etc(PASSWD, GROUP);
    let new = etc(
        &PASSWD.replace("recorder:x:901:901:", "newcomer:x:901:901:"),
        &GROUP.replace("recorder:x:901:", "newcomer:x:901:"),
    );
    let (code, printed) = drift(here.path(), new.path());
    assert_eq!(code, 1, "{printed}");
    assert_eq!(
        printed.trim_end(),
        "passwd newcomer: 901 in the new slot, which is recorder here; \
         group newcomer: 901 in the new slot, which is recorder here;"
    );
}

#[test]
fn a_slot_without_its_account_files_is_refused() {
    let here = etc(PASSWD, GROUP);
    let new = tempfile::tempdir().unwrap();
    std::fs::write(new.path().join("passwd"), PASSWD).unwrap();
    let out = Command::new(id_drift())
        .arg(here.path())
        .arg(new.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("group"));
}

/// takebox-update runs this very check on the slot it wrote, and on drift
/// marks the slot bad and records the first item as the reason.
#[test]
fn takebox_update_refuses_on_drift() {
    let script = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("image/overlay/usr/sbin/takebox-update"),
    )
    .unwrap();
    let check = script
        .find("if ! drift=$(/usr/lib/takebox/id-drift /etc \"$mnt/etc\"); then")
        .expect("takebox-update no longer runs id-drift on the new slot");
    let refusal = &script[check..script[check..].find("\n    fi\n").unwrap() + check];
    for step in [
        "boot-state set-state \"$to\" bad",
        "set_status failed \"$version\" \"$to\" \"the new root's user or group ids differ (${drift%%;*})\"",
        "exit 1",
    ] {
        assert!(
            refusal.contains(step),
            "the refusal lacks {step}:\n{refusal}"
        );
    }
}
