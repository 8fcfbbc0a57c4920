//! The board's web face: the page (Status, Initiate, Settings), live status by
//! server-sent events, and a JSON API under `/api/v1/` for scripts.
//!
//! Every state change is a POST: from the page it must be same-origin, from a
//! script it carries the bearer token. Forms answer with a 303 redirect, so the
//! page works without JavaScript.

pub mod audio;
pub mod form;
pub mod guard;
pub mod hosts;
pub mod login;
pub mod settings;
pub mod sse;
pub mod stage;
pub mod takes;
pub mod update;
pub mod views;

use super::Control;
use super::cycle::Command;
use super::cycle_worker::CycleError;
use super::plan::{self, SessionRequest};
use super::progress::Session;
use super::storage::WriteKind;
use crate::config::{Config, ConfigError};
use crate::http::{self, ApiError, Body};
use crate::protocol::{ErrorKind, FieldError, Timestamp};
use form::Form;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use views::{ArticulationChoice, Choice, InitiateView, LoginView};

/// Forms and API bodies are small; anything larger is refused (413).
pub const MAX_BODY: usize = 64 * 1024;

pub async fn handle(
    ctl: Arc<Control>,
    req: HttpRequest<Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // Every route, the page, /app.js, /events and the API alike, answers only
    // to the board's own names (DNS rebinding).
    let answer = match ctl.hosts.check(req.headers(), req.uri(), Instant::now()) {
        Ok(()) => route(&ctl, req, peer).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(resp) => resp,
        Err(e) => {
            log::info!(target: "takebox::control", "{method} {path}: {} {}", e.status.as_u16(), e.body.message);
            e.into_response()
        }
    }
}

fn not_found(path: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        format!("no such page: {path}"),
    )
}

fn method_not_allowed(allowed: &str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::MethodNotAllowed,
        format!("use {allowed}"),
    )
}

fn with_headers(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    for (k, v) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; img-src 'self'; media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    resp
}

fn html(status: StatusCode, page: String) -> Response<Body> {
    let mut resp = Response::new(http::full(page));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    with_headers(resp)
}

fn redirect(to: &str) -> Response<Body> {
    let mut resp = Response::new(http::full(""));
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    with_headers(resp)
}

fn query_param(req: &HttpRequest<Incoming>, name: &str) -> Option<String> {
    let q = req.uri().query()?;
    Form::parse(q.as_bytes())
        .ok()?
        .get(name)
        .map(str::to_string)
}

async fn route(
    ctl: &Arc<Control>,
    req: HttpRequest<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        return api(ctl, rest, req).await;
    }
    let method = req.method().clone();
    match (path.as_str(), &method) {
        ("/app.js", &Method::GET) => {
            return Ok(asset(views::APP_JS, "text/javascript; charset=utf-8"));
        }
        ("/update.js", &Method::GET) => {
            return Ok(asset(views::UPDATE_JS, "text/javascript; charset=utf-8"));
        }
        ("/favicon.svg" | "/favicon.ico", &Method::GET) => {
            return Ok(asset(views::FAVICON_SVG, "image/svg+xml"));
        }
        ("/login", &Method::GET) => {
            let asked = Form::parse(req.uri().query().unwrap_or("").as_bytes())
                .map(|q| q.text("next"))
                .unwrap_or_default();
            let next = after_login(&asked);
            return Ok(login_page(StatusCode::OK, ctl, String::new(), next));
        }
        ("/login", &Method::POST) => return login(ctl, req, peer).await,
        _ => {}
    }
    let logged_in = guard::logged_in(
        req.headers(),
        &ctl.logins,
        &ctl.page_password,
        Instant::now(),
    );
    // With `settings_and_abort`, only Settings (and logging out) need the
    // login here; Abort is looked at once its form is read.
    let whole_page = ctl.password_guards.is_page();
    let guarded =
        matches!(path.as_str(), "/settings" | "/logout") || path.starts_with("/settings/");
    if !logged_in && (whole_page || guarded) {
        return if method == Method::GET && path != "/events" {
            Ok(redirect(&format!("/login?next={}", after_login(&path))))
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorKind::Unauthorized,
                "log in on /login first",
            ))
        };
    }
    if method == Method::POST {
        guard::same_origin(req.headers())?;
    }
    match (path.as_str(), method) {
        ("/", Method::GET) => Ok(status_page(ctl)),
        ("/events", Method::GET) => sse::events(
            ctl,
            (whole_page && !ctl.page_password.is_empty())
                .then(|| guard::cookie(req.headers(), guard::COOKIE).map(String::from))
                .flatten(),
        ),
        ("/initiate", Method::GET) => Ok(initiate_page(ctl, None, None, StatusCode::OK)),
        ("/initiate", Method::POST) => {
            let form = Form::parse(&http::read_body(req, MAX_BODY).await?)?;
            initiate(ctl, &form).await
        }
        ("/control", Method::POST) => {
            let form = Form::parse(&http::read_body(req, MAX_BODY).await?)?;
            if !logged_in && form.text("command") == "abort" {
                let why = "Abort needs the page password: log in, then abort again";
                return Ok(login_page(StatusCode::UNAUTHORIZED, ctl, why.into(), "/"));
            }
            control_form(ctl, &form).await
        }
        ("/takes", Method::GET) => takes::page(ctl, String::new(), StatusCode::OK).await,
        ("/takes/again", Method::POST) => {
            let form = Form::parse(&http::read_body(req, MAX_BODY).await?)?;
            takes::again_form(ctl, &form).await
        }
        (p, Method::GET) if p.starts_with("/audio/") => {
            takes::audio(ctl, &p["/audio/".len()..], &req).await
        }
        ("/settings", Method::GET) => Ok(settings_page(ctl, &req)),
        ("/settings", Method::POST) => {
            let form = Form::parse(&http::read_body(req, MAX_BODY).await?)?;
            save_settings(ctl, &form)
        }
        ("/settings/update", Method::GET) => {
            Ok(http::json_response(StatusCode::OK, &update::view(ctl)))
        }
        ("/settings/update", Method::POST) => {
            let form = update::is_form(&req);
            match update::receive(ctl, req).await {
                Ok(_) if form => Ok(redirect("/settings")),
                Ok(_) => Ok(update::accepted(ctl)),
                Err(e) if form => Ok(settings_with(ctl, update::api_error(&e))),
                Err(e) => Err(update::api_error(&e)),
            }
        }
        ("/settings/reboot", Method::POST) => {
            http::read_body(req, MAX_BODY).await?;
            match update::reboot(ctl) {
                Ok(()) => Ok(redirect("/settings?rebooting=1")),
                Err(e) => Ok(settings_with(ctl, update::api_error(&e))),
            }
        }
        ("/logout", Method::POST) => Ok(logout(ctl, &req)),
        ("/" | "/events" | "/initiate" | "/settings" | "/takes", _) => {
            Err(method_not_allowed("GET or POST"))
        }
        ("/control" | "/logout" | "/takes/again" | "/settings/reboot", _) => {
            Err(method_not_allowed("POST"))
        }
        ("/settings/update", _) => Err(method_not_allowed("GET or POST")),
        _ => Err(not_found(&path)),
    }
}

/// A constant file of the page (the script, the icon), readable before login.
fn asset(body: &'static str, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(http::full(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    with_headers(resp)
}

/// `GET /`: the cycle and the recorders.
fn status_page(ctl: &Control) -> Response<Body> {
    status_with_notice(ctl, StatusCode::OK, "")
}

/// The status page with `notice` (a command refused just now) above it: the
/// notice is part of this one answer, never of the URL, so a reload or a
/// bookmark does not show it again after it stopped being true.
fn status_with_notice(ctl: &Control, status: StatusCode, notice: &str) -> Response<Body> {
    let view = views::status_of(ctl, notice);
    let phase = serde_json::to_value(view.phase).ok();
    let phase = phase.as_ref().and_then(|p| p.as_str()).unwrap_or("idle");
    html(
        status,
        ctl.pages.page("Status", "status", &view, phase, true),
    )
}

/// `POST /initiate`: begin the session, or show the form again with the
/// field that stopped it.
async fn initiate(ctl: &Control, form: &Form) -> Result<Response<Body>, ApiError> {
    let request = session_request(form);
    let (error, status) = match begin(ctl, request.clone()).await {
        Ok(_) => return Ok(redirect("/")),
        Err(BeginError::Plan(e)) => (e, StatusCode::BAD_REQUEST),
        Err(BeginError::Cycle(e)) => {
            let e = cycle_error(e);
            (FieldError::new("", e.body.message), e.status)
        }
    };
    Ok(initiate_page(ctl, Some(&request), Some(error), status))
}

/// `POST /control`: a command from the page; a refusal is shown on the page
/// (409). Abort asks first: it goes through only with `confirm=1`.
async fn control_form(ctl: &Control, form: &Form) -> Result<Response<Body>, ApiError> {
    let name = form.text("command");
    let cmd = Command::parse(&name)
        .ok_or_else(|| ApiError::bad_field("command", format!("unknown command {name:?}")))?;
    if cmd == Command::Abort && form.text("confirm") != "1" {
        return Ok(abort_page(ctl));
    }
    match ctl.cycle.command(cmd).await {
        Ok(()) => Ok(redirect("/")),
        Err(CycleError::Refused(r)) => Ok(status_with_notice(ctl, StatusCode::CONFLICT, &r.0)),
        Err(e) => Err(cycle_error(e)),
    }
}

#[derive(Serialize)]
struct AbortView {
    session_id: String,
    progress: String,
}

/// "Abort session X?": the confirmation, a form that works without JavaScript.
fn abort_page(ctl: &Control) -> Response<Body> {
    let st = ctl.status.borrow().clone();
    let view = AbortView {
        session_id: st.session_id.clone().unwrap_or_default(),
        progress: format!("{} of {} takes are done", st.done, st.total),
    };
    html(
        StatusCode::OK,
        ctl.pages.page("Abort?", "abort", &view, "idle", false),
    )
}

fn settings_page(ctl: &Control, req: &HttpRequest<Incoming>) -> Response<Body> {
    let mut view = settings_view(ctl);
    view.saved = query_param(req, "saved").is_some();
    view.rebooting = query_param(req, "rebooting").is_some();
    html(
        StatusCode::OK,
        ctl.pages.page("Settings", "settings", &view, "idle", false),
    )
}

/// The settings as saved, with the Update section as it stands.
fn settings_view(ctl: &Control) -> views::SettingsView {
    let raw = ctl.raw.lock().map(|r| r.clone()).unwrap_or_default();
    let mut view = settings::view(&raw, &ctl.instruments, None, &[]);
    let update = update::view(ctl);
    view.board = update.summary;
    view.update_progress = update.progress;
    view.can_reboot = update.can_reboot;
    view
}

/// Settings with an update or reboot refusal in its Update section (the
/// plain forms' answer).
fn settings_with(ctl: &Control, e: ApiError) -> Response<Body> {
    let mut view = settings_view(ctl);
    view.update_error = e.body.message;
    let mut resp = html(
        e.status,
        ctl.pages.page("Settings", "settings", &view, "idle", false),
    );
    if e.close {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// `POST /logout`: over on the board, the cookie is worth nothing from now on.
fn logout(ctl: &Control, req: &HttpRequest<Incoming>) -> Response<Body> {
    if let Some(id) = guard::cookie(req.headers(), guard::COOKIE) {
        ctl.logins.end(id);
    }
    let mut resp = redirect("/login");
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("takebox_page=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    resp
}

/// Where a login goes on to: the page that asked for it when it is one of
/// the page's own (never a path from elsewhere: no open redirect), else `/`.
fn after_login(next: &str) -> &'static str {
    match next {
        "/settings" => "/settings",
        "/takes" => "/takes",
        "/initiate" => "/initiate",
        _ => "/",
    }
}

fn login_page(
    status: StatusCode,
    ctl: &Control,
    error: String,
    next: &'static str,
) -> Response<Body> {
    let view = LoginView { error, next };
    html(
        status,
        ctl.pages.page("Password", "login", &view, "idle", false),
    )
}

async fn login(
    ctl: &Arc<Control>,
    req: HttpRequest<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiError> {
    guard::same_origin(req.headers())?;
    let form = Form::parse(&http::read_body(req, MAX_BODY).await?)?;
    let next = after_login(&form.text("next"));
    if ctl.page_password.is_empty() {
        return Ok(redirect(next));
    }
    // Counted before the password is looked at: parallel guesses too.
    if let Err(wait) = ctl.logins.attempt(peer.ip(), Instant::now()) {
        log::debug!(target: "takebox::control", "login from {peer} throttled for {wait} s");
        let mut resp = login_page(
            StatusCode::TOO_MANY_REQUESTS,
            ctl,
            format!("too many wrong passwords: try again in {wait} s"),
            next,
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Ok(resp);
    }
    if guard::same(&form.text("password"), &ctl.page_password) {
        ctl.logins.succeeded(peer.ip());
        let id = ctl.logins.create(Instant::now()).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorKind::Internal,
                format!("no session id: {e}"),
            )
        })?;
        let mut resp = redirect(next);
        let cookie = format!("{}={id}; Path=/; HttpOnly; SameSite=Strict", guard::COOKIE);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        return Ok(resp);
    }
    // A wrong password also costs its request a moment.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    Ok(login_page(
        StatusCode::UNAUTHORIZED,
        ctl,
        "wrong password".into(),
        next,
    ))
}

pub(crate) fn session_request(form: &Form) -> SessionRequest {
    let rr = form.text("round_robins");
    SessionRequest {
        instrument: form.text("instrument"),
        lowest_note: form.text("lowest_note"),
        highest_note: form.text("highest_note"),
        articulations: form.all("articulations"),
        dynamics: form
            .text("dynamics")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        // Not a number: u32::MAX, which the plan refuses naming the field.
        round_robins: if rr.is_empty() {
            1
        } else {
            rr.parse().unwrap_or(u32::MAX)
        },
        user_initials: form.text("user_initials"),
        auto_advance: form.checked("auto_advance"),
        unattended: form.checked("unattended"),
    }
}

fn initiate_page(
    ctl: &Control,
    request: Option<&SessionRequest>,
    error: Option<FieldError>,
    status: StatusCode,
) -> Response<Body> {
    let config = ctl.config();
    let default_instrument = &config.session_settings.default_instrument;
    let chosen = request.map(|r| &r.instrument).unwrap_or(default_instrument);
    let mut view = InitiateView {
        instruments: ctl
            .instruments
            .instruments
            .iter()
            .map(|i| Choice {
                name: i.name.clone(),
                label: format!(
                    "{} ({}–{})",
                    i.name, i.range.lowest_note, i.range.highest_note
                ),
                selected: &i.name == chosen,
            })
            .collect(),
        articulations: config
            .articulation_durations
            .iter()
            .map(|(name, secs)| ArticulationChoice {
                name: name.clone(),
                seconds: *secs,
                checked: request.is_some_and(|r| r.articulations.contains(name)),
            })
            .collect(),
        round_robins: "1".into(),
        retakes: config.control.unattended.retakes,
        midi_instruments: ctl
            .instruments
            .instruments
            .iter()
            .filter(|i| i.midi.is_some())
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        ..InitiateView::default()
    };
    if let Some(r) = request {
        view.lowest_note = r.lowest_note.clone();
        view.highest_note = r.highest_note.clone();
        view.dynamics = r.dynamics.join(" ");
        view.round_robins = if r.round_robins == u32::MAX {
            String::new()
        } else {
            r.round_robins.to_string()
        };
        view.user_initials = r.user_initials.clone();
        view.auto_advance = r.auto_advance;
        view.unattended = r.unattended;
    }
    let st = ctl.status.borrow().clone();
    if st.session_id.is_some()
        && matches!(
            st.phase,
            super::cycle::Phase::Finished | super::cycle::Phase::Aborted
        )
    {
        // Nothing open.
    } else if let Some(id) = st.session_id {
        view.open_session = id;
    }
    if let Some(FieldError { field, message }) = error {
        view.set_error(&field, message);
    }
    html(
        status,
        ctl.pages.page("Initiate", "initiate", &view, "idle", false),
    )
}

fn save_settings(ctl: &Control, form: &Form) -> Result<Response<Body>, ApiError> {
    let mut raw = ctl.raw.lock().map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Internal,
            "settings lock poisoned",
        )
    })?;
    let folder = ctl.config_path.parent().unwrap_or(&ctl.config_path);
    let result = settings::apply(&raw, form, &ctl.config_path, &ctl.instruments).and_then(|new| {
        let saved = Config::save_changes(&ctl.config_path, &raw, &new);
        // A file that cannot be written (a full disk) is the board's problem,
        // shown on the page, not a field's.
        match &saved {
            Err(errors) => {
                for e in errors
                    .iter()
                    .filter(|e| matches!(e, ConfigError::Write { .. }))
                {
                    ctl.storage.failed(WriteKind::Settings, folder, e);
                }
            }
            Ok(_) => {
                ctl.storage.succeeded(WriteKind::Settings);
            }
        }
        saved.map_err(|errors| settings::field_errors(&errors))
    });
    match result {
        Ok(saved) => {
            let mut effective = saved.clone();
            effective.apply_env();
            effective.resolve_paths(&ctl.config_path);
            *ctl.config
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(effective);
            *raw = saved;
            log::info!(target: "takebox::control", "settings saved to {}", ctl.config_path.display());
            Ok(redirect("/settings?saved=1"))
        }
        Err(errors) => {
            let view = settings::view(&raw, &ctl.instruments, Some(form), &errors);
            Ok(html(
                StatusCode::BAD_REQUEST,
                ctl.pages.page("Settings", "settings", &view, "idle", false),
            ))
        }
    }
}

/// A session id from the clock (and the initials), unique among stored sessions.
fn new_session_id(ctl: &Control, initials: &str) -> String {
    let t = Timestamp::now().to_string();
    let digits: String = t.chars().filter(|c| c.is_ascii_digit()).take(14).collect();
    let mut base = format!("{}-{}", &digits[..8], &digits[8..]);
    if !initials.is_empty() {
        base = format!("{base}-{initials}");
    }
    let mut id = base.clone();
    let mut n = 2;
    while ctl.store.exists(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

#[derive(Serialize)]
struct Begun {
    session_id: String,
    takes: usize,
}

/// A request the cycle did not carry out, as the API answers it.
fn cycle_error(e: CycleError) -> ApiError {
    match e {
        CycleError::Stopped => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal,
            e.to_string(),
        ),
        CycleError::Refused(r) => ApiError::new(StatusCode::CONFLICT, ErrorKind::Busy, r.0),
    }
}

/// Why a session did not begin.
enum BeginError {
    /// The request itself: a field the person can change.
    Plan(FieldError),
    Cycle(CycleError),
}

impl From<BeginError> for ApiError {
    fn from(e: BeginError) -> ApiError {
        match e {
            BeginError::Plan(e) => e.into(),
            BeginError::Cycle(e) => cycle_error(e),
        }
    }
}

async fn begin(ctl: &Control, mut request: SessionRequest) -> Result<Begun, BeginError> {
    let config = ctl.config();
    let plan = plan::build(&request, &config, &ctl.instruments).map_err(BeginError::Plan)?;
    // A MIDI instrument plays itself: its own countdown, every take in turn.
    let midi = ctl
        .instruments
        .get(&request.instrument)
        .and_then(|i| i.midi.as_ref());
    request.unattended |= midi.is_some();
    request.auto_advance |= request.unattended;
    let countdown = midi.map_or(config.countdown_duration, |m| m.countdown_seconds);
    let id = new_session_id(ctl, &request.user_initials);
    let recorders = config.control.recorder_urls(&config).len();
    plan::check_file_names(&plan, &id, &request, &config, recorders).map_err(BeginError::Plan)?;
    let takes = plan.len();
    let session = Session::new(id.clone(), request, countdown, plan);
    ctl.cycle.begin(session).await.map_err(BeginError::Cycle)?;
    Ok(Begun {
        session_id: id,
        takes,
    })
}

async fn command(ctl: &Control, cmd: Command) -> Result<(), ApiError> {
    ctl.cycle.command(cmd).await.map_err(cycle_error)
}

#[derive(Serialize)]
struct ApiStatus<'a> {
    #[serde(flatten)]
    cycle: &'a super::cycle::CycleStatus,
    recorders: Vec<super::health::RecorderHealth>,
    gpio: &'a super::GpioState,
    storage: super::storage::StorageStatus,
    clock: super::time_sync::ClockSync,
    board: crate::protocol::BoardVersion,
}

/// `POST /api/v1/gpio/press`: how long the simulated button is held.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PressBody {
    #[serde(default = "default_press_ms")]
    pub(crate) ms: u64,
}

fn default_press_ms() -> u64 {
    200
}

fn sim(ctl: &Control) -> Result<&super::gpio::sim::SimHandle, ApiError> {
    ctl.gpio.sim.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            "the simulated button exists only with control.gpio.backend \"sim\"",
        )
    })
}

/// The API's status answer: the cycle, the recorders' health and the GPIO state.
fn api_status(ctl: &Control) -> Response<Body> {
    let cycle = ctl.status.borrow().clone();
    http::json_response(
        StatusCode::OK,
        &ApiStatus {
            cycle: &cycle,
            recorders: ctl.health.snapshot(),
            gpio: &ctl.gpio,
            storage: ctl.storage_status(),
            clock: super::time_sync::read(),
            board: ctl.updates.board(),
        },
    )
}

async fn api(
    ctl: &Arc<Control>,
    rest: &str,
    req: HttpRequest<Incoming>,
) -> Result<Response<Body>, ApiError> {
    http::require_bearer(req.headers(), &ctl.token)?;
    let method = req.method().clone();
    match (rest, method) {
        ("status", Method::GET) => Ok(api_status(ctl)),
        ("status", _) => Err(method_not_allowed("GET")),
        ("session", Method::POST) => {
            let bytes = http::read_body(req, MAX_BODY).await?;
            let request: SessionRequest = http::parse_json_body(&bytes)?;
            let begun = begin(ctl, request).await?;
            Ok(http::json_response(StatusCode::CREATED, &begun))
        }
        ("session", _) => Err(method_not_allowed("POST")),
        ("gpio/press", Method::POST) => {
            let sim = sim(ctl)?.clone();
            let bytes = http::read_body(req, MAX_BODY).await?;
            let body: PressBody = if bytes.iter().all(u8::is_ascii_whitespace) {
                PressBody {
                    ms: default_press_ms(),
                }
            } else {
                http::parse_json_body(&bytes)?
            };
            if !(1..=10_000).contains(&body.ms) {
                return Err(ApiError::bad_field("ms", "expected 1 to 10000 ms"));
            }
            sim.press(std::time::Duration::from_millis(body.ms))
                .await
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        ErrorKind::Internal,
                        e.to_string(),
                    )
                })?;
            Ok(http::json_response(
                StatusCode::OK,
                &serde_json::json!({"pressed_ms": body.ms}),
            ))
        }
        ("gpio/leds", Method::GET) => {
            Ok(http::json_response(StatusCode::OK, &sim(ctl)?.leds_json()))
        }
        ("takes", Method::GET) => takes::list_api(ctl).await,
        ("takes", _) => Err(method_not_allowed("GET")),
        ("takes/again", Method::POST) => {
            let bytes = http::read_body(req, MAX_BODY).await?;
            let body: takes::AgainBody = http::parse_json_body(&bytes)?;
            takes::again_api(ctl, body).await?;
            Ok(api_status(ctl))
        }
        ("takes/again", _) => Err(method_not_allowed("POST")),
        (a, Method::GET) if a.starts_with("audio/") => {
            takes::audio(ctl, &a["audio/".len()..], &req).await
        }
        ("update", Method::POST) => match update::receive(ctl, req).await {
            Ok(_) => Ok(update::accepted(ctl)),
            Err(e) => Err(update::api_error(&e)),
        },
        ("update/reboot", Method::POST) => {
            http::read_body(req, MAX_BODY).await?;
            update::reboot(ctl).map_err(|e| update::api_error(&e))?;
            Ok(update::accepted(ctl))
        }
        ("update" | "update/reboot", _) => Err(method_not_allowed("POST")),
        ("gpio/press", _) => Err(method_not_allowed("POST")),
        ("gpio/leds", _) => Err(method_not_allowed("GET")),
        (name, method) => {
            let Some(cmd) = Command::parse(name) else {
                return Err(not_found(&format!("/api/v1/{name}")));
            };
            if method != Method::POST {
                return Err(method_not_allowed("POST"));
            }
            // Commands carry no body; a large one is refused all the same.
            http::read_body(req, MAX_BODY).await?;
            command(ctl, cmd).await?;
            Ok(api_status(ctl))
        }
    }
}
