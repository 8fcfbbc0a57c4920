//! The session flow through the JSON API and the page's forms, with real
//! daemons on loopback and a generated input (silence: every take warns):
//! `control.on_warning`, the take list, recording again after the session
//! finished (reopen), Start refused while the recorder is down, a lost take
//! said in words, listening back with range requests, and what survives a
//! restart of takebox-control.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

fn begin(control: &Daemon, highest: &str, auto_advance: bool) -> String {
    let (code, begun) = board_post(
        control,
        "/api/v1/session",
        json!({"instrument": "guitar", "lowest_note": "A4", "highest_note": highest,
               "articulations": ["short"], "auto_advance": auto_advance}),
    );
    assert_eq!(code, 201, "{begun}");
    begun["session_id"].as_str().unwrap().to_string()
}

fn takes(control: &Daemon) -> Value {
    board_get(control, "/api/v1/takes")
}

fn events(ws: &Workspace, id: &str, event: &str) -> Vec<Value> {
    session_log(ws, id)
        .into_iter()
        .filter(|l| l["event"] == event)
        .collect()
}

/// A header's value in a raw answer's head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn a_silent_take_pauses_the_session_and_is_recorded_again_after_it_finished() {
    // A countdown long enough that a take is surely still under way when the
    // answer that started it has been read, however loaded the machine.
    let (ws, _capture, mut control) =
        generated_board("takebox:silence", json!({"countdown_duration": 3.0}));
    let id = begin(&control, "A#4", true);
    let (code, st) = board_post(&control, "/api/v1/start", json!({}));
    assert_eq!(code, 200, "{st}");
    // on_warning is `pause` by default: auto-advance stops after the silent take.
    let st = board_wait(&control, "the pause after the silent take", 30, |s| {
        s["phase"] == "paused"
    });
    assert_eq!(
        (st["done"].as_u64(), st["attention"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(st["last"]["verdict"], "warn");
    assert_eq!(st["last"]["figures"]["verdict_name"], "silent");
    assert!(
        st["last"].get("verdict_name").is_none(),
        "one figures object"
    );
    let message = st["message"].as_str().unwrap();
    assert!(message.contains("needs attention: silent"), "{message}");
    let list = takes(&control);
    assert_eq!(list["rows"][0]["verdict_name"], "silent");
    assert_eq!(list["rows"][0]["attention"], true);
    assert_eq!(list["rows"][1]["state"], "pending");

    // Resume goes on; the last slot warns too and the session finishes.
    let (code, st) = board_post(&control, "/api/v1/resume", json!({}));
    assert_eq!(code, 200, "{st}");
    let st = board_wait(&control, "the end", 30, |s| s["phase"] == "finished");
    assert_eq!(st["attention"], 2);
    listening_back(&ws, &control, st["last"]["take_id"].as_str().unwrap());

    // Recording again refuses what cannot be done, naming it.
    for (body, code) in [
        (json!({"slots": [9]}), 409),
        (json!({}), 400),
        (json!({"slots": [1], "attention": true}), 400),
    ] {
        let (got, e) = board_post(&control, "/api/v1/takes/again", body.clone());
        assert_eq!(got, code, "{body}: {e}");
    }
    // The review's one button: both takes again, the session reopened.
    let (code, st) = board_post(&control, "/api/v1/takes/again", json!({"attention": true}));
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["phase"], "countdown");
    let (code, e) = board_post(&control, "/api/v1/takes/again", json!({"slots": [1]}));
    assert_eq!(code, 409, "slot 1 is under way: {e}");
    board_wait(&control, "the pause in the reopened session", 30, |s| {
        s["phase"] == "paused"
    });
    board_post(&control, "/api/v1/resume", json!({}));
    board_wait(&control, "the end again", 30, |s| s["phase"] == "finished");
    let list = takes(&control);
    assert_eq!(list["rows"][0]["attempts"], 2);
    assert_eq!(list["rows"][1]["attempts"], 2);
    assert_eq!(
        events(&ws, &id, "session_reopened")[0]["slots"],
        json!([1, 2])
    );
    assert_eq!(events(&ws, &id, "retake").len(), 2);
    assert_eq!(events(&ws, &id, "session_end").len(), 2);
    // The catalog's reader sees the first takes superseded by the second.
    let record =
        takebox::session_log_format::read(&ws.log_dir().join(format!("{id}.jsonl"))).unwrap();
    assert_eq!(record.takes.iter().filter(|t| t.superseded).count(), 2);
    assert_eq!(record.playable().count(), 2);

    // A restart of takebox-control keeps the last confirmation and the list.
    let before = board_get(&control, "/api/v1/status");
    control.terminate();
    // As an older board saved it: no figures; they come back from the log.
    let file = ws.state_dir().join(format!("sessions/{id}.json"));
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for slot in saved["progress"].as_array_mut().unwrap() {
        for take in slot["takes"].as_array_mut().unwrap() {
            take.as_object_mut()
                .unwrap()
                .remove("figures")
                .expect("figures");
        }
    }
    std::fs::write(&file, serde_json::to_vec(&saved).unwrap()).unwrap();
    let control = Daemon::control(&ws);
    let after = board_get(&control, "/api/v1/status");
    assert_eq!(after["phase"], "finished");
    assert_eq!(after["last"]["take_id"], before["last"]["take_id"]);
    assert_eq!(after["last"]["figures"]["verdict_name"], "silent");
    // The waveform comes back from the session log's confirmation line.
    assert!(
        before["last"]["waveform"]["envelope"]["max"]
            .as_array()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        before["last"]
    );
    assert_eq!(after["last"]["waveform"], before["last"]["waveform"]);
    assert_eq!(takes(&control), list);
    let page = raw_http(control.addr, "GET", "/", &[], b"").2;
    assert!(page.contains("2 takes need attention"), "{page}");
    assert!(page.contains("id=\"last_audio\""), "{page}");
    assert!(page.contains("id=\"wave_path\" d=\"M0.5 "), "{page}");
}

/// The last take's file from the board: whole, in ranges, 416 outside it;
/// nothing but a confirmed file, whatever the URL tries.
fn listening_back(ws: &Workspace, control: &Daemon, take_id: &str) {
    let list = takes(control);
    let path = list["rows"][1]["paths"][0].as_str().unwrap();
    let len = std::fs::metadata(ws.share().join(path)).unwrap().len();
    let url = format!("/audio/{take_id}");
    assert_eq!(list["rows"][1]["play"], url.as_str());
    let get = |range: Option<&str>| {
        let headers: Vec<(&str, &str)> = range.map(|r| ("Range", r)).into_iter().collect();
        raw_http(control.addr, "GET", &url, &headers, b"")
    };
    let (code, head, _) = get(None);
    assert_eq!(code, 200, "{head}");
    assert_eq!(
        header(&head, "content-length"),
        Some(len.to_string().as_str())
    );
    assert_eq!(header(&head, "accept-ranges"), Some("bytes"));
    assert_eq!(header(&head, "content-type"), Some("audio/wav"));
    let (code, head, body) = get(Some("bytes=0-3"));
    assert_eq!((code, body.as_str()), (206, "RIFF"), "{head}");
    let expected = format!("bytes 0-3/{len}");
    assert_eq!(header(&head, "content-range"), Some(expected.as_str()));
    let (code, head, _) = get(Some("bytes=-10"));
    assert_eq!(code, 206);
    let expected = format!("bytes {}-{}/{len}", len - 10, len - 1);
    assert_eq!(header(&head, "content-range"), Some(expected.as_str()));
    assert_eq!(header(&head, "content-length"), Some("10"));
    for bad in [
        format!("bytes={len}-"),
        "bytes=9-2".into(),
        "bytes=x".into(),
    ] {
        let (code, head, _) = get(Some(&bad));
        assert_eq!(code, 416, "{bad}: {head}");
        let expected = format!("bytes */{len}");
        assert_eq!(header(&head, "content-range"), Some(expected.as_str()));
    }
    // Only a file a confirmation names: no path reaches the URL.
    let config = ws.config_path().display().to_string();
    for trick in [
        "/audio/..%2Fconfig.json".to_string(),
        "/audio/../config.json".into(),
        format!("/audio/{take_id}%2F..%2F..%2Fconfig.json"),
        format!("/audio/{}", config.replace('/', "%2F")),
        "/audio/".into(),
    ] {
        let (code, _, body) = raw_http(control.addr, "GET", &trick, &[], b"");
        assert_eq!(code, 404, "{trick}: {body}");
        assert!(!body.contains("capture"), "{trick} served a file: {body}");
    }
    let (code, _) = http(
        control.addr,
        "GET",
        &format!("/api/v1{url}"),
        Some(TOKEN),
        None,
    );
    assert_eq!(code, 200, "the API serves it with the token");
    let (code, _) = http(control.addr, "GET", &format!("/api/v1{url}"), None, None);
    assert_eq!(code, 401, "and only with the token");
}

#[test]
fn on_warning_retake_records_the_slot_again_a_few_times_then_stops_to_ask() {
    let (ws, _capture, control) = generated_board(
        "takebox:silence",
        json!({"control": {"on_warning": "retake"}}),
    );
    let id = begin(&control, "A4", true);
    board_post(&control, "/api/v1/start", json!({}));
    let st = board_wait(&control, "the end", 60, |s| s["phase"] == "finished");
    // Two retakes by themselves, then the third silent take is kept and listed.
    assert_eq!(events(&ws, &id, "retake").len(), 2);
    let list = takes(&control);
    assert_eq!(list["rows"][0]["attempts"], 3);
    assert_eq!(list["attention"], 1);
    assert_eq!(st["attention"], 1);
    let messages: Vec<Value> = events(&ws, &id, "confirmation");
    assert_eq!(messages.len(), 3);
}

#[test]
fn start_is_refused_while_the_recorder_is_down_and_a_lost_take_says_so() {
    let (ws, mut capture, control) = generated_board(
        "takebox:silence",
        json!({"control": {"on_warning": "continue"},
               "articulation_durations": {"short": 4.0, "medium": 0.5, "long": 1.0, "transient": 0.05}}),
    );
    let id = begin(&control, "A4", false);
    capture.kill9();
    board_wait(&control, "the recorder to show as down", 10, |s| {
        s["recorders"][0]["up"] == false
    });
    let (code, e) = board_post(&control, "/api/v1/start", json!({}));
    assert_eq!(code, 409, "{e}");
    assert!(e["message"].as_str().unwrap().contains("is down"), "{e}");
    // The page says so too, in the answer itself (no notice in the URL).
    let (code, head, page) = post_form(control.addr, "/control", "command=start");
    assert_eq!(code, 409, "{head}");
    assert!(header(&head, "location").is_none(), "{head}");
    assert!(
        page.contains("id=\"flash\"") && page.contains("is down"),
        "{page}"
    );
    assert_eq!(board_get(&control, "/api/v1/status")["phase"], "armed");

    // Back up: Start works; the recorder dies mid-take and the take is lost.
    let capture = Daemon::capture(&ws, None);
    board_wait(&control, "the recorder to show as up", 10, |s| {
        s["recorders"][0]["up"] == true && s["recorders"][0]["ready"] == true
    });
    let (code, st) = board_post(&control, "/api/v1/start", json!({}));
    assert_eq!(code, 200, "{st}");
    let mut capture = capture;
    let recording = wait_for("the take to record", Duration::from_secs(30), || {
        let (_, s) = capture.get("/v1/status");
        s["recording"].as_str().map(String::from)
    });
    // Killed once its audio is in the spool: mid-recording, not while the
    // command waits for its start (a recorder back before then records it).
    wait_for(
        "the take's audio in the spool",
        Duration::from_secs(30),
        || (ws.spooled_bytes(&recording) > 44).then_some(()),
    );
    capture.kill9();
    let _capture = Daemon::capture(&ws, None);
    let st = board_wait(&control, "the lost take's re-arm", 40, |s| {
        s["phase"] == "armed"
            && s["message"]
                .as_str()
                .is_some_and(|m| m.contains("was lost"))
    });
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .contains("slot 1 (A4 short)"),
        "{st}"
    );
    let row = &takes(&control)["rows"][0];
    assert_eq!(row["verdict_name"], "lost", "{row}");
    assert!(
        row["detail"].as_str().unwrap().contains("was lost"),
        "{row}"
    );
    let page = raw_http(control.addr, "GET", "/takes", &[], b"").2;
    assert!(page.contains("was lost"), "{page}");
    assert_eq!(events(&ws, &id, "rearm").len(), 1);
}

#[test]
fn abort_asks_first_and_initiate_says_a_session_is_open() {
    let (_ws, _capture, control) = generated_board(
        "takebox:silence",
        json!({"control": {"on_warning": "continue"}}),
    );
    begin(&control, "A4", false);
    let page = raw_http(control.addr, "GET", "/initiate", &[], b"").2;
    assert!(page.contains("id=\"open_session\""), "{page}");
    assert!(
        !page.contains("id=\"begin\""),
        "no second session offered: {page}"
    );
    let (code, _, page) = post_form(control.addr, "/control", "command=abort");
    assert_eq!(code, 200);
    assert!(page.contains("id=\"abort_confirm\""), "{page}");
    assert_eq!(board_get(&control, "/api/v1/status")["phase"], "armed");
    let (code, _, _) = post_form(control.addr, "/control", "command=abort&confirm=1");
    assert_eq!(code, 303);
    assert_eq!(board_get(&control, "/api/v1/status")["phase"], "aborted");
    let page = raw_http(control.addr, "GET", "/initiate", &[], b"").2;
    assert!(page.contains("id=\"begin\""), "{page}");
}

/// The Initiate form's "Unattended" box: the session says so in the status,
/// advances by itself, and records a flagged (here silent) take again under a
/// new id as many times as Settings allows, without pausing.
#[test]
fn the_initiate_forms_unattended_box_begins_a_session_that_retakes_by_itself() {
    let (ws, _capture, control) = generated_board(
        "takebox:silence",
        json!({"countdown_duration": 1, "control": {"on_warning": "pause", "unattended": {"retakes": 1}}}),
    );
    let page = raw_http(control.addr, "GET", "/initiate", &[], b"").2;
    assert!(
        page.contains(r#"name="unattended" id="unattended""#)
            && page.contains("retakes per note: 1"),
        "{page}"
    );
    let (code, head, page) = post_form(
        control.addr,
        "/initiate",
        "instrument=guitar&lowest_note=A4&highest_note=A4&articulations=short&user_initials=un&unattended=1",
    );
    assert_eq!(code, 303, "{head}{page}");
    let st = board_get(&control, "/api/v1/status");
    assert_eq!(
        (st["unattended"].as_bool(), st["auto_advance"].as_bool()),
        (Some(true), Some(true)),
        "{st}"
    );
    let id = st["session_id"].as_str().unwrap().to_string();
    let page = raw_http(control.addr, "GET", "/", &[], b"").2;
    assert!(page.contains("· un · unattended"), "{page}");
    // Nobody presses Start: silence, one retake, silence again, kept flagged.
    let done = board_wait(&control, "the session to finish", 120, |s| {
        assert_ne!(
            s["phase"], "paused",
            "an unattended session never pauses: {s}"
        );
        s["phase"] == "finished"
    });
    assert_eq!(done["attention"].as_u64(), Some(1), "{done}");
    let retakes = events(&ws, &id, "retake");
    assert_eq!(retakes.len(), 1, "{retakes:?}");
    assert_eq!(retakes[0]["superseded"], format!("{id}-0001-1"));
    assert_eq!(retakes[0]["reason"], "silent");
}
