//! afl target: `takebox::fuzz::wav_process`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::wav_process(data));
}
