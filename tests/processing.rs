//! Takes processed by takebox-capture: trimmed, normalized, checked, with
//! standard metadata chunks that common readers accept.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// Record one take of `duration` s while `tone` (if any) plays from the note's start.
fn take_with_tone(
    pulse: &Pulse,
    d: &Daemon,
    ws: &Workspace,
    id: &str,
    tone_hz: Option<f64>,
    patch: Value,
) -> Value {
    // Played from the server's sample cache: a client stream (paplay) can
    // underrun on a loaded machine and put silence into the note.
    if let Some(hz) = tone_hz {
        let wav = ws.dir.path().join(format!("{id}.wav"));
        write_tone(&wav, hz, 0.25, 1.2);
        pulse.upload_sample(&wav, id);
    }
    let start = SystemTime::now() + Duration::from_millis(1200);
    let mut cmd = take_cmd(
        id,
        json!({"duration": 1.0, "start_at": takebox::protocol::Timestamp(start).to_string()}),
    );
    merge(&mut cmd, &patch);
    let (code, conf) = std::thread::scope(|s| {
        if tone_hz.is_some() {
            // The note's cue: it is played at its planned start, as a musician would.
            s.spawn(|| {
                std::thread::sleep(start.duration_since(SystemTime::now()).unwrap_or_default());
                pulse.play_sample(id);
            });
        }
        d.post("/v1/takes", &cmd)
    });
    assert_eq!(code, 200, "{conf}");
    conf
}

fn chunk_ids(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut ids = Vec::new();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        ids.push(String::from_utf8_lossy(&bytes[at..at + 4]).into_owned());
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        at += 8 + len + len % 2;
    }
    ids
}

#[test]
fn a_clean_note_is_trimmed_normalized_checked_and_tagged() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    // A layered take (it has a dynamic and a round robin) keeps its level by
    // default; this one asks for the gain per take.
    ws.write_config(
        json!({"capture": {"pre_roll_seconds": 1.0, "release_tail_seconds": 0.3},
        "post_processing": {"normalize_per": "take"}}),
    );
    let d = Daemon::capture(&ws, Some(&pulse));

    let conf = take_with_tone(
        &pulse,
        &d,
        &ws,
        "clean",
        Some(440.0),
        json!({"dynamic": "mf", "round_robin": 2}),
    );
    assert_eq!(conf["state"], "delivered", "{conf}");
    let check = &conf["check"];
    assert_eq!(check["verdict"], "ok", "{conf}");
    assert!(check["cents"].as_f64().unwrap().abs() < 3.0, "{check}");
    assert!(
        (check["measured_hz"].as_f64().unwrap() - 440.0).abs() < 1.0,
        "{check}"
    );
    // The null sink's pre-roll is digital silence: no finite noise floor or SNR.
    assert!(
        check["snr_db"].as_f64().is_none_or(|snr| snr > 40.0),
        "{check}"
    );
    let processing = &conf["processing"];
    // 0.25 amplitude is -12.04 dBFS; the gain brings the peak to -1 dBFS.
    assert!(
        (processing["gain_db"].as_f64().unwrap() - 11.04).abs() < 0.2,
        "{processing}"
    );
    assert!(
        (conf["peak_dbfs"][0].as_f64().unwrap() + 1.0).abs() < 0.05,
        "{conf}"
    );

    let path = ws.share().join(conf["path"].as_str().unwrap());
    let (_, samples) = read_wav(&path);
    assert_eq!(samples.len() as u64, conf["frames"].as_u64().unwrap());
    // The file starts 10 ms before the onset; the pre-roll's silence is gone.
    let onset = samples.iter().position(|s| s.abs() > 0.01).unwrap();
    assert!((400..=560).contains(&onset), "onset at frame {onset}");
    assert!(
        samples[0].abs() < 1e-4 && samples[samples.len() - 1].abs() < 1e-4,
        "faded ends"
    );
    assert!(
        samples.len() < 48_000 * 3 / 2,
        "trailing silence cut: {}",
        samples.len()
    );

    // Standard chunks, in a file that common readers open.
    let ids = chunk_ids(&path);
    for id in ["fmt ", "smpl", "bext", "iXML", "data"] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    let bytes = std::fs::read(&path).unwrap();
    let smpl = bytes.windows(4).position(|w| w == b"smpl").unwrap() + 8;
    let unity = u32::from_le_bytes(bytes[smpl + 12..smpl + 16].try_into().unwrap());
    let fraction = u32::from_le_bytes(bytes[smpl + 16..smpl + 20].try_into().unwrap());
    let played = unity as f64 + fraction as f64 / 4_294_967_296.0;
    assert!(
        (played - 69.0).abs() < 0.03 || (played - 68.97..69.0).contains(&played),
        "smpl says MIDI {played}"
    );
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("<ARTICULATION>long</ARTICULATION>")
            && text.contains("<DYNAMIC>mf</DYNAMIC>")
    );
    let info = Command::new("sndfile-info")
        .arg(&path)
        .output()
        .expect("sndfile-info (make test installs it)");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("bext") && info.contains("smpl"), "{info}");
    let sox = Command::new("sox")
        .arg("--i")
        .arg("-r")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&sox.stdout).trim(), "48000");
}

#[test]
fn off_pitch_silent_and_unpitched_takes_get_their_verdicts() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    ws.write_config(json!({"capture": {"pre_roll_seconds": 0.8, "release_tail_seconds": 0.2}}));
    let d = Daemon::capture(&ws, Some(&pulse));

    // 452 Hz for a planned A4 is 46.6 cents sharp.
    let sharp = take_with_tone(&pulse, &d, &ws, "sharp", Some(452.0), json!({}));
    assert_eq!(sharp["check"]["verdict"], "off_pitch", "{sharp}");
    let cents = sharp["check"]["cents"].as_f64().unwrap();
    assert!((cents - 46.6).abs() < 3.0, "{cents}");
    assert_eq!(
        sharp["state"], "delivered",
        "a warned take is still delivered"
    );

    // The same tone on an instrument without pitch (drums) is fine.
    let drum = take_with_tone(
        &pulse,
        &d,
        &ws,
        "drum",
        Some(452.0),
        json!({"pitch_check": false}),
    );
    assert_eq!(drum["check"]["verdict"], "ok", "{drum}");

    // Nothing played: silent, and nothing is trimmed away.
    let silent = take_with_tone(&pulse, &d, &ws, "quiet", None, json!({}));
    assert_eq!(silent["check"]["verdict"], "silent", "{silent}");
    assert_eq!(silent["processing"]["kept_from_frame"], 0);
    assert_eq!(
        silent["processing"]["gain_db"], 0.0,
        "silence is not amplified"
    );
}
