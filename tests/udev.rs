//! Static checks of udev/70-takebox.rules and the board's mount units (Debian
//! 12's udevadm has no `verify`), and share-ready run for real in a private
//! mount namespace: it writes into a mounted drive, never into a bare mount point.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[derive(Debug)]
struct Term {
    key: String,
    attr: Option<String>,
    op: String,
    value: String,
}

const MATCH_KEYS: &[&str] = &[
    "ACTION",
    "DEVPATH",
    "KERNEL",
    "KERNELS",
    "NAME",
    "SYMLINK",
    "SUBSYSTEM",
    "SUBSYSTEMS",
    "DRIVER",
    "DRIVERS",
    "ATTR",
    "ATTRS",
    "ENV",
    "TAG",
    "TAGS",
    "PROGRAM",
    "RESULT",
    "TEST",
];
const ASSIGN_KEYS: &[&str] = &[
    "ENV", "TAG", "GROUP", "OWNER", "MODE", "SYMLINK", "NAME", "ATTR", "OPTIONS", "IMPORT", "GOTO",
    "LABEL", "RUN",
];

/// One rule line: `KEY{attr}OP"value"` terms separated by commas.
fn parse_rule(line: &str) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .ok_or(format!("no operator in {rest:?}"))?;
        let key = rest[..key_end].to_string();
        rest = &rest[key_end..];
        let mut attr = None;
        if let Some(r) = rest.strip_prefix('{') {
            let close = r.find('}').ok_or("unclosed {")?;
            attr = Some(r[..close].to_string());
            rest = &r[close + 1..];
        }
        let op = ["==", "!=", "+=", "-=", ":=", "="]
            .into_iter()
            .find(|op| rest.starts_with(op))
            .ok_or(format!("bad operator after {key} in {line:?}"))?;
        rest = rest[op.len()..]
            .strip_prefix('"')
            .ok_or(format!("{key}: value must be quoted"))?;
        let close = rest.find('"').ok_or(format!("{key}: unclosed quote"))?;
        let value = rest[..close].to_string();
        rest = rest[close + 1..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return Err(format!("missing comma before {rest:?}"));
        }
        let is_match = op == "==" || op == "!=";
        let known = if is_match { MATCH_KEYS } else { ASSIGN_KEYS };
        if !known.contains(&key.as_str()) {
            return Err(format!(
                "{key}{op}: not a udev {} key",
                if is_match { "match" } else { "assignment" }
            ));
        }
        if matches!(key.as_str(), "ENV" | "ATTR" | "ATTRS") && attr.is_none() {
            return Err(format!("{key} needs {{name}}"));
        }
        terms.push(Term {
            key,
            attr,
            op: op.to_string(),
            value,
        });
    }
    Ok(terms)
}

fn rules() -> Vec<Vec<Term>> {
    read("udev/70-takebox.rules")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| parse_rule(l).unwrap_or_else(|e| panic!("{e}\n  in: {l}")))
        .collect()
}

fn find<'a>(rule: &'a [Term], key: &str, attr: Option<&str>) -> Option<&'a Term> {
    rule.iter()
        .find(|t| t.key == key && t.attr.as_deref() == attr)
}

/// `Key=` values of a unit file.
fn unit_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

fn systemd_escape(args: &[&str]) -> String {
    let out = Command::new("systemd-escape")
        .args(args)
        .output()
        .expect("systemd-escape (systemd) must be installed: make test installs it");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn the_parser_rejects_what_udev_rejects() {
    assert!(parse_rule(r#"KERNEL=="a", GROUP="b""#).is_ok());
    assert!(parse_rule(r#"KERNEL=="a" GROUP="b""#).is_err());
    assert!(parse_rule(r#"KERNEL==a"#).is_err());
    assert!(parse_rule(r#"GROUPS="b""#).is_err());
    assert!(parse_rule(r#"ENV=="x""#).is_err());
    assert!(parse_rule(r#"MODE=="0660""#).is_err());
}

#[test]
fn drive_rule_asks_systemd_for_the_checked_nofail_mount_and_runs_nothing() {
    let rules = rules();
    assert!(
        rules.iter().flatten().all(|t| t.key != "RUN"),
        "no RUN: mounting is systemd's job"
    );
    let drive = rules
        .iter()
        .find(|r| find(r, "ENV", Some("SYSTEMD_WANTS")).is_some())
        .expect("a rule that sets SYSTEMD_WANTS");
    assert_eq!(find(drive, "SUBSYSTEM", None).unwrap().value, "block");
    assert!(
        find(drive, "KERNEL", None)
            .unwrap()
            .value
            .starts_with("nvme")
    );
    assert!(find(drive, "ACTION", None).unwrap().value.contains("add"));
    assert_eq!(find(drive, "TAG", None).unwrap().value, "systemd");
    let label = &find(drive, "ENV", Some("ID_FS_LABEL")).unwrap().value;
    let wants = find(drive, "ENV", Some("SYSTEMD_WANTS")).unwrap();
    assert_eq!(wants.op, "+=", "append, so other rules' wants survive");

    // The drive's own name, which only this NVMe rule gives: a stick with the
    // same label never gets it.
    let link = &find(drive, "SYMLINK", None)
        .expect("the drive rule names the device")
        .value;
    assert_eq!(find(drive, "SYMLINK", None).unwrap().op, "+=");

    // The mount unit it names: its name is its Where=, its What= that name.
    let mount = read(&format!("systemd/{}", wants.value));
    let where_ = &unit_values(&mount, "Where")[0];
    assert_eq!(
        systemd_escape(&["-p", "--suffix=mount", where_]),
        wants.value
    );
    let what = &unit_values(&mount, "What")[0];
    assert_eq!(label, "takebox");
    assert_eq!(what, &format!("/dev/{link}"));
    let options = &unit_values(&mount, "Options")[0];
    assert!(options.split(',').any(|o| o == "nofail"), "{options}");
    // fsck of that very device, before the mount.
    let dev = systemd_escape(&["-p", what]);
    let fsck = format!("systemd-fsck@{dev}.service");
    assert!(unit_values(&mount, "Requires").contains(&fsck), "{mount}");
    assert!(unit_values(&mount, "After").contains(&fsck), "{mount}");
    assert!(unit_values(&mount, "BindsTo").contains(&format!("{dev}.device")));
    // Nothing else pulls it in at boot: no [Install] section.
    assert!(!mount.contains("[Install]"));

    // The share lives on the drive, so Samba has nothing to serve without it.
    let smb = read("samba/smb.conf");
    let share_path = smb
        .lines()
        .find_map(|l| l.trim().strip_prefix("path = "))
        .unwrap();
    assert!(
        share_path.starts_with(&format!("{where_}/")),
        "{share_path}"
    );
}

#[test]
fn gpio_rule_gives_the_chips_to_the_group_control_runs_in() {
    let rules = rules();
    let gpio = rules
        .iter()
        .find(|r| find(r, "SUBSYSTEM", None).map(|t| t.value.as_str()) == Some("gpio"))
        .expect("a gpio rule");
    assert!(
        find(gpio, "KERNEL", None)
            .unwrap()
            .value
            .starts_with("gpiochip")
    );
    let group = &find(gpio, "GROUP", None).unwrap().value;
    assert_eq!(find(gpio, "MODE", None).unwrap().value, "0660");
    let sysusers = read("systemd/takebox-board.sysusers");
    assert!(
        sysusers
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["g", group.as_str()]))
    );
    assert!(
        sysusers
            .lines()
            .any(|l| l.split_whitespace().eq(["m", "takebox", group.as_str()]))
    );
    let control = read("systemd/takebox-control.service");
    assert!(unit_values(&control, "SupplementaryGroups").contains(group));
    assert!(
        unit_values(&control, "DeviceAllow")
            .iter()
            .any(|d| d.starts_with("char-gpiochip"))
    );
}

#[test]
fn board_units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let helper = repo().join("image/overlay/usr/lib/takebox/share-ready");
    for unit in ["srv-takebox.mount", "takebox-share.service"] {
        let text = read(&format!("systemd/{unit}"))
            .replace("/usr/lib/takebox/share-ready", helper.to_str().unwrap());
        let path = dir.path().join(unit);
        std::fs::write(&path, text).unwrap();
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&path)
            .output()
            .expect("systemd-analyze");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.trim().is_empty(),
            "systemd-analyze verify {unit}:\n{stderr}"
        );
    }
}

fn share_ready(drive: &Path, mount_first: bool) -> std::process::Output {
    let helper = repo().join("image/overlay/usr/lib/takebox/share-ready");
    // takebox as a user for `install -o`, from nss_wrapper; the host's accounts are untouched.
    let nss = tempfile::tempdir().unwrap();
    std::fs::write(
        nss.path().join("passwd"),
        "root:x:0:0::/:/bin/sh\ntakebox:x:4102:4102::/nonexistent:/usr/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(nss.path().join("group"), "root:x:0:\ntakebox:x:4102:\n").unwrap();
    let lib = String::from_utf8(
        Command::new("dpkg")
            .args(["-L", "libnss-wrapper"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .lines()
    .find(|l| l.ends_with("/libnss_wrapper.so"))
    .expect("libnss-wrapper: make test installs it")
    .to_string();
    let script = if mount_first {
        // A private mount namespace: the tmpfs exists for this command only.
        r#"mount -t tmpfs -o size=1m takebox-test "$1" && "$2" "$1" && stat -c '%u %a %n' "$1/recordings" "$1/recordings/.takebox-share" && "$2" "$1""#
    } else {
        r#""$2" "$1""#
    };
    let mut cmd = if mount_first {
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", script, "sh"]);
        c
    };
    cmd.arg(drive)
        .arg(helper)
        .env("LD_PRELOAD", lib)
        .env("NSS_WRAPPER_PASSWD", nss.path().join("passwd"))
        .env("NSS_WRAPPER_GROUP", nss.path().join("group"))
        .output()
        .unwrap()
}

#[test]
fn share_ready_writes_only_onto_a_mounted_drive() {
    let drive = tempfile::tempdir().unwrap();
    let bare = share_ready(drive.path(), false);
    assert_eq!(bare.status.code(), Some(1), "{bare:?}");
    assert!(String::from_utf8_lossy(&bare.stderr).contains("not mounted"));
    assert_eq!(
        std::fs::read_dir(drive.path()).unwrap().count(),
        0,
        "bare mount point written"
    );

    let mounted = share_ready(drive.path(), true);
    let out = String::from_utf8_lossy(&mounted.stdout);
    assert!(mounted.status.success(), "{mounted:?}");
    let d = drive.path().display();
    assert!(out.contains(&format!("4102 750 {d}/recordings\n")), "{out}");
    assert!(
        out.contains(&format!("4102 640 {d}/recordings/.takebox-share\n")),
        "{out}"
    );
    // Run twice: the second run finds both and makes nothing.
    assert_eq!(out.matches("share-ready: made").count(), 2, "{out}");
    assert!(out.trim_end().ends_with("is ready"), "{out}");
    // The tmpfs went with its namespace; the folder under it stayed empty.
    assert_eq!(std::fs::read_dir(drive.path()).unwrap().count(), 0);
}
