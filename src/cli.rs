//! Command-line plumbing the three binaries share: flags, config loading,
//! logging and signals.

use crate::config::{Config, ConfigError, TokenError};
use std::fmt;
use std::path::PathBuf;
use tokio::sync::watch;

/// Exit codes: 0 fine, 1 runtime failure, 2 bad configuration or usage.
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_CONFIG: i32 = 2;

/// A flag given without its value (`--name` last on the line).
#[derive(Debug, Clone, PartialEq)]
pub enum FlagError {
    NeedsValue(String),
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::NeedsValue(flag) => write!(f, "{flag} needs a value"),
        }
    }
}

impl std::error::Error for FlagError {}

/// The binaries' argument parsers say what is wrong as text, next to their usage.
impl From<FlagError> for String {
    fn from(e: FlagError) -> String {
        e.to_string()
    }
}

/// Why config.json (or the token from the environment) cannot be used.
#[derive(Debug)]
pub enum LoadError {
    Config(ConfigError),
    EnvToken(TokenError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Config(e) => write!(f, "{e}"),
            LoadError::EnvToken(e) => write!(
                f,
                "the environment variable {}: {e}",
                crate::config::TOKEN_ENV
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// `--name value` / `--name=value` flags and bare switches.
pub struct Args {
    items: Vec<String>,
}

impl Args {
    pub fn from_env() -> Args {
        Args {
            items: std::env::args().skip(1).collect(),
        }
    }

    pub fn from_vec(items: Vec<String>) -> Args {
        Args { items }
    }

    /// Remove and return the value of `--name`.
    pub fn value(&mut self, name: &str) -> Result<Option<String>, FlagError> {
        let flag = format!("--{name}");
        let prefix = format!("--{name}=");
        if let Some(i) = self.items.iter().position(|a| a == &flag) {
            if i + 1 >= self.items.len() {
                return Err(FlagError::NeedsValue(flag));
            }
            let v = self.items.remove(i + 1);
            self.items.remove(i);
            return Ok(Some(v));
        }
        if let Some(i) = self.items.iter().position(|a| a.starts_with(&prefix)) {
            let v = self.items.remove(i)[prefix.len()..].to_string();
            return Ok(Some(v));
        }
        Ok(None)
    }

    /// Remove and report a bare `--name`.
    pub fn switch(&mut self, name: &str) -> bool {
        let flag = format!("--{name}");
        match self.items.iter().position(|a| a == &flag) {
            Some(i) => {
                self.items.remove(i);
                true
            }
            None => false,
        }
    }

    /// What is left once every known flag was taken.
    pub fn rest(self) -> Vec<String> {
        self.items
    }
}

/// Load config.json from `--config` (default: `$TAKEBOX_CONFIG` or /etc/takebox/config.json),
/// with the token from the environment.
pub fn load_config(path: Option<String>) -> Result<(PathBuf, Config), LoadError> {
    load_config_and_raw(path).map(|(path, config, _)| (path, config))
}

/// Like [`load_config`], and also the config exactly as the file has it (paths as
/// written, no token from the environment): what a settings page saves back.
pub fn load_config_and_raw(path: Option<String>) -> Result<(PathBuf, Config, Config), LoadError> {
    let path = PathBuf::from(
        path.or_else(|| std::env::var("TAKEBOX_CONFIG").ok())
            .unwrap_or_else(|| "/etc/takebox/config.json".into()),
    );
    let raw = Config::load(&path).map_err(LoadError::Config)?;
    if let Ok(token) = std::env::var(crate::config::TOKEN_ENV)
        && !token.is_empty()
    {
        crate::config::check_token(&token).map_err(LoadError::EnvToken)?;
    }
    let mut config = raw.clone();
    config.apply_env();
    config.resolve_paths(&path);
    Ok((path, config, raw))
}

/// A receiver that turns true on SIGTERM (systemd's stop) or SIGINT.
pub fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            log::error!(target: "takebox::cli", "cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        log::info!(target: "takebox::cli", "stop requested");
        let _ = tx.send(true);
    });
    rx
}

/// What both daemons are started with.
pub struct DaemonStart {
    /// Where config.json was read from.
    pub path: PathBuf,
    /// Resolved: relative paths made absolute, the token from the environment.
    pub config: Config,
    /// As the file has it, for the settings page to save back.
    pub raw: Config,
    /// `--listen`, overriding the config.
    pub listen: Option<std::net::SocketAddr>,
    /// `--check`: validate and exit.
    pub check: bool,
}

/// Parse a daemon's flags and load its config, or say what is wrong and
/// return the exit code.
pub fn daemon_start(program: &str, usage: &str) -> Result<DaemonStart, i32> {
    let mut args = Args::from_env();
    if args.switch("help") {
        println!("{usage}");
        return Err(0);
    }
    let fail = |msg: String| {
        eprintln!("{program}: {msg}");
        EXIT_CONFIG
    };
    let check = args.switch("check");
    let config_arg = args
        .value("config")
        .map_err(|e| fail(format!("{e}\n{usage}")))?;
    let listen_arg = args
        .value("listen")
        .map_err(|e| fail(format!("{e}\n{usage}")))?;
    if let Some(extra) = args.rest().first() {
        return Err(fail(format!("unexpected argument {extra:?}\n{usage}")));
    }
    let listen = listen_arg
        .map(|l| l.parse().map_err(|e| fail(format!("--listen {l:?}: {e}"))))
        .transpose()?;
    let (path, config, raw) = load_config_and_raw(config_arg).map_err(|e| fail(e.to_string()))?;
    Ok(DaemonStart {
        path,
        config,
        raw,
        listen,
        check,
    })
}

/// Set up logging and the runtime, bind `listen`, announce it (tests and
/// scripts wait for the "listening on" line) and run the daemon until it stops.
pub fn serve_daemon<F, Fut, E>(
    program: &'static str,
    config: &Config,
    listen: std::net::SocketAddr,
    path: &std::path::Path,
    run: F,
) -> i32
where
    F: FnOnce(tokio::net::TcpListener, watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    if let Err(e) = crate::logging::init(&config.logging, &config.logging.log_directory, program) {
        eprintln!("{program}: {e}");
        return EXIT_CONFIG;
    }
    crate::panics::exit_on_panic(program);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{program}: cannot start the runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                log::error!(target: "takebox::cli", "{program}: cannot listen on {listen}: {e}");
                return EXIT_FAILURE;
            }
        };
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        log::info!(target: "takebox::cli", "{program} listening on http://{addr} (config {})", path.display());
        match run(listener, shutdown_signal()).await {
            Ok(()) => 0,
            Err(e) => {
                log::error!(target: "takebox::cli", "{program}: {e}");
                EXIT_FAILURE
            }
        }
    })
}
