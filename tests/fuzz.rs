//! Property tests over generated inputs for every parser that reads bytes
//! from outside (`takebox::fuzz`): valid inputs from the repo, mutated by a
//! deterministic generator (bit flips, insertions, deletions, splices,
//! truncation, repeats, numbers at their limits, huge lengths), each run
//! against its entry function, which panics when the property fails.
//!
//! `cargo test` runs a short pass (up to `TAKEBOX_FUZZ_RUNS` inputs, 3000 by
//! default, at most 4 s per target). `TAKEBOX_FUZZ_SECONDS=60` runs each
//! target that long instead (`make fuzz` does, when afl is not available).
//! A failing input is written to `artifacts/fuzz/` and shown escaped;
//! `TAKEBOX_FUZZ_REPLAY=target:file` runs one input again (an afl crash too),
//! and `TAKEBOX_FUZZ_SEEDS_DIR=dir` writes every target's seeds there instead
//! of fuzzing (afl's starting corpus).
//!
//! Beside panics, each input is held to a time bound and a memory bound: no
//! single allocation, and no growth of live memory, beyond
//! `MEMORY_BOUND` (64 MiB) plus 16 times the input's size.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use takebox::protocol::SampleFormat;
use takebox::wav::{WavSpec, WavWriter};

// ---- memory: a counting allocator -------------------------------------------

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
    LARGEST.fetch_max(size, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MEMORY_BOUND: usize = 64 << 20;
/// Per input, in a debug build on a shared machine: far above any honest
/// input's time, far below a hang's.
const TIME_BOUND: Duration = Duration::from_secs(10);

/// The counters are global: one target at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The first panic's message and place (a panic in a worker thread reaches
/// the caller only as "a scoped thread panicked").
static FIRST_PANIC: Mutex<Option<String>> = Mutex::new(None);

// ---- the generator ------------------------------------------------------------

/// xorshift64*: small, fast, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Numbers and tokens at the edges of what parsers expect.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1e309",
    "-1e309",
    "1e-320",
    "1e300",
    "NaN",
    "Infinity",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "65535",
    "65536",
    "255",
    "256",
    "0.0000001",
    "99999999999999999999999999999999",
    "1.5",
    "2147483648",
];

const TOKENS: &[&str] = &[
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "\"\"",
    "%",
    "%zz",
    "%00",
    "%ff",
    "%2e%2e%2f",
    "+",
    "&",
    "=",
    "/",
    "..",
    ";",
    "\n",
    "\r\n",
    "\u{feff}",
    "é",
    "\u{1F3B8}",
    "1969-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "2026-11-25T13:45:00.125Z",
    "C-1",
    "G9",
    "A#4",
    "Bb-2",
    "C3",
    "http://[::1]:5001",
    "http://a:99999",
];

/// 32-bit and 16-bit little-endian values for binary headers.
const WORDS: &[u32] = &[
    0,
    1,
    2,
    3,
    8,
    16,
    24,
    32,
    0xfffe,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fff0,
    0xffff_ffff,
    48_000,
    16 << 20,
    (16 << 20) + 1,
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>], max_len: usize) {
    let n = input.len();
    match rng.below(14) {
        0 if n > 0 => {
            let i = rng.below(n);
            input[i] ^= 1 << rng.below(8);
        }
        1 if n > 0 => {
            let i = rng.below(n);
            input[i] = *rng.pick(&[0u8, 0xff, 0x7f, 0x80, b'"', b'0', b'9', b'-', b'.']);
        }
        2 => {
            let i = rng.below(n + 1);
            let k = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..k).map(|_| rng.next() as u8).collect();
            input.splice(i..i, bytes);
        }
        3 if n > 0 => {
            let i = rng.below(n);
            let k = 1 + rng.below((n - i).min(32));
            input.drain(i..i + k);
        }
        4 => {
            // Splice: a piece of another seed.
            let other = rng.pick(seeds);
            if !other.is_empty() {
                let a = rng.below(other.len());
                let b = a + rng.below(other.len() - a + 1);
                let i = rng.below(n + 1);
                input.splice(i..i, other[a..b].iter().copied());
            }
        }
        5 if n > 0 => input.truncate(rng.below(n)),
        6 if n > 0 => {
            // Repeat a piece, sometimes many times (huge lengths, deep nesting).
            let a = rng.below(n);
            let b = (a + 1 + rng.below(16)).min(n);
            let times = *rng.pick(&[2usize, 3, 10, 100, 1000, 10_000]);
            let piece = input[a..b].to_vec();
            let mut rep = Vec::with_capacity(piece.len() * times);
            for _ in 0..times {
                rep.extend_from_slice(&piece);
            }
            input.splice(b..b, rep);
        }
        7 => {
            // A number at its limits in place of a run of digits.
            let digits = |b: &u8| b.is_ascii_digit() || b"-.eE+".contains(b);
            let start = rng.below(n + 1);
            let (a, b) = match input[start.min(n)..].iter().position(digits) {
                Some(p) => {
                    let a = start + p;
                    let len = input[a..].iter().take_while(|b| digits(b)).count();
                    (a, a + len)
                }
                None => (start, start),
            };
            let num = rng.pick(NUMBERS).as_bytes().to_vec();
            input.splice(a..b, num);
        }
        8 => {
            let i = rng.below(n + 1);
            let t = rng.pick(TOKENS).as_bytes().to_vec();
            input.splice(i..i, t);
        }
        9 if n >= 4 => {
            // A header word at a limit (lengths, rates, channel counts).
            let i = rng.below(n.min(96) - 3);
            let w = *rng.pick(WORDS);
            if rng.below(2) == 0 {
                input[i..i + 4].copy_from_slice(&w.to_le_bytes());
            } else {
                input[i..i + 2].copy_from_slice(&(w as u16).to_le_bytes());
            }
        }
        10 if n > 0 => {
            // Replace a quoted string's contents.
            let from = rng.below(n);
            if let Some(q) = input[from..].iter().position(|&b| b == b'"') {
                let at = from + q + 1;
                let s = rng.pick(TOKENS).repeat(1 + rng.below(4)).into_bytes();
                input.splice(at..at, s);
            }
        }
        11 => {
            // Another seed whole, joined (two bodies, two log lines).
            let other = rng.pick(seeds).clone();
            let seps: [&[u8]; 4] = [b"", b"\n", b"&", b"; "];
            let sep = *rng.pick(&seps);
            input.extend_from_slice(sep);
            input.extend_from_slice(&other);
        }
        12 if n > 1 => {
            let a = rng.below(n);
            let b = rng.below(n);
            input.swap(a, b);
        }
        _ => {
            let i = rng.below(n + 1);
            input.insert(i, rng.next() as u8);
        }
    }
    if input.len() > max_len {
        input.truncate(max_len);
    }
}

// ---- the runner ---------------------------------------------------------------

fn escaped(data: &[u8]) -> String {
    let shown: Vec<u8> = data.iter().take(600).copied().collect();
    let mut s: String = shown.escape_ascii().to_string();
    if data.len() > 600 {
        s.push_str(&format!("... ({} bytes)", data.len()));
    }
    s
}

fn save(target: &str, kind: &str, data: &[u8]) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/fuzz");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{target}-{kind}.bin"));
    let _ = std::fs::write(&path, data);
    path.display().to_string()
}

/// Run one input, holding it to the time and memory bounds.
fn run_one(target: &str, f: fn(&[u8]), data: &[u8]) -> Result<(), String> {
    *FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let r = std::panic::catch_unwind(|| f(data));
    let took = start.elapsed();
    let bound = MEMORY_BOUND + 16 * data.len();
    let grew = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let largest = LARGEST.load(Ordering::Relaxed);
    let fail = |kind: &str, what: String| {
        let path = save(target, kind, data);
        Err(format!(
            "{target}: {what}\n  input ({} bytes, saved to {path}): {}",
            data.len(),
            escaped(data)
        ))
    };
    if r.is_err() {
        let msg = FIRST_PANIC
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        return fail("panic", format!("panicked: {msg}"));
    }
    if took > TIME_BOUND {
        return fail("slow", format!("took {took:?}"));
    }
    if largest > bound || grew > bound {
        return fail(
            "memory",
            format!("allocated {largest} bytes at once, {grew} live (bound {bound})"),
        );
    }
    Ok(())
}

fn budget() -> (u64, Duration) {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    match env("TAKEBOX_FUZZ_SECONDS") {
        Some(s) => (u64::MAX, Duration::from_secs(s)),
        None => (
            env("TAKEBOX_FUZZ_RUNS").unwrap_or(3000),
            Duration::from_secs(4),
        ),
    }
}

/// Regressions first, then the seeds, then mutants until the budget is spent.
/// `TAKEBOX_FUZZ_REPLAY=target:file` runs that one input with the usual
/// panic output (a failure saved by this driver, or a crash afl found).
fn fuzz(target: &str, seeds: Vec<Vec<u8>>, regressions: Vec<Vec<u8>>, max_len: usize) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let f = takebox::fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
        .expect("a known target");
    if let Some(dir) = std::env::var_os("TAKEBOX_FUZZ_SEEDS_DIR") {
        // The starting corpus for afl (`scripts/fuzz.sh`): the same inputs.
        let dir = std::path::Path::new(&dir).join(target);
        std::fs::create_dir_all(&dir).expect("seed folder");
        for (i, data) in regressions.iter().chain(seeds.iter()).enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), data).expect("seed file");
        }
        return;
    }
    if let Ok(replay) = std::env::var("TAKEBOX_FUZZ_REPLAY") {
        if let Some(file) = replay
            .strip_prefix(target)
            .and_then(|r| r.strip_prefix(':'))
        {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
            f(&data);
            println!("{target}: {file} passes");
        }
        return;
    }
    // Quiet: failures are collected and shown below, not as a panic trace each.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let mut first = FIRST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(info.to_string());
        }
    }));
    let mut failures = Vec::new();
    let mut runs = 0u64;
    for data in regressions.iter().chain(seeds.iter()) {
        runs += 1;
        if let Err(e) = run_one(target, f, data) {
            failures.push(e);
        }
    }
    let (max_runs, max_time) = budget();
    let seed = target.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut current = seeds[0].clone();
    while runs < max_runs && start.elapsed() < max_time && failures.len() < 5 {
        // Mostly keep mutating the last input (deeper changes), sometimes restart.
        if rng.below(4) == 0 {
            current = rng.pick(&seeds).clone();
        }
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut current, &seeds, max_len);
        }
        runs += 1;
        if let Err(e) = run_one(target, f, &current) {
            failures.push(e);
            current = rng.pick(&seeds).clone();
        }
    }
    std::panic::set_hook(hook);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz {target}: {runs} executions in {secs:.1} s ({:.0}/s), {} failures",
        runs as f64 / secs.max(1e-9),
        failures.len()
    );
    if target.starts_with("wav_process") {
        takebox::fuzz::clean_scratch();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- seeds --------------------------------------------------------------------

fn json(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("serializes")
}

fn repo_file(path: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn take_commands() -> Vec<Vec<u8>> {
    use serde_json::json;
    vec![
        json(&common::take_cmd("t1", json!({}))),
        json(&common::take_cmd(
            "s1-0001-1",
            json!({"start_at": "2026-11-25T13:45:00.125Z", "dynamic": "ff",
                   "round_robin": 2, "user_initials": "ab", "pitch_check": false}),
        )),
        json(&common::take_cmd(
            "t2",
            json!({"note": "C-1", "frequency": 8.18, "duration": 120.0,
                   "start_at": "2026-11-25T14:45:00+01:00"}),
        )),
        json(&common::take_cmd(
            "t3",
            json!({"note": "Bb3", "articulation": "pizz", "instrument": "cello"}),
        )),
    ]
}

fn json_bodies() -> Vec<Vec<u8>> {
    use serde_json::json;
    vec![
        json(&json!({"instrument": "guitar"})),
        json(
            &json!({"instrument": "guitar", "lowest_note": "E2", "highest_note": "A2",
                     "articulations": ["short", "long"], "dynamics": ["p", "f"],
                     "round_robins": 2, "user_initials": "ab", "auto_advance": true}),
        ),
        json(
            &json!({"instrument": "guitar", "lowest_note": "C-1", "highest_note": "G9",
                     "round_robins": 50}),
        ),
        json(&json!({"ms": 200})),
        b"{}".to_vec(),
        b"  \n".to_vec(),
    ]
}

fn recorder_answers() -> Vec<Vec<u8>> {
    use serde_json::json;
    let confirmation = json!({
        "take_id": "s1-0001-1", "session_id": "s1", "state": "delivered",
        "path": "s1/s1_guitar_A4_long_s1-0001-1.wav", "frames": 48000,
        "sample_rate": 48000, "channels": 2, "format": "s24",
        "peak_dbfs": [-3.5, null], "sha256": "00ff",
        "recorded_at": "2026-11-25T13:45:00.125Z", "pre_roll_frames": 96000,
        "frames_lost": 0, "xruns": 0,
        "warnings": [{"warning": "short_pre_roll", "frames": 10, "configured_frames": 96000}],
        "check": {"verdict": "off_pitch", "issues": ["off_pitch", "noisy"],
                  "measured_hz": 445.1, "cents": 19.9, "noise_floor_dbfs": -70.2,
                  "snr_db": 30.0, "clipped_samples": 0, "notes": ["sharp"]},
        "processing": {"kept_from_frame": 10, "kept_to_frame": 40000, "gain_db": 3.0,
                       "limited_by_peak": false, "integrated_lufs": -23.0,
                       "true_peak_dbtp": -1.0}
    });
    let failed = json!({
        "take_id": "t9", "session_id": "s1", "state": "failed", "path": "", "frames": 0,
        "sample_rate": 48000, "channels": 1, "format": "s16", "peak_dbfs": [],
        "sha256": "", "recorded_at": "2026-11-25T13:45:00Z", "pre_roll_frames": 0,
        "frames_lost": 12, "xruns": 1, "error": "device gone"
    });
    let status = json!({
        "version": "0.1.0", "device": "default", "sample_rate": 48000, "channels": 1,
        "format": "s24", "state": "running", "ready": false, "not_ready": "pre-roll",
        "xruns": 0, "frames_captured": 1000, "input_peak_dbfs": [null, -12.0],
        "recording": "t1", "spool_pending": ["t0"],
        "share": {"path": "/mnt/takebox", "available": true, "free_bytes": 1000},
        "spool": {"path": "/var/spool/takebox", "free_bytes": 5, "room_seconds": 1.5},
        "clock": "2026-11-25T13:45:00.125250Z"
    });
    vec![
        json(&confirmation),
        json(&failed),
        json(&status),
        json(&json!({"take_id": "t1", "state": "in_progress"})),
        json(&json!({"error": "bad_request", "message": "no", "field": "note"})),
    ]
}

fn forms() -> Vec<Vec<u8>> {
    [
        "instrument=guitar&lowest_note=E2&highest_note=A2&articulations=short&articulations=long&dynamics=p+f&round_robins=2&user_initials=ab&auto_advance=1",
        "instrument=guitar&round_robins=&dynamics=",
        "command=start",
        "password=s%C3%A9cret",
        "countdown_duration=5&articulation_durations.long=1.5&articulation_durations.short=&add_articulation=legato+1.5&session_settings.default_note=A4&session_settings.default_frequency=440&session_settings.default_instrument=guitar&session_settings.default_articulation=long&post_processing.peak_target_dbfs=-1&post_processing.normalize_audio=0&post_processing.normalize_audio=1&post_processing.trim_silence=1&file_naming.include_session_id=1&file_naming.include_user_initials=0&storage_management.auto_cleanup=1&storage_management.max_age_days=30&storage_management.min_free_gb=2",
        "countdown_duration=0.5&add_articulation=x+0.1",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn urls() -> Vec<Vec<u8>> {
    [
        "/v1/takes/s1-0001-1",
        "/v1/takes/a%20b%2Fc",
        "/v1/status",
        "/v1/takes",
        "/api/v1/start",
        "/api/v1/session?x=1",
        "/?notice=take+refused%3A+busy",
        "/settings?saved=1",
        "http://board.local:5000/v1/takes/x?y=%zz",
        "*",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn cookies() -> Vec<Vec<u8>> {
    [
        "board.local:5000\nhttp://board.local:5000\ntakebox_page=0123456789abcdef",
        "127.0.0.1:5000\nhttp://127.0.0.1:5000/initiate?x=1\na=b; takebox_page=00; c\nd=e",
        "[::1]:5000\nnull\n",
        "board:5000\nhttps://evil.example\ntakebox_page=",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn configs() -> Vec<Vec<u8>> {
    let mut out = vec![
        repo_file("examples/seed/config.json"),
        repo_file("examples/install/board.json"),
        repo_file("examples/install/recording-pc.json"),
        b"{}".to_vec(),
    ];
    let full = takebox::config::Config::default();
    out.push(
        serde_json::to_string_pretty(&full)
            .expect("serializes")
            .into_bytes(),
    );
    out
}

fn instruments() -> Vec<Vec<u8>> {
    vec![
        repo_file("examples/seed/instruments.json"),
        repo_file("examples/install/instruments.json"),
        br#"{"instruments":[{"name":"kick","type":"drum","range":{"lowest_note":"C1","highest_note":"C1"},"default_articulations":["short"],"pitch_check":false}]}"#.to_vec(),
    ]
}

/// A short tone as `format`, with an extra chunk when asked.
fn wav(format: SampleFormat, channels: u16, rate: u32, frames: u64, extra: &[u8]) -> Vec<u8> {
    let spec = WavSpec {
        channels,
        sample_rate: rate,
        format,
    };
    let mut w = WavWriter::new(Vec::new(), spec, frames, extra).expect("header");
    let samples: Vec<f32> = (0..frames * u64::from(channels))
        .map(|i| {
            let t = (i / u64::from(channels)) as f32 / rate as f32;
            let env = if i < 40 { 0.0 } else { 0.5 };
            env * (t * 110.0 * std::f32::consts::TAU).sin()
        })
        .collect();
    w.write(&samples).expect("samples");
    w.finish().expect("finish").0
}

fn hound_wav(bits: u16, float: bool) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut cur = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cur, spec).expect("hound");
    for i in 0..400 {
        let s = (i as f32 * 0.09).sin() * 0.4;
        if float {
            w.write_sample(s).expect("sample");
        } else {
            w.write_sample((s * ((1i64 << (bits - 1)) as f32)) as i32)
                .expect("sample");
        }
    }
    w.finalize().expect("finalize");
    cur.into_inner()
}

fn wavs() -> Vec<Vec<u8>> {
    vec![
        wav(SampleFormat::S16, 1, 8000, 600, &[]),
        wav(SampleFormat::S24, 2, 8000, 300, b"LIST\x04\x00\x00\x00abcd"),
        wav(
            SampleFormat::F32,
            3,
            16_000,
            200,
            b"junk\x03\x00\x00\x00xyz\x00",
        ),
        wav(SampleFormat::S24, 1, 48_000, 1200, &[]),
        hound_wav(32, false),
        hound_wav(16, false),
        hound_wav(8, false),
        hound_wav(32, true),
    ]
}

fn with_option_bytes(wavs: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    wavs.into_iter()
        .enumerate()
        .map(|(i, w)| {
            let mut v = vec![(i as u8).wrapping_mul(7)];
            v.extend(w);
            v
        })
        .collect()
}

fn session_logs() -> Vec<Vec<u8>> {
    let start = r#"{"time":"2026-11-25T10:00:00.000000Z","event":"session_start","session_id":"s1","request":{"instrument":"guitar","user_initials":"ab"},"settings":{"countdown_duration":5.0,"default_frequency":440.0}}"#;
    let conf = |take: &str, note: &str, hz: f64, dynamic: &str, rr: u32| {
        format!(
            r#"{{"time":"2026-11-25T10:00:01Z","event":"confirmation","session_id":"s1","filename":"s1/s1_guitar_{note}_long_{take}.wav","note":"{note}","frequency":{hz},"articulation":"long","instrument":"guitar","timestamp":"2026-11-25T10:00:00Z","take_id":"{take}","dynamic":"{dynamic}","round_robin":{rr},"recorder":"http://r","verdict":"ok","state":"delivered","check":{{"verdict":"ok","issues":[],"cents":3.5,"clipped_samples":0}}}}"#
        )
    };
    let lines = [
        start.to_string(),
        r#"{"time":"2026-11-25T10:00:00Z","event":"take","take_id":"s1-1-1"}"#.into(),
        conf("s1-1-1", "A4", 440.0, "p", 1),
        conf("s1-1-1-r2", "A4", 440.0, "p", 1),
        conf("s1-2-1", "C5", 523.25, "ff", 2),
        conf("s1-3-1", "E2", 82.41, "mf", 1),
        r#"{"time":"2026-11-25T10:00:02Z","event":"retake","slot":1,"superseded":"s1-1-1"}"#.into(),
        r#"{"time":"2026-11-25T10:00:03Z","event":"rearm","take_id":"s1-4-1"}"#.into(),
        r#"{"time":"2026-11-25T10:00:04Z","event":"session_end","status":"finished"}"#.into(),
    ];
    vec![
        lines.join("\n").into_bytes(),
        lines[..3].join("\n").into_bytes(),
        lines[4].clone().into_bytes(),
    ]
}

// ---- one test per target ------------------------------------------------------

#[test]
fn take_command() {
    fuzz(
        "take_command",
        take_commands(),
        vec![
            // Found: a start before 1970 was accepted, and printing it back
            // (the recorder's answer, the board's log) panicked in humantime.
            br#"{"take_id":"t","session_id":"s","instrument":"i","note":"A4","frequency":440,"articulation":"a","duration":1,"start_at":"1969-12-31T23:59:59Z"}"#.to_vec(),
            // Past the year 9999 by its offset: refused, not printed as a year 10000.
            br#"{"take_id":"t","session_id":"s","instrument":"i","note":"A4","frequency":440,"articulation":"a","duration":1,"start_at":"9999-12-31T23:59:59-23:59"}"#.to_vec(),
        ],
        64 << 10,
    );
}

#[test]
fn json_body() {
    fuzz("json_body", json_bodies(), vec![], 64 << 10);
}

#[test]
fn recorder_answer() {
    fuzz("recorder_answer", recorder_answers(), vec![], 64 << 10);
}

#[test]
fn form_body() {
    fuzz("form_body", forms(), vec![], 64 << 10);
}

#[test]
fn url() {
    fuzz("url", urls(), vec![], 8 << 10);
}

#[test]
fn cookie() {
    fuzz("cookie", cookies(), vec![], 8 << 10);
}

#[test]
fn config_file() {
    fuzz("config_file", configs(), vec![], 256 << 10);
}

#[test]
fn instruments_file() {
    fuzz("instruments_file", instruments(), vec![], 256 << 10);
}

#[test]
fn wav_reader() {
    fuzz("wav_reader", wavs(), vec![], 1 << 20);
}

#[test]
fn wav_process() {
    // Found: a sample rate of 4 GHz read fine, and writing it back overflowed
    // the header's byte rate (a panic in debug builds, a wrong header in release).
    let mut giga = wav(SampleFormat::S16, 1, 8000, 600, &[]);
    giga[24..28].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let mut regressions = Vec::new();
    for opt in [0u8, 3, 0x1b] {
        let mut v = vec![opt];
        v.extend_from_slice(&giga);
        regressions.push(v);
    }
    fuzz(
        "wav_process",
        with_option_bytes(wavs()),
        regressions,
        1 << 20,
    );
}

#[test]
fn session_log() {
    fuzz("session_log", session_logs(), vec![], 256 << 10);
}
