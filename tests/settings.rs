//! Settings and config (issue 13, items 8-10), against the real binaries:
//! `--check` refuses what start would refuse and says why in words; the
//! running board's Settings page shows every error at once and saves only
//! what the form changed, the rest of config.json as it was written.

mod common;

use common::{Daemon, TOKEN, Workspace, free_port, post_form, raw_http, wait_for};
use serde_json::json;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `bin --check --config <ws's config.json>`, with `token` as TAKEBOX_TOKEN
/// (none when `None`).
fn check(bin: &str, ws: &Workspace, token: Option<&str>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.arg("--check")
        .arg("--config")
        .arg(ws.config_path())
        .env_remove("TAKEBOX_TOKEN")
        .env_remove("TAKEBOX_CONFIG")
        .stdin(Stdio::null());
    if let Some(t) = token {
        cmd.env("TAKEBOX_TOKEN", t);
    }
    cmd.output().unwrap()
}

const CAPTURE: &str = env!("CARGO_BIN_EXE_takebox-capture");
const CONTROL: &str = env!("CARGO_BIN_EXE_takebox-control");

/// Exit code 2 and a message that names the config file and says each of `words`.
fn assert_refused(out: &Output, ws: &Workspace, words: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    let file = ws.config_path().display().to_string();
    assert!(err.contains(&file), "the file is not named: {err}");
    for w in words {
        assert!(err.contains(w), "{w:?} missing: {err}");
    }
}

fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_refuses_folders_that_start_cannot_make() {
    let ws = Workspace::new();
    ws.write_config(json!({"capture": {"spool_path": "/proc/takebox-test/spool"}}));
    let out = check(CAPTURE, &ws, Some(TOKEN));
    assert_refused(&out, &ws, &["capture.spool_path", "/proc"]);
    // Start refuses the same, with the same words, before it listens.
    let mut child = Command::new(CAPTURE)
        .arg("--config")
        .arg(ws.config_path())
        .env("TAKEBOX_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for(
        "capture to refuse its start",
        Duration::from_secs(30),
        || child.try_wait().unwrap(),
    );
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("capture.spool_path"), "{err}");

    // A spool path through a file.
    std::fs::write(ws.dir.path().join("plain"), b"").unwrap();
    ws.write_config(json!({"capture": {"spool_path": ws.dir.path().join("plain/spool")}}));
    let out = check(CAPTURE, &ws, Some(TOKEN));
    assert_refused(
        &out,
        &ws,
        &["capture.spool_path", "is a file, not a folder"],
    );

    // The log folder, when logging to a file, and the board's state_dir.
    ws.write_config(
        json!({"logging": {"log_to_file": true, "log_directory": "/sys/takebox-logs"}}),
    );
    let out = check(CAPTURE, &ws, Some(TOKEN));
    assert_refused(&out, &ws, &["logging.log_directory", "/sys"]);
    ws.write_board_config(
        free_port(),
        json!({"control": {"state_dir": "/proc/takebox-state"}}),
    );
    let out = check(CONTROL, &ws, Some(TOKEN));
    assert_refused(&out, &ws, &["control.state_dir", "/proc"]);
    // Nothing was made by checking.
    ws.write_board_config(
        free_port(),
        json!({"control": {"state_dir": "not-yet/state"}}),
    );
    assert_ok(&check(CONTROL, &ws, Some(TOKEN)));
    assert!(!ws.dir.path().join("not-yet").exists());
}

#[test]
fn check_says_in_words_what_is_wrong_with_the_file() {
    let ws = Workspace::new();
    let path = ws.config_path();
    // Only `[]`.
    std::fs::write(&path, "[]").unwrap();
    let out = check(CAPTURE, &ws, Some(TOKEN));
    assert_refused(&out, &ws, &["expected a JSON object", "array"]);
    // A byte order mark before a good file is accepted.
    ws.write_config(json!({}));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("\u{feff}{text}")).unwrap();
    assert_ok(&check(CAPTURE, &ws, Some(TOKEN)));
    // 100 MB is refused before it is read.
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(100_000_000).unwrap();
    drop(f);
    let out = check(CAPTURE, &ws, Some(TOKEN));
    assert_refused(&out, &ws, &["at most 1048576 bytes"]);
    // So is a big instruments.json.
    ws.write_board_config(free_port(), json!({}));
    let inst = ws.dir.path().join("instruments.json");
    std::fs::File::create(&inst)
        .unwrap()
        .set_len(2 << 20)
        .unwrap();
    let out = check(CONTROL, &ws, Some(TOKEN));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("instruments.json") && err.contains("at most 1048576 bytes"),
        "{err}"
    );
}

#[test]
fn check_refuses_tokens_that_can_never_match_and_bounds_every_field() {
    let ws = Workspace::new();
    ws.write_config(json!({"capture": {"token": "secret "}}));
    let out = check(CAPTURE, &ws, None);
    assert_refused(&out, &ws, &["capture.token", "whitespace"]);
    ws.write_board_config(free_port(), json!({"control": {"token": " secret"}}));
    let out = check(CONTROL, &ws, None);
    assert_refused(&out, &ws, &["control.token", "whitespace"]);
    // The same from the environment.
    ws.write_config(json!({}));
    let out = check(CAPTURE, &ws, Some("secret\t"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("TAKEBOX_TOKEN") && err.contains("whitespace"),
        "{err}"
    );
    assert_ok(&check(CAPTURE, &ws, Some(TOKEN)));
    // The page's bounds are --check's.
    for (patch, field) in [
        (json!({"countdown_duration": 0}), "countdown_duration"),
        (
            json!({"articulation_durations": {"short": 0.2, "medium": 0.5, "long": 1, "transient": 0.05, "legato": 1e9}}),
            "articulation_durations.legato",
        ),
        (
            json!({"storage_management": {"min_free_gb": 1e300}}),
            "storage_management.min_free_gb",
        ),
    ] {
        ws.write_board_config(free_port(), patch);
        let out = check(CONTROL, &ws, Some(TOKEN));
        assert_refused(&out, &ws, &[field]);
    }
}

/// The form exactly as the page sends it for the seed's settings, with `changes`.
fn page_form(changes: &[(&str, &str)]) -> String {
    let mut fields: Vec<(String, String)> = [
        ("countdown_duration", "5"),
        ("articulation_durations.long", "1"),
        ("articulation_durations.medium", "0.5"),
        ("articulation_durations.short", "0.2"),
        ("articulation_durations.transient", "0.05"),
        ("add_articulation", ""),
        ("session_settings.default_note", "A4"),
        ("session_settings.default_frequency", "440"),
        ("post_processing.peak_target_dbfs", "-1"),
        ("storage_management.max_age_days", "30"),
        ("storage_management.min_free_gb", "2"),
        ("session_settings.default_instrument", "guitar"),
        ("session_settings.default_articulation", "long"),
        ("file_naming.include_session_id", "0"),
        ("file_naming.include_session_id", "1"),
        ("file_naming.include_user_initials", "0"),
        ("post_processing.normalize_audio", "0"),
        ("post_processing.normalize_audio", "1"),
        ("storage_management.auto_cleanup", "0"),
        ("storage_management.auto_cleanup", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in changes {
        match fields.iter_mut().find(|(f, _)| f == k) {
            Some(f) if !k.starts_with("file_naming") => f.1 = v.to_string(),
            _ => fields.push((k.to_string(), v.to_string())),
        }
    }
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&")
}

/// config.json as a person wrote it: tabs, articulations in their own order,
/// whole numbers without a fraction, most sections absent.
fn handwritten(capture_port: u16) -> String {
    format!(
        "{{\n\
         \t\"countdown_duration\": 5,\n\
         \t\"articulation_durations\": {{\"long\": 1, \"short\": 0.2, \"transient\": 0.05, \"medium\": 0.5}},\n\
         \t\"logging\": {{\"log_directory\": \"logs\", \"log_to_file\": false}},\n\
         \t\"capture\": {{\"listen\": \"127.0.0.1:{capture_port}\"}},\n\
         \t\"control\": {{\n\
         \t\t\"listen\": \"127.0.0.1:0\",\n\
         \t\t\"recorders\": [\"http://127.0.0.1:{capture_port}\"],\n\
         \t\t\"state_dir\": \"state\",\n\
         \t\t\"request_timeout_seconds\": 1\n\
         \t}}\n\
         }}\n"
    )
}

#[test]
fn the_page_saves_only_what_the_form_changed() {
    let ws = Workspace::new();
    let port = free_port();
    ws.write_board_config(port, json!({}));
    let text = handwritten(port);
    std::fs::write(ws.config_path(), &text).unwrap();
    let control = Daemon::control(&ws);
    let a = control.addr;

    // The page as it is, sent back unchanged: the file stays byte for byte.
    let (code, _, page) = raw_http(a, "GET", "/settings", &[], b"");
    assert_eq!(code, 200);
    assert!(
        page.contains("name=\"countdown_duration\" value=\"5\""),
        "{page}"
    );
    let (code, head, page) = post_form(a, "/settings", &page_form(&[]));
    assert_eq!(code, 303, "{head}{page}");
    assert_eq!(std::fs::read_to_string(ws.config_path()).unwrap(), text);

    // Three changes: only they are written, each where it belongs.
    let (code, head, page) = post_form(
        a,
        "/settings",
        &page_form(&[
            ("countdown_duration", "3"),
            ("add_articulation", "legato 1.5"),
            ("file_naming.include_user_initials", "1"),
        ]),
    );
    assert_eq!(code, 303, "{head}{page}");
    let want = text
        .replace("\"countdown_duration\": 5,", "\"countdown_duration\": 3,")
        .replace("\"medium\": 0.5}", "\"medium\": 0.5, \"legato\": 1.5}")
        .replace(
            "\t\t\"request_timeout_seconds\": 1\n\t}\n",
            "\t\t\"request_timeout_seconds\": 1\n\t},\n\t\"file_naming\": {\n\t\t\"include_user_initials\": true\n\t}\n",
        );
    let saved = std::fs::read_to_string(ws.config_path()).unwrap();
    assert_eq!(saved, want);
    assert!(!saved.contains("pace"), "{saved}");
    // The daemon goes on with what the file now says.
    let cfg = takebox::config::Config::load(&ws.config_path()).unwrap();
    assert_eq!(cfg.countdown_duration, 3.0);
    assert!(cfg.file_naming.include_user_initials);
    let (_, _, page) = raw_http(a, "GET", "/settings?saved=1", &[], b"");
    assert!(
        page.contains("name=\"countdown_duration\" value=\"3\""),
        "{page}"
    );
    let leftovers = std::fs::read_dir(ws.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .count();
    assert_eq!(leftovers, 0);

    // Removing an articulation takes its member out and nothing else.
    let before = saved;
    let form = page_form(&[
        ("countdown_duration", "3"),
        ("articulation_durations.legato", "1.5"),
        ("file_naming.include_user_initials", "1"),
        ("articulation_durations.legato", ""),
    ]);
    let (code, head, _) = post_form(a, "/settings", &form);
    assert_eq!(code, 303, "{head}");
    assert_eq!(
        std::fs::read_to_string(ws.config_path()).unwrap(),
        before.replace(", \"legato\": 1.5}", "}")
    );
}

#[test]
fn the_page_shows_every_error_at_once_and_focuses_the_first() {
    let ws = Workspace::new();
    ws.write_board_config(free_port(), json!({}));
    let before = std::fs::read_to_string(ws.config_path()).unwrap();
    let control = Daemon::control(&ws);
    let a = control.addr;
    let (code, _, page) = post_form(
        a,
        "/settings",
        "countdown_duration=0&add_articulation=legato+1e9&storage_management.min_free_gb=1e300\
         &file_naming.include_user_initials=0&file_naming.include_user_initials=maybe",
    );
    assert_eq!(code, 400, "{page}");
    for (field, words) in [
        ("countdown_duration", "expected at least 0.5 seconds"),
        ("add_articulation", "at most 3600"),
        ("storage_management.min_free_gb", "from 0 to 1000000000"),
        ("file_naming.include_user_initials", "got &quot;maybe&quot;"),
    ] {
        let span = format!("id=\"err_{field}\" data-field=\"{field}\">");
        let at = page
            .find(&span)
            .unwrap_or_else(|| panic!("no error beside {field}: {page}"));
        let msg = &page[at + span.len()..];
        let msg = &msg[..msg.find("</span>").unwrap()];
        assert!(msg.contains(words), "{field}: {msg}");
    }
    assert!(page.contains("4 values need a change"), "{page}");
    // One autofocus, on the first invalid field, which comes first on the page.
    assert_eq!(page.matches(" autofocus").count(), 1, "{page}");
    let input = page
        .split("<input ")
        .find(|i| i.contains(" autofocus"))
        .unwrap();
    assert!(input.starts_with("name=\"countdown_duration\""), "{input}");
    assert!(input.contains("aria-invalid=\"true\""), "{input}");
    // The values typed are shown back, and nothing is saved.
    assert!(page.contains("value=\"legato 1e9\""), "{page}");
    assert_eq!(std::fs::read_to_string(ws.config_path()).unwrap(), before);
    // 10^9 GB still means "never arm" and is saved.
    let (code, head, _) = post_form(a, "/settings", "storage_management.min_free_gb=1e9");
    assert_eq!(code, 303, "{head}");
    let cfg = takebox::config::Config::load(&ws.config_path()).unwrap();
    assert_eq!(cfg.storage_management.min_free_gb, 1e9);
}
