//! The take list (`GET /takes`, `GET /api/v1/takes`), recording slots again
//! from it (`POST /takes/again`, `POST /api/v1/takes/again`, which reopens a
//! finished session), and listening back (`GET /audio/<take id>`).

use super::super::Control;
use super::super::cycle::Again;
use super::super::take_list::{TakeList, TakeRow};
use super::form::Form;
use super::views::attention_text;
use super::{audio, cycle_error, html, redirect};
use crate::http::{self, ApiError, Body};
use crate::protocol::ErrorKind;
use hyper::body::Incoming;
use hyper::header;
use hyper::{Request as HttpRequest, Response, StatusCode};
use serde::{Deserialize, Serialize};

/// A row as the page writes it.
#[derive(Serialize)]
struct RowView {
    slot: usize,
    note: String,
    articulation: String,
    dynamic: String,
    round_robin: String,
    state: &'static str,
    verdict_name: String,
    verdict_class: &'static str,
    detail: String,
    cents: String,
    peak: String,
    play: String,
    can_record_again: bool,
}

#[derive(Serialize, Default)]
struct TakesView {
    flash: String,
    session_id: String,
    summary: String,
    attention: String,
    can_record_again: bool,
    rows: Vec<RowView>,
}

fn row_view(r: &TakeRow) -> RowView {
    let confirmed = r.verdict.is_some() && r.figures.verdict_name != "lost";
    RowView {
        slot: r.slot,
        note: r.note.clone(),
        articulation: r.articulation.clone(),
        dynamic: r.dynamic.clone().unwrap_or_default(),
        round_robin: r.round_robin.map(|n| n.to_string()).unwrap_or_default(),
        state: r.state,
        verdict_name: match (r.state, r.figures.verdict_name.as_str()) {
            ("skipped", _) => "skipped".into(),
            ("recording", _) => "recording now".into(),
            (_, "") => String::new(),
            (_, name) => name.to_string(),
        },
        verdict_class: match (r.state, r.verdict) {
            (_, _) if r.figures.verdict_name == "lost" => "failed",
            ("skipped", _) => "skipped",
            (_, Some(d)) => d.as_str(),
            (_, None) => "none",
        },
        detail: r.detail.clone().unwrap_or_default(),
        cents: r
            .figures
            .cents
            .map(|c| format!("{c:+.1}"))
            .unwrap_or_default(),
        peak: match (confirmed, r.figures.peak_dbfs) {
            (false, _) => String::new(),
            (true, Some(p)) => format!("{p:.1} dBFS"),
            (true, None) => "silence".into(),
        },
        play: r.play.clone().unwrap_or_default(),
        can_record_again: r.can_record_again,
    }
}

fn takes_view(list: Option<&TakeList>, flash: String) -> TakesView {
    let Some(l) = list else {
        return TakesView {
            flash,
            ..TakesView::default()
        };
    };
    let status = serde_json::to_value(l.status).ok();
    let status = status.as_ref().and_then(|s| s.as_str()).unwrap_or("");
    TakesView {
        flash,
        session_id: l.session_id.clone(),
        summary: format!(
            "{} · {} of {} done, {} skipped · {status}",
            l.instrument, l.done, l.total, l.skipped
        ),
        attention: attention_text(l.attention),
        can_record_again: l.rows.iter().any(|r| r.attention && r.can_record_again),
        rows: l.rows.iter().map(row_view).collect(),
    }
}

async fn take_list(ctl: &Control) -> Result<Option<TakeList>, ApiError> {
    ctl.cycle.takes().await.map_err(cycle_error)
}

/// `GET /takes`: the page, with a notice a refused "record again" left.
pub async fn page(
    ctl: &Control,
    flash: String,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let list = take_list(ctl).await?;
    let view = takes_view(list.as_ref(), flash);
    Ok(html(
        status,
        ctl.pages.page("Takes", "takes", &view, "idle", false),
    ))
}

/// `POST /takes/again` from the page: `slot=N` (repeated) or `which=attention`.
pub async fn again_form(ctl: &Control, form: &Form) -> Result<Response<Body>, ApiError> {
    let again = if form.text("which") == "attention" {
        Again::Attention
    } else {
        let slots = form
            .all("slot")
            .iter()
            .map(|s| s.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ApiError::bad_field("slot", "expected a slot number from 1"))?;
        Again::Slots(slots)
    };
    match ctl.cycle.record_again(again).await {
        Ok(()) => Ok(redirect("/")),
        Err(super::CycleError::Refused(r)) => page(ctl, r.0, StatusCode::CONFLICT).await,
        Err(e) => Err(cycle_error(e)),
    }
}

/// `POST /api/v1/takes/again`: `{"slots": [3, 5]}` or `{"attention": true}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AgainBody {
    pub slots: Vec<usize>,
    pub attention: bool,
}

pub async fn again_api(ctl: &Control, body: AgainBody) -> Result<(), ApiError> {
    let again = match (body.attention, body.slots.is_empty()) {
        (true, true) => Again::Attention,
        (false, false) => Again::Slots(body.slots),
        _ => {
            return Err(ApiError::bad_field(
                "slots",
                "give either \"slots\" (from 1) or \"attention\": true",
            ));
        }
    };
    ctl.cycle.record_again(again).await.map_err(cycle_error)
}

/// `GET /api/v1/takes`: the list as JSON (404 without a session).
pub async fn list_api(ctl: &Control) -> Result<Response<Body>, ApiError> {
    match take_list(ctl).await? {
        Some(l) => Ok(http::json_response(StatusCode::OK, &l)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            "no session yet",
        )),
    }
}

/// `GET /audio/<take id>`: the confirmed file, whole or the range asked for.
pub async fn audio(
    ctl: &Control,
    take_id: &str,
    req: &HttpRequest<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let path = ctl
        .cycle
        .audio_path(take_id.to_string())
        .await
        .map_err(cycle_error)?
        .ok_or_else(|| audio::AudioError::NotConfirmed(take_id.to_string()))?;
    let share = ctl.config().capture.share_path.clone();
    let file = audio::resolve(&share, &path)?;
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    audio::serve(&file, range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::progress::SessionStatus;
    use crate::control::verdict::{Disposition, Figures};

    fn row(slot: usize, state: &'static str, verdict: Option<Disposition>, name: &str) -> TakeRow {
        TakeRow {
            slot,
            note: "A4".into(),
            articulation: "<script>x</script>".into(),
            dynamic: None,
            round_robin: Some(2),
            state,
            take_id: Some(format!("s1-000{slot}-1")),
            attempts: 1,
            verdict,
            figures: Figures {
                verdict_name: name.into(),
                cents: Some(50.46),
                peak_dbfs: Some(-3.04),
                snr_db: None,
                ..Figures::default()
            },
            detail: None,
            paths: vec![],
            attention: verdict == Some(Disposition::Warn),
            play: Some(format!("/audio/s1-000{slot}-1")),
            can_record_again: state != "pending",
        }
    }

    #[test]
    fn the_take_list_page_names_verdicts_and_offers_recording_again() {
        let list = TakeList {
            session_id: "s1".into(),
            instrument: "guitar".into(),
            status: SessionStatus::Finished,
            done: 2,
            total: 2,
            skipped: 0,
            attention: 1,
            rows: vec![
                row(1, "done", Some(Disposition::Warn), "off pitch +50.5 cents"),
                row(2, "done", Some(Disposition::Ok), "ok"),
            ],
        };
        let view = takes_view(Some(&list), "<b>refused</b>".into());
        let html = super::super::views::Pages::new().page("Takes", "takes", &view, "idle", false);
        assert!(html.contains("&lt;b&gt;refused"), "{html}");
        assert!(!html.contains("<script>x"), "escaped: {html}");
        assert!(html.contains("1 take needs attention"), "{html}");
        assert!(html.contains("id=\"review_again\""), "{html}");
        assert!(
            html.contains("<span class=\"name\">off pitch +50.5 cents</span>"),
            "{html}"
        );
        assert!(html.contains("<td>+50.5</td><td>-3.0 dBFS</td>"), "{html}");
        assert!(html.contains("value=\"2\" class=\"again\""), "{html}");
        assert!(html.contains("href=\"/audio/s1-0001-1\""), "{html}");
        let empty = takes_view(None, String::new());
        let html = super::super::views::Pages::new().page("Takes", "takes", &empty, "idle", false);
        assert!(html.contains("No session yet"), "{html}");
    }
}
