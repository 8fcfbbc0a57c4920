//! `make install` / `make uninstall` (scripts/install.sh) into a scratch DESTDIR:
//! files and modes, idempotence, a config that is never overwritten once it
//! exists, an uninstall that keeps config and recordings; the systemd files
//! applied offline to that root (systemd-sysusers, systemd-tmpfiles), and each
//! unit's `systemd-analyze security` exposure printed and held to at most 2.0.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_takebox-capture"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Run scripts/install.sh ACTION into `destdir`; returns its output.
fn install(action: &str, destdir: &Path, extra: &[(&str, &str)]) -> String {
    let out = Command::new(repo().join("scripts/install.sh"))
        .arg(action)
        .env("DESTDIR", destdir)
        .env("PREFIX", "/usr")
        .env("BINDIR_SRC", bin_dir())
        .envs(extra.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "install.sh {action} failed:\n{text}");
    eprintln!("{text}");
    text
}

/// Every path under `root` with its mode, size, mtime and content hash.
fn snapshot(root: &Path) -> BTreeMap<String, (u32, u64, i64, Vec<u8>)> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, (u32, u64, i64, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let body = if m.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            let key = p.strip_prefix(root).unwrap().display().to_string();
            let mtime = if m.is_dir() { 0 } else { m.mtime() };
            out.insert(key, (m.mode() & 0o7777, m.len(), mtime, body));
            if m.is_dir() {
                walk(&p, root, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// systemd-sysusers applied offline to `root`, as its first boot would: its /etc/passwd and /etc/group.
fn apply_sysusers(root: &Path) -> (String, String) {
    let ok = Command::new("systemd-sysusers")
        .arg(format!("--root={}", root.display()))
        .status()
        .unwrap();
    assert!(ok.success());
    let read = |f: &str| std::fs::read_to_string(root.join(f)).unwrap();
    (read("etc/passwd"), read("etc/group"))
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn install_is_idempotent_keeps_config_and_uninstall_keeps_recordings() {
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path();
    let share = [
        ("SHARE", "//192.0.2.10/takebox"),
        ("SHARE_USER", "recorder"),
        ("SHARE_PASSWORD", "s3cret pass"),
    ];
    install("install", d, &share);

    let bin = d.join("usr/bin/takebox-capture");
    let unit = d.join("etc/systemd/system/takebox-capture.service");
    let mount = d.join("etc/systemd/system/mnt-takebox.mount");
    let config = d.join("etc/takebox/config.json");
    let cred = d.join("etc/takebox/share.credentials");
    assert_eq!(mode(&bin), 0o755);
    assert_eq!(mode(&unit), 0o644);
    assert_eq!(mode(&config), 0o640, "the config holds the token");
    assert_eq!(mode(&d.join("etc/takebox")), 0o750);
    assert_eq!(mode(&cred), 0o600, "credentials are root's only");
    assert_eq!(
        std::fs::read_to_string(&cred).unwrap(),
        "username=recorder\npassword=s3cret pass\n"
    );
    let unit_text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        unit_text
            .contains("\nExecStart=/usr/bin/takebox-capture --config /etc/takebox/config.json\n"),
        "{unit_text}"
    );
    let mount_text = std::fs::read_to_string(&mount).unwrap();
    assert!(
        mount_text.contains("\nWhat=//192.0.2.10/takebox\n"),
        "{mount_text}"
    );
    assert!(mount_text.contains("credentials=/etc/takebox/share.credentials"));

    // The installed config is valid as installed, with a fresh token.
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let token = cfg["capture"]["token"].as_str().unwrap();
    assert_eq!(token.len(), 48, "{cfg}");
    let check = Command::new(&bin)
        .args(["--check", "--config"])
        .arg(&config)
        .env_remove("TAKEBOX_TOKEN")
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");

    // Twice: nothing changes, not even a timestamp.
    let before = snapshot(d);
    let again = install("install", d, &share);
    assert!(!again.contains("installed "), "{again}");
    assert_eq!(snapshot(d), before, "a second install changed files");

    // An edited config survives a reinstall; so does a second token.
    let edited = std::fs::read_to_string(&config)
        .unwrap()
        .replace("hw:CARD=US16x08", "hw:CARD=Scarlett");
    std::fs::write(&config, &edited).unwrap();
    let third = install("install", d, &share);
    assert!(third.contains("kept"), "{third}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    assert_eq!(
        std::fs::read_to_string(&cred).unwrap(),
        "username=recorder\npassword=s3cret pass\n"
    );

    // Applied to the staging root as a first boot would: user, groups, folders, ownership.
    if which("systemd-sysusers") && which("systemd-tmpfiles") {
        let (passwd, group) = apply_sysusers(d);
        let user = passwd
            .lines()
            .find(|l| l.starts_with("takebox:"))
            .expect("user takebox");
        assert!(user.ends_with(":/usr/sbin/nologin"), "{user}");
        let uid: u32 = user.split(':').nth(2).unwrap().parse().unwrap();
        let audio = group.lines().find(|l| l.starts_with("audio:")).unwrap();
        assert!(
            audio
                .split(':')
                .nth(3)
                .unwrap()
                .split(',')
                .any(|m| m == "takebox"),
            "{audio}"
        );
        let ok = Command::new("systemd-tmpfiles")
            .arg(format!("--root={}", d.display()))
            .arg("--create")
            .status()
            .unwrap();
        assert!(ok.success());
        let spool = std::fs::metadata(d.join("var/spool/takebox")).unwrap();
        assert_eq!((spool.uid(), spool.mode() & 0o7777), (uid, 0o750));
        let conf = std::fs::metadata(&config).unwrap();
        assert_eq!(
            (conf.uid(), conf.gid(), conf.mode() & 0o777),
            (0, uid, 0o640)
        );
        let mnt = std::fs::metadata(d.join("mnt/takebox")).unwrap();
        assert_eq!(
            (mnt.uid(), mnt.mode() & 0o7777),
            (0, 0o755),
            "the bare mount point stays root's"
        );
    } else {
        eprintln!("systemd-sysusers/systemd-tmpfiles not installed: offline apply skipped");
    }

    // Recordings and spooled takes, then uninstall (twice).
    std::fs::create_dir_all(d.join("mnt/takebox/s1")).unwrap();
    std::fs::write(d.join("mnt/takebox/s1/take.wav"), b"RIFF").unwrap();
    std::fs::create_dir_all(d.join("var/spool/takebox")).unwrap();
    std::fs::write(d.join("var/spool/takebox/t1.wav"), b"RIFF").unwrap();
    install("uninstall", d, &[]);
    install("uninstall", d, &[]);
    for gone in [&bin, &unit, &mount] {
        assert!(!gone.exists(), "{} still there", gone.display());
    }
    assert!(!d.join("usr/lib/sysusers.d/takebox-capture.conf").exists());
    assert!(!d.join("usr/lib/tmpfiles.d/takebox-capture.conf").exists());
    assert!(!d.join("usr/share/doc/takebox-capture").exists());
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    assert!(cred.exists());
    assert!(d.join("mnt/takebox/s1/take.wav").exists());
    assert!(d.join("var/spool/takebox/t1.wav").exists());
}

#[test]
fn install_refuses_a_missing_binary_and_a_bad_share() {
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new(repo().join("scripts/install.sh"))
        .arg("install")
        .env("DESTDIR", dest.path())
        .env("BINDIR_SRC", dest.path().join("nothing-here"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("make release"));
    let out = Command::new(repo().join("scripts/install.sh"))
        .arg("install")
        .env("DESTDIR", dest.path())
        .env("BINDIR_SRC", bin_dir())
        .env("SHARE", "takebox.local:/takebox")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn confdir_and_prefix_are_written_into_every_installed_file() {
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path();
    install(
        "install",
        d,
        &[("CONFDIR", "/etc/takebox-pc"), ("SHARE", "//board/takebox")],
    );
    let cfg = d.join("etc/takebox-pc/config.json");
    assert_eq!(mode(&cfg), 0o640);
    assert!(!d.join("etc/takebox").exists());
    for f in [
        "etc/systemd/system/takebox-capture.service",
        "etc/systemd/system/mnt-takebox.mount",
        "usr/lib/tmpfiles.d/takebox-capture.conf",
    ] {
        let text = std::fs::read_to_string(d.join(f)).unwrap();
        assert!(text.contains("/etc/takebox-pc/"), "{f}: {text}");
        assert!(!text.contains("/etc/takebox/"), "{f}: {text}");
    }
    let unit =
        std::fs::read_to_string(d.join("etc/systemd/system/takebox-capture.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/takebox-capture --config /etc/takebox-pc/config.json\n")
    );
}

/// The board image's own files under /usr/lib and /usr/share/doc, as image/build.sh lays them.
fn board_files() -> Vec<(&'static str, String)> {
    let shipped = |f: &str| std::fs::read_to_string(repo().join(f)).unwrap();
    vec![
        (
            "usr/lib/sysusers.d/takebox-board.conf",
            shipped("systemd/takebox-board.sysusers"),
        ),
        (
            "usr/lib/tmpfiles.d/takebox-control.conf",
            shipped("systemd/takebox-control.tmpfiles"),
        ),
        ("usr/share/doc/takebox/README.md", shipped("README.md")),
    ]
}

fn put_files(root: &Path, files: &[(&str, String)]) {
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn assert_files(root: &Path, files: &[(&str, String)], when: &str) {
    for (path, text) in files {
        let got = std::fs::read_to_string(root.join(path))
            .unwrap_or_else(|e| panic!("{when}: the board's {path}: {e}"));
        assert!(got == *text, "{when}: the board's {path} was changed");
    }
}

/// One machine that is both the board and a recording computer (the VM of
/// image/test.sh): install and uninstall leave the board's files as they
/// were, and with both sysusers files applied the board's fixed ids win.
#[test]
fn install_beside_the_board_keeps_the_boards_files() {
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path();
    let board = board_files();
    put_files(d, &board);
    install("install", d, &[]);
    assert_files(d, &board, "after install");
    for ours in [
        "usr/lib/sysusers.d/takebox-capture.conf",
        "usr/lib/tmpfiles.d/takebox-capture.conf",
        "usr/share/doc/takebox-capture/README.md",
    ] {
        assert!(d.join(ours).is_file(), "{ours} not installed");
    }

    if which("systemd-sysusers") {
        let (passwd, group) = apply_sysusers(d);
        assert!(
            passwd.lines().any(|l| l.starts_with("takebox:x:900:")),
            "the board's fixed id for takebox lost to the recording computer's:\n{passwd}"
        );
        for g in ["gpio", "audio"] {
            let line = group
                .lines()
                .find(|l| l.starts_with(&format!("{g}:")))
                .unwrap_or_else(|| panic!("no group {g}:\n{group}"));
            assert!(line.ends_with(":takebox"), "takebox not in {g}: {line}");
        }
    } else {
        eprintln!("systemd-sysusers not installed: the combined ids not checked");
    }

    install("uninstall", d, &[]);
    assert_files(d, &board, "after uninstall");
    assert!(!d.join("usr/lib/sysusers.d/takebox-capture.conf").exists());
    assert!(!d.join("usr/lib/tmpfiles.d/takebox-capture.conf").exists());
}

/// Installs before the rename wrote takebox.conf (sysusers.d, tmpfiles.d) and
/// doc/takebox: install moves the recording computer's to their new names,
/// and neither install nor uninstall touches a board's takebox.conf (the
/// board's sysusers file kept that name until 2026-12).
#[test]
fn an_earlier_installs_names_are_replaced_and_a_boards_kept() {
    let shipped = |f: &str| std::fs::read_to_string(repo().join(f)).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path();
    put_files(
        d,
        &[
            (
                "usr/lib/sysusers.d/takebox.conf",
                shipped("systemd/takebox-capture.sysusers"),
            ),
            (
                "usr/lib/tmpfiles.d/takebox.conf",
                shipped("systemd/takebox-capture.tmpfiles"),
            ),
            ("usr/share/doc/takebox/README.md", shipped("README.md")),
        ],
    );
    let out = install("install", d, &[]);
    assert!(out.contains("an earlier install's name"), "{out}");
    for gone in [
        "usr/lib/sysusers.d/takebox.conf",
        "usr/lib/tmpfiles.d/takebox.conf",
        "usr/share/doc/takebox",
    ] {
        assert!(!d.join(gone).exists(), "{gone} still there");
    }
    assert!(d.join("usr/lib/sysusers.d/takebox-capture.conf").is_file());

    let older_board = tempfile::tempdir().unwrap();
    let b = older_board.path();
    let board = vec![
        (
            "usr/lib/sysusers.d/takebox.conf",
            shipped("systemd/takebox-board.sysusers"),
        ),
        ("usr/share/doc/takebox/README.md", shipped("README.md")),
    ];
    put_files(b, &board);
    install("install", b, &[]);
    assert_files(b, &board, "after install");
    install("uninstall", b, &[]);
    assert_files(b, &board, "after uninstall");
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// "→ Overall exposure level for X.service: 1.5 OK" -> 1.5
fn exposure(report: &str) -> Option<f64> {
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))?;
    line.rsplit(':')
        .next()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn exposure_parses_systemd_analyze_output() {
    assert_eq!(
        exposure("✓ X\n→ Overall exposure level for takebox-capture.service: 1.5 OK 🙂\n"),
        Some(1.5)
    );
    assert_eq!(exposure("nothing"), None);
}

/// Both units, as installed (capture) and as shipped (control): exposure
/// printed and at most 2.0; `systemd-analyze verify` finds nothing but the
/// control binary, which is not on this branch's build.
#[test]
fn units_are_hardened_to_exposure_2_or_less() {
    if !which("systemd-analyze") {
        eprintln!("systemd-analyze not installed: exposure not measured");
        return;
    }
    let dest = tempfile::tempdir().unwrap();
    let d = dest.path();
    install("install", d, &[]);
    std::fs::copy(
        repo().join("systemd/takebox-control.service"),
        d.join("etc/systemd/system/takebox-control.service"),
    )
    .unwrap();
    for unit in ["takebox-capture.service", "takebox-control.service"] {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(format!("--root={}", d.display()))
            .arg(unit)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let score =
            exposure(&report).unwrap_or_else(|| panic!("no exposure for {unit}:\n{report}{out:?}"));
        println!("systemd-analyze security {unit}: exposure {score}");
        assert!(score <= 2.0, "{unit}: exposure {score} > 2.0\n{report}");
    }

    // verify: the units' directives, with ExecStart pointed at real binaries.
    for (unit, bin) in [
        (
            "takebox-capture.service",
            Some(env!("CARGO_BIN_EXE_takebox-capture")),
        ),
        ("takebox-control.service", None),
        ("mnt-takebox.mount", None),
    ] {
        let text = std::fs::read_to_string(repo().join("systemd").join(unit)).unwrap();
        let text = match bin {
            Some(b) => text.replace("/usr/bin/takebox-capture", b),
            None => text,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(unit);
        std::fs::write(&path, text).unwrap();
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let problems: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.contains("/usr/bin/takebox-control is not executable"))
            .collect();
        assert!(
            problems.is_empty(),
            "systemd-analyze verify {unit}:\n{stderr}"
        );
    }
}
