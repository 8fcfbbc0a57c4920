//! Is the board's clock synchronised? The board has no battery clock; on an
//! isolated studio LAN no time server may answer, and then every take's
//! `start_at` and every session log time is only as good as a clock that
//! started from the last shutdown. The kernel knows: `adjtimex(2)` read-only
//! reports `STA_UNSYNC` until a time daemon (chrony on the image) disciplines it.

use serde::Serialize;

/// `clock` in the status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockSync {
    /// The kernel says a time daemon keeps the clock (`None`: unknown).
    pub synchronized: Option<bool>,
    /// The kernel's bound on the clock's error, ms (while synchronised).
    pub max_error_ms: Option<f64>,
    /// Why the state is unknown.
    pub error: Option<String>,
}

/// The kernel's clock state now (`adjtimex` with no change asked: no privilege needed).
pub fn read() -> ClockSync {
    // SAFETY: a zeroed timex with modes 0 only asks; the kernel fills it in.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return ClockSync {
            synchronized: None,
            max_error_ms: None,
            error: Some(std::io::Error::last_os_error().to_string()),
        };
    }
    judge(state, tx.status, tx.maxerror)
}

/// From `adjtimex`'s answer: its return value, `status` bits and `maxerror`
/// (µs). Unsynchronised when the kernel says `TIME_ERROR` or `STA_UNSYNC`.
pub fn judge(state: i32, status: i32, max_error_us: i64) -> ClockSync {
    let synchronized = state != libc::TIME_ERROR && status & libc::STA_UNSYNC == 0;
    ClockSync {
        synchronized: Some(synchronized),
        max_error_ms: synchronized.then_some(max_error_us as f64 / 1000.0),
        error: None,
    }
}

/// The page's line when the clock cannot be trusted.
pub fn problem_line(c: &ClockSync) -> Option<String> {
    let why = match (c.synchronized, &c.error) {
        (Some(true), _) => return None,
        (Some(false), _) => "is not synchronised to a time server".to_string(),
        (None, Some(e)) => format!("cannot be checked ({e})"),
        (None, None) => "cannot be checked".to_string(),
    };
    Some(format!(
        "The board's clock {why}: take times and session log times are only as right as this clock"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynchronised_by_the_status_bit_or_the_state() {
        let synced = judge(libc::TIME_OK, 0x2001, 12_500);
        assert_eq!(synced.synchronized, Some(true));
        assert_eq!(synced.max_error_ms, Some(12.5));
        assert_eq!(problem_line(&synced), None);
        let unsynced = judge(libc::TIME_OK, libc::STA_UNSYNC, 16_000_000);
        assert_eq!(unsynced.synchronized, Some(false));
        assert_eq!(unsynced.max_error_ms, None);
        assert!(
            problem_line(&unsynced)
                .unwrap()
                .contains("not synchronised")
        );
        assert_eq!(judge(libc::TIME_ERROR, 0, 0).synchronized, Some(false));
    }

    #[test]
    fn the_kernel_answers() {
        // Whatever this machine's clock is, the call works without privileges.
        let c = read();
        assert!(c.synchronized.is_some(), "{c:?}");
        eprintln!("this machine's clock: {c:?}");
    }
}
