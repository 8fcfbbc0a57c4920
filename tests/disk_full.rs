//! Full disks: a full spool fails the take with a clear error and loses nothing
//! recorded before; a full share keeps the take in the spool, leaves no partial
//! file on the share, and delivers it once there is room; a full log folder
//! on the board is said in the status and on the page (Chromium, live). Uses
//! small tmpfs mounts, so it runs as root (as `make test` does).

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A tmpfs of `size` at `dir`, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "mounting a tmpfs at {} failed: this test needs root (make test runs as root)",
            dir.display()
        );
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_spool_fails_the_take_clearly_and_keeps_earlier_takes() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    let _spool = Tmpfs::mount(&ws.spool(), "400k");
    ws.write_config(
        json!({"capture": {"channels": 2, "pre_roll_seconds": 0.2, "release_tail_seconds": 0.1},
        "post_processing": {"trim_silence": false, "normalize_audio": false}}),
    );
    let d = Daemon::capture(&ws, Some(&pulse));

    let (code, small) = d.post("/v1/takes", &take_cmd("small", json!({"duration": 0.2})));
    assert_eq!(
        (code, small["state"].as_str()),
        (200, Some("delivered")),
        "{small}"
    );
    // 3 s of 24-bit stereo is 864 kB: more than the spool holds. Refused up
    // front (nobody plays a note that cannot be kept), naming both sizes.
    let status = d.get("/v1/status").1;
    assert!(
        status["spool"]["free_bytes"].as_u64().unwrap() <= 400 << 10,
        "{status}"
    );
    assert!(
        status["spool"]["room_seconds"].as_f64().unwrap() < 3.0,
        "{status}"
    );
    let (code, big) = d.post("/v1/takes", &take_cmd("big", json!({"duration": 3.0})));
    assert_eq!(
        (code, big["error"].as_str()),
        (507, Some("spool_full")),
        "{big}"
    );
    let message = big["message"].as_str().unwrap();
    assert!(
        message.contains("MB free") && message.contains("big"),
        "{message}"
    );
    // A short MIDI note keeps its instrument's whole release (5 s here): the
    // room it needs counts that release, not only the configured tail.
    let midi = json!({"duration": 0.2, "midi": {"port": "no such synth", "channel": 1,
        "velocity": 100, "release_seconds": 5.0, "calibrate": false}});
    let (code, long) = d.post("/v1/takes", &take_cmd("long_release", midi));
    assert_eq!(
        (code, long["error"].as_str()),
        (507, Some("spool_full")),
        "{long}"
    );
    assert_eq!(
        d.get("/v1/takes/big").0,
        404,
        "a refused take was never recorded"
    );
    // Nothing half-written is left behind, the earlier take is whole, and the
    // recorder takes the next take once the spool has room again.
    assert!(
        !ws.tree()
            .iter()
            .any(|(p, _)| p.contains("big") && p.contains(".wav")),
        "{:?}",
        ws.tree()
    );
    let file = ws.share().join(small["path"].as_str().unwrap());
    assert_eq!(
        takebox::capture::take::sha256_file(&file).unwrap(),
        small["sha256"].as_str().unwrap()
    );
    let (code, next) = d.post("/v1/takes", &take_cmd("next", json!({"duration": 0.2})));
    assert_eq!(
        (code, next["state"].as_str()),
        (200, Some("delivered")),
        "{next}"
    );
    assert_eq!(d.get("/v1/status").1["state"], "running");
}

#[test]
fn a_full_share_keeps_the_take_spooled_until_there_is_room() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    let share = Tmpfs::mount(&ws.share(), "200k");
    ws.mount_share();
    ws.write_config(
        json!({"capture": {"channels": 2, "pre_roll_seconds": 0.2, "release_tail_seconds": 0.1},
        "post_processing": {"trim_silence": false, "normalize_audio": false}}),
    );
    let d = Daemon::capture(&ws, Some(&pulse));

    let (code, c) = d.post("/v1/takes", &take_cmd("wide", json!({"duration": 1.0})));
    assert_eq!((code, c["state"].as_str()), (200, Some("spooled")), "{c}");
    assert!(
        c["error"].as_str().unwrap().contains("No space left"),
        "{c}"
    );
    // No partial file on the share, under a final name or a temporary one.
    let on_share: Vec<_> = ws
        .tree()
        .into_iter()
        .filter(|(p, _)| p.starts_with("share/s1"))
        .collect();
    assert!(on_share.is_empty(), "{on_share:?}");
    let status = d.get("/v1/status").1;
    assert_eq!(status["spool_pending"], json!(["wide"]));
    // The marker is there, but the last write failed: not available, and why.
    assert_eq!(status["share"]["available"], false, "{status}");
    assert!(
        status["share"]["error"]
            .as_str()
            .unwrap()
            .contains("No space left"),
        "{status}"
    );

    share.resize("4m");
    let done = wait_for(
        "delivery once the share has room",
        Duration::from_secs(30),
        || {
            let (_, t) = d.get("/v1/takes/wide");
            (t["state"] == "delivered").then_some(t)
        },
    );
    let file = ws.share().join(done["path"].as_str().unwrap());
    assert_eq!(
        takebox::capture::take::sha256_file(&file).unwrap(),
        c["sha256"].as_str().unwrap()
    );
    assert_eq!(d.get("/v1/status").1["share"]["available"], true);
}

/// A share remounted read-only keeps its marker: takes spool (nothing lost),
/// status says the share is not available and why, and once it is writable
/// again the probe and the delivery say so without a new take.
#[test]
fn a_read_only_share_is_reported_unavailable_until_it_takes_writes_again() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    let share = Tmpfs::mount(&ws.share(), "8m");
    ws.mount_share();
    ws.write_config(json!({}));
    let d = Daemon::capture(&ws, Some(&pulse));
    assert_eq!(d.get("/v1/status").1["share"]["available"], true);
    let ok = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&share.0)
        .status()
        .unwrap();
    assert!(ok.success());
    let (code, c) = d.post("/v1/takes", &take_cmd("ro1", json!({"duration": 0.2})));
    assert_eq!((code, c["state"].as_str()), (200, Some("spooled")), "{c}");
    let status = d.get("/v1/status").1;
    assert_eq!(status["share"]["available"], false, "{status}");
    assert!(
        status["share"]["error"]
            .as_str()
            .unwrap()
            .contains("Read-only"),
        "{status}"
    );
    let ok = Command::new("mount")
        .args(["-o", "remount,rw"])
        .arg(&share.0)
        .status()
        .unwrap();
    assert!(ok.success());
    wait_for(
        "delivery once the share is writable",
        Duration::from_secs(30),
        || {
            let s = d.get("/v1/status").1;
            (s["share"]["available"] == true && s["spool_pending"] == json!([])).then_some(())
        },
    );
    let (_, t) = d.get("/v1/takes/ro1");
    assert_eq!(t["state"], "delivered", "{t}");
}

/// Fill a file system: write `name` in `dir` until no byte more fits.
fn fill(dir: &Path, name: &str) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join(name)).unwrap();
    let block = [0u8; 4096];
    while f.write_all(&block).is_ok() {}
    while f.write_all(&block[..1]).is_ok() {}
}

/// The board's `/var` (here its log folder, the session log and the log file
/// in it) fills: the status and the page say which write fails, where, why
/// and how much room is left, the log file's lost lines are counted, and all
/// of it clears once a write goes through again.
#[test]
fn a_full_log_folder_on_the_board_is_shown_on_the_page_and_in_the_status() {
    let ws = Workspace::new();
    ws.mount_share();
    let _logs = Tmpfs::mount(&ws.log_dir(), "1m");
    ws.write_board_config(
        free_port(),
        json!({"capture": {"device": "takebox:silence"}, "logging": {"log_to_file": true}}),
    );
    let _capture = Daemon::capture(&ws, None);
    let control = Daemon::control(&ws);
    let st = board_get(&control, "/api/v1/status");
    assert_eq!(st["storage"]["ok"], true, "{}", st["storage"]);
    assert_eq!(st["storage"]["log_write_failures"], 0);
    assert!(st["storage"]["folders"][1]["free_bytes"].as_u64().unwrap() > 0);

    // The page in Chromium follows it live (server-sent events, no reload).
    let browser = common::webdriver::Driver::start_sized(390, 844);
    browser.go(&format!("http://{}/", control.addr));
    let problems = |browser: &common::webdriver::Driver| browser.text("#board_problems");

    // Full before the session begins, so its log's first line finds no room
    // (a file already written to has room left in its last page).
    fill(&ws.log_dir(), "filler");
    let (code, begun) = board_post(
        &control,
        "/api/v1/session",
        json!({"instrument": "guitar", "lowest_note": "A4", "highest_note": "B4",
               "articulations": ["short"]}),
    );
    assert_eq!(code, 201, "{begun}");
    // Each command is a line in the session log and the log file; the log
    // file fails once its last page is used up.
    let mut pause = true;
    let st = wait_for(
        "the full log folder in the status",
        Duration::from_secs(30),
        || {
            let command = if pause {
                "/api/v1/pause"
            } else {
                "/api/v1/resume"
            };
            pause = !pause;
            board_post(&control, command, json!({}));
            let s = board_get(&control, "/api/v1/status");
            (s["storage"]["ok"] == false && s["storage"]["log_write_failures"].as_u64() > Some(0))
                .then_some(s)
        },
    );
    let storage = &st["storage"];
    let problem = storage["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["what"] == "session_log")
        .unwrap_or_else(|| panic!("{storage}"));
    assert_eq!(problem["folder"], ws.log_dir().display().to_string());
    assert!(
        problem["error"].as_str().unwrap().contains("No space left"),
        "{problem}"
    );
    assert!(problem["free_bytes"].as_u64().unwrap() < 4096, "{problem}");
    let live = wait_for(
        "the page to show the full folder",
        Duration::from_secs(30),
        || problems(&browser).filter(|t| t.contains("The session log cannot be written in")),
    );
    assert!(live.contains("No space left on device"), "{live}");
    let page = raw_http(control.addr, "GET", "/", &[], b"").2;
    let shown = format!(
        "The session log cannot be written in {}",
        ws.log_dir().display()
    );
    assert!(page.contains(&shown), "{page}");
    assert!(page.contains("No space left on device"), "{page}");
    assert!(page.contains("The log file cannot be written"), "{page}");

    // Room again: the next writes go through and the problems clear; the
    // lines the log file lost stay counted.
    std::fs::remove_file(ws.log_dir().join("filler")).unwrap();
    let st = wait_for(
        "the log folder writable again",
        Duration::from_secs(30),
        || {
            board_post(&control, "/api/v1/skip", json!({}));
            let s = board_get(&control, "/api/v1/status");
            (s["storage"]["ok"] == true).then_some(s)
        },
    );
    assert!(st["storage"]["log_write_failures"].as_u64().unwrap() > 0);
    let page = raw_http(control.addr, "GET", "/", &[], b"").2;
    assert!(
        page.contains("log lines could not be written to the log file since start"),
        "{page}"
    );
    assert!(!page.contains("cannot be written in"), "{page}");
    wait_for(
        "the page to clear the problem",
        Duration::from_secs(30),
        || problems(&browser).filter(|t| !t.contains("cannot be written in")),
    );
}
