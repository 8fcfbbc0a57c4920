//! A sample map as CSV (RFC 4180): one row per region, every articulation.

use super::mapping::Layer;

pub const HEADER: &str = "take_id,sample,articulation,mic,note,midi,lokey,hikey,pitch_keycenter,tune,cents,dynamic,lovel,hivel,round_robin,seq_length,seq_position,frequency";

/// Quote a field when it holds a comma, quote or line break.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn render(layers: &[Layer]) -> String {
    let mut s = String::from(HEADER);
    s.push_str("\r\n");
    for l in layers {
        for r in &l.regions {
            let row = [
                field(&r.take_id),
                field(&r.filename),
                field(&l.articulation),
                l.mic.map(|m| m.to_string()).unwrap_or_default(),
                field(&r.note),
                r.midi.to_string(),
                r.lokey.to_string(),
                r.hikey.to_string(),
                r.midi.to_string(),
                r.tune.to_string(),
                r.cents.map(|c| format!("{c:.3}")).unwrap_or_default(),
                field(r.dynamic.as_deref().unwrap_or("")),
                r.lovel.to_string(),
                r.hivel.to_string(),
                r.round_robin.to_string(),
                r.seq_length.to_string(),
                r.seq_position.to_string(),
                format!("{}", r.frequency),
            ];
            s.push_str(&row.join(","));
            s.push_str("\r\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(super::field("a,b"), "\"a,b\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::field("plain"), "plain");
    }
}
