//! `takebox-capture`: the recording computer's daemon.
//!
//! A capture thread keeps the capture source (an ALSA device, or a generator)
//! running into a history ring ([`engine`], [`ring`], [`source`]); each take is
//! cut from that timeline at its start instant and written to the spool while
//! it is analysed ([`take`], [`process`]), finished there once ([`finish`],
//! [`spool`]), then delivered to the board's share ([`share`]). [`server`] is
//! the HTTP face; the recorder's refusals are [`refused`].

pub mod batch;
pub mod engine;
pub mod finish;
pub mod levels;
pub mod live_loop;
pub mod midi;
pub mod process;
pub mod recorder;
pub mod refused;
pub mod ring;
pub mod server;
pub mod share;
pub mod source;
pub mod spool;
pub mod take;

use crate::config::Config;
use crate::protocol::DeviceState;
use recorder::Recorder;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How often the spool is retried when the share was missing.
const DELIVERY_RETRY: Duration = Duration::from_secs(2);

/// Run the daemon on `listener` until `shutdown` turns true.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let token: Arc<str> = Arc::from(config.capture.token.as_str());
    let device = config.capture.device.to_string();
    let recorder = Arc::new(Recorder::start(config)?);
    let delivery = tokio::spawn(delivery_loop(recorder.clone(), shutdown.clone()));
    let watchdog = tokio::spawn(crate::sdnotify::supervise(
        crate::sdnotify::watchdog_interval(),
        {
            let recorder = recorder.clone();
            move || match recorder.capture().stuck_for_ms() {
                None => Ok(()),
                Some(ms) => Err(format!(
                    "capture thread stuck in the audio driver for {ms} ms"
                )),
            }
        },
        shutdown.clone(),
    ));
    let ready = tokio::spawn(announce_ready(recorder.clone(), device, shutdown.clone()));
    let handler = {
        let recorder = recorder.clone();
        move |req, _peer| server::handle(recorder.clone(), token.clone(), req)
    };
    crate::http::serve(
        listener,
        crate::http::ServerLimits::default(),
        handler,
        shutdown,
    )
    .await;
    recorder.cancel();
    ready.abort();
    delivery.abort();
    let _ = delivery.await;
    // It sends STOPPING=1 and ends by itself once shutdown is set.
    let _ = watchdog.await;
    log::info!(target: "takebox::capture", "stopped");
    Ok(())
}

/// How often readiness is looked at until the daemon is ready.
const READY_POLL: Duration = Duration::from_millis(20);

/// READY=1 for systemd at the moment the status says `ready` (device running,
/// clock established, pre-roll held). A device that failed to open does not
/// hold the start back: the daemon is then up as far as it can get without
/// the hardware, and says so in STATUS= (it keeps reopening the device).
async fn announce_ready(
    recorder: Arc<Recorder>,
    device: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_status = String::new();
    loop {
        match recorder.readiness() {
            Ok(()) => {
                crate::sdnotify::ready(&format!("capturing from {device}"));
                log::info!(target: "takebox::capture", "ready: capturing from {device}");
                return;
            }
            Err(why) if recorder.capture().state() == DeviceState::Error => {
                crate::sdnotify::ready(&format!("waiting for {device}: {why}"));
                log::warn!(target: "takebox::capture", "not ready: {why}");
                return;
            }
            Err(why) => {
                let why = why.to_string();
                if why != last_status {
                    crate::sdnotify::status(&why);
                    last_status = why;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(READY_POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn delivery_loop(recorder: Arc<Recorder>, mut shutdown: watch::Receiver<bool>) {
    loop {
        // Most of the time nothing waits: no blocking thread to wake then.
        if recorder.has_pending() {
            let r = recorder.clone();
            let _ = tokio::task::spawn_blocking(move || r.deliver_pending()).await;
        } else if recorder.share_failing() {
            // Nothing to deliver, but status should say when the share takes writes again.
            let r = recorder.clone();
            let _ = tokio::task::spawn_blocking(move || r.probe_share()).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(DELIVERY_RETRY) => {}
            _ = shutdown.changed() => return,
        }
    }
}
