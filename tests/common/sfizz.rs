//! Exports played by sfizz (pysfizz from PyPI, in a venv under target/) and
//! measured: levels, pitch by `takebox check`, and the worst sample-to-sample
//! jump (where a loop's seam clicks).

use super::sfzlint::test_venv;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The sample rate sfizz renders at.
pub const RATE: f64 = 48_000.0;

/// One note for sfizz: key, velocity, seconds held, seconds rendered.
pub struct Play {
    pub key: u8,
    pub vel: u8,
    pub on: f64,
    pub len: f64,
}

fn text(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Render `plays` in order through sfizz on one synth; each rendering's
/// samples (mono, the left channel), also written as `dir/<i>.wav`.
pub fn sfizz_render(sfz: &Path, dir: &Path, plays: &[Play]) -> Vec<Vec<f32>> {
    let venv = test_venv("pysfizz", &["pysfizz"]);
    std::fs::create_dir_all(dir).unwrap();
    let outs: Vec<PathBuf> = (0..plays.len())
        .map(|i| dir.join(format!("{i}.wav")))
        .collect();
    let notes: Vec<Value> = plays
        .iter()
        .zip(&outs)
        .map(|(p, out)| json!({"key": p.key, "vel": p.vel, "on": p.on, "len": p.len, "out": out}))
        .collect();
    let job = json!({"sfz": sfz, "rate": RATE, "notes": notes});
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sfizz_render.py");
    let mut child = Command::new(venv.join("bin/python"))
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "sfizz: {:?}", text(&o));
    eprintln!("sfizz: {}", text(&o).0.trim());
    outs.iter()
        .map(|p| {
            hound::WavReader::open(p)
                .unwrap()
                .samples::<f32>()
                .map(Result::unwrap)
                .collect()
        })
        .collect()
}

pub fn rms_db(x: &[f32]) -> f64 {
    let ms = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * ms.max(1e-30).log10()
}

/// Pitch of a rendered note against `midi`, cents, by `takebox check --note`.
pub fn checked_cents(wav: &Path, midi: u8) -> f64 {
    pitch_cents(wav, midi).unwrap_or_else(|v| panic!("no pitch for key {midi}: {v}"))
}

/// Pitch of `wav` against `midi`, cents, by `takebox check --note`; the
/// check's answer when it found none near the note.
pub fn pitch_cents(wav: &Path, midi: u8) -> Result<f64, Value> {
    let note = takebox::notes::Note::from_midi(midi)
        .expect("a MIDI note")
        .name(takebox::notes::MiddleC::default());
    let o = Command::new(env!("CARGO_BIN_EXE_takebox"))
        .args(["check", "--json", "--note", &note, wav.to_str().unwrap()])
        .output()
        .expect("run takebox");
    let (so, se) = text(&o);
    let v: Value = serde_json::from_str(so.lines().next().unwrap_or(""))
        .unwrap_or_else(|_| panic!("{so}{se}"));
    v["cents"].as_f64().ok_or(v)
}

/// The worst second difference in `x` and where: a seam that does not join
/// jumps there, far beyond what the waveform does on its own.
pub fn worst_jump(x: &[f32]) -> (usize, f64) {
    x.windows(3)
        .map(|t| f64::from(t[0] - 2.0 * t[1] + t[2]).abs())
        .enumerate()
        .fold((0, 0f64), |m, (i, d)| if d > m.1 { (i, d) } else { m })
}

/// A `<region>` line's opcodes by name; `sample=` runs to the end of the
/// line, as in SFZ (a path may hold spaces).
pub fn opcodes(line: &str) -> std::collections::BTreeMap<String, String> {
    let line = line.trim_start_matches("<region>");
    let (rest, sample) = match line.split_once("sample=") {
        Some((rest, sample)) => (rest, Some(sample.trim_end())),
        None => (line, None),
    };
    rest.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(sample.map(|s| ("sample".to_string(), s.to_string())))
        .collect()
}
