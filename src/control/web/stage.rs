//! The status page's stage, read from across the room: which colour the whole
//! view takes, which buttons can do something now, the meters, the progress
//! in words, the last take's figures and its waveform as an SVG path. Pure
//! functions of the cycle's status and the recorders' health.

use super::super::cycle::{CycleStatus, Phase};
use super::super::health::RecorderHealth;
use super::super::status::LastTake;
use super::super::verdict::Figures;
use crate::session_log_format::Disposition;
use serde::Serialize;

/// The colour of the whole view: `idle`, `armed`, `countdown`, `recording`,
/// `checking`, `ok` or `attention`.
pub fn stage(c: &CycleStatus) -> &'static str {
    match c.phase {
        Phase::Idle | Phase::Finished | Phase::Aborted => "idle",
        Phase::Countdown => "countdown",
        Phase::Recording => "recording",
        Phase::Waiting => "checking",
        Phase::Armed | Phase::Paused => {
            let verdict = c.last.as_ref().map(|l| l.judgement.disposition);
            if c.message.is_some() || matches!(verdict, Some(d) if d != Disposition::Ok) {
                "attention"
            } else if verdict == Some(Disposition::Ok) {
                "ok"
            } else {
                "armed"
            }
        }
    }
}

/// The commands that can do something now; the page shows only these.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Actions {
    pub start: bool,
    pub retake: bool,
    pub skip: bool,
    pub pause: bool,
    /// Paused: Resume takes Start's place.
    pub resume: bool,
    pub abort: bool,
}

pub fn actions(c: &CycleStatus) -> Actions {
    let open = c.session_id.is_some()
        && !matches!(c.phase, Phase::Idle | Phase::Finished | Phase::Aborted);
    let waiting_for_start = matches!(c.phase, Phase::Armed | Phase::Paused);
    Actions {
        start: open && waiting_for_start && !c.paused,
        retake: open && waiting_for_start && c.last.is_some(),
        skip: open && matches!(c.phase, Phase::Armed | Phase::Paused | Phase::Countdown),
        pause: open && !waiting_for_start && !c.paused,
        resume: open && c.paused,
        abort: open,
    }
}

/// `1:05`, `12 s`: a duration as a clock reads it.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{}:{:02}", s / 60, s % 60)
    } else {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

/// "about 12:30 left at 0:45 a take", once the pace is known.
pub fn remaining_text(c: &CycleStatus) -> String {
    match c.seconds_per_take {
        Some(pace) if c.done < c.total => format!(
            "about {} left at {} a take",
            clock(pace * (c.total - c.done) as f64),
            clock(pace)
        ),
        _ => String::new(),
    }
}

pub fn skipped_text(c: &CycleStatus) -> String {
    match c.skipped {
        0 => String::new(),
        n => format!("{n} skipped"),
    }
}

/// "+1.2 cents · peak -6.1 dBFS · SNR 54.0 dB": what was measured, in words
/// (the stage, the last take and the flow's verdict alike).
pub fn figures_text(f: &Figures) -> String {
    let mut parts = Vec::new();
    if let Some(c) = f.cents {
        parts.push(format!("{c:+.1} cents"));
    }
    // No peak is digital silence only when the audio was looked at (a
    // failed take has no figures at all).
    match f.peak_dbfs {
        Some(p) => parts.push(format!("peak {p:.1} dBFS")),
        None if f.checked || f.verdict_name == "silent" => parts.push("peak: silence".into()),
        None => {}
    }
    match (f.snr_db, f.checked, f.peak_dbfs) {
        (Some(s), _, _) => parts.push(format!("SNR {s:.1} dB")),
        (None, true, Some(_)) => parts.push("SNR ∞ (a silent pre-roll)".into()),
        (None, true, None) => parts.push("no SNR (no signal)".into()),
        (None, false, _) => {}
    }
    parts.join(" · ")
}

/// Under the note while the next take waits: how the last one went, so the
/// colour of the view comes with its reason ("last take warn: silent: ...").
pub fn last_line(c: &CycleStatus) -> String {
    let Some(l) = c
        .last
        .as_ref()
        .filter(|_| matches!(c.phase, Phase::Armed | Phase::Paused))
    else {
        return String::new();
    };
    let mut line = format!("last take {}", l.judgement.disposition.as_str());
    if let Some(r) = &l.judgement.reason {
        line.push_str(&format!(": {r}"));
    }
    let figures = figures_text(&l.figures);
    if !figures.is_empty() {
        line.push_str(&format!(" · {figures}"));
    }
    line
}

/// A meter per recorder and channel, as the page draws it before the live
/// `levels` events take over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterView {
    /// `m<recorder>_<channel>`, what the live events address.
    pub id: String,
    pub label: String,
    /// dBFS, floored at [`METER_FLOOR_DBFS`].
    pub value: i32,
    /// Fill, 0..100, and what is left of the bar.
    pub pct: u32,
    pub rest: u32,
    pub text: String,
}

/// The bottom of the meter's scale.
pub const METER_FLOOR_DBFS: f64 = -60.0;

pub fn meters(recorders: &[RecorderHealth]) -> Vec<MeterView> {
    let several = recorders.len() > 1;
    recorders
        .iter()
        .enumerate()
        .flat_map(|(r, h)| {
            h.input_peak_dbfs.iter().enumerate().map(move |(ch, p)| {
                let db = p.unwrap_or(f64::NEG_INFINITY).max(METER_FLOOR_DBFS);
                let pct = super::super::health::meter_percent(*p);
                MeterView {
                    id: format!("m{r}_{ch}"),
                    label: if several {
                        format!("recorder {} input {}", r + 1, ch + 1)
                    } else {
                        format!("input {}", ch + 1)
                    },
                    value: db.round() as i32,
                    pct,
                    rest: 100 - pct,
                    text: match p {
                        Some(d) if *d > METER_FLOOR_DBFS => format!("{d:.1} dBFS"),
                        _ => "silence".into(),
                    },
                }
            })
        })
        .collect()
}

/// The last take's waveform: a path of one vertical stroke per column in a
/// viewBox `width` wide and 200 high (full scale at the edges), the pre-roll's
/// end (the planned start) and the kept range in the same units.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct WaveView {
    pub d: String,
    pub width: usize,
    pub start: f64,
    pub trim_from: f64,
    pub trim_to: f64,
    pub caption: String,
}

pub fn wave(last: Option<&LastTake>) -> WaveView {
    let Some(w) = last.and_then(|l| l.waveform.as_ref()) else {
        return WaveView::default();
    };
    let e = &w.envelope;
    let per = e.frames_per_column.max(1) as f64;
    let y = |v: i16| 100 - (i32::from(v) / 10).clamp(-100, 100);
    let mut d = String::with_capacity(e.min.len() * 12);
    for (x, (&lo, &hi)) in e.min.iter().zip(&e.max).enumerate() {
        // A column at least one unit tall, so silence still draws its line.
        let (top, bottom) = (y(hi), y(lo).max(y(hi) + 1));
        d.push_str(&format!("M{x}.5 {top}V{bottom}"));
    }
    let (from, to) = w.kept_frames.unwrap_or((0, e.frames));
    let at = |frame: u64| (frame as f64 / per * 10.0).round() / 10.0;
    let rate = w.sample_rate;
    let secs = |frames: u64| frames as f64 / f64::from(rate.max(1));
    WaveView {
        d,
        width: e.min.len(),
        start: at(e.planned_start_frame),
        trim_from: at(from),
        trim_to: at(to),
        caption: format!(
            "{:.2} s recorded: pre-roll {:.2} s (shaded) to the planned start (line); kept {:.2} to {:.2} s (between the marks)",
            secs(e.frames),
            secs(e.planned_start_frame),
            secs(from),
            secs(to)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::status::Waveform;
    use crate::protocol::TakeEnvelope;
    use crate::session_log_format::Judgement;

    #[test]
    fn the_view_takes_the_colour_of_the_moment_and_shows_only_what_can_be_done() {
        let mut c = CycleStatus {
            session_id: Some("s".into()),
            phase: Phase::Armed,
            ..CycleStatus::default()
        };
        assert_eq!(stage(&c), "armed");
        let a = actions(&c);
        assert!(
            a.start && a.skip && a.abort && !a.retake && !a.pause,
            "{a:?}"
        );
        c.last = Some(LastTake::for_test(Judgement::ok()));
        assert_eq!(stage(&c), "ok");
        assert!(actions(&c).retake);
        assert_eq!(last_line(&c), "last take ok");
        c.last = Some(LastTake::for_test(Judgement::warn("silent")));
        assert_eq!(stage(&c), "attention");
        assert_eq!(last_line(&c), "last take warn: silent");
        c.phase = Phase::Countdown;
        assert_eq!(stage(&c), "countdown");
        assert_eq!(last_line(&c), "", "the next take has the stage");
        let a = actions(&c);
        assert!(
            !a.start && !a.retake && a.skip && a.pause && a.abort,
            "{a:?}"
        );
        c.phase = Phase::Recording;
        assert_eq!(stage(&c), "recording");
        assert!(!actions(&c).skip);
        c.phase = Phase::Waiting;
        assert_eq!(stage(&c), "checking");
        c.paused = true;
        assert!(!actions(&c).pause, "already pausing after this take");
        c.phase = Phase::Finished;
        assert_eq!(stage(&c), "idle");
        assert_eq!(actions(&c), Actions::default());
    }

    #[test]
    fn progress_figures_and_meters_in_words() {
        let c = CycleStatus {
            done: 4,
            total: 10,
            skipped: 1,
            seconds_per_take: Some(45.0),
            ..CycleStatus::default()
        };
        assert_eq!(remaining_text(&c), "about 4:30 left at 45 s a take");
        assert_eq!(skipped_text(&c), "1 skipped");
        let f = Figures {
            cents: Some(50.46),
            peak_dbfs: Some(-6.04),
            snr_db: Some(54.0),
            ..Figures::default()
        };
        assert_eq!(
            figures_text(&f),
            "+50.5 cents · peak -6.0 dBFS · SNR 54.0 dB"
        );
        let quiet_room = Figures {
            snr_db: None,
            checked: true,
            ..f
        };
        assert!(figures_text(&quiet_room).ends_with("SNR ∞ (a silent pre-roll)"));
        let mut h = crate::control::health::RecorderHealth::unknown("http://r");
        h.input_peak_dbfs = vec![Some(-30.0), None];
        let m = meters(std::slice::from_ref(&h));
        assert_eq!(
            (m[0].value, m[0].pct, m[0].text.as_str()),
            (-30, 50, "-30.0 dBFS")
        );
        assert_eq!(
            (m[1].id.as_str(), m[1].value, m[1].text.as_str()),
            ("m0_1", -60, "silence")
        );
        h.input_peak_dbfs.clear();
        assert!(meters(&[h]).is_empty());
    }

    #[test]
    fn the_waveform_path_has_a_stroke_per_column_and_its_marks() {
        let mut l = LastTake::for_test(Judgement::ok());
        assert_eq!(wave(Some(&l)), WaveView::default());
        l.waveform = Some(Waveform {
            envelope: TakeEnvelope {
                frames: 4_800,
                frames_per_column: 1_200,
                min: vec![-1000, -500, 0, 0],
                max: vec![1000, 500, 0, 0],
                planned_start_frame: 2_400,
            },
            kept_frames: Some((2_300, 4_000)),
            sample_rate: 48_000,
        });
        let w = wave(Some(&l));
        assert_eq!(w.d, "M0.5 0V200M1.5 50V150M2.5 100V101M3.5 100V101");
        assert_eq!(
            (w.width, w.start, w.trim_from, w.trim_to),
            (4, 2.0, 1.9, 3.3)
        );
        assert!(
            w.caption.starts_with("0.10 s recorded: pre-roll 0.05 s"),
            "{}",
            w.caption
        );
    }
}
