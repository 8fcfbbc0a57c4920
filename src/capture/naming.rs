//! Where a take lands on the share: `<session_id>/<file name>.wav`, the file name
//! built by the seed's `file_naming` rules plus instrument, note, articulation,
//! dynamic, round robin and take id.

use crate::config::FileNaming;
use crate::protocol::TakeCommand;

/// The take's path relative to the share root, `/`-separated. Every part was
/// checked by [`TakeCommand::validate`], so it cannot leave the session folder.
pub fn take_path(cmd: &TakeCommand, note_name: &str, naming: &FileNaming) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(8);
    if naming.include_session_id {
        parts.push(cmd.session_id.clone());
    }
    if naming.include_user_initials
        && let Some(initials) = &cmd.user_initials
    {
        parts.push(initials.clone());
    }
    parts.push(cmd.instrument.clone());
    parts.push(note_name.to_string());
    parts.push(cmd.articulation.clone());
    if let Some(d) = &cmd.dynamic {
        parts.push(d.clone());
    }
    if let Some(rr) = cmd.round_robin {
        parts.push(format!("rr{rr}"));
    }
    parts.push(cmd.take_id.clone());
    format!("{}/{}.wav", cmd.session_id, parts.join("_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> TakeCommand {
        serde_json::from_str(
            r#"{"take_id":"t7","session_id":"s1","instrument":"Grand Piano","note":"Db4",
            "frequency":277.18,"articulation":"long","duration":1.0,"user_initials":"AB",
            "dynamic":"ff","round_robin":2}"#,
        )
        .unwrap()
    }

    #[test]
    fn follows_the_seed_rules() {
        let mut naming = FileNaming::default();
        assert_eq!(
            take_path(&cmd(), "C#4", &naming),
            "s1/s1_Grand Piano_C#4_long_ff_rr2_t7.wav"
        );
        naming.include_user_initials = true;
        naming.include_session_id = false;
        assert_eq!(
            take_path(&cmd(), "C#4", &naming),
            "s1/AB_Grand Piano_C#4_long_ff_rr2_t7.wav"
        );
    }
}
