//! The `takebox` tool on real files: process (trim, normalize, group) and check.

use std::path::Path;
use std::process::Command;
use takebox::protocol::SampleFormat;
use takebox::wav::{WavSpec, WavWriter};

const RATE: u32 = 48_000;

/// `silence_s` of silence, then a sine of `amp` for `tone_s`, then silence again.
fn write_note(path: &Path, channels: u16, hz: f64, amp: f64, silence_s: f64, tone_s: f64) {
    let (pre, tone) = (
        (silence_s * RATE as f64) as usize,
        (tone_s * RATE as f64) as usize,
    );
    let total = pre * 2 + tone;
    let spec = WavSpec {
        channels,
        sample_rate: RATE,
        format: SampleFormat::S24,
    };
    let mut w = WavWriter::new(
        std::fs::File::create(path).unwrap(),
        spec,
        total as u64,
        &[],
    )
    .unwrap();
    let mut frames = Vec::with_capacity(total * channels as usize);
    for i in 0..total {
        let s = if (pre..pre + tone).contains(&i) {
            (amp * (2.0 * std::f64::consts::PI * hz * (i - pre) as f64 / RATE as f64).sin()) as f32
        } else {
            0.0
        };
        frames.extend(std::iter::repeat_n(s, channels as usize));
    }
    w.write(&frames).unwrap();
    w.finish().unwrap();
}

fn takebox(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_takebox"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn peak_and_len(path: &Path) -> (f32, usize) {
    let mut r = hound::WavReader::open(path).unwrap();
    let s: Vec<i32> = r.samples::<i32>().map(Result::unwrap).collect();
    let peak = s.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as f32 / 8_388_608.0;
    (peak, s.len() / r.spec().channels as usize)
}

#[test]
fn group_normalize_keeps_velocity_layers_apart_and_trims() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_note(&d.join("A4_pp.wav"), 1, 440.0, 0.05, 0.5, 1.0);
    write_note(&d.join("A4_ff.wav"), 1, 440.0, 0.5, 0.5, 1.0);
    let before = std::fs::read(d.join("A4_pp.wav")).unwrap();
    let (code, out, err) = takebox(
        &[
            "process",
            "A4_pp.wav",
            "A4_ff.wav",
            "--out",
            "done",
            "--trim",
            "--normalize",
            "group",
        ],
        d,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 files, all ok"), "{out}");
    let (pp, pp_len) = peak_and_len(&d.join("done/A4_pp.wav"));
    let (ff, ff_len) = peak_and_len(&d.join("done/A4_ff.wav"));
    // The loudest reaches -1 dBFS; the quiet layer keeps its 20 dB distance.
    assert!((20.0 * ff.log10() + 1.0).abs() < 0.05, "ff peak {ff}");
    assert!(
        (20.0 * (ff / pp).log10() - 20.0).abs() < 0.1,
        "pp {pp} ff {ff}"
    );
    // Trimmed to the note plus 10 ms before it and the hold after it (the
    // abrupt synthetic stop rings a little in the trimmer's DC blocker).
    for len in [pp_len, ff_len] {
        assert!(
            (48_000 + 480..48_000 + 480 + 7_200).contains(&len),
            "{len} frames"
        );
    }
    assert_eq!(
        std::fs::read(d.join("A4_pp.wav")).unwrap(),
        before,
        "the input is untouched"
    );
    let info = Command::new("sndfile-info")
        .arg(d.join("done/A4_pp.wav"))
        .output()
        .unwrap();
    assert!(info.status.success());
}

#[test]
fn bad_files_are_reported_and_skipped_and_the_rest_processed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_note(&d.join("good.wav"), 8, 220.0, 0.3, 0.2, 0.5);
    write_note(&d.join("zeros.wav"), 1, 220.0, 0.0, 0.2, 0.2);
    write_note(&d.join("one.wav"), 2, 220.0, 0.5, 0.0, 1.0 / 48_000.0);
    std::fs::write(d.join("empty.wav"), b"").unwrap();
    std::fs::write(d.join("text.wav"), b"RIFF....WAVEnot really").unwrap();
    let mut cut = std::fs::read(d.join("good.wav")).unwrap();
    cut.truncate(cut.len() / 2);
    std::fs::write(d.join("truncated.wav"), cut).unwrap();
    let files = [
        "good.wav",
        "zeros.wav",
        "one.wav",
        "empty.wav",
        "text.wav",
        "truncated.wav",
        "missing.wav",
    ];
    let mut args = vec!["process"];
    args.extend(files);
    args.extend(["--out", "out", "--trim", "--normalize", "peak"]);
    let (code, out, err) = takebox(&args, d);
    assert_eq!(code, 1, "{out}{err}");
    for bad in ["empty.wav", "text.wav", "truncated.wav", "missing.wav"] {
        assert!(err.contains(bad), "{bad} not named in: {err}");
        assert!(!d.join("out").join(bad).exists());
    }
    assert!(err.contains("4 of 7 files failed"), "{err}");
    // Hostile but valid inputs come through: 8 channels, all zeros (not
    // amplified, not trimmed to nothing), one frame long.
    let (peak, _) = peak_and_len(&d.join("out/good.wav"));
    assert!((20.0 * peak.log10() + 1.0).abs() < 0.05);
    assert_eq!(
        hound::WavReader::open(d.join("out/good.wav"))
            .unwrap()
            .spec()
            .channels,
        8
    );
    assert_eq!(peak_and_len(&d.join("out/zeros.wav")), (0.0, 28_800));
    assert_eq!(peak_and_len(&d.join("out/one.wav")).1, 1);
    assert!(
        !std::fs::read_dir(d.join("out")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.'))
    );
}

#[test]
fn in_place_replaces_atomically_and_refuses_to_overwrite_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_note(&d.join("n.wav"), 1, 440.0, 0.1, 0.3, 0.5);
    let (code, _, err) = takebox(
        &["process", "n.wav", "--out", ".", "--normalize", "peak"],
        d,
    );
    assert_eq!(code, 1);
    assert!(err.contains("n.wav"), "{err}");
    let (code, out, err) = takebox(
        &[
            "process",
            "n.wav",
            "--in-place",
            "--trim",
            "--normalize",
            "peak",
            "--target",
            "-3",
        ],
        d,
    );
    assert_eq!(code, 0, "{out}{err}");
    let (peak, len) = peak_and_len(&d.join("n.wav"));
    assert!((20.0 * peak.log10() + 3.0).abs() < 0.05, "{peak}");
    assert!(len < 30_000, "trimmed: {len}");
    let names: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary left: {names:?}");
}

#[test]
fn check_reports_pitch_and_fails_off_pitch_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_note(&d.join("in_tune.wav"), 1, 440.0, 0.3, 0.5, 1.0);
    write_note(
        &d.join("flat.wav"),
        1,
        440.0 * 2f64.powf(-30.0 / 1200.0),
        0.3,
        0.5,
        1.0,
    );
    write_note(&d.join("quiet.wav"), 1, 440.0, 0.0, 0.5, 1.0);
    let (code, out, err) = takebox(
        &[
            "check",
            "in_tune.wav",
            "flat.wav",
            "quiet.wav",
            "--note",
            "A4",
            "--preroll",
            "0.4",
        ],
        d,
    );
    assert_eq!(code, 1, "{out}{err}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_string()
    };
    assert!(line("in_tune.wav").ends_with("ok"), "{out}");
    let flat = line("flat.wav");
    assert!(
        flat.ends_with("off_pitch") && flat.contains("-30.0"),
        "{flat}"
    );
    assert!(line("quiet.wav").ends_with("silent"), "{out}");
    assert!(
        err.contains("flat.wav (off_pitch)") && !err.contains("in_tune"),
        "{err}"
    );
    let (code, _, err) = takebox(&["check", "in_tune.wav", "--note", "H2"], d);
    assert_eq!(code, 2);
    assert!(err.contains("\"H2\""), "{err}");
}

/// The samples and the `smpl` loops of a WAV.
fn samples_and_loops(path: &Path) -> (Vec<f32>, Vec<takebox::dsp::SmplLoop>) {
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut r = takebox::wav::WavReader::new(f).unwrap();
    let loops = r
        .info
        .other_chunks
        .iter()
        .filter(|(id, _)| id == b"smpl")
        .flat_map(|(_, p)| takebox::dsp::chunks::smpl_loops(p))
        .collect();
    let mut all = Vec::new();
    while r.read_append(&mut all, 65_536).unwrap() > 0 {}
    (all, loops)
}

#[test]
fn process_loop_writes_a_seamless_smpl_loop_and_names_takes_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hz = 261.6256; // C4: 183.47 frames a period, no whole-frame cycle
    write_note(&d.join("C4.wav"), 1, hz, 0.5, 0.5, 2.0);
    // A pluck: decays at once, nothing sustained to loop.
    let pluck: Vec<f32> = (0..RATE as usize)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            (0.5 * (-t * 8.0).exp() * (std::f64::consts::TAU * 220.0 * t).sin()) as f32
        })
        .collect();
    let spec = WavSpec {
        channels: 1,
        sample_rate: RATE,
        format: SampleFormat::S24,
    };
    let mut w = WavWriter::new(
        std::fs::File::create(d.join("pluck.wav")).unwrap(),
        spec,
        pluck.len() as u64,
        &[],
    )
    .unwrap();
    w.write(&pluck).unwrap();
    w.finish().unwrap();
    let args = ["process", "C4.wav", "pluck.wav", "--out", "done", "--trim"];
    let (code, out, err) = takebox(&[&args[..], &["--loop"]].concat(), d);
    assert_eq!(code, 0, "{out}{err}");
    let seam: f64 = out
        .split("seam ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a seam figure in {out}"));
    assert!(seam < -50.0, "{out}");
    assert!(out.contains("naive zero-crossing loop"), "{out}");
    assert!(out.contains("no loop written: no sustained part"), "{out}");
    let (x, loops) = samples_and_loops(&d.join("done/C4.wav"));
    let [l] = loops[..] else {
        panic!("one loop, got {loops:?}")
    };
    // In the output's frames (trimmed): rising zero crossings at both ends,
    // a whole number of periods long, inside the note.
    let (s, e) = (l.start as usize, l.last as usize + 1);
    assert!(x[s - 1] < 0.0 && x[s] >= 0.0, "start on a rising crossing");
    assert!(x[e - 1] < 0.0 && x[e] >= 0.0, "end on a rising crossing");
    let periods = (e - s) as f64 * hz / f64::from(RATE);
    assert!((periods - periods.round()).abs() < 0.01, "{periods}");
    assert!(e < x.len() && e - s >= RATE as usize / 5);
    let (_, pluck_loops) = samples_and_loops(&d.join("done/pluck.wav"));
    assert!(pluck_loops.is_empty());
    // Without --loop, no loop record.
    let (code, out, err) = takebox(&["process", "C4.wav", "--out", "plain"], d);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("seam"), "{out}");
    assert!(samples_and_loops(&d.join("plain/C4.wav")).1.is_empty());
}

/// 24-bit pink noise leaves residuals too large for flacenc's Rice coding
/// (a 2.9 MB WAV once became a 712 MB FLAC): the FLAC must stay about the
/// WAV's size and still decode exactly.
#[test]
fn process_format_flac_of_24_bit_noise_is_never_larger_than_the_wav() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let st = Command::new("sox")
        .args(["-n", "-r", "48000", "-b", "24", "-c", "2", "pink.wav"])
        .args(["synth", "2", "pinknoise"])
        .current_dir(d)
        .status()
        .expect("sox (scripts/deps.sh test)");
    assert!(st.success());
    let (code, out, err) = takebox(
        &["process", "pink.wav", "--out", "done", "--format", "flac"],
        d,
    );
    assert_eq!(code, 0, "{out}{err}");
    let wav = std::fs::metadata(d.join("done/pink.wav")).unwrap().len();
    let flac = std::fs::metadata(d.join("done/pink.flac")).unwrap().len();
    assert!(
        flac <= wav + wav / 100,
        "FLAC {flac} bytes against the WAV's {wav}"
    );
    let st = Command::new("flac")
        .args(["-d", "-s", "-f", "-o", "back.wav", "done/pink.flac"])
        .current_dir(d)
        .status()
        .unwrap();
    assert!(st.success());
    let (back, _) = samples_and_loops(&d.join("back.wav"));
    let (orig, _) = samples_and_loops(&d.join("done/pink.wav"));
    assert!(back == orig, "decoded samples differ");
}

#[test]
fn process_format_flac_decodes_bit_identical_with_the_note_and_loop() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_note(&d.join("C4.wav"), 2, 261.6256, 0.5, 0.5, 2.0);
    let (code, out, err) = takebox(
        &[
            "process",
            "C4.wav",
            "--out",
            "done",
            "--trim",
            "--normalize",
            "peak",
            "--loop",
            "--format",
            "flac",
        ],
        d,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("C4.flac ("), "{out}");
    let (wav, loops) = samples_and_loops(&d.join("done/C4.wav"));
    let [l] = loops[..] else {
        panic!("one loop, got {loops:?}")
    };
    // The reference decoder gives the WAV's samples back exactly.
    let st = Command::new("flac")
        .args(["-d", "-s", "-f", "-o", "back.wav", "done/C4.flac"])
        .current_dir(d)
        .status()
        .expect("flac (scripts/deps.sh test)");
    assert!(st.success());
    let (back, _) = samples_and_loops(&d.join("back.wav"));
    assert_eq!(back.len(), wav.len());
    assert!(back == wav, "decoded samples differ");
    // The STREAMINFO written last (streamed encoding) has the right MD5 and length.
    let t = Command::new("flac")
        .args(["-t", "-w", "done/C4.flac"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    // The note and loop as tags; the smpl chunk as a riff APPLICATION block.
    let tags = Command::new("metaflac")
        .args(["--export-tags-to=-", "done/C4.flac"])
        .current_dir(d)
        .output()
        .unwrap();
    let tags = String::from_utf8_lossy(&tags.stdout);
    assert!(tags.contains("MIDI_UNITY_NOTE=60"), "{tags}");
    assert!(tags.contains(&format!("LOOPSTART={}\n", l.start)), "{tags}");
    assert!(
        tags.contains(&format!("LOOPLENGTH={}\n", l.last - l.start + 1)),
        "{tags}"
    );
    let list = Command::new("metaflac")
        .args(["--list", "--block-type=APPLICATION", "done/C4.flac"])
        .current_dir(d)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("application ID: 72696666"), "{list}"); // "riff"
    let bad = takebox(&["process", "C4.wav", "--out", "x", "--format", "ogg"], d);
    assert_eq!(bad.0, 2, "{bad:?}");
}
