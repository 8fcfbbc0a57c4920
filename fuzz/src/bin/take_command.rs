//! afl target: `takebox::fuzz::take_command`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::take_command(data));
}
