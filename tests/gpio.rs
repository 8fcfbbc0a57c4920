//! The button and LEDs with the simulated backend, through a real takebox-control
//! driving a real takebox-capture (PulseAudio null sink), all on loopback; and a
//! chardev backend whose chip is missing.

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

fn api(d: &Daemon, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    http(
        d.addr,
        method,
        path,
        Some(TOKEN),
        body.map(|b| serde_json::to_vec(&b).unwrap()),
    )
}

fn wait_status(d: &Daemon, what: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    wait_for(what, Duration::from_secs(secs), || {
        let (code, s) = api(d, "GET", "/api/v1/status", None);
        (code == 200 && pred(&s)).then_some(s)
    })
}

/// `takebox button press ...` against the control daemon.
fn button(d: &Daemon, extra: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_takebox"))
        .args(["button", "press", "--url", &format!("http://{}", d.addr)])
        .args(extra)
        .env("TAKEBOX_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "takebox button press: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_press_drives_a_whole_take_and_the_leds_show_countdown_recording_and_the_verdict() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    let port = free_port();
    ws.write_board_config(
        port,
        // A quiet room: a silent take warns, and the cycle goes on past it.
        json!({"countdown_duration": 2.0,
               "control": {"gpio": {"backend": "sim"}, "on_warning": "continue"}}),
    );
    let _capture = Daemon::capture(&ws, Some(&pulse));
    let control = Daemon::control(&ws);
    wait_status(&control, "the recorder to show as up", 30, |s| {
        s["recorders"][0]["up"] == true
    });
    let (code, st) = api(&control, "GET", "/api/v1/status", None);
    assert_eq!(code, 200);
    assert_eq!(
        st["gpio"],
        json!({"backend": "sim", "running": true, "error": null})
    );
    let (code, begun) = api(
        &control,
        "POST",
        "/api/v1/session",
        json!({"instrument": "guitar", "lowest_note": "A4", "highest_note": "Bb4",
               "articulations": ["short"], "user_initials": "gp"})
        .into(),
    );
    assert_eq!(code, 201, "{begun}");
    let id = begun["session_id"].as_str().unwrap().to_string();

    // A short press: the first slot is recorded and confirmed.
    button(&control, &[]);
    let st = wait_status(&control, "the first take to be confirmed", 30, |s| {
        s["done"] == 1 && s["phase"] == "armed"
    });
    let verdict = st["last"]["verdict"].as_str().unwrap().to_string();
    let wavs = share_wavs(&ws);
    assert_eq!(wavs.len(), 1, "{wavs:?}");
    assert!(wavs[0].contains("_A4_short_"), "{wavs:?}");

    leds_showed_the_take(&control, &verdict);

    // A long press: the confirmed take is recorded again.
    button(&control, &["--long"]);
    wait_status(&control, "the retake to be confirmed", 30, |s| {
        s["phase"] == "armed" && s["last"]["take_id"] != st["last"]["take_id"]
    });
    assert_eq!(share_wavs(&ws).len(), 2);

    // Every press is in the session log, before the command it gave.
    presses_logged_before_their_commands(&session_log(&ws, &id));
}

/// The LEDs: the countdown, 2 LEDs then 1, the status LED steady from the
/// take's start instant, then `verdict`'s signal.
fn leds_showed_the_take(control: &Daemon, verdict: &str) {
    let (code, leds) = api(control, "GET", "/api/v1/gpio/leds", None);
    assert_eq!(code, 200);
    assert_eq!(
        leds["names"],
        json!(["status", "countdown1", "countdown2", "countdown3"])
    );
    let changes = leds["changes"].as_array().unwrap();
    let first = |p: &str| {
        changes
            .iter()
            .position(|c| c["pattern"] == p)
            .unwrap_or_else(|| panic!("no {p} in {leds}"))
    };
    let flash = if verdict == "ok" { "ok" } else { "warning" };
    let (cd, rec) = (first("countdown"), first("recording"));
    let signal = first(flash);
    assert!(cd < rec && rec < signal, "{leds}");
    let counted: Vec<&Value> = changes[cd..rec].iter().map(|c| &c["leds"]).collect();
    assert_eq!(
        counted,
        vec![
            &json!([false, true, true, false]),
            &json!([false, true, false, false])
        ],
        "{leds}"
    );
    assert_eq!(changes[rec]["leds"], json!([true, false, false, false]));
    let start_ms = changes[rec]["start_ms"].as_f64().unwrap();
    let late = changes[rec]["t_ms"].as_f64().unwrap() - start_ms;
    // Exact in simulated time (unit tests); here, real time on a loaded machine
    // (the requirement is 2 ms; about 0.2 ms is usual).
    eprintln!("recording LED lit {late:.3} ms after the take's start");
    assert!(
        (0.0..15.0).contains(&late),
        "recording LED {late} ms after the start"
    );
    assert!(changes[signal]["leds"][0] == true);
}

/// Both presses (short: start, long: retake), each before the command it gave.
fn presses_logged_before_their_commands(log: &[Value]) {
    let presses: Vec<&Value> = log.iter().filter(|l| l["event"] == "button").collect();
    assert_eq!(presses.len(), 2, "{log:?}");
    assert_eq!(
        (
            &presses[0]["press"],
            &presses[0]["action"],
            &presses[0]["held_ms"]
        ),
        (&json!("short"), &json!("start"), &json!(200))
    );
    assert_eq!(
        (&presses[1]["press"], &presses[1]["action"]),
        (&json!("long"), &json!("retake"))
    );
    let at = |pred: &dyn Fn(&Value) -> bool| log.iter().position(pred).unwrap();
    assert!(
        at(&|l| l["event"] == "button")
            < at(&|l| l["event"] == "command" && l["command"] == "start")
    );
    assert!(log.iter().any(|l| l["event"] == "retake"));
    assert_eq!(
        log.iter().filter(|l| l["event"] == "confirmation").count(),
        2
    );
}

#[test]
fn a_missing_chip_is_named_and_the_page_goes_on_alone() {
    let ws = Workspace::new();
    ws.write_board_config(
        free_port(),
        json!({"control": {"gpio": {"backend": "chardev", "chip": "/dev/gpiochip-takebox-missing"}}}),
    );
    let control = Daemon::control(&ws);
    let (code, _, page) = raw_http(control.addr, "GET", "/", &[], b"");
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("takebox"), "{page}");
    let (code, st) = api(&control, "GET", "/api/v1/status", None);
    assert_eq!(code, 200);
    assert_eq!(st["gpio"]["running"], false);
    let err = st["gpio"]["error"].as_str().unwrap();
    assert!(err.contains("/dev/gpiochip-takebox-missing"), "{err}");
    assert!(err.contains("button on line offset 20"), "{err}");
    control.wait_for_log("button and LEDs off");
    control.wait_for_log("/dev/gpiochip-takebox-missing");
    // The simulated button exists only with the sim backend; the API needs the token.
    let (code, _) = api(
        &control,
        "POST",
        "/api/v1/gpio/press",
        Some(json!({"ms": 100})),
    );
    assert_eq!(code, 404);
    let (code, _) = http(control.addr, "GET", "/api/v1/gpio/leds", None, None);
    assert_eq!(code, 401);
    // The tool says why it could not press; a bad command line is a usage error.
    let tool = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_takebox"))
            .args(args)
            .env("TAKEBOX_TOKEN", TOKEN)
            .output()
            .unwrap()
    };
    let url = format!("http://{}", control.addr);
    let out = tool(&["button", "press", "--url", &url]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404") && err.contains("sim"), "{err}");
    assert_eq!(
        tool(&["button", "push", "--url", &url]).status.code(),
        Some(2)
    );
    assert_eq!(
        tool(&["button", "press", "--ms", "x"]).status.code(),
        Some(2)
    );
}

#[test]
fn with_the_abort_policy_a_press_during_the_countdown_aborts_and_a_down_recorder_blinks_slowly() {
    // A generated input (no sound server); the recorder goes down once the
    // session is aborted (Start is refused while a recorder is down).
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_board_config(
        free_port(),
        json!({"countdown_duration": 3.0, "capture": {"device": "takebox:silence"},
               "control": {"gpio": {"backend": "sim", "press_during_take": "abort"}}}),
    );
    let mut capture = Daemon::capture(&ws, None);
    let control = Daemon::control(&ws);
    wait_status(&control, "the recorder to show as up", 30, |s| {
        s["recorders"][0]["up"] == true
    });
    let (code, begun) = api(
        &control,
        "POST",
        "/api/v1/session",
        json!({"instrument": "guitar", "lowest_note": "A4", "highest_note": "A4",
               "articulations": ["short"]})
        .into(),
    );
    assert_eq!(code, 201, "{begun}");
    let id = begun["session_id"].as_str().unwrap().to_string();
    let (code, _) = api(
        &control,
        "POST",
        "/api/v1/gpio/press",
        Some(json!({"ms": 150})),
    );
    assert_eq!(code, 200);
    wait_status(&control, "the countdown", 30, |s| s["phase"] == "countdown");
    let (code, _) = api(
        &control,
        "POST",
        "/api/v1/gpio/press",
        Some(json!({"ms": 150})),
    );
    assert_eq!(code, 200);
    wait_status(&control, "the abort", 30, |s| s["phase"] == "aborted");
    capture.kill9();
    wait_for(
        "the slow blink of a down recorder",
        Duration::from_secs(30),
        || {
            let (_, leds) = api(&control, "GET", "/api/v1/gpio/leds", None);
            leds["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["pattern"] == "recorder_down")
                .then_some(())
        },
    );

    let log = session_log(&ws, &id);
    let presses: Vec<(&Value, &Value)> = log
        .iter()
        .filter(|l| l["event"] == "button")
        .map(|l| (&l["phase"], &l["action"]))
        .collect();
    assert_eq!(
        presses,
        vec![
            (&json!("armed"), &json!("start")),
            (&json!("countdown"), &json!("abort"))
        ]
    );
    assert!(
        log.iter()
            .any(|l| l["event"] == "take_cancelled" || l["event"] == "take_abandoned"),
        "{log:?}"
    );
    // A take already sent is stopped on the recorder too: its answer may
    // come as a `take_aborted` line after the session's end.
    let end = log.iter().rev().find(|l| l["event"] == "session_end");
    assert_eq!(end.unwrap()["status"], "aborted", "{log:?}");
}
