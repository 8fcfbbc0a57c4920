//! A panic ends the daemon, so systemd restarts it (`Restart=on-failure`).
//!
//! A panic means a bug has left some state half-changed. Inside a daemon that
//! lives on (a tokio task or a blocking thread absorbs the panic), a mutex held
//! at that moment stays poisoned and every later take would fail behind a
//! watchdog that still pings. Exiting instead gets a fresh process whose spool
//! recovery and the board's retry by take id pick up where it stopped.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

/// Exit code after a panic (EX_SOFTWARE).
pub const EXIT_PANIC: i32 = 70;

/// Make every panic, on any thread, log its message and end the process.
pub fn exit_on_panic(program: &'static str) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        log::error!(target: "takebox::panic", "{program}: {info}; exiting so that it is restarted");
        log::logger().flush();
        std::process::exit(EXIT_PANIC);
    }));
}

/// Lock `m`. In the daemons a panic never leaves a poisoned lock behind (the
/// process is gone, see [`exit_on_panic`]); elsewhere (tests, the command line
/// tool) the data is used as the panicking thread left it.
pub fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A copy of what `lock` holds, never a default in its place: the settings
/// in force stay the settings in force (see [`locked`] on poisoning).
pub fn current<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read().unwrap_or_else(PoisonError::into_inner).clone()
}
