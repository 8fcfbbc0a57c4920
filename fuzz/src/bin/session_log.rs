//! afl target: `takebox::fuzz::session_log`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::session_log(data));
}
