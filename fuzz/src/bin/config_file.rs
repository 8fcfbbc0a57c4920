//! afl target: `takebox::fuzz::config_file`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::config_file(data));
}
