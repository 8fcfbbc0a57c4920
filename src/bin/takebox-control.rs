//! The board's daemon. See `takebox::control`.

use takebox::cli::{self, Args, EXIT_CONFIG, EXIT_FAILURE};

const USAGE: &str = "usage: takebox-control [--config FILE] [--listen ADDR:PORT] [--check]
  --config  config.json (default $TAKEBOX_CONFIG or /etc/takebox/config.json)
  --listen  override control.listen
  --check   validate the configuration and instruments.json and exit (0 ok, 2 bad)";

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
            eprintln!("takebox-control: {e}\n{USAGE}");
            return EXIT_CONFIG;
        }
    };
    if let Some(extra) = args.rest().first() {
        eprintln!("takebox-control: unexpected argument {extra:?}\n{USAGE}");
        return EXIT_CONFIG;
    }
    let (path, mut config, raw) = match cli::load_config_and_raw(config_arg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("takebox-control: {e}");
            return EXIT_CONFIG;
        }
    };
    if let Some(l) = listen_arg {
        match l.parse() {
            Ok(addr) => config.control.listen = addr,
            Err(e) => {
                eprintln!("takebox-control: --listen {l:?}: {e}");
                return EXIT_CONFIG;
            }
        }
    }
    if let Err(e) = takebox::control::check_setup(&config) {
        eprintln!("takebox-control: {}: {e}", path.display());
        return EXIT_CONFIG;
    }
    if check {
        println!("{}: ok", path.display());
        return 0;
    }
    if let Err(e) = takebox::logging::init(
        &config.logging,
        &config.logging.log_directory,
        "takebox-control",
    ) {
        eprintln!("takebox-control: {e}");
        return EXIT_CONFIG;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("takebox-control: cannot start the runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.control.listen).await {
            Ok(l) => l,
            Err(e) => {
                log::error!(target: "takebox::control", "cannot listen on {}: {e}", config.control.listen);
                return EXIT_FAILURE;
            }
        };
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        log::info!(target: "takebox::control", "listening on http://{addr} (config {})", path.display());
        match takebox::control::run(path, config, raw, listener, cli::shutdown_signal()).await {
            Ok(()) => 0,
            Err(e) => {
                log::error!(target: "takebox::control", "{e}");
                EXIT_FAILURE
            }
        }
    })
}
