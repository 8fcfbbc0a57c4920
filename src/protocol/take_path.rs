//! Where a take lands on the share: the naming rule, shared by the recorder
//! (which writes the file) and the board (which refuses a session whose names
//! cannot fit before anyone plays a note).
//!
//! `<session_id>/<instrument>_<note>_<articulation>[_<dynamic>][_rr<n>][_<initials>][_<session_id>]_<tag>.wav`
//!
//! The musical fields come first, as samplers' auto-mappers read them. The
//! last part, the *tag*, is the take id in a form without `_`, so it is
//! always what follows the last `_` and the take id can be read back from the
//! path alone ([`take_id_of`]): two take ids never share a path, whatever the
//! other fields hold. For the board's ids (`<session_id>-0001-1`) the tag is
//! the short rest (`0001-1`); any other id is written out whole behind a `~`,
//! with `_`, `%` and `~` escaped as `%5F`, `%25`, `%7E`.

use super::names::FieldError;

/// Longest file name in bytes that ext4, Samba and the share's clients accept.
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// What a board session may add to a name; the board refuses more, so that
/// `--check` can tell whether an instrument and an articulation leave room
/// for every session ([`fits_every_session`]).
pub const MAX_INITIALS: usize = 16;
pub const MAX_DYNAMIC_LEN: usize = 16;
pub const MAX_ROUND_ROBINS: u32 = 64;
/// The board's largest session has 20,000 slots (five digits).
const LONGEST_TAG: &str = "20000-9999-r16";

/// Whether every take a board session can plan for `instrument` played
/// `articulation` has a file name that fits: the longest note name, dynamic,
/// round robin, initials and session id the board allows.
pub fn fits_every_session(
    instrument: &str,
    articulation: &str,
    include_session_id: bool,
    include_user_initials: bool,
) -> Result<(), FieldError> {
    let initials = "I".repeat(MAX_INITIALS);
    let session_id = format!("20260101-000000-{initials}-99");
    let take_id = format!("{session_id}-{LONGEST_TAG}");
    let dynamic = "d".repeat(MAX_DYNAMIC_LEN);
    TakeName {
        session_id: &session_id,
        take_id: &take_id,
        instrument,
        note: "C#-1",
        articulation,
        dynamic: Some(&dynamic),
        round_robin: Some(MAX_ROUND_ROBINS),
        user_initials: include_user_initials.then_some(initials.as_str()),
        include_session_id,
    }
    .path()
    .map(drop)
    .map_err(|e| {
        let field = if articulation.len() > instrument.len() {
            "articulation"
        } else {
            "instrument"
        };
        FieldError::new(
            field,
            format!(
                "{instrument:?} played {articulation:?} leaves too little room in a file name for a session's note, dynamic, round robin{} and take number ({})",
                if include_user_initials { ", initials" } else { "" },
                e.message
            ),
        )
    })
}

/// Everything a take's path is made of.
#[derive(Debug, Clone, Copy)]
pub struct TakeName<'a> {
    pub session_id: &'a str,
    pub take_id: &'a str,
    pub instrument: &'a str,
    /// The note's canonical name (`C#4`), not as the command spelled it.
    pub note: &'a str,
    pub articulation: &'a str,
    pub dynamic: Option<&'a str>,
    pub round_robin: Option<u32>,
    /// Present when the configuration puts the initials into file names.
    pub user_initials: Option<&'a str>,
    /// The configuration's `file_naming.include_session_id`.
    pub include_session_id: bool,
}

fn plain_rest(rest: &str) -> bool {
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The take id as it ends the file name: no `_`, and readable back with
/// [`take_id_of`] given the session.
pub fn tag(session_id: &str, take_id: &str) -> String {
    if let Some(rest) = take_id
        .strip_prefix(session_id)
        .and_then(|r| r.strip_prefix('-'))
        .filter(|r| plain_rest(r))
    {
        return rest.to_string();
    }
    let mut out = String::with_capacity(take_id.len() + 4);
    out.push('~');
    for c in take_id.chars() {
        match c {
            '_' => out.push_str("%5F"),
            '%' => out.push_str("%25"),
            '~' => out.push_str("%7E"),
            c => out.push(c),
        }
    }
    out
}

/// The take id a file of session `session_id` belongs to, read from its name;
/// `None` for a name this rule does not make.
pub fn take_id_of(session_id: &str, file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".wav")?;
    let (_, tag) = stem.rsplit_once('_')?;
    match tag.strip_prefix('~') {
        Some(escaped) => {
            let mut out = String::with_capacity(escaped.len());
            let mut rest = escaped;
            while let Some(i) = rest.find('%') {
                out.push_str(&rest[..i]);
                let c = match rest.get(i + 1..i + 3)? {
                    "5F" => '_',
                    "25" => '%',
                    "7E" => '~',
                    _ => return None,
                };
                out.push(c);
                rest = &rest[i + 3..];
            }
            out.push_str(rest);
            Some(out)
        }
        None if plain_rest(tag) => Some(format!("{session_id}-{tag}")),
        None => None,
    }
}

impl TakeName<'_> {
    /// The file name, without the session folder.
    pub fn file_name(&self) -> String {
        let mut parts: Vec<String> = Vec::with_capacity(8);
        parts.push(self.instrument.to_string());
        parts.push(self.note.to_string());
        parts.push(self.articulation.to_string());
        if let Some(d) = self.dynamic {
            parts.push(d.to_string());
        }
        if let Some(rr) = self.round_robin {
            parts.push(format!("rr{rr}"));
        }
        if let Some(initials) = self.user_initials {
            parts.push(initials.to_string());
        }
        if self.include_session_id {
            parts.push(self.session_id.to_string());
        }
        parts.push(tag(self.session_id, self.take_id));
        format!("{}.wav", parts.join("_"))
    }

    /// The path relative to the share root, `/`-separated, once it is known
    /// to fit; otherwise the error names the longest field to shorten. Every
    /// part must have passed [`super::check_name`] (so it stays in its folder).
    pub fn path(&self) -> Result<String, FieldError> {
        let name = self.file_name();
        if name.len() > MAX_FILE_NAME_BYTES {
            let mut fields = vec![
                ("instrument", self.instrument),
                ("articulation", self.articulation),
                ("take_id", self.take_id),
            ];
            fields.extend(self.dynamic.map(|d| ("dynamic", d)));
            fields.extend(self.user_initials.map(|i| ("user_initials", i)));
            if self.include_session_id {
                fields.push(("session_id", self.session_id));
            }
            // The first of the longest: the instrument before the rest.
            let (field, value) = fields
                .iter()
                .copied()
                .rev()
                .max_by_key(|(_, v)| v.len())
                .unwrap_or(("instrument", self.instrument));
            return Err(FieldError::new(
                field,
                format!(
                    "the take's file name would be {} bytes, over the {MAX_FILE_NAME_BYTES} a file name can hold; shorten {field} ({} bytes)",
                    name.len(),
                    value.len()
                ),
            ));
        }
        Ok(format!("{}/{name}", self.session_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name<'a>(take_id: &'a str, dynamic: Option<&'a str>) -> TakeName<'a> {
        TakeName {
            session_id: "20261201-101500",
            take_id,
            instrument: "Grand Piano",
            note: "C#4",
            articulation: "long",
            dynamic,
            round_robin: None,
            user_initials: None,
            include_session_id: false,
        }
    }

    #[test]
    fn board_ids_give_short_readable_names() {
        let mut n = name("20261201-101500-0007-2", Some("ff"));
        n.round_robin = Some(2);
        assert_eq!(
            n.path().unwrap(),
            "20261201-101500/Grand Piano_C#4_long_ff_rr2_0007-2.wav"
        );
        n.user_initials = Some("AB");
        n.include_session_id = true;
        n.take_id = "20261201-101500-0007-2-r2";
        assert_eq!(
            n.file_name(),
            "Grand Piano_C#4_long_ff_rr2_AB_20261201-101500_0007-2-r2.wav"
        );
    }

    #[test]
    fn the_take_id_is_read_back_from_any_name() {
        let ids = [
            "20261201-101500-0007-2",
            "20261201-101500-0007-2-r2",
            "t1",
            "ff_t1",
            "20261201-101500-x_y",
            "20261201-101500-",
            "20261201-101500",
            "~0001",
            "a%5Fb",
            "100%_~done",
            "20261201-101500-~1",
            "Flöte-1",
        ];
        for id in ids {
            for dynamic in [None, Some("ff"), Some("f_f")] {
                let n = name(id, dynamic);
                let file = n.file_name();
                assert_eq!(
                    take_id_of(n.session_id, &file).as_deref(),
                    Some(id),
                    "{file}"
                );
            }
        }
    }

    #[test]
    fn different_take_ids_never_share_a_path() {
        // The defect this rule replaced: t1 with dynamic ff and ff_t1 without.
        let a = name("t1", Some("ff")).path().unwrap();
        let b = name("ff_t1", None).path().unwrap();
        assert_ne!(a, b);
        let a = name("20261201-101500-1", None).path().unwrap();
        let b = name("~1", None).path().unwrap();
        let c = name("1", None).path().unwrap();
        assert!(a != b && b != c && a != c, "{a} {b} {c}");
    }

    #[test]
    fn a_name_too_long_for_a_file_names_its_longest_field() {
        let long_inst = "i".repeat(100);
        let long_art = "a".repeat(100);
        let long_dyn = "d".repeat(60);
        let mut n = name("20261201-101500-0001-1", Some(&long_dyn));
        n.instrument = &long_inst;
        n.articulation = &long_art;
        let e = n.path().unwrap_err();
        assert_eq!(e.field, "instrument", "{e}");
        assert!(e.message.contains("255"), "{e}");
        n.dynamic = Some("ff");
        assert!(n.path().is_ok());
        // 83 bytes of a session's parts with the session id, 47 without.
        assert!(fits_every_session(&long_inst[..86], &long_art[..86], true, false).is_ok());
        assert!(fits_every_session(&long_inst, &long_art, false, false).is_ok());
        let e = fits_every_session(&long_inst, &long_art[..73], true, false).unwrap_err();
        assert_eq!(e.field, "instrument", "{e}");
        assert!(e.message.contains("255"), "{e}");
    }
}
