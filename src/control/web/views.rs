//! The pages, rendered with tinytemplate from flat view models. The default
//! formatter HTML-escapes every `{value}`; only the CSS (a constant) and a page
//! body already rendered by these templates are inserted unescaped.

use super::super::cycle::{CycleStatus, Phase};
use super::super::health::RecorderHealth;
use super::stage::{self, Actions, MeterView, WaveView};
use serde::Serialize;
use tinytemplate::TinyTemplate;

pub const CSS: &str = include_str!("templates/style.css");
pub const APP_JS: &str = include_str!("templates/app.js");
/// Settings -> Update's upload with progress, and the install followed.
pub const UPDATE_JS: &str = include_str!("templates/update.js");
/// The tab's icon: a record dot, served so that no browser asks in vain.
pub const FAVICON_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#b3001b"/></svg>"##;

/// The page renderer. TinyTemplate holds its formatters in boxes that are not
/// `Sync`, so each worker thread parses the templates once for itself.
pub struct Pages;

thread_local! {
    static TEMPLATES: TinyTemplate<'static> = templates();
}

fn templates() -> TinyTemplate<'static> {
    let mut tt = TinyTemplate::new();
    for (name, text) in [
        ("layout", include_str!("templates/layout.html")),
        ("status", include_str!("templates/status.html")),
        ("initiate", include_str!("templates/initiate.html")),
        ("settings", include_str!("templates/settings.html")),
        ("login", include_str!("templates/login.html")),
        ("flow", include_str!("templates/flow.html")),
        ("takes", include_str!("templates/takes.html")),
        ("abort", include_str!("templates/abort.html")),
    ] {
        tt.add_template(name, text)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    tt
}

#[derive(Serialize)]
struct Layout<'a> {
    title: &'a str,
    css: &'static str,
    body: &'a str,
    phase: &'a str,
    refresh: bool,
    /// Seconds between reloads without JavaScript: shorter while a take is under way.
    refresh_seconds: u32,
    script: bool,
}

/// Without JavaScript the page reloads itself: every second while a take is
/// under way (so "recording" is seen), every 2 s otherwise.
pub fn refresh_seconds(phase: &str) -> u32 {
    match phase {
        "countdown" | "recording" | "waiting" => 1,
        _ => 2,
    }
}

impl Pages {
    /// Parses every template once, so a broken one stops the daemon at start.
    pub fn new() -> Pages {
        TEMPLATES.with(|_| ());
        Pages
    }

    /// A whole page: `template` rendered with `ctx` inside the layout.
    pub fn page<T: Serialize>(
        &self,
        title: &str,
        template: &str,
        ctx: &T,
        phase: &str,
        live: bool,
    ) -> String {
        TEMPLATES.with(|tt| {
            let body = tt.render(template, ctx).unwrap_or_else(|e| {
                format!(
                    "<p class=\"error\">page {template} failed: {}</p>",
                    escape(&e.to_string())
                )
            });
            let layout = Layout {
                title,
                css: CSS,
                body: &body,
                phase,
                refresh: live,
                refresh_seconds: refresh_seconds(phase),
                script: live,
            };
            tt.render("layout", &layout)
                .unwrap_or_else(|e| format!("layout failed: {}", escape(&e.to_string())))
        })
    }
}

impl Default for Pages {
    fn default() -> Self {
        Pages::new()
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::new();
    tinytemplate::escape(s, &mut out);
    out
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecorderView {
    pub url: String,
    pub class: &'static str,
    pub state: String,
    pub detail: String,
}

/// The status as the page shows it; also what `/events` sends.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusView {
    pub flash: String,
    pub has_session: bool,
    /// No session open: the Initiate form may begin one.
    pub can_initiate: bool,
    pub phase: Phase,
    /// The colour of the whole view ([`stage::stage`]).
    pub stage: &'static str,
    pub phase_label: String,
    pub countdown_text: String,
    /// The note's name alone, in the largest type; its frequency beside it.
    pub note_text: String,
    pub note_hz: String,
    pub articulation_text: String,
    pub progress_text: String,
    pub remaining_text: String,
    pub skipped_text: String,
    /// How the last take went, on the stage while the next one waits.
    pub stage_last: String,
    pub done: usize,
    pub total: usize,
    /// The buttons shown.
    pub actions: Actions,
    pub session_text: String,
    pub take_id: String,
    pub message: String,
    pub last_text: String,
    pub last_verdict: String,
    pub last_reason: String,
    pub last_paths: Vec<String>,
    /// Cents, peak and SNR of the last take, whatever its verdict.
    pub last_figures: String,
    pub wave: WaveView,
    pub meters: Vec<MeterView>,
    pub recorders: Vec<RecorderView>,
    /// The session flow's part of the page (`flow.html`): the verdict by name,
    /// listening back, the review.
    pub flow: FlowView,
    /// What is wrong with the board itself: writes that fail (a full `/var`),
    /// a clock no time server keeps.
    pub board_problems: Vec<String>,
}

/// The verdict by name with its figures, the last take to listen to, the
/// review ("3 takes need attention") and whether the session is paused.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct FlowView {
    pub verdict_name: String,
    /// `ok`, `warn` or `failed`: the colour.
    pub verdict_class: String,
    /// "peak -3.2 dBFS · +2.1 cents · SNR 52.0 dB".
    pub figures: String,
    /// Where the last take plays (empty: nothing to play).
    pub play: String,
    pub attention: usize,
    pub review: String,
    pub skipped: String,
    /// The review's button: takes need attention and none is under way.
    pub can_record_again: bool,
    pub paused: bool,
}

/// "1 take needs attention", "3 takes need attention".
pub fn attention_text(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => "1 take needs attention".into(),
        n => format!("{n} takes need attention"),
    }
}

fn flow_view(c: &CycleStatus) -> FlowView {
    let last = c.last.as_ref();
    let under_way = matches!(
        c.phase,
        Phase::Countdown | Phase::Recording | Phase::Waiting
    );
    FlowView {
        verdict_name: last
            .map(|l| l.figures.verdict_name.clone())
            .unwrap_or_default(),
        verdict_class: last
            .map(|l| l.judgement.disposition.as_str().to_string())
            .unwrap_or_default(),
        figures: last
            .map(|l| stage::figures_text(&l.figures))
            .unwrap_or_default(),
        play: last
            .filter(|l| !l.paths.is_empty() && !l.judgement.is_failed())
            .map(|l| super::super::take_list::play_url(&l.take_id))
            .unwrap_or_default(),
        attention: c.attention,
        review: attention_text(c.attention),
        skipped: match c.skipped {
            0 => String::new(),
            n => format!("{n} skipped"),
        },
        can_record_again: c.attention > 0 && !under_way,
        paused: c.paused && c.phase == Phase::Paused,
    }
}

/// Seconds of recording as a person reads them: `45 s`, `12 min`, `3.5 h`.
fn minutes(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else if seconds < 7200.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

fn recorder_view(h: &RecorderHealth) -> RecorderView {
    let state = if !h.up {
        "down".to_string()
    } else {
        h.device.clone().unwrap_or_else(|| "up".into())
    };
    let mut detail = Vec::new();
    if let Some(e) = &h.error {
        detail.push(e.clone());
    }
    if h.up {
        let peaks: Vec<String> = h
            .input_peak_dbfs
            .iter()
            .map(|p| {
                p.map(|d| format!("{d:.1} dBFS"))
                    .unwrap_or_else(|| "silence".into())
            })
            .collect();
        if !peaks.is_empty() {
            detail.push(format!("input {}", peaks.join(" / ")));
        }
        if let Some(r) = &h.recording {
            detail.push(format!("recording {r}"));
        }
        if h.spool_pending > 0 {
            detail.push(format!("{} takes waiting in the spool", h.spool_pending));
        }
        if h.ready == Some(false) {
            detail.push(format!(
                "not ready: {}",
                h.not_ready.as_deref().unwrap_or("waiting")
            ));
        }
        if h.share_available == Some(false) {
            detail.push(
                h.share_error
                    .clone()
                    .unwrap_or_else(|| "share not available".into()),
            );
        }
        if let Some(free) = h.spool_free_bytes {
            let room = h
                .spool_room_seconds
                .map(|r| format!(", room for {}", minutes(r)))
                .unwrap_or_default();
            detail.push(format!("spool {:.1} GB free{room}", free as f64 / 1e9));
        }
        if let Some(o) = h.offset_ms {
            detail.push(format!("clock {o:+.1} ms"));
        }
    }
    RecorderView {
        url: h.url.clone(),
        class: if h.up && h.device.as_deref() == Some("running") {
            "up"
        } else {
            "down"
        },
        state,
        detail: detail.join("; "),
    }
}

/// The status page's view of the board now, with `notice` above it.
pub fn status_of(ctl: &crate::control::Control, notice: &str) -> StatusView {
    let mut view = status_view(&ctl.status.borrow().clone(), &ctl.health.snapshot(), notice);
    view.board_problems = crate::control::storage::problem_lines(&ctl.storage_status());
    view.board_problems
        .extend(crate::control::time_sync::problem_line(
            &crate::control::time_sync::read(),
        ));
    view
}

pub fn status_view(c: &CycleStatus, recorders: &[RecorderHealth], notice: &str) -> StatusView {
    let slot = c.slot.as_ref();
    let last = c.last.as_ref();
    StatusView {
        flash: notice.to_string(),
        has_session: c.session_id.is_some(),
        can_initiate: matches!(c.phase, Phase::Idle | Phase::Finished | Phase::Aborted),
        phase: c.phase,
        stage: stage::stage(c),
        actions: stage::actions(c),
        remaining_text: stage::remaining_text(c),
        skipped_text: stage::skipped_text(c),
        stage_last: stage::last_line(c),
        note_hz: slot
            .map(|s| format!("{:.2} Hz", s.frequency))
            .unwrap_or_default(),
        last_figures: last
            .map(|l| stage::figures_text(&l.figures))
            .unwrap_or_default(),
        wave: stage::wave(last),
        meters: stage::meters(recorders),
        phase_label: if c.paused && c.phase != Phase::Paused && c.session_id.is_some() {
            format!("{} (pausing after this take)", c.phase_label)
        } else {
            c.phase_label.to_string()
        },
        countdown_text: c.countdown.map(|n| n.to_string()).unwrap_or_default(),
        note_text: slot.map(|s| s.note.clone()).unwrap_or_default(),
        articulation_text: slot
            .map(|s| {
                let mut t = format!("{} ({} s)", s.articulation, s.duration);
                if let Some(d) = &s.dynamic {
                    t.push_str(&format!(" · {d}"));
                }
                if let Some(rr) = s.round_robin {
                    t.push_str(&format!(" · round robin {rr}"));
                }
                t
            })
            .unwrap_or_default(),
        progress_text: format!("{} of {}", c.done, c.total),
        done: c.done,
        total: c.total,
        session_text: c
            .session_id
            .as_ref()
            .map(|id| {
                let mut t = format!("{id} · {}", c.instrument.as_deref().unwrap_or(""));
                if let Some(u) = &c.user_initials {
                    t.push_str(&format!(" · {u}"));
                }
                if c.unattended {
                    t.push_str(" · unattended");
                }
                t
            })
            .unwrap_or_default(),
        take_id: c.take_id.clone().unwrap_or_default(),
        message: c.message.clone().unwrap_or_default(),
        last_text: last
            .map(|l| format!("{} {} ({})", l.note, l.articulation, l.take_id))
            .unwrap_or_else(|| "none yet".into()),
        last_verdict: last
            .map(|l| l.judgement.disposition.as_str().to_string())
            .unwrap_or_default(),
        last_reason: last
            .map(|l| {
                let mut parts: Vec<String> = l.judgement.reason.iter().cloned().collect();
                parts.extend(l.warnings.iter().cloned());
                parts.join("; ")
            })
            .unwrap_or_default(),
        last_paths: last.map(|l| l.paths.clone()).unwrap_or_default(),
        recorders: recorders.iter().map(recorder_view).collect(),
        flow: flow_view(c),
        board_problems: Vec::new(),
    }
}

#[derive(Debug, Serialize, Default)]
pub struct Choice {
    pub name: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Serialize, Default)]
pub struct ArticulationChoice {
    pub name: String,
    pub seconds: f64,
    pub checked: bool,
}

#[derive(Debug, Serialize, Default)]
pub struct InitiateView {
    pub error: String,
    pub open_session: String,
    pub instruments: Vec<Choice>,
    pub lowest_note: String,
    pub highest_note: String,
    pub articulations: Vec<ArticulationChoice>,
    pub dynamics: String,
    pub round_robins: String,
    pub user_initials: String,
    pub auto_advance: bool,
    pub unattended: bool,
    /// `control.unattended.retakes`, said beside the box.
    pub retakes: u32,
    /// The instruments that play themselves over MIDI (always unattended).
    pub midi_instruments: String,
    pub err_instrument: String,
    pub err_lowest_note: String,
    pub err_highest_note: String,
    pub err_articulations: String,
    pub err_dynamics: String,
    pub err_round_robins: String,
    pub err_user_initials: String,
}

impl InitiateView {
    /// Put an error beside the field it names (or above the form).
    pub fn set_error(&mut self, field: &str, message: String) {
        let slot = match field.split('[').next().unwrap_or(field) {
            "instrument" => &mut self.err_instrument,
            "lowest_note" => &mut self.err_lowest_note,
            "highest_note" => &mut self.err_highest_note,
            "articulations" => &mut self.err_articulations,
            "dynamics" => &mut self.err_dynamics,
            "round_robins" => &mut self.err_round_robins,
            "user_initials" => &mut self.err_user_initials,
            _ => &mut self.error,
        };
        *slot = message;
    }
}

#[derive(Debug, Serialize, Default)]
pub struct InputField {
    pub name: String,
    pub label: String,
    pub value: String,
    pub number: bool,
    pub error: String,
    /// The first field with an error: the browser scrolls to it and focuses it.
    pub autofocus: bool,
}

#[derive(Debug, Serialize, Default)]
pub struct SelectField {
    pub name: String,
    pub label: String,
    pub options: Vec<Choice>,
    pub error: String,
    pub autofocus: bool,
}

#[derive(Debug, Serialize, Default)]
pub struct CheckField {
    pub name: String,
    pub label: String,
    pub checked: bool,
    pub error: String,
    pub autofocus: bool,
}

#[derive(Debug, Serialize, Default)]
pub struct SettingsView {
    pub saved: bool,
    /// "Not saved: N fields need a change" when there are errors.
    pub summary: String,
    /// Errors that belong to no one field of the form.
    pub errors: Vec<String>,
    pub fields: Vec<InputField>,
    pub selects: Vec<SelectField>,
    pub checks: Vec<CheckField>,
    /// What the board runs and how its last update went (board_update).
    pub board: String,
    /// Settings -> Update: the upload or install under way.
    pub update_progress: String,
    /// Why the last upload or reboot was refused.
    pub update_error: String,
    /// An update is installed: offer "Reboot now".
    pub can_reboot: bool,
    /// A reboot was asked for just now.
    pub rebooting: bool,
}

#[derive(Debug, Serialize, Default)]
pub struct LoginView {
    pub error: String,
    /// The page to go on to once logged in (one of the page's own).
    pub next: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_escape() {
        let pages = Pages::new();
        let c = CycleStatus {
            session_id: Some("s1".into()),
            message: Some("<script>alert(1)</script>".into()),
            ..CycleStatus::default()
        };
        let html = pages.page(
            "Status",
            "status",
            &status_view(&c, &[], "\"quoted\""),
            "armed",
            true,
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&quot;quoted&quot;"));
        assert!(html.contains("name=\"viewport\""));
        let mut v = InitiateView::default();
        v.set_error("articulations[1]", "no such".into());
        v.instruments.push(Choice {
            name: "a\"b".into(),
            label: "x".into(),
            selected: true,
        });
        let html = pages.page("Initiate", "initiate", &v, "idle", false);
        assert!(html.contains("id=\"err_articulations\">no such<"), "{html}");
        assert!(html.contains("value=\"a&quot;b\" selected"), "{html}");
        assert!(!html.contains("app.js"));
        let html = pages.page(
            "Settings",
            "settings",
            &SettingsView::default(),
            "idle",
            false,
        );
        assert!(html.contains("action=\"/settings\""));
        let html = pages.page("Login", "login", &LoginView::default(), "idle", false);
        assert!(html.contains("type=\"password\""));
    }
}
