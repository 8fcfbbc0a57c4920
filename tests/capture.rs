//! takebox-capture as a real process, capturing in real time from a PulseAudio
//! null sink through alsa-lib, answering over HTTP on loopback.

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, SystemTime};

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
    // The tone is played from the server's sample cache, not streamed by a
    // client: paplay (20 ms buffer) underran on a loaded machine and the sink
    // played silence in the gap (measured: 436.5 Hz and 431.4 Hz with paplay's
    // "Stream underrun" at the same place, frames_lost 0 and xruns 0, rightly:
    // capture recorded what the sink played).
    pulse.upload_sample(&tone, "tone");

    // The note is planned 1.5 s from now. The player waits for that instant
    // (the cue of the note, as a musician would: this wait is what the test
    // plays, not a synchronisation) and notes when it actually started the
    // note, which a loaded machine can make late.
    let start = SystemTime::now() + Duration::from_millis(1500);
    let ((code, conf), (played_from, played_by)) = std::thread::scope(|s| {
        let player = s.spawn(|| {
            std::thread::sleep(start.duration_since(SystemTime::now()).unwrap_or_default());
            let before = SystemTime::now();
            pulse.play_sample("tone");
            (before, SystemTime::now())
        });
        let answer = d.post(
            "/v1/takes",
            &take_cmd(
                "tone1",
                json!({"duration": 1.0, "start_at": rfc3339(start)}),
            ),
        );
        (answer, player.join().unwrap())
    });
    assert_eq!(code, 200, "{conf}");
    assert_eq!(conf["state"], "delivered", "{conf}");
    assert_eq!(conf["pre_roll_frames"], 48_000);
    assert_eq!(conf["frames"], 48_000 + 48_000 + 14_400);

    let path = ws.share().join(conf["path"].as_str().unwrap());
    assert_eq!(conf["path"], "s1/guitar_A4_long_s1_~tone1.wav");
    let (spec, samples) = read_wav(&path);
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (48_000, 1, 24)
    );
    assert_eq!(samples.len(), 110_400);
    // The pre-roll holds silence, then the tone begins where it was played:
    // within the rig's accuracy of the moments the player started it (its
    // command sent, its command done), wherever the load put those.
    let on = onset(&samples, 0.05).expect("the tone is in the take");
    let ms_from_start = |t: SystemTime| match t.duration_since(start) {
        Ok(d) => d.as_secs_f64() * 1000.0,
        Err(e) => -e.duration().as_secs_f64() * 1000.0,
    };
    let (from_ms, by_ms) = (ms_from_start(played_from), ms_from_start(played_by));
    let late_ms = (on as f64 - 48_000.0) / 48.0;
    eprintln!(
        "onset {late_ms:.1} ms from the planned start; played between {from_ms:.1} and {by_ms:.1} ms"
    );
    assert!(
        (from_ms - 30.0..by_ms + 60.0).contains(&late_ms),
        "onset {late_ms:.1} ms from the planned start, played between {from_ms:.1} and {by_ms:.1} ms"
    );
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!((peak - 0.5).abs() < 0.02, "peak {peak}");
    let steady = &samples[on + 4_800..on + 4_800 + 24_000];
    let hz = zero_crossing_hz(steady, 48_000.0);
    assert!(
        (hz - 440.0).abs() < 0.5,
        "measured {hz} Hz; the take reports {} frames lost, {} xruns",
        conf["frames_lost"],
        conf["xruns"]
    );
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
    wait_for("the take to start", Duration::from_secs(30), || {
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
        let done = wait_for("delivery after restart", Duration::from_secs(30), || {
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
    wait_for("the take to start", Duration::from_secs(30), || {
        (d.get("/v1/status").1["recording"] == "cut").then_some(())
    });
    // Killed once part of the take (more than its pre-roll) is in the spool.
    wait_for(
        "the take's audio in the spool",
        Duration::from_secs(30),
        || (ws.spooled_bytes("cut") > 48_000 * 3).then_some(()),
    );
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
    // The board's retry by the same id is refused: a take id never records
    // twice (the board records the slot again under a new id).
    let (code, e) = d.post("/v1/takes", &take_cmd("cut", json!({"duration": 0.5})));
    assert_eq!(
        (code, e["error"].as_str()),
        (422, Some("interrupted")),
        "{e}"
    );
    assert!(!d.log_contains("take cut: recording"), "recorded again");
    let (code, c) = d.post("/v1/takes", &take_cmd("cut-2", json!({"duration": 0.5})));
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
    .map_err(|e| e.to_string())
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
    wait_for("the take to start", Duration::from_secs(30), || {
        (d.get("/v1/status").1["recording"] == "lost").then_some(())
    });
    pulse.kill();
    let (code, conf) = t.join().unwrap();
    assert_eq!(code, 200, "{conf}");
    assert_eq!(conf["state"], "failed", "{conf}");
    assert!(conf["error"].as_str().unwrap().contains("device"), "{conf}");
    let status = wait_for("the error state", Duration::from_secs(30), || {
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
    let reopened_at = wait_for("the device to reopen", Duration::from_secs(30), || {
        let s = d.get("/v1/status").1;
        (s["state"] == "running").then(|| s["frames_captured"].as_u64().unwrap())
    });
    // A whole pre-roll (0.5 s) captured since the device came back.
    wait_for(
        "audio from the reopened device",
        Duration::from_secs(30),
        || {
            let s = d.get("/v1/status").1;
            (s["frames_captured"].as_u64().unwrap() > reopened_at + 30_000).then_some(())
        },
    );
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

/// Where the tone's rising zero crossings lie further apart or closer than
/// one period of `hz` (by more than a sample): audio lost or inserted there.
fn discontinuities(samples: &[f32], hz: f64, rate: f64) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    let mut prev: Option<f64> = None;
    for i in 1..samples.len() {
        let (a, b) = (samples[i - 1], samples[i]);
        if a < 0.0 && b >= 0.0 {
            let x = (i - 1) as f64 + f64::from(a / (a - b));
            if let Some(p) = prev
                && (x - p - rate / hz).abs() > 1.0
            {
                out.push((i, x - p));
            }
            prev = Some(x);
        }
    }
    out
}

#[test]
fn a_daemon_frozen_mid_take_keeps_every_frame_or_says_what_it_lost() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({"capture": {"period_frames": 512},
        "post_processing": {"trim_silence": false, "normalize_audio": false}}));
    let d = Daemon::capture(&ws, Some(&pulse));
    let tone = ws.dir.path().join("tone.wav");
    write_tone(&tone, 440.0, 0.5, 6.0);
    pulse.upload_sample(&tone, "tone");
    pulse.play_sample("tone");
    let addr = d.addr;
    let take = std::thread::spawn(move || {
        http(
            addr,
            "POST",
            "/v1/takes",
            Some(TOKEN),
            Some(serde_json::to_vec(&take_cmd("frozen", json!({"duration": 3.0}))).unwrap()),
        )
    });
    wait_for(
        "a second of the take in the spool",
        Duration::from_secs(30),
        || (ws.spooled_bytes("frozen") > 48_000 * 3).then_some(()),
    );
    // The whole daemon stops being scheduled, as on a machine too loaded to
    // run it, for 1.5 s: many times its ALSA buffer (8 periods, 85 ms), under
    // the 2 s after which a silent device counts as lost. This pause is what
    // the test does to the daemon, not a synchronisation.
    let pid = nix::unistd::Pid::from_raw(d.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let (code, conf) = take.join().unwrap();
    assert_eq!(code, 200, "{conf}");
    let said_so = conf["state"] == "failed"
        || conf["frames_lost"].as_u64() != Some(0)
        || conf["xruns"].as_u64() != Some(0);
    if said_so {
        // Losing audio is allowed, not keeping quiet about it.
        eprintln!("the take says it lost audio: {conf}");
        return;
    }
    let path = ws.share().join(conf["path"].as_str().unwrap());
    let (_, samples) = read_wav(&path);
    assert_eq!(samples.len() as u64, conf["frames"].as_u64().unwrap());
    let on = onset(&samples, 0.05).expect("the tone is in the take");
    let gaps = discontinuities(&samples[on + 480..], 440.0, 48_000.0);
    assert!(
        gaps.is_empty(),
        "audio lost or inserted at {gaps:?} (frame, period) after frame {on}, yet the take says {conf}"
    );
}
