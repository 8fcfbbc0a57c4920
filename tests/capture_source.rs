//! The capture engine and the recorder on the generator source
//! (`capture.device = "takebox:..."`), where sound is not the point: faults a
//! device has (an overrun, unplugged and back, a driver that hangs) are
//! injected on command, deterministically, without a sound server. The same
//! behaviours against a real device are in tests/capture.rs (PulseAudio).

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use takebox::capture::engine::{CaptureEngine, CaptureShared};
use takebox::capture::source::CaptureDevice;
use takebox::capture::source::generator::{Fault, Faults, Generator};
use takebox::config::CaptureSettings;
use takebox::protocol::DeviceState;

const RATE: u32 = 48_000;

/// How far apart two readings of one instant may be: a capture thread can be
/// preempted between reading the clock and the source's backlog.
const MS_5: u64 = 5_000_000;

/// Frames per read: a buffer of 8 periods (680 ms) rides out a loaded test
/// machine, as a device's does.
const PERIOD: u64 = 4096;

/// An engine on a 440 Hz generator whose faults the test holds.
fn engine() -> (CaptureEngine, Arc<Faults>) {
    let settings = CaptureSettings {
        device: "takebox:sine=440".parse().unwrap(),
        period_frames: PERIOD as u32,
        ..CaptureSettings::default()
    };
    let CaptureDevice::Generator { text, spec } = settings.device.clone() else {
        unreachable!()
    };
    let generator = Generator::new(&text, spec);
    let faults = generator.faults();
    let engine = CaptureEngine::start_with(settings, u64::from(RATE), generator).unwrap();
    (engine, faults)
}

fn wait_running_past(shared: &CaptureShared, frames: u64) {
    wait_for(
        &format!("{frames} frames captured"),
        Duration::from_secs(30),
        || (shared.state() == DeviceState::Running && shared.ring.written() > frames).then_some(()),
    );
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[test]
fn an_overrun_is_counted_and_marks_a_gap_where_it_happened() {
    let (engine, faults) = engine();
    let shared = engine.shared();
    wait_running_past(shared, PERIOD);
    let before = shared.ring.written();
    assert_eq!(shared.ring.gaps_in(0, before), 0);
    faults.inject(Fault::Xrun);
    wait_for("the overrun", Duration::from_secs(30), || {
        (shared.xruns() == 1).then_some(())
    });
    let after = shared.ring.written();
    assert_eq!(shared.ring.gaps_in(before, after + 1), 1);
    assert_eq!(shared.state(), DeviceState::Running);
    wait_running_past(shared, after + PERIOD);
}

#[test]
fn an_unplugged_source_is_an_error_until_it_is_back_then_reopened_after_a_gap() {
    let (engine, faults) = engine();
    let shared = engine.shared();
    wait_running_past(shared, PERIOD);
    faults.inject(Fault::Unplug);
    let error = wait_for("the error state", Duration::from_secs(30), || {
        (shared.state() == DeviceState::Error)
            .then(|| shared.error())
            .flatten()
    });
    assert!(error.contains("unplugged"), "{error}");
    let lost_at = shared.ring.written();
    // Reopen attempts fail while it is away: the error stays, no audio arrives.
    wait_for("a failed reopen", Duration::from_secs(30), || {
        shared.error().filter(|e| !e.contains("stopped delivering"))
    });
    assert_eq!(shared.ring.written(), lost_at);
    faults.inject(Fault::Replug);
    wait_running_past(shared, lost_at + PERIOD);
    assert_eq!(shared.error(), None);
    assert_eq!(shared.ring.last_gap_at_or_before(lost_at), Some(lost_at));
    assert_eq!(shared.xruns(), 0, "a reopen is a gap, not an overrun");
}

#[test]
fn a_hung_source_is_reported_stuck_and_its_backlog_is_an_overrun() {
    let (engine, faults) = engine();
    let shared = engine.shared();
    wait_running_past(shared, PERIOD);
    assert_eq!(shared.stuck_for_ms(), None);
    faults.inject(Fault::Hang);
    let ms = wait_for("the stuck report", Duration::from_secs(30), || {
        shared.stuck_for_ms()
    });
    assert!(ms > 5_000, "{ms}");
    assert_eq!(shared.state(), DeviceState::Error);
    let error = shared.error().unwrap();
    assert!(error.contains("stuck in the audio driver"), "{error}");
    faults.inject(Fault::Unhang);
    let at = shared.ring.written();
    wait_running_past(shared, at + PERIOD);
    assert_eq!(shared.stuck_for_ms(), None);
    assert_eq!(
        shared.xruns(),
        1,
        "seconds behind lose what the buffer held"
    );
}

#[test]
fn frames_are_anchored_to_when_they_were_generated_through_a_late_burst() {
    let started = unix_ns(SystemTime::now());
    let (engine, faults) = engine();
    let shared = engine.shared();
    wait_running_past(shared, 0);
    let first_seen = unix_ns(SystemTime::now());
    let origin = shared.ring.time_of(0, RATE).unwrap();
    let period_ns = PERIOD * 1_000_000_000 / u64::from(RATE);
    // Frame 0 was generated after the engine started and a period before it
    // was read, give or take a preempted capture thread.
    assert!(origin + MS_5 >= started, "{origin} < {started}");
    assert!(
        origin + period_ns <= first_seen + MS_5,
        "{origin} + {period_ns} > {first_seen}"
    );
    // The capture thread is held for less than its buffer (8 periods, 680 ms):
    // the frames of that time then arrive late, in a burst. This pause is
    // what the test does to the source, not a synchronisation.
    faults.inject(Fault::Hang);
    std::thread::sleep(Duration::from_millis(250));
    faults.inject(Fault::Unhang);
    let resumed = shared.ring.written();
    wait_running_past(shared, resumed + 4 * PERIOD);
    assert_eq!(shared.xruns(), 0, "the buffer held the late frames");
    let later = shared.ring.time_of(0, RATE).unwrap();
    assert!(
        later.abs_diff(origin) < MS_5,
        "the anchor moved by {} µs",
        (later as i128 - origin as i128) / 1000
    );
}

/// A capture daemon on a sine whose faults are commanded through `dir`.
fn generator_daemon(ws: &Workspace) -> (Daemon, PathBuf) {
    let dir = ws.dir.path().join("faults");
    std::fs::create_dir(&dir).unwrap();
    ws.mount_share();
    ws.write_config(json!({"capture": {
        "device": format!("takebox:sine=440,faults={}", dir.display())
    }}));
    (Daemon::capture(ws, None), dir)
}

/// Drop a command file into the faults folder and wait until the source took it.
fn command(dir: &Path, fault: Fault) {
    let file = dir.join(fault.name());
    std::fs::write(&file, b"").unwrap();
    wait_for(
        &format!("the source to take {fault}"),
        Duration::from_secs(30),
        || (!file.exists()).then_some(()),
    );
}

/// A take of 3 s during which `fault` happens, which must fail saying `why`.
fn take_failed_by(d: &Daemon, faults: &Path, id: &str, fault: Fault, why: &str) {
    let addr = d.addr;
    let body = serde_json::to_vec(&take_cmd(id, json!({"duration": 3.0}))).unwrap();
    let take = std::thread::spawn(move || http(addr, "POST", "/v1/takes", Some(TOKEN), Some(body)));
    wait_for("the take to start", Duration::from_secs(30), || {
        (d.get("/v1/status").1["recording"] == id).then_some(())
    });
    command(faults, fault);
    let (code, conf) = take.join().unwrap();
    assert_eq!(
        (code, conf["state"].as_str()),
        (200, Some("failed")),
        "{conf}"
    );
    assert!(conf["error"].as_str().unwrap().contains(why), "{conf}");
}

/// A take (`take_cmd` with `patch`) that must be delivered: its confirmation.
fn deliver(d: &Daemon, id: &str, patch: Value) -> Value {
    let (code, conf) = d.post("/v1/takes", &take_cmd(id, patch));
    assert_eq!(
        (code, conf["state"].as_str()),
        (200, Some("delivered")),
        "{conf}"
    );
    conf
}

#[test]
fn an_overrun_during_a_take_fails_it_loudly_and_the_next_take_is_delivered() {
    let ws = Workspace::new();
    let (d, faults) = generator_daemon(&ws);
    take_failed_by(&d, &faults, "xrun", Fault::Xrun, "audio was lost");
    let status = d.get("/v1/status").1;
    assert_eq!(
        (status["xruns"].as_u64(), status["state"].as_str()),
        (Some(1), Some("running")),
        "{status}"
    );
    assert!(share_wavs(&ws).is_empty(), "{:?}", ws.tree());
    deliver(&d, "clean", json!({}));
    assert_eq!(d.get("/v1/takes/xrun").1["state"], "failed");
}

#[test]
fn an_unplugged_source_fails_the_take_refuses_new_ones_and_comes_back() {
    let ws = Workspace::new();
    let (d, faults) = generator_daemon(&ws);
    take_failed_by(&d, &faults, "unplugged", Fault::Unplug, "unplugged");
    let status = d.get("/v1/status").1;
    assert_eq!(status["state"], "error", "{status}");
    assert!(
        status["device_error"]
            .as_str()
            .unwrap()
            .contains("unplugged"),
        "{status}"
    );
    let (code, err) = d.post("/v1/takes", &take_cmd("while-away", json!({})));
    assert_eq!(
        (code, err["error"].as_str()),
        (503, Some("device_unavailable")),
        "{err}"
    );
    command(&faults, Fault::Replug);
    wait_for(
        "the recorder to be ready again",
        Duration::from_secs(30),
        || (d.get("/v1/status").1["ready"] == true).then_some(()),
    );
    deliver(&d, "after", json!({}));
}

#[test]
fn a_file_source_is_recorded_frame_for_frame() {
    let ws = Workspace::new();
    let tone = ws.dir.path().join("tone.wav");
    // 16-bit, so the 24-bit take holds its samples exactly.
    write_tone(&tone, 441.0, 0.5, 1.0);
    let (_, source) = read_wav(&tone);
    ws.mount_share();
    ws.write_config(json!({
        "capture": {"device": format!("takebox:file={}", tone.display())},
        "post_processing": {"trim_silence": false, "normalize_audio": false}
    }));
    let d = Daemon::capture(&ws, None);
    let conf = deliver(&d, "file", json!({"duration": 0.5}));
    let (_, take) = read_wav(&ws.share().join(conf["path"].as_str().unwrap()));
    assert!(
        take.len() > source.len(),
        "the take is longer than the file: it loops"
    );
    // The take starts anywhere in the looped file and follows it sample for sample.
    let follows = |o: usize| (0..take.len()).all(|k| take[k] == source[(o + k) % source.len()]);
    assert!(
        (0..source.len()).any(follows),
        "the take is not the file's frames in order"
    );
}

/// `takebox-capture --check` on the workspace's config.
fn check(ws: &Workspace) -> Output {
    Command::new(env!("CARGO_BIN_EXE_takebox-capture"))
        .args(["--check", "--config"])
        .arg(ws.config_path())
        .env("TAKEBOX_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn check_refuses_a_malformed_generator_naming_the_field() {
    let ws = Workspace::new();
    for (device, why) in [
        ("takebox:sine=abc", "sine=abc: expected 1 to 20000 Hz"),
        (
            "takebox:file=take.wav",
            "file=take.wav: expected an absolute path",
        ),
        (
            "takebox:sine=440,level=-6,silence",
            "\"silence\" is a second signal",
        ),
    ] {
        ws.write_config(json!({"capture": {"device": device}}));
        let out = check(&ws);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{device}: {err}");
        assert!(
            err.contains("field `capture.device`") && err.contains(why),
            "{device}: {err}"
        );
    }
    ws.write_config(json!({"capture": {"device": "takebox:silence"}}));
    let out = check(&ws);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The live input for the board's meter and tuner: the generator's sine at
/// its level, its pitch near the note asked for, nothing to tune in silence.
#[test]
fn levels_give_the_live_peak_and_the_pitch_near_a_note() {
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({"capture": {"device": "takebox:sine=440,level=-12", "channels": 2}}));
    let d = Daemon::capture(&ws, None);
    let (code, v) = d.get("/v1/levels");
    assert_eq!(code, 200, "{v}");
    let peaks = v["peak_dbfs"].as_array().unwrap();
    assert_eq!(peaks.len(), 2, "{v}");
    for p in peaks {
        assert!((p.as_f64().unwrap() + 12.0).abs() < 0.1, "{v}");
    }
    assert!(v.get("pitch").is_none(), "pitch only when asked: {v}");
    for near in [440.0, 415.3] {
        let (code, v) = d.get(&format!("/v1/levels?near_hz={near}"));
        assert_eq!(code, 200, "{v}");
        let hz = v["pitch"]["hz"].as_f64().unwrap_or(0.0);
        assert!((hz - 440.0).abs() < 0.05, "near {near}: {v}");
        assert!(
            (v["pitch"]["rms_dbfs"].as_f64().unwrap() + 15.0).abs() < 0.2,
            "{v}"
        );
    }
    let (code, v) = d.get("/v1/levels?near_hz=abc");
    assert_eq!((code, v["field"].as_str()), (400, Some("near_hz")), "{v}");
    // The take's confirmation carries its waveform: the sine's level in every
    // column after the pre-roll began, the planned start where the pre-roll ends.
    let (code, conf) = d.post("/v1/takes", &take_cmd("wave", json!({"duration": 1.0})));
    assert_eq!(code, 200, "{conf}");
    let e = &conf["envelope"];
    let max: Vec<i64> = e["max"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    assert!((400..=800).contains(&max.len()), "{} columns", max.len());
    // Every whole column holds a crest of the sine (the last may be a few frames).
    let whole = &max[..max.len() - 1];
    assert!(whole.iter().all(|&m| (250..=252).contains(&m)), "{max:?}");
    let per = e["frames_per_column"].as_u64().unwrap();
    assert_eq!(
        e["frames"].as_u64().unwrap().div_ceil(per),
        max.len() as u64
    );
    assert_eq!(
        e["planned_start_frame"], 24_000,
        "0.5 s of pre-roll at 48 kHz"
    );
}

#[test]
fn levels_of_silence_have_no_peak_and_no_pitch() {
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({"capture": {"device": "takebox:silence"}}));
    let d = Daemon::capture(&ws, None);
    let (code, v) = d.get("/v1/levels?near_hz=440");
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["peak_dbfs"], json!([null]), "{v}");
    assert!(v.get("pitch").is_none(), "{v}");
}

/// Peak of a delivered take's WAV, dBFS.
fn delivered_peak_dbfs(ws: &Workspace, conf: &Value) -> f64 {
    let (_, samples) = read_wav(&ws.share().join(conf["path"].as_str().unwrap()));
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
    20.0 * f64::from(peak).log10()
}

/// Record `patch`'s take of a -20 dBFS sine under `post_processing`; its gain and peak.
fn gain_and_peak(ws: &Workspace, d: &Daemon, id: &str, patch: Value) -> (f64, f64) {
    let conf = deliver(d, id, patch);
    let gain = conf["processing"]["gain_db"].as_f64().unwrap();
    (gain, delivered_peak_dbfs(ws, &conf))
}

fn sine_daemon(ws: &Workspace, post_processing: Value) -> Daemon {
    ws.mount_share();
    ws.write_config(json!({
        "capture": {"device": "takebox:sine=440,level=-20"},
        "post_processing": post_processing,
    }));
    Daemon::capture(ws, None)
}

#[test]
fn layered_takes_keep_their_recorded_level_under_the_seeds_normalization() {
    // The seed's post_processing as written: normalize_audio true, peak -1 dBFS.
    let ws = Workspace::new();
    let d = sine_daemon(
        &ws,
        json!({"normalize_audio": true, "peak_target_dbfs": -1.0}),
    );
    let (gain, peak) = gain_and_peak(&ws, &d, "single", json!({}));
    assert!(
        (gain - 19.0).abs() < 0.2 && (peak + 1.0).abs() < 0.2,
        "{gain} {peak}"
    );
    for (id, patch) in [
        ("pp", json!({"dynamic": "pp"})),
        ("rr2", json!({"round_robin": 2})),
    ] {
        let (gain, peak) = gain_and_peak(&ws, &d, id, patch);
        assert_eq!(gain, 0.0, "{id}: a layer keeps its level");
        assert!((peak + 20.0).abs() < 0.2, "{id}: peak {peak} dBFS");
    }
    drop(d);
    // Asked for explicitly, every take is normalized on its own, as before.
    let ws = Workspace::new();
    let d = sine_daemon(
        &ws,
        json!({"normalize_audio": true, "normalize_per": "take"}),
    );
    let (gain, peak) = gain_and_peak(&ws, &d, "pp", json!({"dynamic": "pp"}));
    assert!(
        (gain - 19.0).abs() < 0.2 && (peak + 1.0).abs() < 0.2,
        "{gain} {peak}"
    );
}

/// The loops of a WAV's `smpl` chunk.
fn smpl_loops(path: &Path) -> Vec<takebox::dsp::SmplLoop> {
    let f = std::fs::File::open(path).unwrap();
    let r = takebox::wav::WavReader::new(std::io::BufReader::new(f)).unwrap();
    r.info
        .other_chunks
        .iter()
        .filter(|(id, _)| id == b"smpl")
        .flat_map(|(_, p)| takebox::dsp::chunks::smpl_loops(p))
        .collect()
}

/// The delivered file of `conf` and the loop its confirmation reports, which
/// must be the one in the file's `smpl` chunk.
fn loop_in_smpl(ws: &Workspace, conf: &Value) -> (PathBuf, u64, u64) {
    let l = &conf["sample_loop"];
    let (start, last) = (
        l["start_frame"].as_u64().unwrap(),
        l["last_frame"].as_u64().unwrap(),
    );
    let wav = ws.share().join(conf["path"].as_str().unwrap());
    assert_eq!(
        smpl_loops(&wav),
        [takebox::dsp::SmplLoop {
            start: start as u32,
            last: last as u32
        }],
        "the file holds the loop the confirmation reports: {conf}"
    );
    (wav, start, last)
}

#[test]
fn a_sustained_take_gets_its_loop_live_in_smpl_and_the_confirmation() {
    let ws = Workspace::new();
    let d = sine_daemon(&ws, json!({}));
    for (id, sustain) in [("marked", json!(true)), ("detected", json!(null))] {
        let conf = deliver(&d, id, json!({"duration": 1.0, "sustain": sustain}));
        let l = &conf["sample_loop"];
        assert!(l["no_loop"].is_null(), "{id}: {conf}");
        assert!(l["seam_db"].as_f64().unwrap() < -30.0, "{id}: {l}");
        let (wav, start, last) = loop_in_smpl(&ws, &conf);
        // takebox check measures the same seam on the delivered file.
        let o = Command::new(env!("CARGO_BIN_EXE_takebox"))
            .arg("check")
            .arg(&wav)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains(&format!("loop {start}..={last} seam")) && out.contains(": good"),
            "{out}"
        );
    }
    // Marked off (a drum), never looped.
    let (_, conf) = d.post(
        "/v1/takes",
        &take_cmd("off", json!({"duration": 1.0, "sustain": false})),
    );
    assert!(conf["sample_loop"].is_null(), "{conf}");
    assert!(smpl_loops(&ws.share().join(conf["path"].as_str().unwrap())).is_empty());
}

#[test]
fn a_marked_sustain_without_a_loop_says_why() {
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({"capture": {"device": "takebox:silence"}}));
    let d = Daemon::capture(&ws, None);
    let conf = deliver(&d, "quiet", json!({"duration": 1.0, "sustain": true}));
    let l = &conf["sample_loop"];
    assert!(l["start_frame"].is_null(), "{l}");
    assert!(!l["no_loop"].as_str().unwrap().is_empty(), "{l}");
    // Not marked, a take that does not hold says nothing.
    let (_, conf) = d.post("/v1/takes", &take_cmd("quiet2", json!({"duration": 1.0})));
    assert!(conf["sample_loop"].is_null(), "{conf}");
}

/// A POST that may take minutes (a long take): the common client gives up
/// after 20 s without an answer.
fn post_slow(d: &Daemon, body: &serde_json::Value) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let body = serde_json::to_vec(body).unwrap();
    let head = format!(
        "POST /v1/takes HTTP/1.1\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, json) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{out}");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// `takebox check` of a delivered file: the loop line it prints.
fn checked_loop(wav: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_takebox"))
        .arg("check")
        .arg(wav)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_take_longer_than_a_minute_gets_its_loop_from_a_bounded_stretch() {
    let ws = Workspace::new();
    let d = sine_daemon(&ws, json!({}));
    // Past the 60 s the search used to give up at.
    let conf = post_slow(
        &d,
        &take_cmd("long", json!({"duration": 61.0, "sustain": true})),
    );
    assert_eq!(conf["state"], "delivered", "{conf}");
    let l = &conf["sample_loop"];
    assert!(l["no_loop"].is_null(), "{conf}");
    assert!(l["seam_db"].as_f64().unwrap() < -30.0, "{l}");
    assert!(l["crossfade_frames"].is_null(), "{l}");
    let (wav, start, last) = loop_in_smpl(&ws, &conf);
    // From the stretch read: within the first 12 s of the note.
    assert!(last - start < 12 * u64::from(RATE), "{l}");
    assert!(last < 14 * u64::from(RATE), "{l}");
    let out = checked_loop(&wav);
    assert!(
        out.contains(&format!("loop {start}..={last} seam")) && out.contains(": good"),
        "{out}"
    );
}

/// A pad of partials detuned at random around 220 Hz and its harmonics,
/// each a whole number of cycles in the file's `secs`: the file source loops
/// it without a seam, yet no stretch of a take shorter than the file repeats.
fn write_pad(path: &Path, secs: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut seed = 0x1234_5678u64;
    let mut rnd = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let tau = std::f64::consts::TAU;
    let partials: Vec<(f64, f64)> = (0..40)
        .map(|k| {
            let hz = 220.0 * (1 + k % 5) as f64 * (1.0 + 0.02 * (rnd() - 0.5));
            let cycles = (hz * f64::from(secs)).round();
            (tau * cycles / f64::from(secs), tau * rnd())
        })
        .collect();
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..secs * RATE {
        let t = f64::from(i) / f64::from(RATE);
        let v: f64 = partials.iter().map(|(w, p)| (w * t + p).sin()).sum::<f64>() / 14.0;
        w.write_sample((v * 32767.0).round() as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn a_rough_loop_is_crossfaded_into_the_delivered_file_when_configured() {
    let ws = Workspace::new();
    let pad = ws.dir.path().join("pad.wav");
    write_pad(&pad, 20);
    ws.mount_share();
    ws.write_config(json!({
        "capture": {
            "device": format!("takebox:file={}", pad.display()),
            "loop_crossfade_seconds": 0.25
        },
        "post_processing": {"trim_silence": false, "normalize_audio": false}
    }));
    let d = Daemon::capture(&ws, None);
    let conf = deliver(
        &d,
        "pad",
        json!({"duration": 2.0, "sustain": true, "note": "A3", "frequency": 220.0}),
    );
    let l = &conf["sample_loop"];
    assert!(l["no_loop"].is_null(), "{conf}");
    assert_eq!(l["crossfade_frames"], 12_000, "{l}");
    let (raw, seam) = (
        l["raw_seam_db"].as_f64().unwrap(),
        l["seam_db"].as_f64().unwrap(),
    );
    assert!(raw > -30.0 && seam <= -30.0, "{l}");
    let (wav, start, last) = loop_in_smpl(&ws, &conf);
    // The confirmation describes the file delivered: its hash, and the
    // seam takebox check measures in it is the crossfaded one.
    assert_eq!(
        conf["sha256"],
        takebox::capture::take::sha256_file(&wav).unwrap()
    );
    let out = checked_loop(&wav);
    assert!(
        out.contains(&format!("loop {start}..={last} seam")) && out.contains(": good"),
        "{out}"
    );
    // Only the fade changed the recording: before it, the take is the
    // file's frames in order.
    let (_, take) = read_wav(&wav);
    let (_, source) = read_wav(&pad);
    let fade_from = (last + 1 - 12_000) as usize;
    let follows = |o: usize| (0..fade_from).all(|k| take[k] == source[(o + k) % source.len()]);
    let at = (0..source.len()).find(|&o| follows(o));
    let at = at.expect("the take before the fade is the file's frames");
    let changed = (fade_from..=last as usize)
        .filter(|&k| take[k] != source[(at + k) % source.len()])
        .count();
    assert!(changed > 10_000, "{changed} of 12000 faded frames changed");
    assert!(
        (last as usize + 1..take.len()).all(|k| take[k] == source[(at + k) % source.len()]),
        "after the loop the take is the file's again"
    );
}
