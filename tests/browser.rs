//! The page in headless Chromium, driven over WebDriver (plain JSON over HTTP to
//! chromedriver on loopback), with a tone played into the recorder's PulseAudio
//! source: Initiate -> the meter and the tuner live while armed -> Start from
//! the keyboard -> countdown in the largest type -> NOW -> the meter live while
//! recording -> the confirmation with its file, figures and waveform -> a silent
//! take that needs attention. At every phase, at 390x844 and 1280x800: the type
//! sizes, the contrast of every text and button and the tap targets are
//! measured in the browser, and a screenshot is kept in artifacts/.

mod common;

use common::webdriver::Driver;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// Every visible text and button whose contrast against what lies behind it
/// is under 4.5:1, every link or button smaller than 44 px, and the type
/// sizes of the note and the countdown as fractions of the viewport height.
const MEASURE: &str = r##"
function rgb(c) { var m = c.match(/[\d.]+/g).map(Number); return { c: m, a: m.length > 3 ? m[3] : 1 }; }
function lum(m) {
  var f = function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(m[0]) + 0.7152 * f(m[1]) + 0.0722 * f(m[2]);
}
function behind(el) {
  for (; el; el = el.parentElement) {
    var b = rgb(getComputedStyle(el).backgroundColor);
    if (b.a > 0.99) return b.c;
  }
  return [255, 255, 255];
}
function shown(el) {
  var s = getComputedStyle(el);
  return el.getClientRects().length > 0 && s.visibility === "visible" && !el.closest("[hidden]");
}
var low = [], small = [];
document.querySelectorAll("body *").forEach(function (el) {
  var own = [].some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim(); });
  if (!shown(el) || !(own || el.tagName === "BUTTON")) return;
  var fg = lum(rgb(getComputedStyle(el).color).c), bg = lum(behind(el));
  var ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
  if (ratio < 4.5) low.push(el.tagName + "#" + el.id + "." + el.className + " '" + el.textContent.trim().slice(0, 30) + "' " + ratio.toFixed(2));
});
document.querySelectorAll("a, button").forEach(function (el) {
  var r = el.getBoundingClientRect();
  if (shown(el) && (r.width < 44 || r.height < 44)) small.push(el.textContent.trim() + " " + r.width + "x" + r.height);
});
var size = function (id) {
  var el = document.getElementById(id);
  return el && shown(el) ? parseFloat(getComputedStyle(el).fontSize) / innerHeight : null;
};
var foreign = performance.getEntriesByType("resource").map(function (r) { return r.name; })
  .filter(function (u) { return u.indexOf(location.origin + "/") !== 0; });
var digit = /^\d+$/.test((document.getElementById("countdown_text") || {}).textContent);
return { low: low, small: small, note: size("note_text"), countdown: digit ? size("countdown_text") : null,
  stage: document.getElementById("stage").className, foreign: foreign,
  width: innerWidth, height: innerHeight };
"##;

/// At both sizes, in the stage `phase` (its class name): the measurements
/// above asserted and a screenshot kept.
fn every_size(browser: &Driver, phase: &str) {
    for (w, h) in [(1280u64, 800u64), (390, 844)] {
        browser.resize(w, h);
        let m = browser.execute_with(MEASURE, Value::Null);
        assert_eq!(
            m["low"],
            json!([]),
            "{phase} at {w}x{h}: contrast under 4.5:1"
        );
        assert_eq!(
            m["small"],
            json!([]),
            "{phase} at {w}x{h}: tap targets under 44 px"
        );
        assert_eq!(m["foreign"], json!([]), "{phase}: requests off the board");
        if let Some(note) = m["note"].as_f64() {
            assert!(
                note >= 0.15,
                "{phase} at {w}x{h}: note at {note} of the height"
            );
        }
        if let Some(n) = m["countdown"].as_f64() {
            assert!(
                n >= 0.25,
                "{phase} at {w}x{h}: countdown at {n} of the height"
            );
        }
        assert_eq!(
            (m["width"].as_u64(), m["height"].as_u64()),
            (Some(w), Some(h))
        );
        assert_eq!(m["stage"], format!("stage stage-{phase}"), "at {w}x{h}");
        browser.screenshot(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("artifacts/status-{phase}-{w}x{h}.png")),
        );
    }
}

/// The stage's class name (`armed`, `countdown`, ...).
fn stage(browser: &Driver) -> String {
    let v = browser.execute_with(
        "return document.getElementById('stage').className;",
        Value::Null,
    );
    v.as_str()
        .unwrap_or("")
        .trim_start_matches("stage stage-")
        .to_string()
}

/// The first meter's reading, dBFS (-60: silence).
fn meter(browser: &Driver) -> Option<f64> {
    browser
        .execute_with(
            "var m = document.querySelector('.meter[id]'); return m && Number(m.getAttribute('aria-valuenow'));",
            Value::Null,
        )
        .as_f64()
}

fn phase(browser: &Driver) -> String {
    browser.text("#phase_label").unwrap_or_default()
}

/// The tuner's reading in cents, when it shows one.
fn tuner_cents(browser: &Driver) -> Option<f64> {
    let text = browser.text("#tuner_text")?;
    let cents = text.split(" cents").next()?.rsplit(' ').next()?;
    cents.trim_start_matches('+').parse().ok()
}

#[test]
fn the_page_records_takes_readable_across_the_room_in_chromium() {
    let pulse = Pulse::start();
    let ws = Workspace::new();
    ws.mount_share();
    // Phases long enough to be measured and photographed twice on a loaded
    // machine: a 6 s countdown, a 4 s note, a 3 s release tail while the
    // board waits for the confirmation.
    ws.write_board_config(
        free_port(),
        json!({"countdown_duration": 6, "articulation_durations": {"short": 0.2, "medium": 4.0, "long": 5.0, "transient": 0.05},
               "capture": {"release_tail_seconds": 3.0}}),
    );
    let _capture = Daemon::capture(&ws, Some(&pulse));
    let control = Daemon::control(&ws);
    let base = format!("http://{}", control.addr);
    // Its icon is served: no 404 in the console.
    let page = |path: &str| -> usize {
        let (code, v) = http(control.addr, "GET", path, None, None);
        assert_eq!(code, 200, "{path}");
        v.as_str().map(str::len).unwrap_or(0)
    };
    page("/favicon.ico");
    let browser = Driver::start_sized(412, 1000);
    browser.go(&format!("{base}/"));
    every_size(&browser, "idle");

    browser.go(&format!("{base}/initiate"));
    browser.type_into("input[name=lowest_note]", "A4");
    browser.type_into("input[name=highest_note]", "A4");
    browser.click("input[name=articulations][value=medium]");
    browser.type_into("input[name=round_robins]", "3");
    browser.type_into("input[name=user_initials]", "wd");
    browser.click("#begin");
    wait_for(
        "the status page with the session",
        Duration::from_secs(30),
        || browser.text("#note_text").filter(|t| t == "A4"),
    );
    assert_eq!(browser.text("#progress_text").as_deref(), Some("0 of 3"));

    // A tone a little sharp of A4 in the room: the meter shows its level and
    // the tuner its cents against the next note, live.
    let sharp = 446.0;
    let tone = ws.dir.path().join("tone.wav");
    write_tone(&tone, sharp, 0.3, 30.0);
    let mut player = pulse.play(&tone);
    let expected = 1200.0 * (sharp / 440.0f64).log2();
    // A second stream of the page's own, to tell how often the meter moves.
    browser.execute_with(
        "window.lv = {n: 0, tuned: 0, since: Date.now()};
         new EventSource('/events').addEventListener('levels', function (e) {
           window.lv.n++; if (JSON.parse(e.data).tuner) window.lv.tuned++; });",
        Value::Null,
    );
    let cents = wait_for("the tuner's cents", Duration::from_secs(30), || {
        tuner_cents(&browser).filter(|c| (c - expected).abs() < 3.0)
    });
    let level = wait_for("the tone on the meter", Duration::from_secs(30), || {
        meter(&browser).filter(|db| (-14.0..=-7.0).contains(db))
    });
    every_size(&browser, "armed");
    let rate = browser.execute_with(
        "var s = (Date.now() - window.lv.since) / 1000; return [window.lv.n / s, window.lv.tuned / s];",
        Value::Null,
    );
    eprintln!("levels events per second while armed (all, with a tuner reading): {rate}");
    // The room falls quiet for the countdown: the meter falls with it, the
    // tuner goes, and the pre-roll measures the noise floor.
    let _ = player.kill();
    let _ = player.wait();
    wait_for("the meter to fall", Duration::from_secs(30), || {
        meter(&browser).filter(|db| *db <= -40.0)
    });
    wait_for("the tuner to go", Duration::from_secs(30), || {
        tuner_cents(&browser).is_none().then_some(())
    });
    eprintln!("tuner {cents:+.1} cents for {expected:+.1}; meter {level} dBFS");

    // Space starts the take.
    browser.press(" ");
    let seen = wait_for("the countdown on screen", Duration::from_secs(30), || {
        let n = browser.text("#countdown_text")?;
        (phase(&browser) == "countdown" && !n.is_empty()).then_some(n)
    });
    assert!(
        (1..=6).contains(&seen.parse::<u32>().unwrap_or(0)),
        "{seen}"
    );
    browser.execute_with(
        "var el = document.getElementById('countdown_text');
         new MutationObserver(function () { if (el.textContent === 'NOW') window.sawNow = true; })
           .observe(el, {childList: true, characterData: true, subtree: true});",
        Value::Null,
    );
    every_size(&browser, "countdown");
    let note = ws.dir.path().join("note.wav");
    write_tone(&note, 440.0, 0.3, 4.5);
    pulse.upload_sample(&note, "note");
    wait_for("the recording phase", Duration::from_secs(30), || {
        (phase(&browser) == "recording").then_some(())
    });
    pulse.play_sample("note");
    // The meter follows the note while it is recorded, not afterwards.
    wait_for(
        "the note on the meter while recording",
        Duration::from_secs(30),
        || {
            let p = phase(&browser);
            assert!(
                p == "recording",
                "the recording ended ({p}) with the meter at {:?}",
                meter(&browser)
            );
            meter(&browser).filter(|db| *db > -20.0)
        },
    );
    assert_eq!(
        browser.execute_with("return window.sawNow === true;", Value::Null),
        json!(true),
        "NOW at the end of the countdown"
    );
    every_size(&browser, "recording");
    wait_for(
        "the board checking the take",
        Duration::from_secs(30),
        || (phase(&browser) == "waiting for confirmation").then_some(()),
    );
    every_size(&browser, "checking");

    // The confirmation: its file, its figures and its waveform, without reloading.
    let path = wait_for(
        "the confirmation on screen",
        Duration::from_secs(30),
        || browser.text("#last_paths").filter(|t| t.ends_with(".wav")),
    );
    assert!(path.contains("/guitar_A4_medium_rr1_"), "{path}");
    assert!(ws.share().join(&path).exists(), "{path} is on the share");
    assert_eq!(browser.text("#last_verdict").as_deref(), Some("ok"));
    let figures = browser.text("#last_figures").unwrap_or_default();
    assert!(
        figures.contains(" cents · peak -") && figures.contains("SNR"),
        "{figures}"
    );
    let wave = browser.execute_with(
        "var p = document.getElementById('wave_path'), b = p.getBBox(), a = function (id, n) {
           return Number(document.getElementById(id).getAttribute(n)); };
         return { shown: !document.getElementById('wave').hidden, columns: p.getAttribute('d').split('M').length - 1,
                  height: b.height, width: a('wave_start', 'x2') >= 0 && Number(p.ownerSVGElement.viewBox.baseVal.width),
                  start: a('wave_start', 'x1'), from: a('wave_trim_a', 'width'), to: a('wave_trim_b', 'x') };",
        Value::Null,
    );
    assert_eq!(wave["shown"], true, "{wave}");
    let columns = wave["columns"].as_u64().unwrap();
    assert!((400..=800).contains(&columns), "{wave}");
    assert!(
        wave["height"].as_f64().unwrap() > 50.0,
        "the note is drawn: {wave}"
    );
    let (start, from, to) = (
        wave["start"].as_f64().unwrap(),
        wave["from"].as_f64().unwrap(),
        wave["to"].as_f64().unwrap(),
    );
    assert!(
        0.0 < start && from < to && to <= columns as f64,
        "pre-roll, planned start and trim marked: {wave}"
    );
    for (w, h) in [(1280, 800), (390, 844)] {
        browser.resize(w, h);
        browser.element_screenshot(
            "#wave",
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("artifacts/status-waveform-{w}x{h}.png")),
        );
    }
    // The page stays light with a waveform on it.
    let weight = page("/") + page("/app.js");
    eprintln!("status page with its script: {weight} bytes");
    assert!(weight < 40_000, "status page and script: {weight} bytes");
    wait_for("progress 1 of 3", Duration::from_secs(30), || {
        (browser.text("#progress_text")? == "1 of 3").then_some(())
    });
    every_size(&browser, "ok");
    let why = browser.text("#stage_last").unwrap_or_default();
    assert!(why.starts_with("last take ok · "), "{why}");

    // A take nobody plays: silent, and the whole view asks for attention.
    browser.click("button[value=start]");
    wait_for("the second take's verdict", Duration::from_secs(40), || {
        (browser.text("#last_text")?.contains("-0002-")
            && !browser.text("#last_verdict")?.is_empty())
        .then_some(())
    });
    wait_for(
        "the view to ask for attention",
        Duration::from_secs(30),
        || (stage(&browser) == "attention").then_some(()),
    );
    every_size(&browser, "attention");
    // The reason is on the stage, with the figures.
    let why = browser.text("#stage_last").unwrap_or_default();
    assert!(why.starts_with("last take warn: silent"), "{why}");
}
