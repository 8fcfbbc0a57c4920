//! afl target: `takebox::fuzz::cookie`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::cookie(data));
}
