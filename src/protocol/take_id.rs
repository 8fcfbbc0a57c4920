//! The board's take ids, built and read in this one place:
//! `<session_id>-<slot>-<attempt>` (slot from 1, four digits at least), and
//! `-r<n>` after it for the n-th recorder (n from 2) of a take recorded on
//! several; the first recorder keeps the bare id, which is also the one a
//! retake names. In JSON (the session log) a take id is its text.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TakeId {
    /// The id without a recorder suffix.
    base: String,
    /// `Some(n)` for the n-th recorder, n ≥ 2.
    recorder: Option<u32>,
}

impl TakeId {
    /// Attempt `attempt` (from 1) at slot `slot` (from 0) of a session.
    pub fn attempt(session_id: &str, slot: usize, attempt: u32) -> TakeId {
        TakeId {
            base: format!("{session_id}-{:04}-{attempt}", slot + 1),
            recorder: None,
        }
    }

    /// The id recorder `index` (from 0) of `recorders` gets for this take.
    pub fn on_recorder(&self, index: usize, recorders: usize) -> TakeId {
        TakeId {
            base: self.base.clone(),
            recorder: (recorders > 1 && index > 0).then(|| index as u32 + 1),
        }
    }

    /// Any take id; a trailing `-r<n>` (n as [`TakeId::on_recorder`] writes it:
    /// digits without a leading zero) names its recorder. Any other text is a
    /// whole id, so an id prints back exactly as it was read.
    pub fn parse(text: &str) -> TakeId {
        let suffix = text.rsplit_once("-r").and_then(|(base, n)| {
            let canonical = !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit());
            let n: u32 = n.parse().ok().filter(|_| canonical)?;
            Some((base, n))
        });
        match suffix {
            Some((base, n)) => TakeId {
                base: base.to_string(),
                recorder: Some(n),
            },
            None => TakeId {
                base: text.to_string(),
                recorder: None,
            },
        }
    }

    /// The first recorder's id for the same take.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Which recorder, when the take was recorded on several (`None`: the first).
    pub fn recorder(&self) -> Option<u32> {
        self.recorder
    }
}

impl fmt::Display for TakeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)?;
        match self.recorder {
            Some(n) => write!(f, "-r{n}"),
            None => Ok(()),
        }
    }
}

impl Serialize for TakeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TakeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TakeId::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_and_read_back() {
        let id = TakeId::attempt("20261201-101500-ab", 6, 2);
        assert_eq!(id.to_string(), "20261201-101500-ab-0007-2");
        assert_eq!(
            id.on_recorder(0, 3).to_string(),
            "20261201-101500-ab-0007-2"
        );
        assert_eq!(id.on_recorder(0, 1), id);
        let second = id.on_recorder(1, 3);
        assert_eq!(second.to_string(), "20261201-101500-ab-0007-2-r2");
        assert_eq!(id.on_recorder(1, 1), id, "one recorder: no suffix");
        for t in [&id, &second, &id.on_recorder(2, 3)] {
            assert_eq!(&TakeId::parse(&t.to_string()), t);
        }
        assert_eq!(TakeId::parse(&second.to_string()).base(), id.to_string());
        assert_eq!(TakeId::parse(&second.to_string()).recorder(), Some(2));
        assert_eq!(TakeId::attempt("s", 19_999, 1).to_string(), "s-20000-1");
    }

    #[test]
    fn other_ids_are_whole() {
        let whole = [
            "t1",
            "x-r",
            "x-rr2",
            "x-r2a",
            "session-r2-0001-1",
            "-r",
            "x-r0",
            "x-r007",
            "x-r99999999999",
        ];
        for text in whole {
            let id = TakeId::parse(text);
            assert_eq!(id.to_string(), text);
            assert_eq!(id.recorder(), None, "{text}");
        }
        assert_eq!(TakeId::parse("tone-r12").recorder(), Some(12));
    }

    #[test]
    fn json_is_the_text() {
        let id = TakeId::parse("s-0001-1-r2");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""s-0001-1-r2""#);
        let back: TakeId = serde_json::from_str(r#""s-0001-1-r2""#).unwrap();
        assert_eq!(back, id);
    }
}
