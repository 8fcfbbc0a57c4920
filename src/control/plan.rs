//! The session plan: which takes a session records, in which order.
//!
//! Notes ascend; for each note every articulation, for each articulation every
//! dynamic, for each dynamic every round robin. A slot is one planned take.

use crate::config::{Config, Instrument, Instruments};
use crate::notes::{MiddleC, Note};
use crate::protocol::take_path::TakeName;
pub use crate::protocol::take_path::{MAX_DYNAMIC_LEN, MAX_INITIALS, MAX_ROUND_ROBINS};
use crate::protocol::{FieldError, check_name};
use serde::{Deserialize, Serialize};

/// More slots than this is a typing mistake, not a session.
pub const MAX_SLOTS: usize = 20_000;

/// What the Initiate form (or `POST /api/v1/session`) asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SessionRequest {
    pub instrument: String,
    /// Empty: the instrument's lowest note.
    pub lowest_note: String,
    /// Empty: the instrument's highest note.
    pub highest_note: String,
    /// Empty: the instrument's `default_articulations`.
    pub articulations: Vec<String>,
    /// Empty: no dynamics in the plan or the file names.
    pub dynamics: Vec<String>,
    /// 0 or 1: one take per slot, no `_rr<n>` in the names.
    pub round_robins: u32,
    pub user_initials: String,
    /// Start the next take's countdown as soon as a take is confirmed.
    pub auto_advance: bool,
    /// Nobody attends (always so for a MIDI instrument): the session starts
    /// and advances by itself, records a take a second pass can fix again
    /// (`control.unattended`) and never pauses on a warning.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unattended: bool,
}

/// One planned take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub index: usize,
    pub note: String,
    pub midi: u8,
    pub frequency: f64,
    pub articulation: String,
    /// Seconds of the note (the articulation's duration when the session began).
    pub duration: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_robin: Option<u32>,
    /// The instrument's `pitch_check`: false for drums and noises.
    #[serde(default = "pitched")]
    pub pitch_check: bool,
    /// The instrument's `max_cents` for this note (absent: config.json's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cents: Option<f64>,
    /// Where the instrument's `tuning` puts this note, cents from equal
    /// temperament (absent: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning_cents: Option<f64>,
    /// A MIDI instrument's slot: how the recorder plays it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play: Option<crate::protocol::MidiTake>,
    /// The instrument marks this articulation sustained (`sustain_articulations`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sustain: bool,
    /// The instrument's `sounds_below_key` (an organ's 16' stop).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sounds_below_key: bool,
}

/// A `long` A4-pitched slot `index` named `note`, for tests.
#[cfg(test)]
pub(crate) fn test_slot(index: usize, note: &str) -> Slot {
    Slot {
        index,
        note: note.to_string(),
        midi: 69,
        frequency: 440.0,
        articulation: "long".into(),
        duration: 1.0,
        dynamic: None,
        round_robin: None,
        pitch_check: true,
        max_cents: None,
        tuning_cents: None,
        play: None,
        sustain: false,
        sounds_below_key: false,
    }
}

fn pitched() -> bool {
    true
}

/// Check `req` against the configuration and lay out its takes.
pub fn build(
    req: &SessionRequest,
    config: &Config,
    instruments: &Instruments,
) -> Result<Vec<Slot>, FieldError> {
    let mc = config.notes.middle_c;
    let inst = instrument(req, instruments)?;
    let (low, high) = note_range(req, inst, mc)?;
    let durations = articulation_durations(req, inst, config)?;
    check_names(req)?;
    check_velocities(req, inst)?;
    let dynamics: Vec<Option<String>> = if req.dynamics.is_empty() {
        vec![None]
    } else {
        req.dynamics.iter().cloned().map(Some).collect()
    };
    let rrs: Vec<Option<u32>> = if req.round_robins <= 1 {
        vec![None]
    } else {
        (1..=req.round_robins).map(Some).collect()
    };
    let count =
        (usize::from(high.midi() - low.midi()) + 1) * durations.len() * dynamics.len() * rrs.len();
    if count > MAX_SLOTS {
        return Err(FieldError::new(
            "highest_note",
            format!("{count} takes planned; a session holds at most {MAX_SLOTS}"),
        ));
    }
    let a4 = config.session_settings.default_frequency;
    let mut plan = Vec::with_capacity(count);
    for note in Note::range(low, high) {
        let limits = inst.pitch_limits(note, mc);
        for (art, dur) in &durations {
            for dynamic in &dynamics {
                for rr in &rrs {
                    plan.push(Slot {
                        index: plan.len(),
                        note: note.name(mc),
                        midi: note.midi(),
                        frequency: (note.frequency(a4) * 1000.0).round() / 1000.0,
                        articulation: art.clone(),
                        duration: *dur,
                        dynamic: dynamic.clone(),
                        round_robin: *rr,
                        pitch_check: inst.pitch_check,
                        max_cents: limits.max_cents,
                        tuning_cents: Some(limits.target_cents).filter(|c| *c != 0.0),
                        // The first take of a session measures the port's latency.
                        play: inst.midi.as_ref().and_then(|m| {
                            m.take(dynamic.as_deref(), plan.is_empty() && m.calibrate)
                        }),
                        sustain: inst.sustain_articulations.contains(art),
                        sounds_below_key: inst.sounds_below_key,
                    });
                }
            }
        }
    }
    Ok(plan)
}

/// A MIDI instrument has a velocity for every dynamic asked for.
fn check_velocities(req: &SessionRequest, inst: &Instrument) -> Result<(), FieldError> {
    let Some(m) = &inst.midi else { return Ok(()) };
    match req
        .dynamics
        .iter()
        .position(|d| !m.velocities.contains_key(d))
    {
        Some(i) => Err(FieldError::new(
            &format!("dynamics[{i}]"),
            format!(
                "the {}'s midi.velocities in instruments.json has no velocity for {:?}",
                inst.name, req.dynamics[i]
            ),
        )),
        None => Ok(()),
    }
}

/// The instrument asked for; the error lists those instruments.json has.
fn instrument<'a>(
    req: &SessionRequest,
    instruments: &'a Instruments,
) -> Result<&'a Instrument, FieldError> {
    instruments.get(&req.instrument).ok_or_else(|| {
        let known: Vec<_> = instruments
            .instruments
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        FieldError::new(
            "instrument",
            format!(
                "unknown instrument {:?}; instruments.json has {}",
                req.instrument,
                known.join(", ")
            ),
        )
    })
}

/// The lowest and highest note asked for (the instrument's own when empty),
/// each within the instrument's range.
fn note_range(
    req: &SessionRequest,
    inst: &Instrument,
    mc: MiddleC,
) -> Result<(Note, Note), FieldError> {
    let (inst_low, inst_high) = inst
        .notes(mc)
        .map_err(|e| FieldError::new("instrument", e.to_string()))?;
    let parse = |field: &str, text: &str, default: Note| {
        if text.trim().is_empty() {
            return Ok(default);
        }
        let n = Note::parse(text, mc).map_err(|e| FieldError::new(field, e.to_string()))?;
        if n < inst_low || n > inst_high {
            return Err(FieldError::new(
                field,
                format!(
                    "{text} is outside the {}'s range {}..{}",
                    inst.name, inst.range.lowest_note, inst.range.highest_note
                ),
            ));
        }
        Ok(n)
    };
    let low = parse("lowest_note", &req.lowest_note, inst_low)?;
    let high = parse("highest_note", &req.highest_note, inst_high)?;
    if low > high {
        return Err(FieldError::new(
            "highest_note",
            "must not lie below lowest_note",
        ));
    }
    Ok((low, high))
}

/// Each articulation asked for (the instrument's defaults when none) with its
/// duration from config.json.
fn articulation_durations(
    req: &SessionRequest,
    inst: &Instrument,
    config: &Config,
) -> Result<Vec<(String, f64)>, FieldError> {
    let articulations = if req.articulations.is_empty() {
        &inst.default_articulations
    } else {
        &req.articulations
    };
    if articulations.is_empty() {
        return Err(FieldError::new(
            "articulations",
            "choose at least one articulation",
        ));
    }
    articulations
        .iter()
        .enumerate()
        .map(|(i, a)| match config.articulation_durations.get(a) {
            Some(d) => Ok((a.clone(), *d)),
            None => Err(FieldError::new(
                &format!("articulations[{i}]"),
                format!("{a:?} has no duration in config.json's articulation_durations"),
            )),
        })
        .collect()
}

/// The dynamics, the initials and the round-robin count: what goes into take
/// ids and file names.
fn check_names(req: &SessionRequest) -> Result<(), FieldError> {
    for (i, d) in req.dynamics.iter().enumerate() {
        let field = format!("dynamics[{i}]");
        check_name(&field, d)?;
        if d.chars().count() > MAX_DYNAMIC_LEN {
            return Err(FieldError::new(
                &field,
                format!("at most {MAX_DYNAMIC_LEN} characters (a dynamic mark such as pp or sfz)"),
            ));
        }
    }
    if !req.user_initials.is_empty() {
        check_name("user_initials", &req.user_initials)?;
        // They become part of the session id and so of every take id.
        if req.user_initials.chars().count() > MAX_INITIALS {
            return Err(FieldError::new(
                "user_initials",
                format!("at most {MAX_INITIALS} characters"),
            ));
        }
    }
    if req.round_robins > MAX_ROUND_ROBINS {
        return Err(FieldError::new(
            "round_robins",
            format!("at most {MAX_ROUND_ROBINS}"),
        ));
    }
    Ok(())
}

/// Refuse a session some of whose takes could not be named on the share,
/// before anyone plays a note. The take ids are the longest this session can
/// send (its last slot, a four-digit retake count, the last recorder); each
/// recorder checks every take again against its own `file_naming`.
pub fn check_file_names(
    plan: &[Slot],
    session_id: &str,
    req: &SessionRequest,
    config: &Config,
    recorders: usize,
) -> Result<(), FieldError> {
    let mut take_id = format!("{session_id}-{:04}-9999", plan.len());
    if recorders > 1 {
        take_id.push_str(&format!("-r{recorders}"));
    }
    let naming = &config.file_naming;
    let initials = (naming.include_user_initials && !req.user_initials.is_empty())
        .then_some(req.user_initials.as_str());
    for slot in plan {
        let name = TakeName {
            session_id,
            take_id: &take_id,
            instrument: &req.instrument,
            note: &slot.note,
            articulation: &slot.articulation,
            dynamic: slot.dynamic.as_deref(),
            round_robin: slot.round_robin,
            user_initials: initials,
            include_session_id: naming.include_session_id,
        };
        name.path().map_err(|e| {
            // The request's own fields: what the person can change.
            let field = match e.field.as_str() {
                "articulation" => "articulations",
                "dynamic" => "dynamics",
                "session_id" | "take_id" | "user_initials" if initials.is_some() => "user_initials",
                "instrument" => "instrument",
                _ => "instrument",
            };
            FieldError::new(field, e.message)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_json;
    use std::path::Path;

    fn setup() -> (Config, Instruments) {
        let cfg = Config::default();
        let inst: Instruments = parse_json(
            Path::new("instruments.json"),
            r#"{"instruments":[{"name":"guitar","type":"string",
            "range":{"lowest_note":"E2","highest_note":"E6"},
            "default_articulations":["short","long"]}]}"#,
        )
        .unwrap();
        (cfg, inst)
    }

    fn req(patch: impl FnOnce(&mut SessionRequest)) -> SessionRequest {
        let mut r = SessionRequest {
            instrument: "guitar".into(),
            ..SessionRequest::default()
        };
        patch(&mut r);
        r
    }

    #[test]
    fn an_instrument_that_sounds_below_its_key_says_so_in_every_slot() {
        let cfg = Config::default();
        let inst: Instruments = parse_json(
            Path::new("instruments.json"),
            r#"{"instruments":[{"name":"pipe organ","type":"keys",
            "range":{"lowest_note":"C2","highest_note":"C6"},
            "default_articulations":["long"], "sounds_below_key": true}]}"#,
        )
        .unwrap();
        let r = SessionRequest {
            instrument: "pipe organ".into(),
            lowest_note: "C3".into(),
            highest_note: "D3".into(),
            ..SessionRequest::default()
        };
        let plan = build(&r, &cfg, &inst).unwrap();
        assert_eq!(plan.len(), 3);
        assert!(plan.iter().all(|s| s.sounds_below_key && s.play.is_none()));
        // Written back only when set: the seed's instruments stay as they were.
        let (cfg, inst) = setup();
        let slot = &build(&req(|_| {}), &cfg, &inst).unwrap()[0];
        assert!(!slot.sounds_below_key);
        assert!(
            !serde_json::to_string(slot)
                .unwrap()
                .contains("sounds_below_key")
        );
        assert!(
            !serde_json::to_string(&inst)
                .unwrap()
                .contains("sounds_below_key")
        );
    }

    #[test]
    fn a_midi_instrument_plays_each_slot_at_its_dynamic_s_velocity() {
        let cfg = Config::default();
        let inst: Instruments = parse_json(
            Path::new("instruments.json"),
            r#"{"instruments":[{"name":"organ","type":"keys",
            "range":{"lowest_note":"C3","highest_note":"C5"},
            "default_articulations":["long"],
            "midi":{"port":"FLUID","program":19,"velocities":{"pp":30,"ff":120}}}]}"#,
        )
        .unwrap();
        let r = SessionRequest {
            instrument: "organ".into(),
            lowest_note: "C3".into(),
            highest_note: "C#3".into(),
            dynamics: vec!["pp".into(), "ff".into()],
            round_robins: 2,
            ..SessionRequest::default()
        };
        let plan = build(&r, &cfg, &inst).unwrap();
        assert_eq!(plan.len(), 8);
        let play: Vec<_> = plan.iter().map(|s| s.play.clone().unwrap()).collect();
        let v: Vec<u8> = play.iter().map(|p| p.velocity).collect();
        assert_eq!(v, [30, 30, 120, 120, 30, 30, 120, 120]);
        // Only the first take calibrates.
        assert!(play[0].calibrate && play[1..].iter().all(|p| !p.calibrate));
        assert_eq!(
            (play[0].port.as_str(), play[0].program),
            ("FLUID", Some(19))
        );
        let mut r = r;
        r.dynamics = vec!["pp".into(), "mf".into()];
        let e = build(&r, &cfg, &inst).unwrap_err();
        assert_eq!(e.field, "dynamics[1]");
        assert!(
            e.message.contains("organ") && e.message.contains("\"mf\""),
            "{}",
            e.message
        );
        // A played instrument's slots carry nothing MIDI.
        let (cfg, inst) = setup();
        assert!(build(&req(|_| {}), &cfg, &inst).unwrap()[0].play.is_none());
    }

    #[test]
    fn defaults_cover_the_range_and_articulations() {
        let (cfg, inst) = setup();
        let plan = build(&req(|_| {}), &cfg, &inst).unwrap();
        assert_eq!(plan.len(), 49 * 2);
        assert_eq!(
            (plan[0].note.as_str(), plan[0].articulation.as_str()),
            ("E2", "short")
        );
        assert_eq!((plan[1].note.as_str(), plan[1].duration), ("E2", 1.0));
        assert_eq!(plan[97].note, "E6");
        assert!(plan.iter().enumerate().all(|(i, s)| s.index == i));
    }

    #[test]
    fn subsets_dynamics_and_round_robins_multiply_in_order() {
        let (cfg, inst) = setup();
        let plan = build(
            &req(|r| {
                r.lowest_note = "A4".into();
                r.highest_note = "Bb4".into();
                r.articulations = vec!["transient".into()];
                r.dynamics = vec!["pp".into(), "ff".into()];
                r.round_robins = 2;
            }),
            &cfg,
            &inst,
        )
        .unwrap();
        let names: Vec<String> = plan
            .iter()
            .map(|s| {
                format!(
                    "{}-{}-{}",
                    s.note,
                    s.dynamic.as_deref().unwrap(),
                    s.round_robin.unwrap()
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                "A4-pp-1", "A4-pp-2", "A4-ff-1", "A4-ff-2", "A#4-pp-1", "A#4-pp-2", "A#4-ff-1",
                "A#4-ff-2"
            ]
        );
        assert_eq!(plan[0].frequency, 440.0);
        assert_eq!(plan[0].duration, 0.05);
    }

    #[test]
    fn bad_requests_name_the_field() {
        let (cfg, inst) = setup();
        let field = |r: SessionRequest| build(&r, &cfg, &inst).unwrap_err().field;
        assert_eq!(field(req(|r| r.instrument = "oboe".into())), "instrument");
        assert_eq!(field(req(|r| r.lowest_note = "H2".into())), "lowest_note");
        assert_eq!(field(req(|r| r.highest_note = "E7".into())), "highest_note");
        assert_eq!(
            field(req(|r| {
                r.lowest_note = "C4".into();
                r.highest_note = "B3".into();
            })),
            "highest_note"
        );
        assert_eq!(
            field(req(
                |r| r.articulations = vec!["long".into(), "legato".into()]
            )),
            "articulations[1]"
        );
        assert_eq!(
            field(req(|r| r.dynamics = vec!["../p".into()])),
            "dynamics[0]"
        );
        assert_eq!(
            field(req(|r| r.user_initials = "a/b".into())),
            "user_initials"
        );
        assert_eq!(
            field(req(|r| r.dynamics = vec!["fff".into(), "NUL".into()])),
            "dynamics[1]"
        );
        assert_eq!(
            field(req(|r| r.dynamics = vec!["d".repeat(17)])),
            "dynamics[0]"
        );
    }

    #[test]
    fn a_session_whose_names_cannot_fit_is_refused_at_initiation() {
        let (mut cfg, _) = setup();
        let long = "i".repeat(100);
        let inst: Instruments = parse_json(
            Path::new("instruments.json"),
            &format!(
                r#"{{"instruments":[{{"name":"{long}","type":"string",
                "range":{{"lowest_note":"E2","highest_note":"E6"}},
                "default_articulations":["long"]}}]}}"#
            ),
        )
        .unwrap();
        cfg.articulation_durations.insert("a".repeat(100), 1.0);
        let r = SessionRequest {
            instrument: long.clone(),
            articulations: vec!["a".repeat(100)],
            dynamics: vec!["pp".into()],
            round_robins: 4,
            user_initials: "ABCDEFGHIJ".into(),
            ..SessionRequest::default()
        };
        let plan = build(&r, &cfg, &inst).unwrap();
        let id = "20261201-101500-ABCDEFGHIJ";
        cfg.file_naming.include_session_id = false;
        check_file_names(&plan, id, &r, &cfg, 1).unwrap();
        cfg.file_naming.include_session_id = true;
        cfg.file_naming.include_user_initials = true;
        let e = check_file_names(&plan, id, &r, &cfg, 2).unwrap_err();
        assert_eq!(e.field, "instrument", "{e}");
        assert!(e.message.contains("255"), "{e}");
    }
}
