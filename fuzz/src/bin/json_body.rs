//! afl target: `takebox::fuzz::json_body`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::json_body(data));
}
