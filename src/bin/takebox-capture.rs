//! The recording computer's daemon. See `takebox::capture`.

use takebox::cli::{self, Args, EXIT_CONFIG, EXIT_FAILURE};

const USAGE: &str = "usage: takebox-capture [--config FILE] [--listen ADDR:PORT] [--check]
  --config  config.json (default $TAKEBOX_CONFIG or /etc/takebox/config.json)
  --listen  override capture.listen
  --check   validate the configuration and exit (0 ok, 2 bad)";

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let mut args = Args::from_env();
    if args.switch("help") {
        println!("{USAGE}");
        return 0;
    }
    let check = args.switch("check");
    let (config_arg, listen_arg) = match (args.value("config"), args.value("listen")) {
        (Ok(c), Ok(l)) => (c, l),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("takebox-capture: {e}\n{USAGE}");
            return EXIT_CONFIG;
        }
    };
    if let Some(extra) = args.rest().first() {
        eprintln!("takebox-capture: unexpected argument {extra:?}\n{USAGE}");
        return EXIT_CONFIG;
    }
    let (path, mut config) = match cli::load_config(config_arg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("takebox-capture: {e}");
            return EXIT_CONFIG;
        }
    };
    if let Some(l) = listen_arg {
        match l.parse() {
            Ok(addr) => config.capture.listen = addr,
            Err(e) => {
                eprintln!("takebox-capture: --listen {l:?}: {e}");
                return EXIT_CONFIG;
            }
        }
    }
    if config.capture.token.is_empty() {
        eprintln!(
            "takebox-capture: {}: no token: set capture.token or the TAKEBOX_TOKEN environment variable",
            path.display()
        );
        return EXIT_CONFIG;
    }
    if check {
        println!("{}: ok", path.display());
        return 0;
    }
    if let Err(e) = takebox::logging::init(
        &config.logging,
        &config.logging.log_directory,
        "takebox-capture",
    ) {
        eprintln!("takebox-capture: {e}");
        return EXIT_CONFIG;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("takebox-capture: cannot start the runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.capture.listen).await {
            Ok(l) => l,
            Err(e) => {
                log::error!(target: "takebox::capture", "cannot listen on {}: {e}", config.capture.listen);
                return EXIT_FAILURE;
            }
        };
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        log::info!(target: "takebox::capture", "listening on http://{addr} (config {})", path.display());
        match takebox::capture::run(config, listener, cli::shutdown_signal()).await {
            Ok(()) => 0,
            Err(e) => {
                log::error!(target: "takebox::capture", "{e}");
                EXIT_FAILURE
            }
        }
    })
}
