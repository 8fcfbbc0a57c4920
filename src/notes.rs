//! Note names, MIDI numbers and frequencies.
//!
//! MIDI 60 is called C4 by default (scientific pitch notation). Some samplers
//! (Yamaha, FL Studio, Ableton) call it C3; [`MiddleC::C3`] selects that convention.
//! The reference pitch of A4 (MIDI 69) is configurable (the seed's `default_frequency`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which octave number MIDI note 60 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MiddleC {
    /// MIDI 60 = C4 (scientific pitch notation).
    #[default]
    C4,
    /// MIDI 60 = C3.
    C3,
}

impl MiddleC {
    /// Octave number of MIDI 0..11 (C-1 under C4 = 60, C-2 under C3 = 60).
    fn lowest_octave(self) -> i32 {
        match self {
            MiddleC::C4 => -1,
            MiddleC::C3 => -2,
        }
    }
}

/// A note of the MIDI range 0..=127.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Note(u8);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteError {
    pub input: String,
    pub reason: &'static str,
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad note name {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for NoteError {}

const SHARP_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

impl Note {
    pub const A4: Note = Note(69);

    pub fn from_midi(midi: u8) -> Option<Note> {
        (midi <= 127).then_some(Note(midi))
    }

    pub fn midi(self) -> u8 {
        self.0
    }

    /// Parse names such as `A4`, `C#4`, `Db4`, `bb3`, `F♯2`, `C-1`.
    pub fn parse(input: &str, middle_c: MiddleC) -> Result<Note, NoteError> {
        let err = |reason| NoteError {
            input: input.to_string(),
            reason,
        };
        let mut chars = input.trim().chars().peekable();
        let letter = chars.next().ok_or_else(|| err("empty"))?;
        let step: i32 = match letter.to_ascii_uppercase() {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => return Err(err("must start with a letter A to G")),
        };
        let accidental = match chars.peek() {
            Some('#') | Some('♯') => 1,
            Some('b') | Some('♭') => -1,
            _ => 0,
        };
        if accidental != 0 {
            chars.next();
        }
        let octave_text: String = chars.collect();
        if octave_text.is_empty() {
            return Err(err("missing octave number"));
        }
        let octave: i32 = octave_text
            .parse()
            .map_err(|_| err("octave must be a whole number, e.g. the 4 in A4"))?;
        let midi = (octave - middle_c.lowest_octave()) * 12 + step + accidental;
        if !(0..=127).contains(&midi) {
            return Err(err("outside the MIDI range 0..127"));
        }
        Ok(Note(midi as u8))
    }

    /// The name with sharps (`C#4`), in the given octave convention.
    pub fn name(self, middle_c: MiddleC) -> String {
        let octave = i32::from(self.0 / 12) + middle_c.lowest_octave();
        format!("{}{}", SHARP_NAMES[usize::from(self.0 % 12)], octave)
    }

    /// Equal-tempered frequency with A4 at `a4_hz`.
    pub fn frequency(self, a4_hz: f64) -> f64 {
        a4_hz * 2f64.powf((f64::from(self.0) - 69.0) / 12.0)
    }

    /// The nearest note to `hz` and how far `hz` is from it in cents (-50..50).
    pub fn nearest(hz: f64, a4_hz: f64) -> Option<(Note, f64)> {
        if !(hz.is_finite() && hz > 0.0 && a4_hz > 0.0) {
            return None;
        }
        let semis = 69.0 + 12.0 * (hz / a4_hz).log2();
        let midi = semis.round();
        if !(0.0..=127.0).contains(&midi) {
            return None;
        }
        Some((Note(midi as u8), (semis - midi) * 100.0))
    }

    /// All notes from `low` to `high`, both included.
    pub fn range(low: Note, high: Note) -> impl Iterator<Item = Note> {
        (low.0..=high.0).map(Note)
    }
}

/// Cents from `reference_hz` to `hz` (positive: sharp).
pub fn cents(hz: f64, reference_hz: f64) -> f64 {
    1200.0 * (hz / reference_hz).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Note {
        Note::parse(s, MiddleC::C4).unwrap()
    }

    #[test]
    fn middle_c_and_a4() {
        assert_eq!(p("C4").midi(), 60);
        assert_eq!(p("A4"), Note::A4);
        assert_eq!(Note::parse("C3", MiddleC::C3).unwrap().midi(), 60);
        assert_eq!(Note::from_midi(60).unwrap().name(MiddleC::C3), "C3");
        assert_eq!(p("C-1").midi(), 0);
        assert_eq!(p("G9").midi(), 127);
    }

    #[test]
    fn sharps_and_flats_are_the_same_key() {
        assert_eq!(p("C#4"), p("Db4"));
        assert_eq!(p("F♯2"), p("G♭2"));
        assert_eq!(p("bb3"), p("A#3"));
        assert_eq!(p("E#4"), p("F4"));
        assert_eq!(p("Cb4"), p("B3"));
        assert_eq!(p("Db4").name(MiddleC::C4), "C#4");
    }

    #[test]
    fn frequencies_follow_a4() {
        assert!((p("A4").frequency(440.0) - 440.0).abs() < 1e-9);
        assert!((p("A4").frequency(442.0) - 442.0).abs() < 1e-9);
        assert!((p("E2").frequency(440.0) - 82.4069).abs() < 1e-3);
        assert!((p("C8").frequency(440.0) - 4186.009).abs() < 1e-2);
        let (n, c) = Note::nearest(445.0, 440.0).unwrap();
        assert_eq!(n, Note::A4);
        assert!((c - cents(445.0, 440.0)).abs() < 1e-9);
        assert!(Note::nearest(0.0, 440.0).is_none());
        assert!(Note::nearest(f64::NAN, 440.0).is_none());
    }

    #[test]
    fn guitar_range_e2_to_e6() {
        let notes: Vec<_> = Note::range(p("E2"), p("E6")).collect();
        assert_eq!(notes.len(), 49);
        assert_eq!(notes[0].name(MiddleC::C4), "E2");
        assert_eq!(notes[48].name(MiddleC::C4), "E6");
    }

    #[test]
    fn names_round_trip() {
        for m in 0..=127u8 {
            for mc in [MiddleC::C4, MiddleC::C3] {
                let n = Note::from_midi(m).unwrap();
                assert_eq!(Note::parse(&n.name(mc), mc).unwrap(), n);
            }
        }
    }

    #[test]
    fn bad_names_quote_the_input() {
        for bad in ["", "H4", "A", "A#", "Ax4", "C10", "C-2", "4A", "A4.5"] {
            let e = Note::parse(bad, MiddleC::C4).unwrap_err();
            assert_eq!(e.input, bad);
            assert!(e.to_string().contains(&format!("{bad:?}")));
        }
    }
}
