//! Decent Sampler: one preset per articulation; a group per round-robin position
//! (`seqMode="round_robin"`), a sample per take with its key and velocity range,
//! root note and fine tuning (in semitones, as Decent Sampler wants it), and the
//! sustain loop when the sample has one (any crossfade is already rendered into
//! the file by `takebox process --loop --crossfade`, so none is asked of the player).
//!
//! `loopEnd` is the last frame played, inclusive, as `smpl` stores it: the
//! Decent Sampler Developers Guide ("The <groups> element", `<sample>`'s
//! Looping attributes, DecentSamples/DecentSampler-Developers-Guide
//! docs/source/the-groups-element.md) gives `loopEnd` a default of "the
//! file's length in samples minus 1", the index of the last frame, as for
//! `end`. Layered presets set `ampVelTrack="0"` on their groups (the guide's
//! group attribute, 0..1, default 1): the layers hold their recorded levels.

use super::mapping::Layer;
use crate::dsp::chunks::xml_escape;
use crate::session_log_format::SessionRecord;
use std::collections::BTreeMap;
use std::fmt::Write;

pub fn render(rec: &SessionRecord, instrument: &str, layer: &Layer) -> String {
    let mut by_position: BTreeMap<u32, Vec<_>> = BTreeMap::new();
    for r in &layer.regions {
        by_position.entry(r.seq_position).or_default().push(r);
    }
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<!-- takebox export: session {}, instrument {}, articulation {} -->",
        xml_escape(&rec.session_id).replace("--", "- -"),
        xml_escape(instrument).replace("--", "- -"),
        xml_escape(&layer.name()).replace("--", "- -")
    );
    s.push_str("<DecentSampler minVersion=\"1.0.0\">\n");
    s.push_str("  <groups seqMode=\"round_robin\">\n");
    let layered = layer.regions.iter().any(|r| (r.lovel, r.hivel) != (1, 127));
    for (pos, regions) in by_position {
        let _ = writeln!(
            s,
            "    <group name=\"{} rr{pos}\" seqPosition=\"{pos}\" tags=\"{}\"{}>",
            xml_escape(&layer.name()),
            xml_escape(&layer.articulation),
            if layered { " ampVelTrack=\"0\"" } else { "" }
        );
        for r in regions {
            let _ = writeln!(
                s,
                "      <sample path=\"{}\" rootNote=\"{}\" loNote=\"{}\" hiNote=\"{}\" loVel=\"{}\" hiVel=\"{}\" tuning=\"{:.2}\" seqLength=\"{}\" seqPosition=\"{}\"{}/>",
                xml_escape(&r.filename),
                r.midi,
                r.lokey,
                r.hikey,
                r.lovel,
                r.hivel,
                f64::from(r.tune) / 100.0,
                r.seq_length,
                r.seq_position,
                r.sample_loop
                    .map(|l| format!(
                        " loopStart=\"{}\" loopEnd=\"{}\" loopEnabled=\"true\"",
                        l.start, l.last
                    ))
                    .unwrap_or_default()
            );
        }
        s.push_str("    </group>\n");
    }
    s.push_str("  </groups>\n</DecentSampler>\n");
    s
}
