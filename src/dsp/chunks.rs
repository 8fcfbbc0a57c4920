//! Builders for WAV metadata chunks: `smpl`, `bext` and `iXML`. Bytes
//! only: each returns the complete chunk (id, u32 little-endian payload
//! size, payload, and a zero pad byte when the payload length is odd; the
//! size field never counts the pad).

use super::error::DspError;

/// Wraps `payload` as a RIFF chunk.
pub fn riff_chunk(id: [u8; 4], payload: &[u8]) -> Result<Vec<u8>, DspError> {
    let size = u32::try_from(payload.len())
        .ok()
        .filter(|s| *s < u32::MAX)
        .ok_or(DspError::ChunkTooLarge {
            id,
            len: payload.len(),
        })?;
    let mut out = Vec::with_capacity(8 + payload.len() + 1);
    out.extend_from_slice(&id);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(payload);
    if payload.len() % 2 == 1 {
        out.push(0);
    }
    Ok(out)
}

/// MIDI unity note and pitch fraction of a `smpl` chunk.
///
/// RIFF convention: `unity_note + fraction / 2^32` semitones is the pitch
/// at which the sample plays back as recorded, the fraction going *up*
/// from the unity note. A note planned as A4 (69) that measured 15 cents
/// flat sounds at MIDI 68.85, so unity = 68 (G#4) and fraction = 0.85 ·
/// 2^32: a sampler then raises it by 15 cents when A4 is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmplPitch {
    pub unity_note: u8,
    pub fraction: u32,
}

impl SmplPitch {
    /// From the planned MIDI note and the measured deviation in cents
    /// (negative = flat). NaN cents count as 0. Clamped to MIDI 0..=127.
    pub fn from_cents(planned_note: u8, cents: f64) -> Self {
        let cents = if cents.is_finite() { cents } else { 0.0 };
        Self::from_midi(planned_note as f64 + cents / 100.0)
    }

    /// From a measured frequency (A4 = 440 Hz); `None` if not positive.
    pub fn from_hz(hz: f64) -> Option<Self> {
        (hz > 0.0 && hz.is_finite()).then(|| Self::from_midi(69.0 + 12.0 * (hz / 440.0).log2()))
    }

    fn from_midi(m: f64) -> Self {
        const ONE: f64 = 4_294_967_296.0; // 2^32
        if m.is_nan() || m <= 0.0 {
            return SmplPitch {
                unity_note: 0,
                fraction: 0,
            };
        }
        if m >= 128.0 {
            return SmplPitch {
                unity_note: 127,
                fraction: u32::MAX,
            };
        }
        let note = m.floor();
        let frac = ((m - note) * ONE).round();
        if frac >= ONE {
            // Rounded up to the next semitone.
            Self::from_midi(note + 1.0)
        } else {
            SmplPitch {
                unity_note: note as u8,
                fraction: frac as u32,
            }
        }
    }
}

/// A `smpl` chunk with no loops: sample period `round(1e9 / rate)` ns,
/// manufacturer, product and SMPTE fields 0.
pub fn smpl_chunk(rate: u32, pitch: SmplPitch) -> Result<Vec<u8>, DspError> {
    smpl_chunk_looped(rate, pitch, &[])
}

/// A forward loop of a `smpl` chunk: frames `start..=last` play over and
/// over (`last` is the final frame before the jump back, as RIFF stores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmplLoop {
    pub start: u32,
    pub last: u32,
}

/// Bytes of the fixed part of a `smpl` payload, and of one loop record.
const SMPL_FIXED: usize = 36;
const SMPL_LOOP: usize = 24;

/// [`smpl_chunk`] with forward, endlessly repeating loops (cue ids 0, 1, ...).
pub fn smpl_chunk_looped(
    rate: u32,
    pitch: SmplPitch,
    loops: &[SmplLoop],
) -> Result<Vec<u8>, DspError> {
    if rate == 0 {
        return Err(DspError::Rate(rate));
    }
    let period_ns = (1e9 / rate as f64).round() as u32;
    let mut fields: Vec<u32> = vec![
        0, // manufacturer
        0, // product
        period_ns,
        pitch.unity_note as u32,
        pitch.fraction,
        0, // SMPTE format
        0, // SMPTE offset
        loops.len() as u32,
        0, // sampler data bytes
    ];
    for (id, l) in loops.iter().enumerate() {
        // cue id, type 0 = forward, start, end, fraction, play count 0 = forever
        fields.extend([id as u32, 0, l.start, l.last, 0, 0]);
    }
    let payload: Vec<u8> = fields.iter().flat_map(|f| f.to_le_bytes()).collect();
    riff_chunk(*b"smpl", &payload)
}

/// The little-endian 32-bit word at `at` of a chunk payload, if it is there.
fn le_word(payload: &[u8], at: usize) -> Option<u32> {
    payload
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

impl SmplPitch {
    /// The pitch as a fractional MIDI note (unity note plus fraction).
    pub fn midi(&self) -> f64 {
        f64::from(self.unity_note) + f64::from(self.fraction) / 4_294_967_296.0
    }
}

/// The unity note and fraction of a `smpl` payload (`None` when it is cut
/// before the note; a missing fraction counts as 0).
pub fn smpl_pitch(payload: &[u8]) -> Option<SmplPitch> {
    Some(SmplPitch {
        unity_note: *payload.get(12)?,
        fraction: le_word(payload, 16).unwrap_or(0),
    })
}

/// The forward loops of a `smpl` payload (other loop types and records cut
/// short are left out).
pub fn smpl_loops(payload: &[u8]) -> Vec<SmplLoop> {
    let word = |at: usize| le_word(payload, at);
    let count = word(28).unwrap_or(0) as usize;
    (0..count.min(payload.len() / SMPL_LOOP))
        .filter_map(|i| {
            let at = SMPL_FIXED + i * SMPL_LOOP;
            let (kind, start, last) = (word(at + 4)?, word(at + 8)?, word(at + 12)?);
            (kind == 0 && last >= start).then_some(SmplLoop { start, last })
        })
        .collect()
}

/// Loudness fields of a version 2 `bext`, stored as `round(100 · value)`
/// in an i16. Tech 3285 gives no "unknown" value; `None` is written as
/// 0x7FFF (327.67), which no real measurement reaches; values are clamped
/// to -327.68..=327.66.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BextLoudness {
    pub integrated_lufs: Option<f64>,
    pub range_lu: Option<f64>,
    pub max_true_peak_dbtp: Option<f64>,
    pub max_momentary_lufs: Option<f64>,
    pub max_short_term_lufs: Option<f64>,
}

/// Contents of a `bext` chunk (EBU Tech 3285). Strings longer than their
/// field are cut at a UTF-8 character boundary (the spec says ASCII; UTF-8
/// is passed through as bytes); shorter ones are NUL-padded.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BextInfo<'a> {
    /// Up to 256 bytes.
    pub description: &'a str,
    /// Up to 32 bytes.
    pub originator: &'a str,
    /// Up to 32 bytes.
    pub originator_reference: &'a str,
    /// `yyyy-mm-dd`, 10 bytes.
    pub origination_date: &'a str,
    /// `hh:mm:ss`, 8 bytes.
    pub origination_time: &'a str,
    /// First sample's position, in samples since midnight.
    pub time_reference: u64,
    /// SMPTE 330M UMID; all zeros when `None`.
    pub umid: Option<[u8; 64]>,
    /// `Some` writes version 2 with loudness; `None` writes version 1.
    pub loudness: Option<BextLoudness>,
    /// Free text after the fixed fields (lines end with CR LF per EBU R98).
    pub coding_history: &'a str,
}

/// Size of the fixed part of a `bext` payload.
pub const BEXT_FIXED_LEN: usize = 602;

/// A `bext` chunk.
pub fn bext_chunk(info: &BextInfo) -> Result<Vec<u8>, DspError> {
    let mut p = Vec::with_capacity(BEXT_FIXED_LEN + info.coding_history.len());
    put_str(&mut p, info.description, 256);
    put_str(&mut p, info.originator, 32);
    put_str(&mut p, info.originator_reference, 32);
    put_str(&mut p, info.origination_date, 10);
    put_str(&mut p, info.origination_time, 8);
    p.extend_from_slice(&(info.time_reference as u32).to_le_bytes());
    p.extend_from_slice(&((info.time_reference >> 32) as u32).to_le_bytes());
    let version: u16 = if info.loudness.is_some() { 2 } else { 1 };
    p.extend_from_slice(&version.to_le_bytes());
    p.extend_from_slice(&info.umid.unwrap_or([0; 64]));
    if let Some(l) = info.loudness {
        for v in [
            l.integrated_lufs,
            l.range_lu,
            l.max_true_peak_dbtp,
            l.max_momentary_lufs,
            l.max_short_term_lufs,
        ] {
            p.extend_from_slice(&loudness_word(v).to_le_bytes());
        }
    }
    p.resize(BEXT_FIXED_LEN, 0); // reserved
    p.extend_from_slice(info.coding_history.as_bytes());
    // Even payloads: some readers (hound among them) skip odd chunks without
    // their pad byte. A NUL after the coding history is allowed by Tech 3285.
    if p.len() % 2 == 1 {
        p.push(0);
    }
    riff_chunk(*b"bext", &p)
}

fn loudness_word(v: Option<f64>) -> i16 {
    match v.filter(|v| v.is_finite()) {
        Some(v) => (v * 100.0).round().clamp(-32768.0, 32766.0) as i16,
        None => i16::MAX,
    }
}

/// Writes `s` into a fixed field of `len` bytes: cut at a character
/// boundary, NUL-padded.
fn put_str(out: &mut Vec<u8>, s: &str, len: usize) {
    let cut = truncate_at_char(s, len);
    out.extend_from_slice(cut.as_bytes());
    out.resize(out.len() + len - cut.len(), 0);
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char
/// boundary.
pub fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Contents of the `iXML` chunk: the standard PROJECT / TAKE / NOTE and a
/// USER block describing the sample.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IxmlInfo<'a> {
    pub project: &'a str,
    /// The take's id (iXML TAKE is free text).
    pub take: &'a str,
    /// iXML NOTE: free text.
    pub note: &'a str,
    pub session: &'a str,
    pub instrument: &'a str,
    /// The musical note recorded, e.g. "A4".
    pub note_name: &'a str,
    pub articulation: &'a str,
    pub dynamic: &'a str,
    pub round_robin: u32,
}

/// Version declared in the document.
pub const IXML_VERSION: &str = "1.61";

/// The iXML document (UTF-8; every value XML-escaped).
pub fn ixml_document(info: &IxmlInfo) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BWFXML>\n");
    let el = |x: &mut String, name: &str, value: &str| {
        x.push_str(&format!("<{name}>{}</{name}>\n", xml_escape(value)));
    };
    el(&mut x, "IXML_VERSION", IXML_VERSION);
    el(&mut x, "PROJECT", info.project);
    el(&mut x, "TAKE", info.take);
    el(&mut x, "NOTE", info.note);
    x.push_str("<USER>\n");
    el(&mut x, "SESSION", info.session);
    el(&mut x, "INSTRUMENT", info.instrument);
    el(&mut x, "NOTE", info.note_name);
    el(&mut x, "ARTICULATION", info.articulation);
    el(&mut x, "DYNAMIC", info.dynamic);
    el(&mut x, "ROUND_ROBIN", &info.round_robin.to_string());
    el(&mut x, "TAKE", info.take);
    x.push_str("</USER>\n</BWFXML>\n");
    // Even length, for readers that skip odd chunks without their pad byte.
    if x.len() % 2 == 1 {
        x.push('\n');
    }
    x
}

/// An `iXML` chunk holding [`ixml_document`].
pub fn ixml_chunk(info: &IxmlInfo) -> Result<Vec<u8>, DspError> {
    riff_chunk(*b"iXML", ixml_document(info).as_bytes())
}

/// Escapes the five XML special characters and drops characters XML 1.0
/// cannot carry at all (controls other than tab, LF, CR; U+FFFE, U+FFFF).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn i16_at(b: &[u8], at: usize) -> i16 {
        i16::from_le_bytes(b[at..at + 2].try_into().unwrap())
    }

    #[test]
    fn chunk_framing_and_padding() {
        let c = riff_chunk(*b"test", &[1, 2, 3]).unwrap();
        assert_eq!(c, vec![b't', b'e', b's', b't', 3, 0, 0, 0, 1, 2, 3, 0]);
        let c = riff_chunk(*b"even", &[9, 9]).unwrap();
        assert_eq!(c.len(), 10);
        assert_eq!(riff_chunk(*b"none", &[]).unwrap(), b"none\0\0\0\0".to_vec());
    }

    #[test]
    fn smpl_pitch_convention() {
        // A4 recorded 15 cents flat: G#4 plus 0.85 of a semitone.
        let p = SmplPitch::from_cents(69, -15.0);
        assert_eq!(p.unity_note, 68);
        assert_eq!(p.fraction, (0.85f64 * 4_294_967_296.0).round() as u32);
        assert_eq!(p.fraction, 3_650_722_202);
        // 25 cents sharp of middle C: C4 plus a quarter semitone.
        assert_eq!(
            SmplPitch::from_cents(60, 25.0),
            SmplPitch {
                unity_note: 60,
                fraction: 1 << 30
            }
        );
        // 50 cents = 0x80000000, as in the RIFF spec.
        assert_eq!(SmplPitch::from_cents(60, 50.0).fraction, 0x8000_0000);
        assert_eq!(
            SmplPitch::from_cents(69, 0.0),
            SmplPitch {
                unity_note: 69,
                fraction: 0
            }
        );
        assert_eq!(
            SmplPitch::from_cents(69, -100.0),
            SmplPitch {
                unity_note: 68,
                fraction: 0
            }
        );
        assert_eq!(
            SmplPitch::from_cents(69, f64::NAN),
            SmplPitch {
                unity_note: 69,
                fraction: 0
            }
        );
        // Rounding up to the next semitone carries into the note.
        assert_eq!(
            SmplPitch::from_cents(69, 100.0 - 1e-12),
            SmplPitch {
                unity_note: 70,
                fraction: 0
            }
        );
        // Clamped to the MIDI range.
        assert_eq!(
            SmplPitch::from_cents(0, -50.0),
            SmplPitch {
                unity_note: 0,
                fraction: 0
            }
        );
        assert_eq!(SmplPitch::from_cents(127, 150.0).unity_note, 127);
        // From a frequency: the same flat A4.
        let p = SmplPitch::from_hz(440.0 * 2f64.powf(-15.0 / 1200.0)).unwrap();
        assert_eq!(p.unity_note, 68);
        assert!((p.fraction as f64 - 3_650_722_202.0).abs() < 1000.0);
        assert_eq!(SmplPitch::from_hz(0.0), None);
        assert_eq!(SmplPitch::from_hz(f64::NAN), None);
    }

    #[test]
    fn smpl_layout() {
        let c = smpl_chunk(44_100, SmplPitch::from_cents(69, -15.0)).unwrap();
        assert_eq!(c.len(), 8 + 36);
        assert_eq!(&c[0..4], b"smpl");
        assert_eq!(u32_at(&c, 4), 36);
        assert_eq!(u32_at(&c, 8), 0); // manufacturer
        assert_eq!(u32_at(&c, 12), 0); // product
        assert_eq!(u32_at(&c, 16), 22_676); // 1e9 / 44100 = 22675.7 ns
        assert_eq!(u32_at(&c, 20), 68);
        assert_eq!(u32_at(&c, 24), 3_650_722_202);
        assert_eq!(&c[28..44], &[0; 16]); // SMPTE, loops, sampler data
        let c48 = smpl_chunk(48_000, SmplPitch::from_cents(60, 0.0)).unwrap();
        assert_eq!(u32_at(&c48, 16), 20_833);
        assert_eq!(
            smpl_chunk(0, SmplPitch::from_cents(60, 0.0)),
            Err(DspError::Rate(0))
        );
    }

    #[test]
    fn smpl_pitch_round_trip() {
        let pitch = SmplPitch::from_cents(69, -15.0);
        let c = smpl_chunk(48_000, pitch).unwrap();
        assert_eq!(smpl_pitch(&c[8..]), Some(pitch));
        assert!((pitch.midi() - 68.85).abs() < 1e-6, "{}", pitch.midi());
        // Cut before the fraction: the note alone; cut before the note: none.
        let cut = &c[8..8 + 16];
        assert_eq!(
            smpl_pitch(cut).map(|p| (p.unity_note, p.fraction)),
            Some((68, 0))
        );
        assert_eq!(smpl_pitch(&cut[..12]), None);
    }

    #[test]
    fn smpl_loops_round_trip() {
        let loops = [
            SmplLoop {
                start: 1_000,
                last: 48_999,
            },
            SmplLoop { start: 7, last: 8 },
        ];
        let c = smpl_chunk_looped(48_000, SmplPitch::from_cents(60, 0.0), &loops).unwrap();
        assert_eq!(u32_at(&c, 4), 36 + 2 * 24);
        assert_eq!(u32_at(&c, 36), 2); // sample loops
        assert_eq!(u32_at(&c, 40), 0); // sampler data
        // First record: cue 0, forward, start, end, fraction, play count.
        let rec: Vec<u32> = (0..6).map(|k| u32_at(&c, 44 + 4 * k)).collect();
        assert_eq!(rec, vec![0, 0, 1_000, 48_999, 0, 0]);
        assert_eq!(u32_at(&c, 68), 1); // second cue id
        assert_eq!(smpl_loops(&c[8..]), loops.to_vec());
        // Without loops, the chunk is the plain one.
        assert_eq!(
            smpl_chunk_looped(48_000, SmplPitch::from_cents(60, 0.0), &[]).unwrap(),
            smpl_chunk(48_000, SmplPitch::from_cents(60, 0.0)).unwrap()
        );
        assert!(smpl_loops(&c[8..40]).is_empty(), "records cut off");
        assert!(smpl_loops(&[]).is_empty());
        // A ping-pong loop (type 1) is not read as forward.
        let mut pingpong = c[8..].to_vec();
        pingpong[36 + 4] = 1;
        assert_eq!(smpl_loops(&pingpong), vec![loops[1]]);
    }

    #[test]
    fn bext_layout_v2() {
        let umid = [7u8; 64];
        let info = BextInfo {
            description: "Violin A4 mf",
            originator: "takebox",
            originator_reference: "TB0001",
            origination_date: "2024-05-06",
            origination_time: "13:14:15",
            time_reference: 0x1_0000_0002,
            umid: Some(umid),
            loudness: Some(BextLoudness {
                integrated_lufs: Some(-23.0),
                range_lu: None,
                max_true_peak_dbtp: Some(-1.004),
                max_momentary_lufs: Some(-18.456),
                max_short_term_lufs: Some(-400.0),
            }),
            coding_history: "A=PCM,F=48000,W=24,M=mono,T=takebox\r\n",
        };
        let c = bext_chunk(&info).unwrap();
        let h = info.coding_history.len(); // 37: odd, so a NUL ends the payload
        assert_eq!(u32_at(&c, 4) as usize, 602 + h + 1);
        assert_eq!(c.len(), 8 + 602 + h + 1);
        assert_eq!(c[8 + 602 + h], 0);
        let p = &c[8..];
        assert_eq!(&p[0..12], b"Violin A4 mf");
        assert!(p[12..256].iter().all(|&b| b == 0));
        assert_eq!(&p[256..263], b"takebox");
        assert_eq!(&p[288..294], b"TB0001");
        assert_eq!(&p[320..330], b"2024-05-06");
        assert_eq!(&p[330..338], b"13:14:15");
        assert_eq!(u32_at(p, 338), 2); // TimeReferenceLow
        assert_eq!(u32_at(p, 342), 1); // TimeReferenceHigh
        assert_eq!(u16::from_le_bytes([p[346], p[347]]), 2);
        assert_eq!(&p[348..412], &umid);
        assert_eq!(i16_at(p, 412), -2300);
        assert_eq!(i16_at(p, 414), 0x7FFF);
        assert_eq!(i16_at(p, 416), -100);
        assert_eq!(i16_at(p, 418), -1846);
        assert_eq!(i16_at(p, 420), -32768);
        assert!(p[422..602].iter().all(|&b| b == 0));
        assert_eq!(&p[602..602 + h], info.coding_history.as_bytes());
    }

    #[test]
    fn bext_v1_truncation_and_padding() {
        // 200 two-byte chars = 400 bytes: cut to exactly 256 bytes.
        let long2 = "é".repeat(200);
        // 100 three-byte chars: 85 fit (255 bytes), one NUL pads.
        let long3 = "€".repeat(100);
        let info = BextInfo {
            description: &long2,
            originator: &long3,
            origination_date: "2024-05-06T00:00",
            coding_history: "odd",
            ..BextInfo::default()
        };
        let c = bext_chunk(&info).unwrap();
        assert_eq!(u32_at(&c, 4), 606, "odd payload evened with a NUL");
        assert_eq!(c.len(), 8 + 606);
        assert_eq!(*c.last().unwrap(), 0);
        let p = &c[8..];
        assert_eq!(std::str::from_utf8(&p[0..256]).unwrap(), "é".repeat(128));
        assert_eq!(
            std::str::from_utf8(&p[256..256 + 30]).unwrap(),
            "€".repeat(10)
        );
        // 32 bytes hold 10 three-byte chars; the 2 bytes left are NUL.
        assert_eq!(&p[286..288], &[0, 0]);
        assert_eq!(&p[320..330], b"2024-05-06");
        assert_eq!(u16::from_le_bytes([p[346], p[347]]), 1);
        assert!(p[348..602].iter().all(|&b| b == 0), "UMID and reserved");
        assert_eq!(&p[602..605], b"odd");
        assert_eq!(truncate_at_char("€€", 4), "€");
        assert_eq!(truncate_at_char("abc", 10), "abc");
        assert_eq!(truncate_at_char("€", 2), "");
    }

    #[test]
    fn ixml_document_and_chunk() {
        let info = IxmlInfo {
            project: "Strings & <Brass>",
            take: "3",
            note: "bow \"noise\" it's\u{1}fine",
            session: "s1",
            instrument: "Violin",
            note_name: "A4",
            articulation: "spiccato",
            dynamic: "mf",
            round_robin: 2,
        };
        let doc = ixml_document(&info);
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BWFXML>\n"));
        assert!(doc.contains("<PROJECT>Strings &amp; &lt;Brass&gt;</PROJECT>"));
        assert!(doc.contains("<TAKE>3</TAKE>"));
        assert!(doc.contains("<NOTE>bow &quot;noise&quot; it&apos;sfine</NOTE>"));
        let user = &doc[doc.find("<USER>").unwrap()..doc.find("</USER>").unwrap()];
        for el in [
            "<SESSION>s1</SESSION>",
            "<INSTRUMENT>Violin</INSTRUMENT>",
            "<NOTE>A4</NOTE>",
            "<ARTICULATION>spiccato</ARTICULATION>",
            "<DYNAMIC>mf</DYNAMIC>",
            "<ROUND_ROBIN>2</ROUND_ROBIN>",
            "<TAKE>3</TAKE>",
        ] {
            assert!(user.contains(el), "{el}");
        }
        assert!(doc.ends_with("</USER>\n</BWFXML>\n"));
        let c = ixml_chunk(&info).unwrap();
        assert_eq!(&c[0..4], b"iXML");
        assert_eq!(u32_at(&c, 4) as usize, doc.len());
        assert_eq!(&c[8..8 + doc.len()], doc.as_bytes());
        assert_eq!(c.len(), 8 + doc.len() + doc.len() % 2);
        // Both parities pad correctly.
        let other = ixml_chunk(&IxmlInfo { take: "10", ..info }).unwrap();
        assert_eq!(other.len() % 2, 0);
        assert_eq!(c.len() % 2, 0);
    }
}
