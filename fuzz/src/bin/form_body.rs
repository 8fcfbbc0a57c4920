//! afl target: `takebox::fuzz::form_body`.
fn main() {
    afl::fuzz!(|data: &[u8]| takebox::fuzz::form_body(data));
}
