//! `takebox-control`: the board's daemon. It plans a session ([`plan`]), runs the
//! take cycle ([`cycle`]) against the recording computers ([`recorder_client`],
//! [`take_runner`], [`health`], [`clock`]; what it shows is [`status`]; requests
//! reach it through [`cycle_worker`]), keeps progress across reboots
//! ([`progress`]) and a per-session log ([`session_log`]), and serves the page and
//! the JSON API ([`web`]). It shares only [`crate::protocol`] with the recorders.
//! Old sessions are deleted by a periodic job through [`crate::retention`] (shared
//! with `takebox cleanup`, below both, so control never uses the catalog).

pub mod board_update;
pub mod clock;
pub mod cycle;
pub mod cycle_worker;
pub mod gpio;
pub mod health;
pub mod levels;
pub mod plan;
pub mod progress;
pub mod recorder_client;
pub mod retake;
pub mod session_log;
pub mod status;
pub mod storage;
pub mod take_abort;
pub mod take_list;
pub mod take_runner;
pub mod time_sync;
pub mod update_upload;
pub mod verdict;
pub mod web;

use crate::config::{Config, Instruments};
use cycle::{Cycle, CycleContext, CycleStatus, Event};
use cycle_worker::{CycleError, CycleSender, CycleWorker};
use health::Health;
use progress::Store;
use recorder_client::RecorderClient;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::JoinHandle;

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
    /// What the page password guards (the whole page, or Settings and Abort).
    pub password_guards: crate::config::PasswordGuards,
    /// Page-password sessions and the wrong-password throttle.
    pub logins: web::login::Logins,
    /// The Host names the board answers to.
    pub hosts: web::hosts::KnownHosts,
    pub health: Arc<Health>,
    pub status: watch::Receiver<CycleStatus>,
    pub events: broadcast::Sender<Event>,
    /// The latest `levels` event (meters and tuner), renewed many times a second.
    pub levels: watch::Receiver<bytes::Bytes>,
    /// Where the page's, the API's and the button's requests go.
    pub cycle: CycleSender,
    pub store: Store,
    /// Live status streams: each holds a connection open, so at most half
    /// of `control.max_connections`; the page and the API keep the rest.
    pub event_slots: Arc<Semaphore>,
    pub event_slots_max: usize,
    pub shutdown: watch::Receiver<bool>,
    pub pages: web::views::Pages,
    /// The button and LEDs: which backend, and why it is off if it failed.
    pub gpio: GpioState,
    /// Writes that failed (session log, progress, settings, log file).
    pub storage: Arc<storage::Storage>,
    /// Settings -> Update: the bundle upload and the updater's progress.
    pub updates: update_upload::Updates,
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

    /// Failing writes and the free space of the state and log folders.
    pub fn storage_status(&self) -> storage::StorageStatus {
        let config = self.config();
        self.storage
            .status(&[&config.control.state_dir, &config.logging.log_directory])
    }
}

/// What stops the daemon from starting, with its context.
#[derive(Debug)]
pub enum StartError {
    NoToken,
    Instruments(crate::config::ConfigError),
    /// A recorder's URL, under the config field that gave it.
    RecorderUrl {
        field: &'static str,
        error: crate::http::UrlError,
    },
    StateDir(std::io::Error),
    Sessions {
        dir: PathBuf,
        error: std::io::Error,
    },
    /// Session ids for the page's logins come from /dev/urandom.
    Random(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NoToken => f.write_str(
                "no token: set control.token (or capture.token) or the TAKEBOX_TOKEN environment variable",
            ),
            StartError::Instruments(e) => write!(f, "{e}"),
            StartError::RecorderUrl { field, error } => write!(f, "{field}: {error}"),
            StartError::StateDir(e) => write!(f, "state_dir: {e}"),
            StartError::Sessions { dir, error } => {
                write!(f, "reading sessions in {}: {error}", dir.display())
            }
            StartError::Random(e) => write!(f, "/dev/urandom: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Everything in the config that can stop the daemon from starting.
pub fn check_setup(config: &Config) -> Result<(Instruments, Vec<RecorderClient>), StartError> {
    let c = &config.control;
    let token = c.effective_token(config);
    if token.is_empty() {
        return Err(StartError::NoToken);
    }
    let instruments =
        Instruments::load(&c.instruments_file, config).map_err(StartError::Instruments)?;
    let timeout = crate::protocol::seconds(c.request_timeout_seconds);
    let field = if c.recorders.is_empty() {
        "recording_computer_url"
    } else {
        "control.recorders"
    };
    let clients = c
        .recorder_urls(config)
        .into_iter()
        .map(|u| {
            RecorderClient::new(u, token, timeout)
                .map_err(|error| StartError::RecorderUrl { field, error })
        })
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
) -> Result<(), StartError> {
    let board = Board::start(config_path, config, raw, shutdown)?;
    crate::sdnotify::ready("serving the page");
    board.serve(listener).await;
    log::info!(target: "takebox::control", "stopped");
    Ok(())
}

/// The daemon once started: what the page works with, and the tasks behind it.
/// [`Board::serve`] answers until shutdown and then waits for the tasks that
/// end by themselves; dropped before (or after), the rest are stopped.
struct Board {
    control: Arc<Control>,
    shutdown: watch::Receiver<bool>,
    max_connections: usize,
    cycle: CycleWorker,
    /// The button and LEDs' driver, the watchdog: they end once shutdown is set.
    joined: Vec<JoinHandle<()>>,
    /// The health and meter pollers and the cleanup: periodic, stopped where they are.
    stopped: Vec<JoinHandle<()>>,
}

impl Board {
    fn start(
        config_path: PathBuf,
        config: Config,
        raw: Config,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Board, StartError> {
        let (instruments, clients) = check_setup(&config)?;
        let (store, resumed) = open_store(&config)?;
        // Session ids come from here: fail at start, not at the first login.
        web::login::random_id().map_err(StartError::Random)?;
        let hosts = web::hosts::KnownHosts::new(&config.control.host_names);
        let token = config.control.effective_token(&config).to_string();
        let page_password = config.control.page_password.clone();
        let password_guards = config.control.password_guards;
        let max_connections = config.control.max_connections;
        let gpio_settings = config.control.gpio.clone();
        let updates = update_upload::Updates::new(
            config.control.update_dir(),
            board_update::IMAGE_VERSION_FILE.into(),
        );
        let config = Arc::new(RwLock::new(Arc::new(config)));
        let health = Arc::new(Health::new(&clients));
        let storage = Arc::new(storage::Storage::default());
        let (events, _) = broadcast::channel(64);
        let (status_tx, status) = watch::channel(CycleStatus::default());

        let poller = tokio::spawn(health::poll_loop(
            clients.clone(),
            health.clone(),
            events.clone(),
            shutdown.clone(),
        ));
        let (levels_tx, levels) = watch::channel(bytes::Bytes::new());
        let meter = tokio::spawn(levels::poll_loop(
            clients.clone(),
            health.clone(),
            status.clone(),
            config.clone(),
            levels_tx,
            shutdown.clone(),
        ));
        let cycle = CycleWorker::start(
            Cycle::new(
                CycleContext {
                    config: config.clone(),
                    clients,
                    health: health.clone(),
                    store: store.clone(),
                    events: events.clone(),
                    status: status_tx,
                    storage: storage.clone(),
                },
                resumed,
            ),
            shutdown.clone(),
        );
        let cleaner = tokio::spawn(cleanup_loop(config.clone(), shutdown.clone()));
        let (gpio, gpio_task) = start_gpio(
            gpio_settings,
            status.clone(),
            events.subscribe(),
            health.clone(),
            cycle.sender(),
            shutdown.clone(),
        );
        let watchdog = tokio::spawn(watchdog(cycle.sender(), shutdown.clone()));
        let control = Arc::new(Control {
            config_path,
            config,
            raw: Mutex::new(raw),
            instruments: Arc::new(instruments),
            token,
            page_password,
            password_guards,
            logins: web::login::Logins::new(),
            hosts,
            health,
            status,
            events,
            levels,
            cycle: cycle.sender(),
            store,
            event_slots: Arc::new(Semaphore::new(max_connections / 2)),
            event_slots_max: max_connections / 2,
            shutdown: shutdown.clone(),
            pages: web::views::Pages::new(),
            gpio,
            storage,
            updates,
        });
        Ok(Board {
            control,
            shutdown,
            max_connections,
            cycle,
            joined: gpio_task.into_iter().chain([watchdog]).collect(),
            stopped: vec![poller, meter, cleaner],
        })
    }

    /// Answer on `listener` until shutdown, then wait for the cycle, the
    /// button's driver and the watchdog to end.
    async fn serve(mut self, listener: TcpListener) {
        let control = self.control.clone();
        let handler = move |req, peer| web::handle(control.clone(), req, peer);
        let limits = crate::http::ServerLimits::with_max(self.max_connections);
        crate::http::serve(listener, limits, handler, self.shutdown.clone()).await;
        for task in std::mem::take(&mut self.joined) {
            let _ = task.await;
        }
        self.cycle.join().await;
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        for task in self.joined.iter().chain(&self.stopped) {
            task.abort();
        }
    }
}

/// The progress store, and the latest session: the one left open when the
/// daemon last stopped (resumed), else the last one finished (shown, with its
/// take list, and reopened when a slot is recorded again).
fn open_store(config: &Config) -> Result<(Store, Option<progress::Session>), StartError> {
    let dir = &config.control.state_dir;
    let store = Store::open(dir).map_err(StartError::StateDir)?;
    let open = store.load_open().map_err(|error| StartError::Sessions {
        dir: dir.clone(),
        error,
    })?;
    if open.is_some() {
        return Ok((store, open));
    }
    let resumed = store
        .load_latest(|_| true)
        .map_err(|error| StartError::Sessions {
            dir: dir.clone(),
            error,
        })?;
    Ok((store, resumed))
}

/// The button and LEDs' driver, if a backend is configured: missing hardware
/// costs them alone, never the page (its error is shown on the API instead).
fn start_gpio(
    settings: crate::config::GpioSettings,
    status: watch::Receiver<CycleStatus>,
    events: broadcast::Receiver<Event>,
    health: Arc<Health>,
    cycle: CycleSender,
    shutdown: watch::Receiver<bool>,
) -> (GpioState, Option<JoinHandle<()>>) {
    let mut state = GpioState {
        backend: settings.backend,
        running: false,
        error: None,
        sim: None,
    };
    let backend = match gpio::open(&settings) {
        Ok(Some(backend)) => backend,
        Ok(None) => return (state, None),
        Err(e) => {
            log::error!(target: "takebox::gpio", "button and LEDs off: {e}; the page works without them");
            state.error = Some(e.to_string());
            return (state, None);
        }
    };
    state.running = true;
    state.sim = backend.sim;
    let driver = gpio::driver::Driver {
        lines: backend.lines,
        edges: backend.edges,
        settings,
        status,
        events,
        health,
        cycle,
        shutdown,
    };
    (state, Some(tokio::spawn(driver.run())))
}

/// systemd (Type=notify, WatchdogSec): pings only while the take cycle runs,
/// so a dead cycle gets the daemon restarted. It sends STOPPING=1 and ends by
/// itself once shutdown is set.
async fn watchdog(cycle: CycleSender, shutdown: watch::Receiver<bool>) {
    let healthy = move || {
        if cycle.stopped() {
            Err(CycleError::Stopped)
        } else {
            Ok(())
        }
    };
    crate::sdnotify::supervise(crate::sdnotify::watchdog_interval(), healthy, shutdown).await
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
