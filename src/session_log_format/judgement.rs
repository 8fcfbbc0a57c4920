//! The board's judgement of a confirmed file: usable, worth a listen, or to be
//! recorded again, with why. The board decides it (`control::verdict`), the
//! log keeps it as `verdict` and `reason`, the page, the LEDs and the catalog
//! read it back.

use serde::{Deserialize, Serialize};

/// What the board does with a take, best first (so `max` is the worst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Ok,
    /// Usable but worth a listen (clipped, silent, not on the share yet).
    Warn,
    /// No usable audio: the slot is recorded again.
    Failed,
}

impl Disposition {
    /// `ok`, `warn` or `failed`, as the log, the page and the catalog spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Ok => "ok",
            Disposition::Warn => "warn",
            Disposition::Failed => "failed",
        }
    }
}

/// A disposition and its reason (none when ok). In JSON it is two fields of
/// the object around it, `verdict` and `reason` (`null` when ok).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    #[serde(rename = "verdict")]
    pub disposition: Disposition,
    #[serde(default)]
    pub reason: Option<String>,
}

impl Judgement {
    pub fn ok() -> Judgement {
        Judgement {
            disposition: Disposition::Ok,
            reason: None,
        }
    }

    pub fn warn(reason: impl Into<String>) -> Judgement {
        Judgement {
            disposition: Disposition::Warn,
            reason: Some(reason.into()),
        }
    }

    pub fn failed(reason: impl Into<String>) -> Judgement {
        Judgement {
            disposition: Disposition::Failed,
            reason: Some(reason.into()),
        }
    }

    pub fn is_failed(&self) -> bool {
        self.disposition == Disposition::Failed
    }

    /// The worse of two judgements (several recorders, one take); the first on a tie.
    pub fn worst(self, other: Judgement) -> Judgement {
        if other.disposition > self.disposition {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_order() {
        for d in [Disposition::Ok, Disposition::Warn, Disposition::Failed] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        assert_eq!(
            Judgement::ok().worst(Judgement::warn("x")),
            Judgement::warn("x")
        );
        assert_eq!(
            Judgement::failed("x").worst(Judgement::ok()),
            Judgement::failed("x")
        );
        assert_eq!(
            Judgement::warn("first").worst(Judgement::warn("second")),
            Judgement::warn("first")
        );
    }

    #[test]
    fn two_fields_in_json() {
        let text = serde_json::to_string(&Judgement::ok()).unwrap();
        assert_eq!(text, r#"{"verdict":"ok","reason":null}"#);
        let back: Judgement =
            serde_json::from_str(r#"{"verdict":"failed","reason":"gone"}"#).unwrap();
        assert_eq!(back, Judgement::failed("gone"));
        assert!(serde_json::from_str::<Judgement>(r#"{"verdict":"bad"}"#).is_err());
    }
}
