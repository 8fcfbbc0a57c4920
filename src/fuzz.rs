//! Fuzz entry points: one per parser that reads bytes from outside, each
//! running that parser (and what the daemon does next with its result) on
//! arbitrary bytes and checking the property every such input must keep: a
//! value, or an error that says what is wrong (for HTTP bodies: an answer in
//! the 4xx range, never a 5xx), never a panic. Time and memory stay bounded by
//! the input's size, never by a number the input claims.
//!
//! Driven two ways: by `tests/fuzz.rs` (generated inputs, part of `cargo
//! test`) and by the coverage-guided afl binaries in `fuzz/` (`make fuzz`).
//! Each entry panics when the property fails, which both drivers report.

use crate::capture::batch::{self, Output};
use crate::capture::process::ProcessOptions;
use crate::catalog::export::{csv, dspreset, mapping, sfz};
use crate::config::{self, Config, Instruments, PostProcessing};
use crate::control::cycle::Command;
use crate::control::plan::{self, SessionRequest};
use crate::control::web::{form::Form, guard, settings, views};
use crate::http::{ApiError, parse_json_body};
use crate::notes::{MiddleC, Note};
use crate::protocol::{
    ErrorBody, FieldError, RecorderStatus, STATUS_PATH, TAKES_PATH, TakeCommand, TakeReply,
    Timestamp,
};
use crate::session_log_format;
use crate::wav::WavReader;
use hyper::header::{self, HeaderMap, HeaderValue};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// Every target, by name: what `tests/fuzz.rs` and `fuzz/` run.
pub const TARGETS: &[(&str, Target)] = &[
    ("take_command", take_command),
    ("json_body", json_body),
    ("recorder_answer", recorder_answer),
    ("form_body", form_body),
    ("url", url),
    ("cookie", cookie),
    ("config_file", config_file),
    ("instruments_file", instruments_file),
    ("wav_reader", wav_reader),
    ("wav_process", wav_process),
    ("session_log", session_log),
];

/// The seed's configuration, as the daemons would hold it.
struct Fixture {
    config: Config,
    instruments: Instruments,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let path = Path::new("examples/seed/config.json");
        let config: Config = config::parse_json(path, include_str!("../examples/seed/config.json"))
            .expect("seed config parses");
        let instruments: Instruments = config::parse_json(
            Path::new("examples/seed/instruments.json"),
            include_str!("../examples/seed/instruments.json"),
        )
        .expect("seed instruments parse");
        Fixture {
            config,
            instruments,
        }
    })
}

/// An error the client is to blame for, and that says so.
fn client_error(e: &ApiError, what: &str) {
    assert!(
        e.status.is_client_error(),
        "{what}: answered {} ({}), not a 4xx",
        e.status,
        e.body.message
    );
    assert!(!e.body.message.is_empty(), "{what}: an error without words");
}

fn field_error(e: FieldError, what: &str) {
    client_error(&ApiError::from(e), what)
}

/// A text value's display must not panic and must say something.
fn says(what: &str, e: impl std::fmt::Display) {
    assert!(!e.to_string().is_empty(), "{what}: an error without words");
}

/// `POST /v1/takes` on a recorder: the body, its checks, and the checks the
/// recorder makes before it touches the device (note, file name, start time).
pub fn take_command(data: &[u8]) {
    let cmd: TakeCommand = match parse_json_body(data) {
        Ok(c) => c,
        Err(e) => return client_error(&e, "take command"),
    };
    if let Err(e) = cmd.validate() {
        return field_error(e, "take command");
    }
    for mc in [MiddleC::C4, MiddleC::C3] {
        let note = match Note::parse(&cmd.note, mc) {
            Ok(n) => n,
            Err(e) => {
                says("note", &e);
                continue;
            }
        };
        let name = note.name(mc);
        for (session, initials) in [(true, false), (false, true), (true, true)] {
            match cmd.take_name(&name, session, initials).path() {
                Ok(p) => assert!(
                    Path::new(&p)
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_))),
                    "take path {p:?} leaves the share"
                ),
                Err(e) => field_error(e, "take path"),
            }
        }
    }
    let capture = &fixture().config.capture;
    let _ = capture.frames(cmd.duration.min(capture.max_take_seconds));
    if let Some(at) = cmd.start_at {
        let now = SystemTime::now();
        let _ = at.0.duration_since(now);
        let _ = now.duration_since(at.0);
        let _ = at.unix_seconds();
    }
    // The recorder logs and answers with what it accepted.
    let text = serde_json::to_string(&cmd).expect("a take command serializes");
    let again: TakeCommand = parse_json_body(text.as_bytes()).unwrap_or_else(|e| {
        panic!(
            "an accepted take command does not read back: {}",
            e.body.message
        )
    });
    again.validate().expect("what read back is valid");
}

/// The board's JSON API bodies: `POST /api/v1/session` (and the plan it asks
/// for) and `POST /api/v1/gpio/press`.
pub fn json_body(data: &[u8]) {
    match parse_json_body::<SessionRequest>(data) {
        Ok(req) => session(&req),
        Err(e) => client_error(&e, "session request"),
    }
    if !data.iter().all(u8::is_ascii_whitespace) {
        match parse_json_body::<crate::control::web::PressBody>(data) {
            Ok(b) => {
                let _ = (1..=10_000).contains(&b.ms);
            }
            Err(e) => client_error(&e, "press body"),
        }
    }
}

/// A session request against the seed's configuration, as `begin` checks it.
fn session(req: &SessionRequest) {
    let f = fixture();
    match plan::build(req, &f.config, &f.instruments) {
        Ok(slots) => {
            assert!(slots.len() <= plan::MAX_SLOTS, "{} slots", slots.len());
            for recorders in [1, 3] {
                if let Err(e) =
                    plan::check_file_names(&slots, "20260101-120000-ab", req, &f.config, recorders)
                {
                    field_error(e, "file names");
                }
            }
        }
        Err(e) => field_error(e, "session plan"),
    }
}

/// What a recorder answers the board (`GET /v1/status`, a take's reply, an
/// error body): the board reads these off the LAN and logs and shows them.
pub fn recorder_answer(data: &[u8]) {
    if let Ok(status) = serde_json::from_slice::<RecorderStatus>(data) {
        let _ = serde_json::to_string(&status).expect("a status serializes");
    }
    if let Ok(e) = serde_json::from_slice::<ErrorBody>(data) {
        let _ = serde_json::to_string(&e).expect("an error body serializes");
    }
    if let Ok(reply) = serde_json::from_slice::<TakeReply>(data) {
        // The board writes the confirmation into its session log.
        let _ = serde_json::to_string(&reply).expect("a take reply serializes");
        if let TakeReply::Done(c) = &reply {
            let _ = c.recorded_at.to_string();
            let _ = c.recorded_at.unix_seconds();
            let limits = crate::dsp::CheckSettings::default();
            let v = crate::control::verdict::judge(c, &limits);
            let _ = (v.disposition.as_str(), v.reason);
        }
    }
}

/// `application/x-www-form-urlencoded` bodies: the Initiate, control, login
/// and Settings forms, and the pages that show them back after an error.
pub fn form_body(data: &[u8]) {
    let form = match Form::parse(data) {
        Ok(f) => f,
        Err(e) => return client_error(&e, "form"),
    };
    let req = crate::control::web::session_request(&form);
    session(&req);
    let _ = Command::parse(&form.text("command"));
    let _ = guard::same(&form.text("password"), "secret");
    let f = fixture();
    let file = Path::new("config.json");
    let pages = views::Pages::new();
    match settings::apply(&f.config, &form, file, &f.instruments) {
        Ok(new) => {
            // What `save` writes must load again.
            if new.validate(file).is_ok() {
                let text = serde_json::to_string_pretty(&new).expect("config serializes");
                let back: Config = config::parse_json(file, &text)
                    .unwrap_or_else(|e| panic!("saved settings do not read back: {e}"));
                back.validate(file)
                    .unwrap_or_else(|e| panic!("saved settings do not validate: {e}"));
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "settings refused without a reason");
            for e in &errors {
                assert!(
                    !e.message.is_empty(),
                    "settings field {:?}: no words",
                    e.field
                );
            }
            let view = settings::view(&f.config, &f.instruments, Some(&form), &errors);
            let _ = pages.page("Settings", "settings", &view, "idle", false);
        }
    }
}

/// A request target as hyper hands it over: the recorder's routes (a take id
/// in the path, percent-encoded) and the board's (API command names, the
/// query strings the pages read).
pub fn url(data: &[u8]) {
    let Ok(uri) = hyper::Uri::try_from(data) else {
        return; // hyper answers 400 before any handler runs
    };
    let path = uri.path();
    // takebox-capture
    if path != STATUS_PATH
        && path != TAKES_PATH
        && let Some(id) = path
            .strip_prefix(TAKES_PATH)
            .and_then(|p| p.strip_prefix('/'))
    {
        match crate::http::percent_decode(id, false) {
            Some(id) => {
                if let Err(e) = crate::protocol::check_name("take_id", &id) {
                    field_error(e, "take id in the path");
                }
            }
            None => client_error(
                &ApiError::bad_field("take_id", "bad percent-encoding"),
                "path",
            ),
        }
    }
    // takebox-control
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        let _ = Command::parse(rest);
    }
    if let Some(q) = uri.query() {
        match Form::parse(q.as_bytes()) {
            Ok(form) => {
                let _ = form.get("notice");
                let _ = form.get("saved").is_some();
            }
            Err(e) => client_error(&e, "query string"),
        }
    }
}

/// The headers a browser's request carries into the board's guard: lines of
/// the input are `Host`, `Origin`, then any number of `Cookie` headers.
pub fn cookie(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        // hyper refuses a header value with control bytes before a handler runs.
        let Ok(v) = HeaderValue::from_bytes(line) else {
            continue;
        };
        let name = match i {
            0 => header::HOST,
            1 => header::ORIGIN,
            _ => header::COOKIE,
        };
        headers.append(name, v);
    }
    if let Some(v) = guard::cookie(&headers, guard::COOKIE) {
        let _ = guard::same(v, "0123456789abcdef");
    }
    if let Err(e) = guard::same_origin(&headers) {
        client_error(&e, "same-origin check");
    }
}

/// `config.json` as `takebox-control`/`takebox-capture` and `--check` read it,
/// and what a daemon derives from a valid one at start.
pub fn config_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // read_to_string refuses it, naming the file
    };
    let file = Path::new("/etc/takebox/config.json");
    let c: Config = match config::parse_json(file, text) {
        Ok(c) => c,
        Err(e) => return says("config", e),
    };
    if let Err(e) = c.validate(file) {
        return says("config", e);
    }
    let mut effective = c.clone();
    effective.resolve_paths(file);
    for url in effective.control.recorder_urls(&effective) {
        if let Err(e) = crate::http::parse_http_url(url) {
            says("recorder url", e);
        }
    }
    let _ = effective.control.effective_token(&effective);
    let cap = &effective.capture;
    let preroll = cap.frames(cap.pre_roll_seconds);
    let _ = ProcessOptions::from_config(&effective.post_processing, preroll);
    let _ = crate::protocol::seconds(effective.control.request_timeout_seconds);
    let _ = crate::protocol::seconds(effective.control.take_timeout_seconds);
    // The settings page shows it and may save it again.
    let view = settings::view(&c, &fixture().instruments, None, &[]);
    let _ = views::Pages::new().page("Settings", "settings", &view, "idle", false);
    let text = serde_json::to_string_pretty(&c).expect("config serializes");
    let back: Config = config::parse_json(file, &text)
        .unwrap_or_else(|e| panic!("a valid config does not read back: {e}"));
    back.validate(file)
        .unwrap_or_else(|e| panic!("a valid config read back is invalid: {e}"));
}

/// `instruments.json`, checked against the seed's config.
pub fn instruments_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("/etc/takebox/instruments.json");
    let list: Instruments = match config::parse_json(file, text) {
        Ok(l) => l,
        Err(e) => return says("instruments", e),
    };
    let config = &fixture().config;
    if let Err(e) = list.validate(file, config) {
        return says("instruments", e);
    }
    for inst in &list.instruments {
        inst.notes(config.notes.middle_c)
            .expect("a validated instrument's range parses");
        let req = SessionRequest {
            instrument: inst.name.clone(),
            ..SessionRequest::default()
        };
        if let Err(e) = plan::build(&req, config, &list) {
            field_error(e, "plan for a listed instrument");
        }
    }
}

/// The WAV reader alone, from memory: header, every block, seeking.
pub fn wav_reader(data: &[u8]) {
    let mut r = match WavReader::new(std::io::Cursor::new(data)) {
        Ok(r) => r,
        Err(e) => return says("wav", e),
    };
    let ch = usize::from(r.info.channels);
    let mut buf = vec![0.0f32; 1024 * ch.min(64)];
    let mut frames = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => frames += n as u64,
            Err(e) => return says("wav", e),
        }
    }
    assert_eq!(
        frames, r.info.frames,
        "frames read against frames announced"
    );
    let _ = r.seek_frame(r.info.frames / 2);
    let mut all = Vec::new();
    while let Ok(n) = r.read_append(&mut all, 777) {
        if n == 0 {
            break;
        }
    }
}

/// Scratch files for [`wav_process`]: `TAKEBOX_FUZZ_SCRATCH` (afl starts a
/// process per thousand inputs; they share it), else one folder per process.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("TAKEBOX_FUZZ_SCRATCH") {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(dir.join("out")).expect("scratch folder");
            return dir;
        }
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("takebox-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("out")).expect("scratch folder");
        dir
    })
}

/// Remove [`scratch`] (the drivers call this when they finish).
pub fn clean_scratch() {
    let _ = std::fs::remove_dir_all(scratch());
}

/// `takebox check` and `takebox process` on one file. The first byte picks
/// the options (trim, normalization, planned note, pre-roll); the rest is the
/// file.
pub fn wav_process(data: &[u8]) {
    let Some((&opt, wav)) = data.split_first() else {
        return;
    };
    let pp = PostProcessing {
        normalize_audio: false,
        trim_silence: false,
        ..PostProcessing::default()
    };
    let mut opts = ProcessOptions::from_config(&pp, 0);
    opts.carry_chunks = true;
    opts.trim = opt & 1 != 0;
    if opt & 2 != 0 {
        let note = Note::parse("A2", MiddleC::C4).expect("A2");
        opts.planned_hz = Some(note.frequency(440.0));
        opts.planned_midi = Some(note.midi());
    }
    if opt & 4 != 0 {
        opts.preroll_seconds = Some(0.25);
    }
    let normalize = match (opt >> 3) & 3 {
        0 => None,
        1 => Some("peak"),
        2 => Some("true-peak"),
        _ => Some("loudness"),
    };
    opts.normalize = normalize.map(|m| batch::normalize_settings(m, None).expect("mode"));
    let dir = scratch();
    let input = dir.join("in.wav");
    std::fs::write(&input, wav).expect("scratch file");
    let inputs = [input];
    for (_, r) in batch::check_files(&inputs, &opts, 1, |_, _, _| {}) {
        if let Err(e) = r {
            says("takebox check", e);
        }
    }
    let out = dir.join("out");
    for r in batch::process_files(
        &inputs,
        &Output::Folder(out.clone()),
        &opts,
        None,
        1,
        |_, _, _| {},
    ) {
        match r.result {
            Ok(_) => {
                // What process wrote must read back whole.
                let written = std::fs::read(out.join("in.wav")).expect("output written");
                let mut back = WavReader::new(std::io::Cursor::new(written))
                    .unwrap_or_else(|e| panic!("processed file does not read back: {e}"));
                let mut buf = vec![0.0f32; 4096 * usize::from(back.info.channels)];
                while back
                    .read(&mut buf)
                    .unwrap_or_else(|e| panic!("processed file is cut short: {e}"))
                    > 0
                {}
            }
            Err(e) => says("takebox process", e),
        }
    }
}

/// A session log's lines, and what the catalog, the exports and the
/// retention job make of them.
pub fn session_log(data: &[u8]) {
    let path = Path::new("/var/log/takebox/20260101-120000.jsonl");
    let rec = session_log_format::parse(path, data.split(|&b| b == b'\n'));
    for e in &rec.errors {
        says("log line", e);
    }
    for t in &rec.takes {
        let _ = t.usable();
        let _ = t.cents();
    }
    if let Some(t) = rec.last_time.as_deref() {
        let _ = session_log_format::parse_time(t);
    }
    let a4 = rec.settings["default_frequency"].as_f64().unwrap_or(440.0);
    let (layers, _skipped) = mapping::map(rec.playable(), a4);
    let instrument = rec
        .instrument
        .clone()
        .unwrap_or_else(|| "instrument".into());
    for l in &layers {
        let _ = l.name();
        let _ = sfz::render(&rec, &instrument, l);
        let _ = dspreset::render(&rec, &instrument, l);
    }
    let _ = csv::render(&layers);
    let facts = crate::retention::facts(&rec, None);
    let policy = crate::retention::Policy {
        max_age: Duration::from_secs(30 * 86_400),
        require_imported: true,
    };
    let _ = crate::retention::decide(&facts, &policy, SystemTime::now());
    let _ = Timestamp::now();
}
