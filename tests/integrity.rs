//! A confirmed take is never lost, overwritten or mislabelled: each test is a
//! way the recorder or the board once broke that promise, tried against the
//! real daemons (PulseAudio null sink as the source, real files).

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use takebox::capture::take::sha256_file;

fn assert_whole_on_share(ws: &Workspace, conf: &Value) {
    let file = ws.share().join(conf["path"].as_str().unwrap());
    assert_eq!(
        sha256_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
        conf["sha256"].as_str().unwrap(),
        "{conf}"
    );
}

fn wait_delivered(d: &Daemon, take_id: &str) -> Value {
    wait_for(
        &format!("take {take_id} to be delivered"),
        Duration::from_secs(30),
        || {
            let (_, t) = d.get(&format!("/v1/takes/{take_id}"));
            (t["state"] == "delivered").then_some(t)
        },
    )
}

/// `rc.raw` looked like take `rc`'s raw file: take `rc`, or a restart,
/// destroyed the spooled audio of `rc.raw`.
#[test]
fn no_take_id_reaches_another_takes_spool_files() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.write_config(json!({}));
    let mut d = Daemon::capture(&ws, Some(&pulse));
    // No marker: both takes wait in the spool.
    let mut confs = Vec::new();
    for id in ["rc.raw", "rc", "rc.wav"] {
        let (code, c) = d.post("/v1/takes", &take_cmd(id, json!({"duration": 0.2})));
        assert_eq!((code, c["state"].as_str()), (200, Some("spooled")), "{c}");
        confs.push(c);
    }
    d.kill9();
    let d = Daemon::capture(&ws, Some(&pulse));
    assert_eq!(
        d.get("/v1/status").1["spool_pending"],
        json!(["rc", "rc.raw", "rc.wav"])
    );
    ws.mount_share();
    for c in &confs {
        let done = wait_delivered(&d, c["take_id"].as_str().unwrap());
        assert_whole_on_share(&ws, &done);
    }
}

/// Take `t1` at `ff` and take `ff_t1` without a dynamic once shared a file
/// name; the second replaced the first. And a final name that already holds
/// another file is never replaced.
#[test]
fn two_take_ids_never_share_a_file_and_delivery_never_replaces_one() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({"file_naming": {"include_session_id": false}}));
    let d = Daemon::capture(&ws, Some(&pulse));
    let (_, a) = d.post(
        "/v1/takes",
        &take_cmd("t1", json!({"dynamic": "ff", "duration": 0.2})),
    );
    let (_, b) = d.post("/v1/takes", &take_cmd("ff_t1", json!({"duration": 0.2})));
    assert_eq!(
        (a["state"].as_str(), b["state"].as_str()),
        (Some("delivered"), Some("delivered"))
    );
    assert_ne!(a["path"], b["path"]);
    assert_whole_on_share(&ws, &a);
    assert_whole_on_share(&ws, &b);
    for c in [&a, &b] {
        let path = Path::new(c["path"].as_str().unwrap());
        let id = takebox::protocol::take_path::take_id_of(
            "s1",
            path.file_name().unwrap().to_str().unwrap(),
        );
        assert_eq!(id.as_deref(), c["take_id"].as_str(), "{c}");
    }

    // Someone left a file under the name take t9 will get.
    let planted = ws.share().join("s1/guitar_A4_long_~t9.wav");
    std::fs::write(&planted, b"not this take").unwrap();
    let (code, c) = d.post("/v1/takes", &take_cmd("t9", json!({"duration": 0.2})));
    assert_eq!((code, c["state"].as_str()), (200, Some("spooled")), "{c}");
    assert_eq!(c["path"], "s1/guitar_A4_long_~t9.wav");
    assert!(
        c["error"]
            .as_str()
            .unwrap()
            .contains("already holds another file"),
        "{c}"
    );
    assert_eq!(std::fs::read(&planted).unwrap(), b"not this take");
    // The take is kept, and delivered once the name is free.
    std::fs::remove_file(&planted).unwrap();
    let done = wait_delivered(&d, "t9");
    assert_whole_on_share(&ws, &done);
}

/// Names that cannot become a file on the share are refused before a note is
/// recorded, naming the field; nothing reaches the spool.
#[test]
fn names_that_cannot_be_files_on_the_share_are_refused_before_recording() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({}));
    let d = Daemon::capture(&ws, Some(&pulse));
    let long = |c: char, n: usize| c.to_string().repeat(n);
    let cases = [
        (
            take_cmd(
                "long1",
                json!({"instrument": long('i', 100), "articulation": long('a', 100), "dynamic": long('d', 60)}),
            ),
            "instrument",
        ),
        (
            take_cmd("t-con", json!({"instrument": "CON"})),
            "instrument",
        ),
        (take_cmd("t-nul", json!({"dynamic": "nul.txt"})), "dynamic"),
        (
            take_cmd("t-lpt", json!({"session_id": "LPT1"})),
            "session_id",
        ),
        (
            take_cmd("rlo1", json!({"articulation": "long\u{202E}vaw.exe"})),
            "articulation",
        ),
        (
            take_cmd("zw1", json!({"instrument": "gui\u{200B}tar"})),
            "instrument",
        ),
        (take_cmd("COM3", json!({})), "take_id"),
        (
            take_cmd("tz1", json!({"start_at": "2026-11-25T13:45:00.125"})),
            "start_at",
        ),
        (
            take_cmd("tz2", json!({"start_at": "2026-11-25 13:45:00Z"})),
            "start_at",
        ),
        (
            take_cmd("tz3", json!({"start_at": "2026-11-25T13:45:00Zjunk"})),
            "start_at",
        ),
    ];
    for (cmd, field) in cases {
        let (code, e) = d.post("/v1/takes", &cmd);
        assert_eq!(code, 400, "{cmd}: {e}");
        assert!(
            e["field"] == field || e["message"].as_str().unwrap().contains(field),
            "{cmd}: {e}"
        );
        let id = cmd["take_id"].as_str().unwrap();
        let (code, t) = d.get(&format!("/v1/takes/{id}"));
        assert!(code == 404 || code == 400, "{id} was recorded: {t}");
    }
    // An offset is RFC 3339 too.
    let at = takebox::protocol::Timestamp::now().unix_seconds() + 1.0 + 3600.0;
    let text = takebox::protocol::Timestamp::from_unix_seconds(at)
        .to_string()
        .replace('Z', "+01:00");
    let (code, c) = d.post(
        "/v1/takes",
        &take_cmd("tz4", json!({"start_at": text, "duration": 0.2})),
    );
    assert_eq!((code, c["state"].as_str()), (200, Some("delivered")), "{c}");
    assert!(
        ws.tree()
            .iter()
            .all(|(p, _)| !p.starts_with("spool/pending") && !p.starts_with("spool/recording")),
        "{:?}",
        ws.tree()
    );
}

/// After a restart, status said `running` while takes got 503 and the first
/// take had a fraction of its pre-roll. `ready` is the moment a take gets all
/// of it; a take sent before says its pre-roll was short.
#[test]
fn ready_means_a_take_gets_its_whole_pre_roll() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({"capture": {"pre_roll_seconds": 4.0},
        "post_processing": {"trim_silence": false}}));
    let config = ws.config_path().display().to_string();
    let d = Daemon::spawn(
        env!("CARGO_BIN_EXE_takebox-capture"),
        &["--config", &config],
        &pulse.env(),
    );
    // Before ready, with the clock up: accepted, and flagged.
    let filling = wait_for(
        "the pre-roll to be filling",
        Duration::from_secs(30),
        || {
            let (_, s) = d.get("/v1/status");
            (s["ready"] == false
                && s["not_ready"]
                    .as_str()
                    .is_some_and(|m| m.contains("pre-roll")))
            .then_some(s)
        },
    );
    assert_eq!(filling["state"], "running", "{filling}");
    let (code, early) = d.post("/v1/takes", &take_cmd("early", json!({"duration": 0.2})));
    assert_eq!(code, 200, "{early}");
    let warning = &early["warnings"][0];
    assert_eq!(warning["warning"], "short_pre_roll", "{early}");
    assert!(
        warning["frames"].as_u64().unwrap() < warning["configured_frames"].as_u64().unwrap(),
        "{early}"
    );
    assert_eq!(warning["configured_frames"], 4 * 48_000);
    // Once ready: the whole pre-roll, no warning.
    wait_for("ready", Duration::from_secs(30), || {
        (d.get("/v1/status").1["ready"] == true).then_some(())
    });
    let (code, late) = d.post("/v1/takes", &take_cmd("late", json!({"duration": 0.2})));
    assert_eq!(code, 200, "{late}");
    assert!(late.get("warnings").is_none(), "{late}");
    assert_eq!(late["pre_roll_frames"], 4 * 48_000, "{late}");
}

/// A panic in the recorder (here in delivery, with its lock held) used to
/// leave a live daemon that failed every later take. Now the daemon exits,
/// and a restart delivers the take from the spool.
#[test]
fn a_panic_ends_the_recorder_and_a_restart_delivers_the_take() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({}));
    let config = ws.config_path().display().to_string();
    let mut env = pulse.env();
    env.push(("TAKEBOX_FAILPOINTS".into(), "capture.deliver=panic".into()));
    let mut d = Daemon::spawn(
        env!("CARGO_BIN_EXE_takebox-capture"),
        &["--config", &config],
        &env,
    );
    wait_for("ready", Duration::from_secs(30), || {
        (d.get("/v1/status").1["ready"] == true).then_some(())
    });
    // The connection dies with the daemon: no answer, or an error.
    let body = serde_json::to_vec(&take_cmd("p1", json!({"duration": 0.2}))).unwrap();
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(takebox::http::request(
            d.addr,
            "POST".parse().unwrap(),
            "/v1/takes",
            Some(TOKEN),
            Some(body),
        ));
    assert!(
        answer
            .as_ref()
            .map_or(true, |(code, _)| code.as_u16() != 200),
        "{answer:?}"
    );
    let status = wait_for("the daemon to exit", Duration::from_secs(30), || d.exited());
    assert_eq!(status.code(), Some(takebox::panics::EXIT_PANIC));
    d.wait_for_log("failpoint capture.deliver");
    let d = Daemon::capture(&ws, Some(&pulse));
    let done = wait_delivered(&d, "p1");
    assert_whole_on_share(&ws, &done);
}

/// A session planned under a setting that is no longer accepted (a duration
/// of 1e20 s) crashed the board at every start. Now it resumes paused, saying
/// why; and the board refuses names the share's clients cannot open.
#[test]
fn a_session_that_cannot_launch_is_paused_with_the_reason_never_a_crash() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    let port = free_port();
    ws.write_board_config(port, json!({}));
    let _capture = Daemon::capture(&ws, Some(&pulse));
    let mut control = Daemon::control(&ws);
    let (code, e) = http(
        control.addr,
        "POST",
        "/api/v1/session",
        Some(TOKEN),
        Some(
            serde_json::to_vec(&json!({"instrument": "guitar", "dynamics": ["pp", "NUL"]}))
                .unwrap(),
        ),
    );
    assert_eq!(code, 400, "{e}");
    assert_eq!(e["field"], "dynamics[1]", "{e}");
    let (code, begun) = http(
        control.addr,
        "POST",
        "/api/v1/session",
        Some(TOKEN),
        Some(
            serde_json::to_vec(
                &json!({"instrument": "guitar", "lowest_note": "A4", "highest_note": "A4",
                "articulations": ["long"]}),
            )
            .unwrap(),
        ),
    );
    assert_eq!(code, 201, "{begun}");
    let id = begun["session_id"].as_str().unwrap();
    control.terminate();
    // The session file as an older board wrote it.
    let file = ws.state_dir().join(format!("sessions/{id}.json"));
    let mut session: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    session["plan"][0]["duration"] = json!(1e20);
    std::fs::write(&file, serde_json::to_vec(&session).unwrap()).unwrap();

    let mut control = Daemon::control(&ws);
    let (code, st) = http(
        control.addr,
        "POST",
        "/api/v1/start",
        Some(TOKEN),
        Some(b"{}".to_vec()),
    );
    assert_eq!(code, 200, "{st}");
    let st = wait_for("the session to pause", Duration::from_secs(30), || {
        let (_, s) = http(control.addr, "GET", "/api/v1/status", Some(TOKEN), None);
        (s["phase"] == "paused").then_some(s)
    });
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("cannot be recorded"),
        "{st}"
    );
    assert!(control.exited().is_none(), "the board crashed");
    // And again after a restart: resumed paused, alive.
    control.terminate();
    let mut control = Daemon::control(&ws);
    let (code, st) = http(control.addr, "GET", "/api/v1/status", Some(TOKEN), None);
    assert_eq!(code, 200, "{st}");
    assert!(control.exited().is_none(), "the board crashed at resume");
}
