//! Names that become file and folder names on the share: what is refused, and
//! the error that names the field.

use std::fmt;

/// Longest accepted identifier or name field, in bytes.
pub const MAX_NAME_LEN: usize = 100;

/// What was wrong with a message, naming the field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Device names Windows reserves in every folder, with or without an extension
/// (`CON`, `con.wav`, `COM1.txt`): a share client cannot open such a file.
const WINDOWS_RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];

fn is_windows_reserved(value: &str) -> bool {
    // Windows ignores what follows the first dot, and trailing spaces before it.
    let stem = value
        .split('.')
        .next()
        .unwrap_or(value)
        .trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    if WINDOWS_RESERVED.contains(&upper.as_str()) {
        return true;
    }
    // COM0-9 and LPT0-9, also with the superscript digits Windows counts too.
    let Some(rest) = upper
        .strip_prefix("COM")
        .or_else(|| upper.strip_prefix("LPT"))
    else {
        return false;
    };
    let mut chars = rest.chars();
    matches!(
        (chars.next(), chars.next()),
        (Some('0'..='9' | '¹' | '²' | '³'), None)
    )
}

/// Characters that show nothing or reorder what is shown: a file name with one
/// looks like another name (`U+202E` before `vaw.exe` shows it as `exe.wav`),
/// or like a name with no difference at all. Unicode's format characters (Cf),
/// line and paragraph separators, and the invisible fillers.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{034F}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{0890}'..='\u{0891}'
        | '\u{08E2}'
        | '\u{115F}'..='\u{1160}'
        | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}'
        | '\u{110BD}'
        | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Checks a name that becomes part of a file or folder name on the share.
///
/// Besides path tricks (`/`, `\`, `..`, a leading dot) it refuses what Windows
/// clients of the Samba share cannot open (`:*?"<>|`, a trailing dot or space,
/// the reserved device names) and characters that hide or disguise a name.
pub fn check_name(field: &str, value: &str) -> Result<(), FieldError> {
    let err = |m: String| Err(FieldError::new(field, m));
    if value.is_empty() {
        return err("must not be empty".into());
    }
    if value.len() > MAX_NAME_LEN {
        return err(format!("longer than {MAX_NAME_LEN} bytes"));
    }
    if let Some(c) = value.chars().find(|c| {
        c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
    }) {
        return err(format!(
            "must not contain {c:?} (names become file names on the share)"
        ));
    }
    if let Some(c) = value.chars().find(|&c| is_invisible(c)) {
        return err(format!(
            "must not contain the invisible or reordering character U+{:04X} (it disguises file names on the share)",
            u32::from(c)
        ));
    }
    if value.starts_with('.') || value.contains("..") {
        return err("must not start with a dot or contain \"..\"".into());
    }
    if value.ends_with(' ') || value.ends_with('.') || value.starts_with(' ') {
        return err("must not start or end with a space or end with a dot".into());
    }
    if is_windows_reserved(value) {
        return err(format!(
            "{value:?} is a device name that Windows clients of the share cannot open (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_tricks_are_refused() {
        for bad in [
            "../x", "a/b", "a\\b", ".hidden", "a\0b", "a\nb", "x..y", "C:", "a ", "",
        ] {
            let e = check_name("session_id", bad).unwrap_err();
            assert_eq!(e.field, "session_id", "{bad:?}");
        }
        for good in [
            "2026-11-25_a",
            "Grand Piano",
            "C#4",
            "pp",
            "Flöte",
            "普通话",
        ] {
            check_name("instrument", good).unwrap();
        }
    }

    #[test]
    fn windows_device_names_are_refused_with_or_without_extension() {
        for bad in [
            "CON", "con", "Nul", "PRN", "AUX", "COM1", "com9", "LPT1", "lpt3", "COM¹", "CON.wav",
            "nul.txt", "LPT1.x.y", "CON .wav",
        ] {
            let e = check_name("instrument", bad).unwrap_err();
            assert!(e.message.contains("device name"), "{bad:?}: {e}");
        }
        for good in [
            "CONSOLE",
            "Conga",
            "COM",
            "COM10",
            "LPT",
            "Null",
            "auxiliary",
            "nul-1",
        ] {
            check_name("instrument", good).unwrap();
        }
    }

    #[test]
    fn invisible_and_reordering_characters_are_refused() {
        for bad in [
            "evil\u{202E}vaw.exe",
            "pi\u{200B}ano",
            "\u{FEFF}piano",
            "pia\u{00AD}no",
            "a\u{2066}b",
            "a\u{2028}b",
            "tag\u{E0041}",
            "a\u{180E}b",
        ] {
            let e = check_name("articulation", bad).unwrap_err();
            assert!(e.message.contains("invisible"), "{bad:?}: {e}");
        }
    }
}
