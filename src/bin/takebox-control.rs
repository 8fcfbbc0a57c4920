//! The board's daemon. See `takebox::control`.

use takebox::cli::{self, EXIT_CONFIG};

const USAGE: &str = "usage: takebox-control [--config FILE] [--listen ADDR:PORT] [--check]
  --config  config.json (default $TAKEBOX_CONFIG or /etc/takebox/config.json)
  --listen  override control.listen
  --check   validate the configuration and instruments.json and exit (0 ok, 2 bad)";

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let start = match cli::daemon_start("takebox-control", USAGE) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut config = start.config;
    if let Some(addr) = start.listen {
        config.control.listen = addr;
    }
    if let Err(e) = takebox::control::check_setup(&config) {
        eprintln!("takebox-control: {}: {e}", start.path.display());
        return EXIT_CONFIG;
    }
    // The folders start makes, checked without making them.
    if let Err(e) = config.check_folders(&start.path, takebox::config::Daemon::Control) {
        eprintln!("takebox-control: {e}");
        return EXIT_CONFIG;
    }
    if start.check {
        println!("{}: ok", start.path.display());
        return 0;
    }
    let listen = config.control.listen;
    let logging = config.clone();
    let path = start.path.clone();
    cli::serve_daemon(
        "takebox-control",
        &logging,
        listen,
        &start.path,
        |listener, stop| takebox::control::run(path, config, start.raw, listener, stop),
    )
}
