//! SFZ: one file per articulation; a region per take with its key range, root
//! key, fine tune, velocity layer and round robin, and the sustain loop when
//! the sample has one (`loop_end` is the last frame played, as in `smpl`).

use super::mapping::Layer;
use crate::session_log_format::SessionRecord;
use std::fmt::Write;

pub fn render(rec: &SessionRecord, instrument: &str, layer: &Layer) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// takebox export: session {}, instrument {}, articulation {}",
        rec.session_id,
        instrument.replace('\n', " "),
        layer.name()
    );
    let _ = writeln!(s, "<control>");
    // Velocity layers hold their recorded levels (pp softer than ff by what
    // was played): velocity picks the layer and does not scale it again.
    let layered = layer.regions.iter().any(|r| (r.lovel, r.hivel) != (1, 127));
    let _ = writeln!(
        s,
        "<global>{}",
        if layered { " amp_veltrack=0" } else { "" }
    );
    for r in &layer.regions {
        let _ = writeln!(
            s,
            "// {} {} {}{}",
            r.take_id,
            r.note,
            r.dynamic.as_deref().unwrap_or("-"),
            r.cents
                .map(|c| format!(" measured {c:+.2} cents"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "<region> lokey={} hikey={} pitch_keycenter={} tune={} lovel={} hivel={} seq_length={} seq_position={}{} sample={}",
            r.lokey,
            r.hikey,
            r.midi,
            r.tune,
            r.lovel,
            r.hivel,
            r.seq_length,
            r.seq_position,
            r.sample_loop
                .map(|l| format!(
                    " loop_mode=loop_continuous loop_start={} loop_end={}",
                    l.start, l.last
                ))
                .unwrap_or_default(),
            r.filename
        );
    }
    s
}
