//! `instruments.json`: what can be recorded, each instrument's range and
//! default articulations, and how its pitch is judged: `max_cents` (for the
//! whole instrument and per note range) and `tuning`, where each note is
//! meant to sit against equal temperament (a stretched piano's top octave
//! is 20-40 cents sharp by design). All optional: the seed's file is valid.

use super::{Config, ConfigError, invalid, parse_json, read};
use crate::notes::{MiddleC, Note};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// Largest deviation from the tuning, cents (absent: config.json's
    /// `post_processing.max_cents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cents: Option<f64>,
    /// `max_cents` for some notes; the first range holding the note wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub max_cents_by_range: Vec<CentsRange>,
    /// Where each note is meant to sit (absent: equal temperament).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<Tuning>,
    /// Articulations held long enough to loop (`long` for an organ): the
    /// recorder searches their takes for a sustain loop and says when none is good.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sustain_articulations: Vec<String>,
    /// How the recording computer plays this instrument over MIDI; a session
    /// of it runs without a player.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midi: Option<InstrumentMidi>,
    /// The instrument may sound below its key (an organ registration with a
    /// 16' or 32' stop, a synth with a sub oscillator): a note whose waveform
    /// repeats every 2 to 4 key periods is read at its key, as a MIDI
    /// instrument's is, even when a player plays it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sounds_below_key: bool,
}

/// `"midi": {"port": "FLUID", "channel": 1, "program": 48, "velocities":
/// {"pp": 30, "ff": 120}, "release_seconds": 2.0}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentMidi {
    /// The recording computer's ALSA sequencer port, by (part of) its
    /// `client:port` name (`aconnect -o` lists them).
    pub port: String,
    /// 1 to 16.
    #[serde(default = "first_channel")]
    pub channel: u8,
    /// Program change before the first take, 0 to 127.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<u8>,
    /// Bank select before the program, 0 to 16383.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<u16>,
    /// Note-on velocity per dynamic of a session; `velocity` for a session
    /// without dynamics.
    #[serde(default)]
    pub velocities: BTreeMap<String, u8>,
    #[serde(default = "default_velocity")]
    pub velocity: u8,
    /// How long the release lasts (see `protocol::MidiTake`).
    #[serde(default = "default_release")]
    pub release_seconds: f64,
    /// Seconds of countdown before each take (none: the recorder plays as
    /// soon as the last release has decayed).
    #[serde(default)]
    pub countdown_seconds: f64,
    /// The first take of each session measures the port's latency.
    #[serde(default = "yes")]
    pub calibrate: bool,
}

fn first_channel() -> u8 {
    1
}

fn default_velocity() -> u8 {
    100
}

fn default_release() -> f64 {
    1.0
}

impl InstrumentMidi {
    /// The take command's MIDI part for a slot at `dynamic`; `None` when the
    /// dynamic has no velocity.
    pub fn take(
        &self,
        dynamic: Option<&str>,
        calibrate: bool,
    ) -> Option<crate::protocol::MidiTake> {
        let velocity = match dynamic {
            Some(d) => *self.velocities.get(d)?,
            None => self.velocity,
        };
        Some(crate::protocol::MidiTake {
            port: self.port.clone(),
            channel: self.channel,
            velocity,
            program: self.program,
            bank: self.bank,
            release_seconds: self.release_seconds,
            calibrate,
        })
    }

    /// Every field in range; `at` names a field of the instrument.
    fn validate(&self, file: &Path, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let fail = |f: &str, m: String| Err(invalid(file, &at(&format!("midi.{f}")), m));
        let base = self.take(None, false).and_then(|t| t.validate().err());
        if let Some(e) = base {
            return Err(invalid(file, &at(&e.field), e.message));
        }
        if let Some((d, v)) = self
            .velocities
            .iter()
            .find(|(_, v)| !(1..=127).contains(*v))
        {
            return fail(
                &format!("velocities.{d}"),
                format!("expected 1 to 127, got {v}"),
            );
        }
        let c = self.countdown_seconds;
        if !(c.is_finite() && (0.0..=crate::config::MAX_COUNTDOWN_SECONDS).contains(&c)) {
            return fail(
                "countdown_seconds",
                format!(
                    "expected 0 to {} seconds, got {c}",
                    crate::config::MAX_COUNTDOWN_SECONDS
                ),
            );
        }
        Ok(())
    }
}

/// A `max_cents` for the notes `lowest_note..=highest_note`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentsRange {
    pub lowest_note: String,
    pub highest_note: String,
    pub max_cents: f64,
}

/// An instrument's tuning, in cents from equal temperament by note name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Tuning {
    /// `"equal"`: every note at 0.
    Equal,
    /// `{"stretch": {"A0": -20, "A4": 0, "C8": 35}}`: a curve through these
    /// points, straight between them (by semitone), flat beyond the ends.
    Stretch(BTreeMap<String, f64>),
    /// `{"table": {"C8": 90}}`: these notes exactly, the others at 0.
    Table(BTreeMap<String, f64>),
}

/// Largest |cents| a tuning may set or a limit may allow.
const MAX_TUNING_CENTS: f64 = 100.0;

/// How the pitch of one note is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchLimits {
    /// `None`: config.json's limit.
    pub max_cents: Option<f64>,
    /// Where the tuning puts the note, cents from equal temperament.
    pub target_cents: f64,
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

impl Tuning {
    /// Cents from equal temperament for `midi` (names already validated;
    /// an unparsable one is skipped).
    pub fn cents(&self, midi: u8, middle_c: MiddleC) -> f64 {
        let points = |m: &BTreeMap<String, f64>| -> Vec<(u8, f64)> {
            let mut v: Vec<(u8, f64)> = m
                .iter()
                .filter_map(|(n, c)| Some((Note::parse(n, middle_c).ok()?.midi(), *c)))
                .collect();
            v.sort_by_key(|p| p.0);
            v
        };
        match self {
            Tuning::Equal => 0.0,
            Tuning::Table(t) => points(t)
                .into_iter()
                .find(|p| p.0 == midi)
                .map_or(0.0, |p| p.1),
            Tuning::Stretch(t) => stretch_at(&points(t), midi),
        }
    }

    fn entries(&self) -> Option<&BTreeMap<String, f64>> {
        match self {
            Tuning::Equal => None,
            Tuning::Stretch(t) | Tuning::Table(t) => Some(t),
        }
    }
}

/// The piecewise-linear curve through `points` (sorted by note) at `midi`.
fn stretch_at(points: &[(u8, f64)], midi: u8) -> f64 {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return 0.0;
    };
    if midi <= first.0 {
        return first.1;
    }
    if midi >= last.0 {
        return last.1;
    }
    points
        .windows(2)
        .find(|w| midi >= w[0].0 && midi <= w[1].0)
        .map_or(0.0, |w| {
            let f = f64::from(midi - w[0].0) / f64::from(w[1].0 - w[0].0);
            w[0].1 + f * (w[1].1 - w[0].1)
        })
}

impl Instrument {
    /// How `note`'s pitch is judged on this instrument.
    pub fn pitch_limits(&self, note: Note, middle_c: MiddleC) -> PitchLimits {
        let in_range = |r: &CentsRange| {
            let low = Note::parse(&r.lowest_note, middle_c);
            let high = Note::parse(&r.highest_note, middle_c);
            matches!((low, high), (Ok(l), Ok(h)) if l <= note && note <= h)
        };
        PitchLimits {
            max_cents: self
                .max_cents_by_range
                .iter()
                .find(|r| in_range(r))
                .map(|r| r.max_cents)
                .or(self.max_cents),
            target_cents: self
                .tuning
                .as_ref()
                .map_or(0.0, |t| t.cents(note.midi(), middle_c)),
        }
    }

    /// The pitch fields' notes parse and their cents are in range; `at`
    /// names a field of this instrument.
    fn validate_pitch(
        &self,
        file: &Path,
        middle_c: MiddleC,
        at: &dyn Fn(&str) -> String,
    ) -> Result<(), ConfigError> {
        let cents = |field: String, c: f64, low: f64| {
            if c.is_finite() && (low..=MAX_TUNING_CENTS).contains(&c) {
                Ok(())
            } else {
                Err(invalid(
                    file,
                    &field,
                    format!("expected {low} to {MAX_TUNING_CENTS} cents, got {c}"),
                ))
            }
        };
        let note = |field: String, n: &str| {
            Note::parse(n, middle_c)
                .map(|_| ())
                .map_err(|e| invalid(file, &field, e.to_string()))
        };
        if let Some(c) = self.max_cents {
            cents(at("max_cents"), c, 0.0)?;
        }
        for (j, r) in self.max_cents_by_range.iter().enumerate() {
            let f = |x: &str| at(&format!("max_cents_by_range[{j}].{x}"));
            note(f("lowest_note"), &r.lowest_note)?;
            note(f("highest_note"), &r.highest_note)?;
            cents(f("max_cents"), r.max_cents, 0.0)?;
        }
        for (n, c) in self
            .tuning
            .as_ref()
            .and_then(Tuning::entries)
            .into_iter()
            .flatten()
        {
            note(at(&format!("tuning.{n}")), n)?;
            cents(at(&format!("tuning.{n}")), *c, -MAX_TUNING_CENTS)?;
        }
        Ok(())
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
            inst.validate_pitch(file, middle_c, &at)?;
            if let Some(m) = &inst.midi {
                // The field path alone gives an index: name the instrument too.
                let named = |f: &str| format!("{} (instrument {:?})", at(f), inst.name);
                m.validate(file, &named)?;
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

#[cfg(test)]
mod midi_tests {
    use super::*;

    fn load(midi: &str) -> Result<Instruments, ConfigError> {
        let text = format!(
            r#"{{"instruments":[{{"name":"Strings","type":"string",
            "range":{{"lowest_note":"C3","highest_note":"C5"}},
            "default_articulations":["long"],"midi":{midi}}}]}}"#
        );
        let file = Path::new("instruments.json");
        let list: Instruments = crate::config::parse_json(file, &text)?;
        list.validate(file, &Config::default())?;
        Ok(list)
    }

    #[test]
    fn a_midi_block_gives_each_dynamic_its_velocity() {
        let list = load(
            r#"{"port":"FLUID","channel":2,"program":48,"velocities":{"pp":30,"ff":120},"release_seconds":2}"#,
        )
        .unwrap();
        let m = list.instruments[0].midi.as_ref().unwrap();
        assert_eq!(m.take(Some("pp"), false).unwrap().velocity, 30);
        assert_eq!(m.take(None, true).unwrap().velocity, 100);
        assert!(m.take(Some("mf"), false).is_none());
        assert_eq!(m.countdown_seconds, 0.0);
    }

    #[test]
    fn errors_name_the_instrument_and_the_field() {
        for (midi, field) in [
            (r#"{"port":"FLUID","channel":17}"#, "midi.channel"),
            (
                r#"{"port":"FLUID","velocities":{"pp":0}}"#,
                "midi.velocities.pp",
            ),
            (r#"{"port":"FLUID","program":200}"#, "midi.program"),
            (r#"{"port":"","channel":1}"#, "midi.port"),
            (
                r#"{"port":"FLUID","release_seconds":-1}"#,
                "midi.release_seconds",
            ),
            (
                r#"{"port":"FLUID","countdown_seconds":99}"#,
                "midi.countdown_seconds",
            ),
        ] {
            let e = load(midi).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains("Strings"), "{midi}: {e}");
        }
        let e = load(r#"{"port":"FLUID","chanel":1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chanel"), "{e}");
    }
}
