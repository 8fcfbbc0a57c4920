//! An unattended session as real processes (takebox-control driving
//! takebox-capture recording a PulseAudio null sink): a take flagged for a
//! reason a second pass can fix is recorded again under a new take id, the
//! flagged one stays on the share and in the log, superseded; a slot whose
//! retakes all fail stays flagged and the session goes on to its end.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The status's `start_at` as wall-clock time.
fn planned_start(st: &Value) -> SystemTime {
    st["start_at"]
        .as_str()
        .unwrap_or_else(|| panic!("no start_at in {st}"))
        .parse::<takebox::protocol::Timestamp>()
        .unwrap()
        .0
}

/// The board's status once a take of `take_id` is counting down (or later).
fn take_under_way(control: &Daemon, take_id: &str) -> Value {
    board_wait(control, take_id, 60, |s| {
        s["take_id"] == take_id && s["start_at"].is_string()
    })
}

#[test]
fn flagged_takes_are_recorded_again_until_good_or_out_of_retakes_and_the_session_goes_on() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    // A countdown long enough for the test to see each take coming on a
    // loaded machine; on_warning pause, which an unattended session overrides.
    ws.write_board_config(
        free_port(),
        json!({"countdown_duration": 2, "articulation_durations": {"short": 0.2, "medium": 0.5, "long": 1.0, "transient": 0.05},
               "control": {"on_warning": "pause", "unattended": {"retakes": 2}}}),
    );
    // The recorder's port is in the config written above.
    let _capture = Daemon::capture(&ws, Some(&pulse));
    let control = Daemon::control(&ws);
    board_wait(&control, "the recorder ready", 20, |s| {
        s["recorders"][0]["ready"] == true
    });
    let tone = ws.share().parent().unwrap().join("a4.wav");
    write_tone(&tone, 440.0, 0.5, 2.5);
    pulse.upload_sample(&tone, "a4");

    let (code, begun) = board_post(
        &control,
        "/api/v1/session",
        json!({"instrument": "guitar", "lowest_note": "A4", "highest_note": "A#4",
               "articulations": ["long"], "user_initials": "un", "unattended": true}),
    );
    assert_eq!(code, 201, "{begun}");
    let id = begun["session_id"].as_str().unwrap().to_string();
    let take = |slot: u32, attempt: u32| format!("{id}-{slot:04}-{attempt}");
    // Nobody presses Start. Slot 1's first take hears a quiet room (silent);
    // its retake hears A4 from its planned start.
    take_under_way(&control, &take(1, 1));
    let st = take_under_way(&control, &take(1, 2));
    let start = planned_start(&st);
    wait_for("slot 1's retake to start", Duration::from_secs(30), || {
        (SystemTime::now() >= start).then_some(())
    });
    pulse.play_sample("a4");
    // Slot 2 is never played: silent three times, then kept flagged.
    let done = board_wait(&control, "the session to finish", 120, |s| {
        assert_ne!(
            s["phase"], "paused",
            "an unattended session never pauses: {s}"
        );
        s["phase"] == "finished"
    });
    let log = session_log(&ws, &id);
    assert_eq!(
        (done["done"].as_u64(), done["attention"].as_u64()),
        (Some(2), Some(1)),
        "{done}\n{log:#?}"
    );

    let retakes: Vec<(String, String)> = log
        .iter()
        .filter(|l| l["event"] == "retake")
        .map(|l| {
            (
                l["superseded"].as_str().unwrap().into(),
                l["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    let silent = |t: String| (t, "silent".to_string());
    assert_eq!(
        retakes,
        vec![silent(take(1, 1)), silent(take(2, 1)), silent(take(2, 2))],
        "one retake for slot 1, the two allowed for slot 2"
    );
    let confirmed: Vec<(String, String)> = log
        .iter()
        .filter(|l| l["event"] == "confirmation")
        .map(|l| {
            (
                l["take_id"].as_str().unwrap().into(),
                l["filename"].as_str().unwrap().into(),
            )
        })
        .collect();
    let ids: Vec<&str> = confirmed.iter().map(|(t, _)| t.as_str()).collect();
    let expected = [take(1, 1), take(1, 2), take(2, 1), take(2, 2), take(2, 3)];
    assert_eq!(ids, expected.iter().map(String::as_str).collect::<Vec<_>>());
    // Every attempt stays on the share, each in its own file.
    for (_, file) in &confirmed {
        assert!(ws.share().join(file).exists(), "{file}");
    }
    let mut files: Vec<&String> = confirmed.iter().map(|(_, f)| f).collect();
    files.dedup();
    assert_eq!(files.len(), 5, "{files:?}");

    // The take list stands on the retake; slot 2 is flagged with its verdict.
    let list = board_get(&control, "/api/v1/takes");
    let rows = list["rows"].as_array().unwrap();
    assert_eq!(
        (
            rows[0]["take_id"].as_str(),
            rows[0]["verdict_name"].as_str()
        ),
        (Some(take(1, 2).as_str()), Some("ok")),
        "{list}"
    );
    assert_eq!(
        (
            rows[1]["take_id"].as_str(),
            rows[1]["verdict_name"].as_str()
        ),
        (Some(take(2, 3).as_str()), Some("silent")),
        "{list}"
    );
    assert_eq!(
        (rows[0]["attempts"].as_u64(), rows[1]["attempts"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(rows[1]["attention"], true, "{list}");
    assert_eq!(list["attention"], 1, "{list}");

    // The exports make the instrument of the same takes: one per slot.
    exported_takes_are_the_kept_ones(&ws, &id, &[take(1, 2), take(2, 3)]);
}

/// `takebox export csv` of the session lists exactly `kept`.
fn exported_takes_are_the_kept_ones(ws: &Workspace, id: &str, kept: &[String]) {
    let out = ws.share().parent().unwrap().join("export");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_takebox"))
        .args(["export", "csv", id, "--out"])
        .arg(&out)
        .arg("--logs")
        .arg(ws.log_dir())
        .arg("--share")
        .arg(ws.share())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("a .csv");
    let text = std::fs::read_to_string(Path::new(&csv)).unwrap();
    let mut ids: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        kept.iter().map(String::as_str).collect::<Vec<_>>(),
        "{text}"
    );
}
