//! `instruments.json`: what can be recorded, each instrument's range and
//! default articulations.

use super::{Config, ConfigError, invalid, parse_json, read};
use crate::notes::{MiddleC, Note};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRange {
    pub lowest_note: String,
    pub highest_note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    pub name: String,
    /// The seed's `type` (string, wind, percussion, ...).
    #[serde(rename = "type")]
    pub kind: String,
    pub range: NoteRange,
    pub default_articulations: Vec<String>,
    /// Whether takes are checked against the planned pitch; off for drums and noises.
    #[serde(default = "yes")]
    pub pitch_check: bool,
}

fn yes() -> bool {
    true
}

impl Instrument {
    /// Lowest and highest note, parsed.
    pub fn notes(&self, middle_c: MiddleC) -> Result<(Note, Note), crate::notes::NoteError> {
        Ok((
            Note::parse(&self.range.lowest_note, middle_c)?,
            Note::parse(&self.range.highest_note, middle_c)?,
        ))
    }
}

/// `instruments.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instruments {
    pub instruments: Vec<Instrument>,
}

impl Instruments {
    pub fn load(file: &Path, config: &Config) -> Result<Instruments, ConfigError> {
        let list: Instruments = parse_json(file, &read(file)?)?;
        list.validate(file, config)?;
        Ok(list)
    }

    pub fn get(&self, name: &str) -> Option<&Instrument> {
        self.instruments.iter().find(|i| i.name == name)
    }

    pub fn validate(&self, file: &Path, config: &Config) -> Result<(), ConfigError> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, inst) in self.instruments.iter().enumerate() {
            let at = |f: &str| format!("instruments[{i}].{f}");
            crate::protocol::check_name(&at("name"), &inst.name)
                .map_err(|e| invalid(file, &at("name"), e.message))?;
            if !seen.insert(inst.name.as_str()) {
                return Err(invalid(
                    file,
                    &at("name"),
                    format!("{:?} is listed twice", inst.name),
                ));
            }
            let middle_c = config.notes.middle_c;
            let low = Note::parse(&inst.range.lowest_note, middle_c)
                .map_err(|e| invalid(file, &at("range.lowest_note"), e.to_string()))?;
            let high = Note::parse(&inst.range.highest_note, middle_c)
                .map_err(|e| invalid(file, &at("range.highest_note"), e.to_string()))?;
            if low > high {
                return Err(invalid(
                    file,
                    &at("range"),
                    "expected lowest_note at or below highest_note",
                ));
            }
            for (j, art) in inst.default_articulations.iter().enumerate() {
                if !config.articulation_durations.contains_key(art) {
                    return Err(invalid(
                        file,
                        &at(&format!("default_articulations[{j}]")),
                        format!("{art:?} has no duration in config.json's articulation_durations"),
                    ));
                }
            }
            for art in config.articulation_durations.keys() {
                let naming = &config.file_naming;
                crate::protocol::take_path::fits_every_session(
                    &inst.name,
                    art,
                    naming.include_session_id,
                    naming.include_user_initials,
                )
                .map_err(|e| {
                    let field = if e.field == "articulation" {
                        format!("articulation_durations.{art}")
                    } else {
                        at("name")
                    };
                    invalid(file, &field, e.message)
                })?;
            }
        }
        Ok(())
    }
}
