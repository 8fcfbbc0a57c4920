//! afl target: `takebox::fuzz::url`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::url(data));
}
