//! The recording computer's daemon. See `takebox::capture`.

use takebox::cli::{self, EXIT_CONFIG};

const USAGE: &str = "usage: takebox-capture [--config FILE] [--listen ADDR:PORT] [--check]
  --config  config.json (default $TAKEBOX_CONFIG or /etc/takebox/config.json)
  --listen  override capture.listen
  --check   validate the configuration and exit (0 ok, 2 bad)";

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let start = match cli::daemon_start("takebox-capture", USAGE) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut config = start.config;
    if let Some(addr) = start.listen {
        config.capture.listen = addr;
    }
    if config.capture.token.is_empty() {
        eprintln!(
            "takebox-capture: {}: no token: set capture.token or the TAKEBOX_TOKEN environment variable",
            start.path.display()
        );
        return EXIT_CONFIG;
    }
    // The folders start makes, checked without making them.
    let daemon = takebox::config::Daemon::Capture {
        spool_folders: &takebox::capture::spool::SUBDIRS,
    };
    if let Err(e) = config.check_folders(&start.path, daemon) {
        eprintln!("takebox-capture: {e}");
        return EXIT_CONFIG;
    }
    if start.check {
        // A synth that is not there is found now, not at the first take.
        use takebox::capture::midi::{Sequencer, seq::AlsaSequencer};
        for port in &config.capture.midi_ports {
            match AlsaSequencer.find(port) {
                Ok(name) => println!("MIDI port {port:?}: {name}"),
                Err(e) => {
                    eprintln!(
                        "takebox-capture: {}: capture.midi_ports: {e}",
                        start.path.display()
                    );
                    return EXIT_CONFIG;
                }
            }
        }
        println!("{}: ok", start.path.display());
        return 0;
    }
    let listen = config.capture.listen;
    let logging = config.clone();
    cli::serve_daemon(
        "takebox-capture",
        &logging,
        listen,
        &start.path,
        |listener, stop| takebox::capture::run(config, listener, stop),
    )
}
