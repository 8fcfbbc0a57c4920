//! A recordist's session on the page in headless Chromium at phone size
//! (390x844), against real daemons with a generated silent input: the silent
//! take pauses auto-advance and its verdict is shown by name, the take is
//! played back (the audio element loads and reports a duration), a slot is
//! recorded again from the take list after the session finished, and Start is
//! refused with the reason while the recorder is down. Screenshots of each
//! step go to artifacts/.

mod common;

use common::webdriver::Driver;
use common::*;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("artifacts/{name}"))
}

/// Wait until the element `css` shows `text` (a live update or a reload).
fn wait_text(browser: &Driver, what: &str, css: &str, text: &str) {
    wait_for(what, Duration::from_secs(40), || {
        (browser.text(css)? == text).then_some(())
    });
}

#[test]
fn a_recordist_session_pauses_on_a_silent_take_plays_it_back_and_records_it_again() {
    let (ws, mut capture, control) =
        generated_board("takebox:silence", json!({"countdown_duration": 1.0}));
    let base = format!("http://{}", control.addr);
    let (code, begun) = board_post(
        &control,
        "/api/v1/session",
        json!({"instrument": "guitar", "lowest_note": "A4", "highest_note": "A#4",
               "articulations": ["short"], "auto_advance": true}),
    );
    assert_eq!(code, 201, "{begun}");
    let browser = Driver::start_sized(390, 844);
    browser.go(&format!("{base}/"));
    browser.click("button[value=start]");

    // The silent take stops auto-advance; its verdict is shown by name.
    wait_text(&browser, "the pause", "#phase_label", "paused");
    wait_text(&browser, "the verdict by name", "#flow_verdict", "silent");
    let figures = browser.text("#flow_figures").unwrap();
    assert!(figures.contains("peak: silence"), "{figures}");
    let message = browser.text("#message").unwrap();
    assert!(message.contains("needs attention: silent"), "{message}");
    browser.screenshot(&artifact("session-paused-390x844.png"));

    // Listen back: the audio element loads the take and knows its length.
    let duration = wait_for("the take to load", Duration::from_secs(30), || {
        let v = browser.execute(
            "var a = document.getElementById('last_audio');
             return a && a.readyState >= 1 ? a.duration : null;",
        );
        v.as_f64().filter(|d| d.is_finite() && *d > 0.0)
    });
    assert!(duration < 5.0, "a short take: {duration} s");

    // Resume goes on to the last slot; the session finishes with its review.
    browser.click("button[value=resume]");
    wait_text(&browser, "the end", "#phase_label", "finished");
    wait_text(
        &browser,
        "the review",
        "#flow_review",
        "2 takes need attention",
    );

    // Record slot 1 again from the take list, after the session finished.
    browser.go(&format!("{base}/takes"));
    assert_eq!(
        browser.text("#takes_review").as_deref(),
        Some("2 takes need attention")
    );
    assert_eq!(
        browser.text("#slot-1 .name").as_deref(),
        Some("silent"),
        "the list names the verdict"
    );
    browser.screenshot(&artifact("take-list-390x844.png"));
    browser.click("#slot-1 button.again");
    wait_text(
        &browser,
        "the reopened session's end",
        "#phase_label",
        "finished",
    );
    let list = board_get(&control, "/api/v1/takes");
    assert_eq!(list["rows"][0]["attempts"], 2, "{list}");
    assert_eq!(list["rows"][1]["attempts"], 1, "{list}");

    // A new session; the recorder goes down and Start is refused, saying why.
    let (code, _) = board_post(
        &control,
        "/api/v1/session",
        json!({"instrument": "guitar", "lowest_note": "B4", "highest_note": "B4",
               "articulations": ["short"]}),
    );
    assert_eq!(code, 201);
    capture.kill9();
    board_wait(&control, "the recorder to show as down", 10, |s| {
        s["recorders"][0]["up"] == false
    });
    browser.go(&format!("{base}/"));
    browser.click("button[value=start]");
    let flash = wait_for("the refusal on the page", Duration::from_secs(30), || {
        browser.text("#flash")
    });
    assert!(flash.contains("is down"), "{flash}");
    assert_eq!(browser.text("#phase_label").as_deref(), Some("armed"));
    browser.screenshot(&artifact("start-refused-390x844.png"));
    drop(ws);
}
