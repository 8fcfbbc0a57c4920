//! takebox-capture as a real process, capturing in real time from a PulseAudio
//! null sink through alsa-lib, answering over HTTP on loopback.

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, SystemTime};

fn rfc3339(t: SystemTime) -> String {
    takebox::protocol::Timestamp(t).to_string()
}

/// First frame whose level exceeds `threshold`.
fn onset(samples: &[f32], threshold: f32) -> Option<usize> {
    samples.iter().position(|s| s.abs() > threshold)
}

/// Frequency by counting rising zero crossings, interpolated, over `samples`.
fn zero_crossing_hz(samples: &[f32], rate: f64) -> f64 {
    let mut crossings = Vec::new();
    for i in 1..samples.len() {
        let (a, b) = (samples[i - 1], samples[i]);
        if a < 0.0 && b >= 0.0 {
            crossings.push((i - 1) as f64 + f64::from(a / (a - b)));
        }
    }
    let n = crossings.len();
    assert!(n > 10, "too few zero crossings: {n}");
    (n - 1) as f64 * rate / (crossings[n - 1] - crossings[0])
}

#[test]
fn tone_played_into_the_sink_comes_back_at_its_frequency_after_the_pre_roll() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    // Raw takes: trimming would (rightly) cut the pre-roll this test looks at.
    // A short period because the null sink renders each block ahead of real
    // time, and its blocks follow the capture stream's period: at 4096 frames
    // its monitor delivers 80 ms early (a hardware input never can), which
    // moved onsets by up to -75 ms. At 512 frames this rig is good to ~10 ms.
    ws.write_config(
        json!({"capture": {"pre_roll_seconds": 1.0, "release_tail_seconds": 0.3, "period_frames": 512},
        "post_processing": {"trim_silence": false, "normalize_audio": false}}),
    );
    let d = Daemon::capture(&ws, Some(&pulse));
    let tone = ws.dir.path().join("tone.wav");
    write_tone(&tone, 440.0, 0.5, 2.0);

    // The note starts 1.5 s from now; the player starts playing at that instant,
    // through a short playback buffer so that its own latency stays small.
    let start = SystemTime::now() + Duration::from_millis(1500);
    let player = {
        let tone = tone.clone();
        let env = pulse.env();
        std::thread::spawn(move || {
            std::thread::sleep(start.duration_since(SystemTime::now()).unwrap_or_default());
            std::process::Command::new("paplay")
                .args(["-d", "studio", "--latency-msec=20"])
                .arg(&tone)
                .envs(env)
                .status()
                .unwrap()
        })
    };
    let (code, conf) = d.post(
        "/v1/takes",
        &take_cmd(
            "tone1",
            json!({"duration": 1.0, "start_at": rfc3339(start)}),
        ),
    );
    assert_eq!(code, 200, "{conf}");
    assert_eq!(conf["state"], "delivered", "{conf}");
    assert_eq!(conf["pre_roll_frames"], 48_000);
    assert_eq!(conf["frames"], 48_000 + 48_000 + 14_400);
    player.join().unwrap();

    let path = ws.share().join(conf["path"].as_str().unwrap());
    assert_eq!(conf["path"], "s1/guitar_A4_long_s1_~tone1.wav");
    let (spec, samples) = read_wav(&path);
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (48_000, 1, 24)
    );
    assert_eq!(samples.len(), 110_400);
    // The pre-roll holds silence, then the tone begins about where the note was planned.
    let on = onset(&samples, 0.05).expect("the tone is in the take");
    let late_ms = (on as f64 - 48_000.0) / 48.0;
    eprintln!("onset {late_ms:.1} ms from the planned start");
    assert!(
        (-30.0..60.0).contains(&late_ms),
        "onset {late_ms:.1} ms from the planned start"
    );
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!((peak - 0.5).abs() < 0.02, "peak {peak}");
    let steady = &samples[on + 4_800..on + 4_800 + 24_000];
    let hz = zero_crossing_hz(steady, 48_000.0);
    assert!((hz - 440.0).abs() < 0.5, "measured {hz} Hz");
    // The confirmation's checksum and peak describe the delivered file.
    let sha = takebox::capture::take::sha256_file(&path).unwrap();
    assert_eq!(conf["sha256"], sha);
    assert!(
        (conf["peak_dbfs"][0].as_f64().unwrap() - (-6.02)).abs() < 0.3,
        "{conf}"
    );
}

#[test]
fn one_take_id_records_once_even_across_restarts() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({}));
    let mut d = Daemon::capture(&ws, Some(&pulse));

    // While a take records, its id answers "in progress" and another id is refused.
    let slow = {
        let addr = d.addr;
        std::thread::spawn(move || {
            http(
                addr,
                "POST",
                "/v1/takes",
                Some(TOKEN),
                Some(serde_json::to_vec(&take_cmd("once", json!({"duration": 2.0}))).unwrap()),
            )
        })
    };
    wait_for("the take to start", Duration::from_secs(5), || {
        (d.get("/v1/status").1["recording"] == "once").then_some(())
    });
    let (code, again) = d.post("/v1/takes", &take_cmd("once", json!({"duration": 2.0})));
    assert_eq!(
        (code, again["state"].as_str()),
        (202, Some("in_progress")),
        "{again}"
    );
    assert_eq!(d.get("/v1/takes/once").0, 202);
    let (code, busy) = d.post("/v1/takes", &take_cmd("other", json!({})));
    assert_eq!(code, 409, "{busy}");
    assert_eq!(busy["error"], "busy");

    let (code, first) = slow.join().unwrap();
    assert_eq!(code, 200, "{first}");
    let (code, second) = d.post("/v1/takes", &take_cmd("once", json!({"duration": 2.0})));
    assert_eq!(code, 200);
    assert_eq!(
        first, second,
        "a retry answers with the stored confirmation"
    );
    assert_eq!(d.get("/v1/takes/once").1, first);

    d.terminate();
    let d = Daemon::capture(&ws, Some(&pulse));
    assert_eq!(
        d.post("/v1/takes", &take_cmd("once", json!({"duration": 2.0})))
            .1,
        first
    );
    let wavs: Vec<_> = ws
        .tree()
        .into_iter()
        .filter(|(p, _)| p.ends_with(".wav"))
        .collect();
    assert_eq!(wavs.len(), 1, "{wavs:?}");
}

#[test]
fn missing_share_spools_and_delivers_when_it_appears_also_after_kill_9() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.write_config(json!({}));
    let mut d = Daemon::capture(&ws, Some(&pulse));

    let (code, a) = d.post("/v1/takes", &take_cmd("a", json!({})));
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["state"], "spooled", "{a}");
    assert!(a["error"].as_str().unwrap().contains("marker"), "{a}");
    let status = d.get("/v1/status").1;
    assert_eq!(status["spool_pending"], json!(["a"]));
    assert_eq!(status["share"]["available"], false);
    // Nothing is written into the bare mount point.
    assert_eq!(std::fs::read_dir(ws.share()).unwrap().count(), 0);

    let (_, b) = d.post("/v1/takes", &take_cmd("b", json!({})));
    assert_eq!(b["state"], "spooled");
    d.kill9();

    ws.mount_share();
    let d = Daemon::capture(&ws, Some(&pulse));
    for (id, before) in [("a", &a), ("b", &b)] {
        let done = wait_for("delivery after restart", Duration::from_secs(15), || {
            let (_, c) = d.get(&format!("/v1/takes/{id}"));
            (c["state"] == "delivered").then_some(c)
        });
        let file = ws.share().join(done["path"].as_str().unwrap());
        assert_eq!(
            takebox::capture::take::sha256_file(&file).unwrap(),
            before["sha256"].as_str().unwrap()
        );
        assert!(done.get("error").is_none(), "{done}");
    }
    assert_eq!(d.get("/v1/status").1["spool_pending"], json!([]));
    assert!(
        !ws.tree().iter().any(|(p, _)| p.contains("pending/")),
        "{:?}",
        ws.tree()
    );
}

#[test]
fn kill_9_mid_take_leaves_no_file_under_a_final_name() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({}));
    let mut d = Daemon::capture(&ws, Some(&pulse));
    let addr = d.addr;
    let t = std::thread::spawn(move || {
        takebox_request(addr, &take_cmd("cut", json!({"duration": 5.0})))
    });
    wait_for("the take to start", Duration::from_secs(5), || {
        (d.get("/v1/status").1["recording"] == "cut").then_some(())
    });
    std::thread::sleep(Duration::from_millis(800));
    d.kill9();
    assert!(
        t.join().unwrap().is_err(),
        "the request dies with the daemon"
    );
    // The half-written audio sits in the spool only; the share has no take.
    assert!(
        ws.tree().iter().all(|(p, _)| !p.starts_with("share/s1")),
        "{:?}",
        ws.tree()
    );

    let d = Daemon::capture(&ws, Some(&pulse));
    assert_eq!(
        d.get("/v1/takes/cut").0,
        404,
        "an interrupted take was never confirmed"
    );
    assert!(
        ws.tree().iter().all(|(p, _)| !p.ends_with(".wav")),
        "leftovers: {:?}",
        ws.tree()
    );
    // The board's retry records it for real.
    let (code, c) = d.post("/v1/takes", &take_cmd("cut", json!({"duration": 0.5})));
    assert_eq!((code, c["state"].as_str()), (200, Some("delivered")), "{c}");
}

fn takebox_request(addr: std::net::SocketAddr, body: &serde_json::Value) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(takebox::http::request(
        addr,
        hyper::Method::POST,
        "/v1/takes",
        Some(TOKEN),
        Some(serde_json::to_vec(body).unwrap()),
    ))
    .map(|_| ())
}

#[test]
fn bad_requests_get_4xx_naming_the_field_and_change_nothing() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({}));
    let d = Daemon::capture(&ws, Some(&pulse));
    let before = ws.tree();
    let past = rfc3339(SystemTime::now() - Duration::from_secs(60));
    let future = rfc3339(SystemTime::now() + Duration::from_secs(3600));
    let cases: Vec<(serde_json::Value, u16, Option<&str>)> = vec![
        (take_cmd("x", json!({"note": "H4"})), 400, Some("note")),
        (take_cmd("x", json!({"note": "C12"})), 400, Some("note")),
        (
            take_cmd("../../etc/passwd", json!({})),
            400,
            Some("take_id"),
        ),
        (
            take_cmd("x", json!({"session_id": "../escape"})),
            400,
            Some("session_id"),
        ),
        (
            take_cmd("x", json!({"instrument": "a/b"})),
            400,
            Some("instrument"),
        ),
        (
            take_cmd("x", json!({"articulation": "long\u{0}"})),
            400,
            Some("articulation"),
        ),
        (
            take_cmd("x", json!({"dynamic": "ff\n"})),
            400,
            Some("dynamic"),
        ),
        (
            take_cmd("x", json!({"user_initials": ".."})),
            400,
            Some("user_initials"),
        ),
        (
            take_cmd("x", json!({"frequency": -440.0})),
            400,
            Some("frequency"),
        ),
        (
            take_cmd("x", json!({"duration": 0.0})),
            400,
            Some("duration"),
        ),
        (
            take_cmd("x", json!({"duration": 100000.0})),
            400,
            Some("duration"),
        ),
        (
            take_cmd("x", json!({"duration": "long"})),
            400,
            Some("duration"),
        ),
        (
            take_cmd("x", json!({"round_robin": 0})),
            400,
            Some("round_robin"),
        ),
        (
            take_cmd("x", json!({"start_at": "soon"})),
            400,
            Some("start_at"),
        ),
        (
            take_cmd("x", json!({"start_at": past})),
            422,
            Some("start_at"),
        ),
        (
            take_cmd("x", json!({"start_at": future})),
            422,
            Some("start_at"),
        ),
        (take_cmd("x", json!({"unknown_field": 1})), 400, None),
    ];
    for (body, want, field) in cases {
        let (code, err) = d.post("/v1/takes", &body);
        assert_eq!(code, want, "{body} -> {err}");
        if let Some(f) = field {
            assert_eq!(err["field"], f, "{body} -> {err}");
        }
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
    let raw = |body: &[u8], token: Option<&str>| {
        http(d.addr, "POST", "/v1/takes", token, Some(body.to_vec()))
    };
    let (code, err) = raw(b"{\"take_id\": ", Some(TOKEN));
    assert_eq!(code, 400);
    assert!(
        err["message"].as_str().unwrap().contains("malformed JSON"),
        "{err}"
    );
    assert_eq!(raw(b"[1,2,3]", Some(TOKEN)).0, 400);
    assert_eq!(raw(&vec![b' '; 100_000], Some(TOKEN)).0, 413);
    let good = serde_json::to_vec(&take_cmd("x", json!({}))).unwrap();
    assert_eq!(raw(&good, None).0, 401);
    assert_eq!(raw(&good, Some("wrong")).0, 401);
    assert_eq!(d.get("/v1/takes/nothing").0, 404);
    assert_eq!(d.get("/v1/takes/%2e%2e%2fetc").0, 400);
    assert_eq!(d.get("/v2/takes").0, 404);
    assert_eq!(
        http(d.addr, "DELETE", "/v1/status", Some(TOKEN), None).0,
        405
    );
    assert_eq!(ws.tree(), before, "bad input changed files");
    // Mangled bodies: each is refused with a 4xx (or, still valid, recorded)
    // and the daemon stays up.
    let good = serde_json::to_vec(&take_cmd("mangled", json!({}))).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..150 {
        let mut body = good.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % body.len() as u64) as usize;
            match next() % 3 {
                0 => body[at] = (next() % 256) as u8,
                1 => {
                    body.remove(at);
                }
                _ => body.insert(at, b"\"{}[],:\0\xff"[(next() % 9) as usize]),
            }
        }
        let (code, answer) = raw(&body, Some(TOKEN));
        assert!(
            (400..500).contains(&code) || code == 200,
            "{} -> {code} {answer}",
            String::from_utf8_lossy(&body)
        );
        if code == 200 {
            // A mutation that still parses is a valid take: let it be.
            assert!(answer["state"].is_string(), "{answer}");
        }
    }
    assert_eq!(d.get("/v1/status").0, 200, "still serving");
    for (path, _) in ws.tree() {
        let ok =
            path == "share/.takebox-share" || path.ends_with(".wav") || path.ends_with(".json");
        assert!(ok, "unexpected file {path}");
    }
    assert_eq!(d.get("/v1/status").1["state"], "running");
}

#[test]
fn a_vanished_device_fails_the_take_shows_an_error_and_comes_back() {
    let mut pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({}));
    let d = Daemon::capture(&ws, Some(&pulse));
    let addr = d.addr;
    let t = std::thread::spawn(move || {
        http(
            addr,
            "POST",
            "/v1/takes",
            Some(TOKEN),
            Some(serde_json::to_vec(&take_cmd("lost", json!({"duration": 4.0}))).unwrap()),
        )
    });
    wait_for("the take to start", Duration::from_secs(5), || {
        (d.get("/v1/status").1["recording"] == "lost").then_some(())
    });
    pulse.kill();
    let (code, conf) = t.join().unwrap();
    assert_eq!(code, 200, "{conf}");
    assert_eq!(conf["state"], "failed", "{conf}");
    assert!(conf["error"].as_str().unwrap().contains("device"), "{conf}");
    let status = wait_for("the error state", Duration::from_secs(10), || {
        let s = d.get("/v1/status").1;
        (s["state"] == "error").then_some(s)
    });
    assert!(status["device_error"].is_string(), "{status}");
    let (code, err) = d.post("/v1/takes", &take_cmd("while-down", json!({})));
    assert_eq!(
        (code, err["error"].as_str()),
        (503, Some("device_unavailable")),
        "{err}"
    );

    pulse.restart();
    wait_for("the device to reopen", Duration::from_secs(20), || {
        (d.get("/v1/status").1["state"] == "running").then_some(())
    });
    std::thread::sleep(Duration::from_millis(600));
    let (code, ok) = d.post("/v1/takes", &take_cmd("after", json!({})));
    assert_eq!(
        (code, ok["state"].as_str()),
        (200, Some("delivered")),
        "{ok}"
    );
    assert_eq!(
        d.get("/v1/takes/lost").1["state"],
        "failed",
        "a failed take stays failed"
    );
}
