//! afl target: `takebox::fuzz::instruments_file`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::instruments_file(data));
}
