//! afl target: `takebox::fuzz::wav_reader`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::wav_reader(data));
}
