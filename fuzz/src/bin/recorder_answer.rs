//! afl target: `takebox::fuzz::recorder_answer`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::recorder_answer(data));
}
