//! A take aborted on the recorder (`POST /v1/takes/{id}/abort`) with real
//! daemons on loopback and a generated input: it stops at once, nothing of it
//! reaches the share or stays in the spool, its id never records, and the
//! board aborting a session mid-take stops it there and logs what each
//! recorder did; the slot is recorded again under a new id.

mod common;

use common::*;
use serde_json::{Value, json};
use std::sync::mpsc;
use std::time::Duration;

/// A take much longer than any wait below: when its answer comes within
/// them, the take was stopped, not recorded to its end.
const LONG_TAKE_SECONDS: f64 = 60.0;

/// Bound on the answers an abort brings (the recorder itself answers within
/// 2 s); only a hang reaches it.
const ANSWER_BOUND: Duration = Duration::from_secs(30);

fn abort(d: &Daemon, take_id: &str, token: Option<&str>) -> (u16, Value) {
    http(
        d.addr,
        "POST",
        &format!("/v1/takes/{take_id}/abort"),
        token,
        None,
    )
}

/// The WAV files in the workspace's spool (the take being recorded, and
/// processed takes waiting for the share).
fn spool_wavs(ws: &Workspace) -> Vec<String> {
    ws.tree()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with("spool/") && p.ends_with(".wav"))
        .collect()
}

/// Send `take_id` (a long take) from a thread; its answer comes on the channel.
fn send_long_take(d: &Daemon, take_id: &str) -> mpsc::Receiver<(u16, Value)> {
    let (tx, rx) = mpsc::channel();
    let addr = d.addr;
    let cmd = take_cmd(take_id, json!({"duration": LONG_TAKE_SECONDS}));
    std::thread::spawn(move || {
        let body = serde_json::to_vec(&cmd).unwrap();
        let _ = tx.send(http(addr, "POST", "/v1/takes", Some(TOKEN), Some(body)));
    });
    rx
}

#[test]
fn an_aborted_take_stops_keeps_nothing_and_its_id_never_records() {
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({"capture": {"device": "takebox:sine=440",
        "max_take_seconds": LONG_TAKE_SECONDS}}));
    let d = Daemon::capture(&ws, None);

    // Mid-take: audio of it is in the spool.
    let answer = send_long_take(&d, "long1");
    wait_for("the take's audio in the spool", ANSWER_BOUND, || {
        (ws.spooled_bytes("long1") > 48_000 * 3).then_some(())
    });
    let (code, stopped) = abort(&d, "long1", Some(TOKEN));
    assert_eq!(code, 200, "{stopped}");
    assert_eq!(stopped, json!({"take_id": "long1", "outcome": "stopped"}));
    // The command that was waiting for it says so, long before its planned end.
    let (code, e) = answer
        .recv_timeout(ANSWER_BOUND)
        .expect("the take's answer once it was aborted");
    assert_eq!((code, e["error"].as_str()), (422, Some("aborted")), "{e}");
    assert_eq!(d.get("/v1/status").1["recording"], Value::Null);
    assert_eq!(share_wavs(&ws), Vec::<String>::new());
    assert_eq!(spool_wavs(&ws), Vec::<String>::new());

    // The id never records: not sent again, not looked up; asking again changes nothing.
    let (code, e) = d.post("/v1/takes", &take_cmd("long1", json!({})));
    assert_eq!((code, e["error"].as_str()), (422, Some("aborted")), "{e}");
    let (code, e) = d.get("/v1/takes/long1");
    assert_eq!((code, e["error"].as_str()), (422, Some("aborted")), "{e}");
    let (code, again) = abort(&d, "long1", Some(TOKEN));
    assert_eq!(
        (code, again["outcome"].as_str()),
        (200, Some("already_aborted"))
    );
    assert!(
        !d.log_contains("take long1: Delivered"),
        "delivered after all"
    );

    // The next take records and is delivered.
    let (code, next) = d.post("/v1/takes", &take_cmd("next", json!({})));
    assert_eq!(
        (code, next["state"].as_str()),
        (200, Some("delivered")),
        "{next}"
    );
    assert_eq!(share_wavs(&ws).len(), 1);
}

#[test]
fn an_abort_of_a_recorded_or_unknown_take_says_so_and_needs_the_token() {
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({"capture": {"device": "takebox:silence"}}));
    let d = Daemon::capture(&ws, None);

    let (code, done) = d.post("/v1/takes", &take_cmd("done", json!({})));
    assert_eq!(
        (code, done["state"].as_str()),
        (200, Some("delivered")),
        "{done}"
    );
    let (code, recorded) = abort(&d, "done", Some(TOKEN));
    assert_eq!(code, 200, "{recorded}");
    assert_eq!(
        recorded,
        json!({"take_id": "done", "outcome": "recorded", "state": "delivered",
               "path": done["path"]})
    );
    // Kept as it was: still on the share, still answered by id.
    assert_eq!(share_wavs(&ws).len(), 1);
    assert_eq!(d.get("/v1/takes/done").1, done);

    // An id the recorder never had: refused from now on, so a command still
    // on its way cannot record it.
    let (code, unknown) = abort(&d, "ghost", Some(TOKEN));
    assert_eq!(code, 200, "{unknown}");
    assert_eq!(unknown, json!({"take_id": "ghost", "outcome": "unknown"}));
    let (code, e) = d.post("/v1/takes", &take_cmd("ghost", json!({})));
    assert_eq!((code, e["error"].as_str()), (422, Some("aborted")), "{e}");

    // The token, as for a take command; a wrong method; a bad name.
    let (code, e) = abort(&d, "other", None);
    assert_eq!(
        (code, e["error"].as_str()),
        (401, Some("unauthorized")),
        "{e}"
    );
    let (code, e) = abort(&d, "other", Some("not-the-token"));
    assert_eq!(code, 401, "{e}");
    let (code, _) = http(d.addr, "GET", "/v1/takes/other/abort", Some(TOKEN), None);
    assert_eq!(code, 405);
    let (code, e) = abort(&d, "..", Some(TOKEN));
    assert_eq!((code, e["field"].as_str()), (400, Some("take_id")), "{e}");
    // Nothing was marked by the refused ones: `other` still records.
    let (code, other) = d.post("/v1/takes", &take_cmd("other", json!({})));
    assert_eq!(
        (code, other["state"].as_str()),
        (200, Some("delivered")),
        "{other}"
    );
}

/// Session log lines of `event`.
fn events(ws: &Workspace, id: &str, event: &str) -> Vec<Value> {
    session_log(ws, id)
        .into_iter()
        .filter(|l| l["event"] == event)
        .collect()
}

/// A board and its recorder on a sine, and a session of A4 in
/// `articulations` (`long` lasts 8 s: long enough to be aborted mid-take).
fn board_session(articulations: Value) -> (Workspace, Daemon, Daemon, String) {
    let (ws, capture, control) = generated_board(
        "takebox:sine=440",
        json!({"control": {"on_warning": "continue"},
               "articulation_durations": {"short": 0.5, "medium": 0.5, "long": 8.0, "transient": 0.05}}),
    );
    let (code, begun) = board_post(
        &control,
        "/api/v1/session",
        json!({"instrument": "guitar", "lowest_note": "A4", "highest_note": "A4",
               "articulations": articulations, "auto_advance": false}),
    );
    assert_eq!(code, 201, "{begun}");
    let id = begun["session_id"].as_str().unwrap().to_string();
    (ws, capture, control, id)
}

#[test]
fn a_session_aborted_mid_take_stops_it_on_the_recorder_and_the_slot_records_again() {
    // Slot 1 (A4 short) quick; slot 2 (A4 long) aborted mid-take.
    let (ws, capture, control, id) = board_session(json!(["short", "long"]));
    board_post(&control, "/api/v1/start", json!({}));
    board_wait(&control, "slot 1", 30, |s| {
        s["done"] == 1 && s["phase"] == "armed"
    });
    let (code, st) = board_post(&control, "/api/v1/start", json!({}));
    assert_eq!(code, 200, "{st}");
    let aborted = st["take_id"].as_str().unwrap().to_string();
    wait_for("slot 2 recording on the recorder", ANSWER_BOUND, || {
        (ws.spooled_bytes(&aborted) > 48_000 * 3).then_some(())
    });

    let (code, st) = board_post(&control, "/api/v1/abort", json!({}));
    assert_eq!((code, st["phase"].as_str()), (200, Some("aborted")), "{st}");
    let line = wait_for(
        "the recorder's answer in the session log",
        ANSWER_BOUND,
        || events(&ws, &id, "take_aborted").pop(),
    );
    assert_eq!(line["take_id"], aborted.as_str(), "{line}");
    assert_eq!(line["outcome"], "stopped", "{line}");
    assert_eq!(
        line["recorder"],
        format!("http://{}", capture.addr),
        "{line}"
    );
    assert_eq!(
        events(&ws, &id, "take_abandoned")[0]["take_id"],
        aborted.as_str()
    );
    assert_eq!(capture.get("/v1/status").1["recording"], Value::Null);
    assert_eq!(spool_wavs(&ws), Vec::<String>::new());
    let wavs = share_wavs(&ws);
    assert!(
        wavs.len() == 1 && wavs[0].contains("_short_"),
        "only slot 1 on the share: {wavs:?}"
    );
    let row = &board_get(&control, "/api/v1/takes")["rows"][1];
    assert_eq!(
        (row["state"].as_str(), row["verdict_name"].as_str()),
        (Some("pending"), Some("abandoned")),
        "{row}"
    );

    // Slot 1 recorded again reopens the session; slot 2 is still to record,
    // and records under a new id.
    let (code, st) = board_post(&control, "/api/v1/takes/again", json!({"slots": [1]}));
    assert_eq!(code, 200, "{st}");
    board_wait(&control, "slot 1 again", 30, |s| {
        s["done"] == 1 && s["phase"] == "armed"
    });
    let (code, st) = board_post(&control, "/api/v1/start", json!({}));
    assert_eq!(code, 200, "{st}");
    let second = st["take_id"].as_str().unwrap().to_string();
    assert_ne!(second, aborted);
    assert_eq!(st["slot"]["articulation"], "long", "{st}");
    board_wait(&control, "slot 2 recorded", 60, |s| {
        s["phase"] == "finished"
    });
    let confirmed: Vec<Value> = events(&ws, &id, "confirmation");
    assert!(
        confirmed.iter().any(|c| c["take_id"] == second.as_str()),
        "{confirmed:?}"
    );
    assert!(!confirmed.iter().any(|c| c["take_id"] == aborted.as_str()));
    assert_eq!(share_wavs(&ws).len(), 3, "{:?}", share_wavs(&ws));
}

fn signal(d: &Daemon, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(d.pid() as i32);
    nix::sys::signal::kill(pid, sig).unwrap();
}

#[test]
fn a_recorder_that_does_not_answer_holds_no_abort_up_and_late_answers_stay_in_their_session() {
    let (ws1, ws2) = (Workspace::new(), Workspace::new());
    ws1.mount_share();
    ws2.mount_share();
    let (p1, p2) = (free_port(), free_port());
    let device = json!({"capture": {"device": "takebox:sine=440"}});
    ws2.write_board_config(p2, device.clone());
    let mut patch = json!({
        "control": {"recorders": [format!("http://127.0.0.1:{p1}"), format!("http://127.0.0.1:{p2}")],
                    "on_warning": "continue"},
        "articulation_durations": {"short": 0.5, "medium": 0.5, "long": 8.0, "transient": 0.05}});
    merge(&mut patch, &device);
    ws1.write_board_config(p1, patch);
    let _c1 = Daemon::capture(&ws1, None);
    let c2 = Daemon::capture(&ws2, None);
    let control = Daemon::control(&ws1);
    board_wait(&control, "both recorders ready", 30, |s| {
        (0..2).all(|i| s["recorders"][i]["ready"] == true)
    });
    let session = |note: &str| {
        let (code, begun) = board_post(
            &control,
            "/api/v1/session",
            json!({"instrument": "guitar", "lowest_note": note, "highest_note": note,
                   "articulations": ["long"], "auto_advance": false}),
        );
        assert_eq!(code, 201, "{begun}");
        begun["session_id"].as_str().unwrap().to_string()
    };
    let first = session("A4");
    let (code, st) = board_post(&control, "/api/v1/start", json!({}));
    assert_eq!(code, 200, "{st}");
    let take = st["take_id"].as_str().unwrap().to_string();
    let on_second = format!("{take}-r2");
    wait_for("the take recording on both", ANSWER_BOUND, || {
        (ws1.spooled_bytes(&take) > 48_000 * 3 && ws2.spooled_bytes(&on_second) > 48_000 * 3)
            .then_some(())
    });

    // The second recorder stops answering (a machine that hung); the abort
    // and a new session go through regardless.
    signal(&c2, nix::sys::signal::Signal::SIGSTOP);
    let (code, st) = board_post(&control, "/api/v1/abort", json!({}));
    assert_eq!((code, st["phase"].as_str()), (200, Some("aborted")), "{st}");
    let second = session("B4");
    let answers = wait_for("both recorders' lines", ANSWER_BOUND, || {
        let lines = events(&ws1, &first, "take_aborted");
        (lines.len() == 2).then_some(lines)
    });
    signal(&c2, nix::sys::signal::Signal::SIGCONT);
    let by = |id: &str| answers.iter().find(|l| l["take_id"] == id).unwrap();
    assert_eq!(by(&take)["outcome"], "stopped", "{answers:?}");
    assert_eq!(by(&take)["recorder"], format!("http://127.0.0.1:{p1}"));
    let silent = by(&on_second);
    assert!(
        silent["error"].as_str().unwrap().contains("no answer"),
        "{silent}"
    );
    assert!(silent.get("outcome").is_none(), "{silent}");
    assert!(events(&ws1, &second, "take_aborted").is_empty());
    assert_eq!(share_wavs(&ws1), Vec::<String>::new());
}

#[test]
fn a_take_aborted_on_the_recorder_by_someone_else_is_recorded_again_under_a_new_id() {
    let (ws, capture, control, id) = board_session(json!(["long"]));
    let (_, st) = board_post(&control, "/api/v1/start", json!({}));
    let take = st["take_id"].as_str().unwrap().to_string();
    wait_for("the take recording", ANSWER_BOUND, || {
        (ws.spooled_bytes(&take) > 48_000 * 3).then_some(())
    });
    // Not the board: a script with the token stops it on the recorder. The
    // board's waiting command hears `aborted`, and the slot is armed again.
    let (code, stopped) = abort(&capture, &take, Some(TOKEN));
    assert_eq!((code, stopped["outcome"].as_str()), (200, Some("stopped")));
    let st = board_wait(&control, "the slot armed again", 30, |s| {
        s["phase"] == "armed"
            && s["message"]
                .as_str()
                .is_some_and(|m| m.contains("was aborted"))
    });
    assert_eq!(st["done"], 0, "{st}");
    let rearm = &events(&ws, &id, "rearm")[0];
    assert_eq!(rearm["take_id"], take.as_str(), "{rearm}");
    assert!(
        rearm["reason"].as_str().unwrap().contains("aborted"),
        "{rearm}"
    );
    assert!(
        events(&ws, &id, "error").is_empty(),
        "not a recorder failure"
    );
    let row = &board_get(&control, "/api/v1/takes")["rows"][0];
    assert_eq!(row["verdict_name"], "abandoned", "{row}");
    let (_, st) = board_post(&control, "/api/v1/start", json!({}));
    assert_ne!(st["take_id"].as_str(), Some(take.as_str()), "{st}");
}
