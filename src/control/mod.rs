//! `takebox-control`: the board's daemon. It plans a session ([`plan`]), runs the
//! take cycle ([`cycle`]) against the recording computers ([`recorder_client`],
//! [`take_runner`], [`health`], [`clock`]; what it shows is [`status`]), keeps progress across reboots
//! ([`progress`]) and a per-session log ([`session_log`]), and serves the page and
//! the JSON API ([`web`]). It shares only [`crate::protocol`] with the recorders.
//! Old sessions are deleted by a periodic job through [`crate::retention`] (shared
//! with `takebox cleanup`, below both, so control never uses the catalog).

pub mod clock;
pub mod cycle;
pub mod gpio;
pub mod health;
pub mod plan;
pub mod progress;
pub mod recorder_client;
pub mod session_log;
pub mod status;
pub mod take_runner;
pub mod verdict;
pub mod web;

use crate::config::{Config, Instruments};
use cycle::{CycleContext, CycleStatus, Event, Request};
use health::Health;
use progress::Store;
use recorder_client::RecorderClient;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast, mpsc, watch};

/// What the web layer works with.
pub struct Control {
    pub config_path: PathBuf,
    /// In force: paths resolved, token from the environment.
    pub config: Arc<RwLock<Arc<Config>>>,
    /// As the file has it: what the settings page edits and saves.
    pub raw: Mutex<Config>,
    pub instruments: Arc<Instruments>,
    pub token: String,
    pub page_password: String,
    /// Page-password sessions and the wrong-password throttle.
    pub logins: web::login::Logins,
    /// The Host names the board answers to.
    pub hosts: web::hosts::KnownHosts,
    pub health: Arc<Health>,
    pub status: watch::Receiver<CycleStatus>,
    pub events: broadcast::Sender<Event>,
    pub requests: mpsc::Sender<Request>,
    pub store: Store,
    /// Live status streams: each holds a connection open, so at most half
    /// of `control.max_connections`; the page and the API keep the rest.
    pub event_slots: Arc<Semaphore>,
    pub event_slots_max: usize,
    pub shutdown: watch::Receiver<bool>,
    pub pages: web::views::Pages,
    /// The button and LEDs: which backend, and why it is off if it failed.
    pub gpio: GpioState,
}

/// What the API tells of the button and LEDs.
#[derive(Clone, serde::Serialize)]
pub struct GpioState {
    pub backend: crate::config::GpioBackend,
    pub running: bool,
    pub error: Option<String>,
    #[serde(skip)]
    pub sim: Option<gpio::sim::SimHandle>,
}

impl Control {
    pub fn config(&self) -> Arc<Config> {
        crate::panics::current(&self.config)
    }
}

/// Everything that can stop the daemon from starting, with its context.
pub fn check_setup(config: &Config) -> Result<(Instruments, Vec<RecorderClient>), String> {
    let c = &config.control;
    let token = c.effective_token(config);
    if token.is_empty() {
        return Err("no token: set control.token (or capture.token) or the TAKEBOX_TOKEN environment variable".into());
    }
    let instruments = Instruments::load(&c.instruments_file, config).map_err(|e| e.to_string())?;
    let timeout = crate::protocol::seconds(c.request_timeout_seconds);
    let field = if c.recorders.is_empty() {
        "recording_computer_url"
    } else {
        "control.recorders"
    };
    let clients = c
        .recorder_urls(config)
        .into_iter()
        .map(|u| RecorderClient::new(u, token, timeout).map_err(|e| format!("{field}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((instruments, clients))
}

/// Run until `shutdown` turns true.
pub async fn run(
    config_path: PathBuf,
    config: Config,
    raw: Config,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let (instruments, clients) = check_setup(&config)?;
    let store = Store::open(&config.control.state_dir).map_err(|e| format!("state_dir: {e}"))?;
    let resumed = store.load_open().map_err(|e| {
        format!(
            "reading sessions in {}: {e}",
            config.control.state_dir.display()
        )
    })?;
    // Session ids come from here: fail at start, not at the first login.
    web::login::random_id().map_err(|e| format!("/dev/urandom: {e}"))?;
    let hosts = web::hosts::KnownHosts::new(&config.control.host_names);
    let token = config.control.effective_token(&config).to_string();
    let page_password = config.control.page_password.clone();
    let max_connections = config.control.max_connections;
    let config = Arc::new(RwLock::new(Arc::new(config)));
    let health = Arc::new(Health::new(&clients));
    let (events, _) = broadcast::channel(64);
    let (status_tx, status_rx) = watch::channel(CycleStatus::default());
    let (req_tx, req_rx) = mpsc::channel(16);

    let poller = tokio::spawn(health::poll_loop(
        clients.clone(),
        health.clone(),
        events.clone(),
        shutdown.clone(),
    ));
    let cycle = cycle::Cycle::new(
        CycleContext {
            config: config.clone(),
            clients,
            health: health.clone(),
            store: store.clone(),
            events: events.clone(),
            status: status_tx,
        },
        resumed,
    );
    let cycle_task = tokio::spawn(cycle.run(req_rx, shutdown.clone()));
    let cleaner = tokio::spawn(cleanup_loop(config.clone(), shutdown.clone()));

    // The button and LEDs: missing hardware costs them alone, never the page.
    let gpio_settings = config
        .read()
        .map(|c| c.control.gpio.clone())
        .unwrap_or_default();
    let mut gpio_state = GpioState {
        backend: gpio_settings.backend,
        running: false,
        error: None,
        sim: None,
    };
    let gpio_task = match gpio::open(&gpio_settings) {
        Ok(None) => None,
        Ok(Some(backend)) => {
            gpio_state.running = true;
            gpio_state.sim = backend.sim;
            Some(tokio::spawn(
                gpio::driver::Driver {
                    lines: backend.lines,
                    edges: backend.edges,
                    settings: gpio_settings,
                    status: status_rx.clone(),
                    events: events.subscribe(),
                    health: health.clone(),
                    requests: req_tx.clone(),
                    shutdown: shutdown.clone(),
                }
                .run(),
            ))
        }
        Err(e) => {
            log::error!(target: "takebox::gpio", "button and LEDs off: {e}; the page works without them");
            gpio_state.error = Some(e);
            None
        }
    };

    let control = Arc::new(Control {
        config_path,
        config,
        raw: Mutex::new(raw),
        instruments: Arc::new(instruments),
        token,
        page_password,
        logins: web::login::Logins::new(),
        hosts,
        health,
        status: status_rx,
        events,
        requests: req_tx,
        store,
        event_slots: Arc::new(Semaphore::new(max_connections / 2)),
        event_slots_max: max_connections / 2,
        shutdown: shutdown.clone(),
        pages: web::views::Pages::new(),
        gpio: gpio_state,
    });
    // systemd (Type=notify, WatchdogSec): ready once serving; pings only while
    // the take cycle runs, so a dead cycle gets the daemon restarted.
    let watchdog = tokio::spawn(crate::sdnotify::supervise(
        crate::sdnotify::watchdog_interval(),
        {
            let control = control.clone();
            move || {
                if control.requests.is_closed() {
                    Err("the take cycle has stopped".to_string())
                } else {
                    Ok(())
                }
            }
        },
        shutdown.clone(),
    ));
    crate::sdnotify::ready("serving the page");
    let handler = move |req, peer| web::handle(control.clone(), req, peer);
    let limits = crate::http::ServerLimits::with_max(max_connections);
    crate::http::serve(listener, limits, handler, shutdown).await;
    if let Some(t) = gpio_task {
        let _ = t.await;
    }
    let _ = cycle_task.await;
    // It sends STOPPING=1 and ends by itself once shutdown is set.
    let _ = watchdog.await;
    poller.abort();
    cleaner.abort();
    log::info!(target: "takebox::control", "stopped");
    Ok(())
}

/// The periodic cleanup (`storage_management.auto_cleanup`): every
/// `cleanup_interval_minutes`, old finished sessions are deleted from the share by
/// [`crate::retention`], which logs every path it removes. The first sweep runs
/// after one interval, at most a minute after the start.
async fn cleanup_loop(config: Arc<RwLock<Arc<Config>>>, mut shutdown: watch::Receiver<bool>) {
    let current = || crate::panics::current(&config);
    let interval =
        |c: &Config| crate::protocol::seconds(c.storage_management.cleanup_interval_minutes * 60.0);
    let mut wait = interval(&current()).min(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        let c = current();
        wait = interval(&c);
        if !c.storage_management.auto_cleanup {
            continue;
        }
        let sweep = crate::retention::Sweep::from_config(&c, false);
        let now = std::time::SystemTime::now();
        match tokio::task::spawn_blocking(move || sweep.run(now)).await {
            Ok(Ok(r)) => {
                for w in &r.warnings {
                    log::warn!(target: "takebox::cleanup", "{w}");
                }
                if !r.deleted.is_empty() || !r.errors.is_empty() {
                    log::info!(target: "takebox::cleanup", "deleted {} old sessions ({} paths), {} errors",
                        r.deleted.len(), r.removed.len(), r.errors.len());
                }
            }
            Ok(Err(e)) => log::warn!(target: "takebox::cleanup", "{e}"),
            Err(e) => log::error!(target: "takebox::cleanup", "cleanup task failed: {e}"),
        }
    }
}
