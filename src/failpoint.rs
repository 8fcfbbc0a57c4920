//! Named points where a test or a soak run makes a daemon fail on purpose,
//! at a moment no signal from outside can hit reliably.
//!
//! `TAKEBOX_FAILPOINTS=capture.deliver=panic,capture.processed=exit` arms
//! them; unset (always, in production), each point costs one load of an
//! empty list. Actions: `panic` (a bug at that spot), `exit` (the process
//! dies there, like `kill -9` at that instant, without running destructors).

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Panic,
    Exit,
}

fn armed() -> &'static [(String, Action)] {
    static POINTS: OnceLock<Vec<(String, Action)>> = OnceLock::new();
    POINTS.get_or_init(|| {
        let Ok(spec) = std::env::var("TAKEBOX_FAILPOINTS") else {
            return Vec::new();
        };
        spec.split(',')
            .filter_map(|item| {
                let (name, action) = item.trim().split_once('=')?;
                let action = match action {
                    "panic" => Action::Panic,
                    "exit" => Action::Exit,
                    other => {
                        log::warn!(target: "takebox::failpoint", "{name}: unknown action {other:?}");
                        return None;
                    }
                };
                log::warn!(target: "takebox::failpoint", "armed: {name} = {action:?}");
                Some((name.to_string(), action))
            })
            .collect()
    })
}

/// Fail here if the point `name` is armed.
pub fn hit(name: &str) {
    for (point, action) in armed() {
        if point == name {
            match action {
                Action::Panic => panic!("failpoint {name}"),
                Action::Exit => {
                    log::error!(target: "takebox::failpoint", "{name}: exiting");
                    // SAFETY: _exit ends the process at once; nothing after it runs.
                    unsafe { libc::_exit(137) }
                }
            }
        }
    }
}
