//! From a session's playable takes to a sampler's map, with no I/O: key ranges
//! spread between the sampled notes, root key from the note and fine tune from
//! the measured cents, velocity layers from the dynamics (soft to loud, 1-127 split
//! among the dynamics each note has), round robins, one set
//! of regions per articulation (and per recorder when there were several).

use crate::dsp::SmplLoop;
use crate::notes::Note;
use crate::session_log_format::TakeLine;
use std::collections::BTreeMap;

/// Dynamics from soft to loud; others sort after these, by name.
const DYNAMICS: &[&str] = &[
    "pppp", "ppp", "pp", "p", "mp", "mf", "f", "ff", "fff", "ffff",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub take_id: String,
    /// The WAV, relative to the share root as the log has it.
    pub filename: String,
    pub note: String,
    pub frequency: f64,
    /// Root key (the played note).
    pub midi: u8,
    pub lokey: u8,
    pub hikey: u8,
    /// Fine tune in cents that brings the measured pitch onto the note.
    pub tune: i32,
    /// Measured pitch against the plan, as the recorder saw it.
    pub cents: Option<f64>,
    pub dynamic: Option<String>,
    pub lovel: u8,
    pub hivel: u8,
    pub round_robin: u32,
    pub seq_length: u32,
    pub seq_position: u32,
    /// The sustain loop from the sample's `smpl` chunk; filled in by the
    /// export, which reads the files (this mapping does no I/O).
    pub sample_loop: Option<SmplLoop>,
}

/// The regions of one articulation (from one recorder).
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub articulation: String,
    /// Recorder index from the take id (`-r2` is 2); `None` for the first.
    pub mic: Option<u32>,
    pub regions: Vec<Region>,
}

impl Layer {
    /// `<articulation>` or `<articulation>_mic<n>`: the file's name stem.
    pub fn name(&self) -> String {
        match self.mic {
            Some(m) => format!("{}_mic{m}", self.articulation),
            None => self.articulation.clone(),
        }
    }
}

/// Why a take cannot be mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub take_id: String,
    pub reason: String,
}

fn dynamic_rank(d: &Option<String>) -> (usize, String) {
    match d {
        None => (0, String::new()),
        Some(d) => (
            DYNAMICS
                .iter()
                .position(|x| x.eq_ignore_ascii_case(d))
                .unwrap_or(DYNAMICS.len()),
            d.clone(),
        ),
    }
}

/// Velocity range of layer `k` of `n` (1..=127 split evenly, loudest on top).
pub fn velocity_range(k: usize, n: usize) -> (u8, u8) {
    let lo = (k * 127 / n) as u8 + 1;
    let hi = ((k + 1) * 127 / n) as u8;
    (lo, hi)
}

/// Key ranges for sorted, distinct root keys: each note reaches halfway to its
/// neighbours (the lower one takes the middle key), the outermost to 0 and 127.
pub fn key_ranges(roots: &[u8]) -> Vec<(u8, u8)> {
    let mut out = Vec::with_capacity(roots.len());
    for (i, &r) in roots.iter().enumerate() {
        let lo = if i == 0 {
            0
        } else {
            out_hi(roots[i - 1], r) + 1
        };
        let hi = if i + 1 == roots.len() {
            127
        } else {
            out_hi(r, roots[i + 1])
        };
        out.push((lo, hi));
    }
    out
}

fn out_hi(a: u8, b: u8) -> u8 {
    ((u16::from(a) + u16::from(b)) / 2) as u8
}

/// Map the playable takes. `a4` is the session's tuning reference.
pub fn map<'a>(
    takes: impl IntoIterator<Item = &'a TakeLine>,
    a4: f64,
) -> (Vec<Layer>, Vec<Skipped>) {
    let mut skipped = Vec::new();
    // (articulation, mic) -> (midi, dynamic rank) -> round robin -> take (the latest wins)
    type Cells<'t> = BTreeMap<(u8, (usize, String)), BTreeMap<u32, (&'t TakeLine, u8)>>;
    let mut sets: BTreeMap<(String, Option<u32>), Cells<'a>> = BTreeMap::new();
    for line in takes {
        let t = &line.confirmed;
        let Some((note, _)) = Note::nearest(t.frequency, a4) else {
            skipped.push(Skipped {
                take_id: t.take_id.to_string(),
                reason: format!("frequency {} is not a note", t.frequency),
            });
            continue;
        };
        let midi = note.midi();
        sets.entry((t.articulation.clone(), t.take_id.recorder()))
            .or_default()
            .entry((midi, dynamic_rank(&t.dynamic)))
            .or_default()
            .insert(t.round_robin.unwrap_or(1), (line, midi));
    }
    let mut layers = Vec::new();
    for ((articulation, mic), cells) in sets {
        let mut roots: Vec<u8> = cells.keys().map(|(m, _)| *m).collect();
        roots.dedup();
        let ranges = key_ranges(&roots);
        let mut regions = Vec::new();
        for ((midi, dynrank), rrs) in &cells {
            let (lokey, hikey) = ranges[roots.binary_search(midi).expect("a root")];
            // Velocity is split among the dynamics this note has, so a note
            // missing a dynamic leaves no silent hole in its key range.
            let dynamics: Vec<&(usize, String)> = cells
                .keys()
                .filter(|(m, _)| m == midi)
                .map(|(_, d)| d)
                .collect();
            let k = dynamics.binary_search(&dynrank).expect("a dynamic");
            let (lovel, hivel) = velocity_range(k, dynamics.len());
            let seq_length = rrs.len() as u32;
            for (pos, (rr, (line, _))) in rrs.iter().enumerate() {
                let (t, cents) = (&line.confirmed, line.cents());
                regions.push(Region {
                    take_id: t.take_id.to_string(),
                    filename: t.filename.clone(),
                    note: t.note.clone(),
                    frequency: t.frequency,
                    midi: *midi,
                    lokey,
                    hikey,
                    tune: tune_for(cents),
                    cents,
                    dynamic: t.dynamic.clone(),
                    lovel,
                    hivel,
                    round_robin: *rr,
                    seq_length,
                    seq_position: pos as u32 + 1,
                    sample_loop: None,
                });
            }
        }
        layers.push(Layer {
            articulation,
            mic,
            regions,
        });
    }
    (layers, skipped)
}

/// The furthest a take's measured pitch is tuned onto its note: half a
/// semitone. A pitch read further off is nearer another note (a misread
/// fifth or octave, or another note played): tuning it would mistune the
/// key, so it is left as recorded and the export says so.
pub const MAX_TUNE_CENTS: f64 = 50.0;

/// Fine tune in cents that brings a measured pitch onto its note, or 0.
fn tune_for(cents: Option<f64>) -> i32 {
    cents
        .filter(|c| c.abs() <= MAX_TUNE_CENTS)
        .map_or(0, |c| (-c).round() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{TakeCheck, TakeId, TakeState, Verdict};
    use crate::session_log_format::{Confirmed, Judgement};

    fn take(
        id: &str,
        hz: f64,
        art: &str,
        dynamic: Option<&str>,
        rr: Option<u32>,
        cents: Option<f64>,
    ) -> TakeLine {
        let check = TakeCheck {
            verdict: Verdict::Ok,
            issues: vec![],
            measured_hz: None,
            cents,
            noise_floor_dbfs: None,
            snr_db: None,
            clipped_samples: 0,
            notes: vec![],
            ..Default::default()
        };
        let confirmed = Confirmed {
            session_id: "s".into(),
            filename: format!("s/{id}.wav"),
            note: String::new(),
            frequency: hz,
            articulation: art.into(),
            instrument: "g".into(),
            timestamp: "2026-11-25T10:00:00Z".parse().unwrap(),
            take_id: TakeId::parse(id),
            dynamic: dynamic.map(String::from),
            round_robin: rr,
            recorder: None,
            judgement: Judgement::ok(),
            state: Some(TakeState::Delivered),
            sha256: None,
            peak_dbfs: vec![],
            check: Some(check),
            processing: None,
            warnings: vec![],
            slot: None,
            start_at: None,
            sample_rate: None,
            envelope: None,
            midi: None,
        };
        TakeLine {
            confirmed,
            superseded: false,
            line: 0,
        }
    }

    fn hz(midi: u8) -> f64 {
        Note::from_midi(midi).unwrap().frequency(440.0)
    }

    #[test]
    fn key_ranges_meet_halfway_and_reach_the_ends() {
        assert_eq!(key_ranges(&[60]), vec![(0, 127)]);
        assert_eq!(
            key_ranges(&[60, 64, 67]),
            vec![(0, 62), (63, 65), (66, 127)]
        );
        assert_eq!(key_ranges(&[60, 61]), vec![(0, 60), (61, 127)]);
    }

    #[test]
    fn velocity_layers_split_1_to_127() {
        assert_eq!(velocity_range(0, 1), (1, 127));
        assert_eq!(
            (velocity_range(0, 2), velocity_range(1, 2)),
            ((1, 63), (64, 127))
        );
        assert_eq!(velocity_range(2, 3), (85, 127));
    }

    #[test]
    fn a_pitch_read_more_than_half_a_semitone_off_is_not_tuned() {
        let takes = vec![
            take("near", hz(60), "long", None, Some(1), Some(-49.6)),
            take("fifth", hz(62), "long", None, Some(1), Some(-694.6)),
            take("above", hz(64), "long", None, Some(1), Some(50.4)),
        ];
        let (layers, _) = map(&takes, 440.0);
        let tunes: Vec<(String, i32)> = layers[0]
            .regions
            .iter()
            .map(|r| (r.take_id.clone(), r.tune))
            .collect();
        assert_eq!(
            tunes,
            vec![
                ("near".to_string(), 50),
                ("fifth".to_string(), 0),
                ("above".to_string(), 0)
            ]
        );
    }

    #[test]
    fn dynamics_round_robins_articulations_and_tune() {
        let takes = vec![
            take("a", hz(60), "long", Some("ff"), Some(1), Some(4.4)),
            take("b", hz(60), "long", Some("pp"), Some(1), Some(-12.6)),
            take("c", hz(60), "long", Some("ff"), Some(2), None),
            take("d", hz(64), "long", Some("ff"), Some(1), None),
            take("e", hz(60), "short", None, None, None),
            take("e-r2", hz(60), "short", None, None, None),
        ];
        let (layers, skipped) = map(&takes, 440.0);
        assert!(skipped.is_empty());
        let names: Vec<String> = layers.iter().map(Layer::name).collect();
        assert_eq!(names, vec!["long", "short", "short_mic2"]);
        let long = &layers[0].regions;
        let get = |id: &str| long.iter().find(|r| r.take_id == id).unwrap();
        assert_eq!((get("a").lovel, get("a").hivel), (64, 127));
        assert_eq!((get("b").lovel, get("b").hivel), (1, 63));
        assert_eq!((get("a").tune, get("b").tune), (-4, 13));
        assert_eq!((get("a").seq_length, get("a").seq_position), (2, 1));
        assert_eq!((get("c").seq_length, get("c").seq_position), (2, 2));
        assert_eq!((get("b").seq_length, get("d").seq_length), (1, 1));
        assert_eq!((get("a").lokey, get("a").hikey, get("a").midi), (0, 62, 60));
        assert_eq!((get("d").lokey, get("d").hikey), (63, 127));
        // E4 has only ff: it takes every velocity.
        assert_eq!((get("d").lovel, get("d").hivel), (1, 127));
        assert_eq!(layers[1].regions[0].lovel, 1);
    }
}
